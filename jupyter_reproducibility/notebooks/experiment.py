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
#     uv run papermill notebooks/experiment.ipynb outputs/experiment_C0.001.ipynb --inject-paths -p C 0.001 -p out outputs/C0.001
#     uv run papermill notebooks/experiment.ipynb outputs/experiment_C1.0.ipynb --inject-paths -p C 1.0 -p out outputs/C1.0
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
PAPERMILL_OUTPUT_PATH = None  # set by `papermill --inject-paths`: the executed copy it writes

# %%
import json
import time
from pathlib import Path

from jupyter_reproducibility.receipt import data_sha256, weights_sha256, write_run_json
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

started = time.time()
X, y = load_digits(return_X_y=True)  # 1,797 8x8 images; pixels 0..16, scaled to [0, 1] below
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.3, random_state=seed, stratify=y
)
model = LogisticRegression(C=C, max_iter=2000).fit(X_train, y_train)
accuracy = float(model.score(X_test, y_test))
print(f"C={C}: test accuracy {accuracy:.3f}")

# %%
# papermill's own record of this run: `metadata.papermill` of the executed copy, saved before
# the first cell ran (input and output notebook, the -p parameters). Outside papermill there is
# none, and the receipt records the kernel's own command line.
command = None
if PAPERMILL_OUTPUT_PATH is not None:
    executed = json.loads(Path(PAPERMILL_OUTPUT_PATH).read_text(encoding="utf-8"))
    record = executed["metadata"]["papermill"]
    command = ["papermill", record["input_path"], record["output_path"], "--inject-paths"]
    for name, value in record["parameters"].items():
        if not name.startswith("PAPERMILL_"):  # the two paths --inject-paths added itself
            command += ["-p", name, str(value)]

# The receipt names every input of this result, so the number can be traced and re-checked.
receipt = write_run_json(
    Path(out),
    seed=seed,
    config={"C": C, "model": "LogisticRegression(max_iter=2000)", "data": "load_digits 70/30"},
    metrics={"test_accuracy": accuracy},
    weights_sha256=weights_sha256({"coef": model.coef_, "intercept": model.intercept_}),
    data_sha256=data_sha256(X_train, X_test, y_train, y_test),
    started=started,
    command=command,
    out_option=None,  # `-p out DIR` is not an --out option: `receipt verify` cannot redo it
)
print(f"wrote {receipt}")
