"""Exercise 02, one answer: each experiment has its own `C`, so every name has one defining cell.

uv run marimo check exercises/02-marimo-app/solution/experiments.py   # exit 0
uv run python exercises/02-marimo-app/solution/experiments.py         # prints both accuracies
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
    C_experiment_1 = 0.001  # one name, one defining cell
    return (C_experiment_1,)


@app.cell
def _(C_experiment_1, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_1 = train_and_score(X_train, y_train, X_test, y_test, C=C_experiment_1)
    print(f"experiment 1: test accuracy {accuracy_1:.3f}")
    return (accuracy_1,)


@app.cell
def _():
    C_experiment_2 = 1.0
    return (C_experiment_2,)


@app.cell
def _(C_experiment_2, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_2 = train_and_score(X_train, y_train, X_test, y_test, C=C_experiment_2)
    print(f"experiment 2: test accuracy {accuracy_2:.3f}")
    return (accuracy_2,)


if __name__ == "__main__":
    app.run()
