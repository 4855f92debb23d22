"""The trap notebook's two experiments as a marimo notebook: reactive, so the trap cannot happen.

marimo knows which cell defines and which cells read every variable. It refuses a variable
defined in two cells (`marimo check` reports it; see fixtures/marimo_redefinition.py), and when
a cell or a UI value changes it re-runs the cells that depend on it. Move the slider for
experiment 1's `C` and experiment 1's accuracy and the table change, without you running them.
The file is also a plain Python script:

    uv run marimo edit notebooks/experiments_marimo.py   # the reactive editor
    uv run marimo run notebooks/experiments_marimo.py    # the same, as an app
    uv run python notebooks/experiments_marimo.py        # runs every cell once, in dependency order
    uv run marimo check notebooks/experiments_marimo.py  # lint: no redefinitions, no cycles
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App()


@app.cell
def _():
    import marimo as mo
    from jupyter_reproducibility.experiments import load_digits_split, train_and_score

    X_train, X_test, y_train, y_test = load_digits_split(seed=0)
    return X_test, X_train, mo, train_and_score, y_test, y_train


@app.cell
def _(mo):
    # Each experiment names its own parameter: one name, one defining cell, one value.
    # Experiment 1's C is a slider: moving it re-runs every cell that reads it.
    C_experiment_1 = mo.ui.slider(
        steps=[0.001, 0.01, 0.1, 1.0], value=0.001, label="C, experiment 1", show_value=True
    )
    C_experiment_1  # noqa: B018 (a cell shows its last expression: the slider)
    return (C_experiment_1,)


@app.cell
def _():
    C_experiment_2 = 1.0  # weak regularisation
    return (C_experiment_2,)


@app.cell
def _(C_experiment_1, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_1 = train_and_score(X_train, y_train, X_test, y_test, C=C_experiment_1.value)
    print(f"experiment 1: test accuracy {accuracy_1:.3f}")
    return (accuracy_1,)


@app.cell
def _(C_experiment_2, X_test, X_train, train_and_score, y_test, y_train):
    accuracy_2 = train_and_score(X_train, y_train, X_test, y_test, C=C_experiment_2)
    print(f"experiment 2: test accuracy {accuracy_2:.3f}")
    return (accuracy_2,)


@app.cell
def _(C_experiment_1, C_experiment_2, accuracy_1, accuracy_2, mo):
    # The table reads the parameters instead of retyping them, so it cannot go stale either.
    table = "\n".join(
        [
            "experiment | C     | test accuracy",
            f"1          | {C_experiment_1.value:<5} | {accuracy_1:.3f}",
            f"2          | {C_experiment_2:<5} | {accuracy_2:.3f}",
        ]
    )
    print(table)  # what `python experiments_marimo.py` shows
    mo.plain_text(table)  # the cell's output in the app: it changes when the slider moves
    return


if __name__ == "__main__":
    app.run()
