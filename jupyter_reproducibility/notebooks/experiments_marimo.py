"""The trap notebook's two experiments as a marimo notebook: reactive, so the trap cannot happen.

marimo knows which cell defines and which cells read every variable. It refuses a variable
defined in two cells (`marimo check` reports it; see fixtures/marimo_redefinition.py), and when
a cell changes it re-runs the cells that depend on it. The file is also a plain Python script:

    uv run marimo edit notebooks/experiments_marimo.py   # the reactive editor
    uv run python notebooks/experiments_marimo.py        # runs every cell once, in dependency order
    uv run marimo check notebooks/experiments_marimo.py  # lint: no redefinitions, no cycles
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
    # Each experiment names its own parameter: one name, one defining cell, one value.
    C_experiment_1 = 0.001  # strong regularisation
    return (C_experiment_1,)


@app.cell
def _():
    C_experiment_2 = 1.0  # weak regularisation
    return (C_experiment_2,)


@app.cell
def _(C_experiment_1, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_1 = train_and_score(X_train, y_train, X_test, y_test, C=C_experiment_1)
    print(f"experiment 1: test accuracy {accuracy_1:.3f}")
    return (accuracy_1,)


@app.cell
def _(C_experiment_2, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_2 = train_and_score(X_train, y_train, X_test, y_test, C=C_experiment_2)
    print(f"experiment 2: test accuracy {accuracy_2:.3f}")
    return (accuracy_2,)


@app.cell
def _(C_experiment_1, C_experiment_2, accuracy_1, accuracy_2):
    # The table reads the parameters instead of retyping them, so it cannot go stale either.
    print("experiment | C     | test accuracy")
    print(f"1          | {C_experiment_1:<5} | {accuracy_1:.3f}")
    print(f"2          | {C_experiment_2:<5} | {accuracy_2:.3f}")
    return


if __name__ == "__main__":
    app.run()
