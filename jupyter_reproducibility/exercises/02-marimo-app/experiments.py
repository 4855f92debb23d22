"""Exercise 02 starter: the trap notebook copied into marimo as is, `C` defined in two cells.

marimo refuses it until each name has one defining cell (the task is in README.md):

    uv run marimo check exercises/02-marimo-app/experiments.py   # the redefinition, exit 1
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    from jupyter_reproducibility.experiments import load_digits_split, train_and_score

    X_train, X_test, y_train, y_test = load_digits_split(seed=0)
    return X_test, X_train, train_and_score, y_test, y_train


@app.cell
def _():
    C = 0.001  # TODO (exercise): marimo allows one defining cell per name; experiment 2 sets C too
    return (C,)


@app.cell
def _(C, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_1 = train_and_score(X_train, y_train, X_test, y_test, C=C)
    print(f"experiment 1: test accuracy {accuracy_1:.3f}")
    return (accuracy_1,)


@app.cell
def _():
    C = 1.0
    return (C,)


@app.cell
def _(C, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_2 = train_and_score(X_train, y_train, X_test, y_test, C=C)
    print(f"experiment 2: test accuracy {accuracy_2:.3f}")
    return (accuracy_2,)


if __name__ == "__main__":
    app.run()
