# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One experiment, many parameter values
#
# The trap notebook copied cells to run a second experiment, and the copies shared a variable.
# Here the experiment exists once and each parameter value is its own run, from the command line:
#
#     mkdir -p outputs
#     uv run papermill notebooks/experiment.ipynb outputs/experiment_C0.001.ipynb -p C 0.001 -p out outputs/C0.001
#     uv run papermill notebooks/experiment.ipynb outputs/experiment_C1.0.ipynb -p C 1.0 -p out outputs/C1.0
#
# Every run starts a fresh kernel, keeps its executed notebook and writes its own `run.json`:
# no run can see another run's variables.
#
# This notebook is paired with `experiment.py` (jupytext, py:percent): review and diff the `.py`.

# %% tags=["parameters"]
# papermill replaces these defaults with the values given by -p (cell tagged "parameters").
C = 1.0  # inverse regularisation strength
seed = 0
out = "outputs/experiment"

# %%
import time
from pathlib import Path

from jupyter_reproducibility.experiments import load_digits_split, train_classifier
from jupyter_reproducibility.plumbing import launching_command
from jupyter_reproducibility.receipt import data_sha256, weights_sha256, write_run_json

started = time.time()
split = load_digits_split(seed=seed)
model = train_classifier(split.X_train, split.y_train, C=C)
accuracy = float(model.score(split.X_test, split.y_test))
print(f"C={C}: test accuracy {accuracy:.3f}")

# %%
# The receipt names every input of this result, so the number can be traced and re-checked.
receipt = write_run_json(
    Path(out),
    seed=seed,
    config={"C": C, "model": "LogisticRegression(max_iter=2000)", "data": "load_digits 70/30"},
    metrics={"test_accuracy": accuracy},
    weights_sha256=weights_sha256({"coef": model.coef_, "intercept": model.intercept_}),
    data_sha256=data_sha256(*split),
    started=started,
    # The papermill command that started this kernel, as typed (the kernel's own argv is not).
    command=launching_command(),
    out_option=None,  # `-p out DIR` is not an --out option: `receipt verify` cannot redo it
)
print(f"wrote {receipt}")
