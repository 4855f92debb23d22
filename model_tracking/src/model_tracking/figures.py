"""Regenerate the slide figures from real runs: `tracking-figures` (about a minute).

Every figure in slides.md comes from here, so the slides can never show a result the code
does not produce.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from model_tracking import compare
from model_tracking.digits import load_digit_splits
from model_tracking.plots import plt, save_figure
from model_tracking.plumbing import check_writable_folder, parser_for, run_at_edge
from model_tracking.readback import read_mlflow_run, read_tensorboard, read_wandb_offline
from model_tracking.receipt import TOPIC_ROOT, atomic_write, weights_sha256
from model_tracking.train import EPOCH_METRICS, RunResult, TrainConfig, run_training

ARTIFACTS = {"training_curve.png", "model_summary.txt", "model.safetensors", "run.json"}
PROVENANCE = ("git_commit", "lock_sha256", "data_sha256")


def readback_matrix(run: RunResult, tracking_uri: str) -> dict[str, dict[str, str]]:
    """For each tool: what its own reader gives back, compared with what the loop computed."""
    history, params = run.history, {k: str(v) for k, v in _params(run).items()}
    mlf = read_mlflow_run(tracking_uri, run.locations["mlflow"]["run_id"])
    tb = read_tensorboard(run.out / run.locations["tensorboard"]["logdir"])
    wb = read_wandb_offline(run.out / "wandb")
    wb_config = {k: str(v) for k, v in wb["config"].items() if k != "provenance"}
    [wb_files] = wb["artifacts"]["digits-mlp"]
    wb_model = wb_files["files"]["model.safetensors"][1]  # the staged copy `wandb sync` uploads

    def mark(ok: bool, text: str = "yes") -> str:
        return text if ok else "MISSING"

    def exact(series: dict) -> bool:
        return all(series.get(k) == history[k] for k in EPOCH_METRICS)

    def as_float32(series: dict) -> bool:
        return all(np.array_equal(series.get(k), np.float32(history[k])) for k in EPOCH_METRICS)

    return {
        "hyperparameters": {
            # Values, not only names (TensorBoard keeps numbers as floats: 64 -> 64.0).
            "TensorBoard": mark(tb["hparams"] == _params(run), "hparams"),
            "MLflow": mark(mlf["params"] == params, "params"),
            "W&B offline": mark(wb_config == params, "config"),
        },
        "per-epoch metrics": {
            "TensorBoard": mark(as_float32(tb["scalars"]), "float32"),
            "MLflow": mark(exact(mlf["metrics"]), "exact"),
            "W&B offline": mark(exact(wb["history"]), "exact"),
        },
        "git / lock / data hash": {
            "TensorBoard": mark(
                all(k in tb["texts"]["provenance/text_summary"] for k in PROVENANCE), "text"
            ),
            "MLflow": mark(all(k in mlf["tags"] for k in PROVENANCE), "tags"),
            "W&B offline": mark(all(k in wb["config"]["provenance"] for k in PROVENANCE), "config"),
        },
        "files (curve, checkpoint, run.json)": {
            "TensorBoard": mark(
                {p.name for p in (run.out / "tensorboard").iterdir()} >= ARTIFACTS, "beside"
            ),
            "MLflow": mark(set(mlf["artifacts"]) >= ARTIFACTS, "artifacts"),
            "W&B offline": mark(set(wb_files["files"]) >= ARTIFACTS, "artifact"),
        },
        "model, loaded back": {
            "TensorBoard": mark(tb["has_graph"], "graph only"),
            "MLflow": mark(
                _mlflow_model_predicts_identically(run, tracking_uri), "identical output"
            ),
            "W&B offline": mark(
                weights_sha256(load_file(wb_model)) == run.weights_sha256,
                "identical weights",
            ),
        },
    }


def _mlflow_model_predicts_identically(run: RunResult, tracking_uri: str) -> bool:
    import mlflow
    import torch

    mlflow.set_tracking_uri(tracking_uri)
    run_id = run.locations["mlflow"]["run_id"]
    experiment_id = run.locations["mlflow"]["experiment_id"]
    models = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list")
    [logged] = [m for m in models if m.source_run_id == run_id]
    x = load_digit_splits().x_test
    with torch.no_grad():
        return torch.equal(run.model.eval()(x), mlflow.pytorch.load_model(logged.model_uri)(x))


def _params(run: RunResult) -> dict:
    import json

    receipt = json.loads((run.out / "run.json").read_text())
    keys = ("lr", "batch_size", "epochs", "hidden", "seed", "split_seed", "optimizer", "loss")
    return {k: receipt["config"][k] for k in keys}


def plot_readback_matrix(matrix: dict[str, dict[str, str]], path: Path) -> Path:
    rows = list(matrix)
    cols = list(next(iter(matrix.values())))
    fig, ax = plt.subplots(figsize=(8.5, 2.8), layout="constrained")
    ax.axis("off")
    cells = [[matrix[r][c] for c in cols] for r in rows]
    colours = [["#f8d0d0" if v == "MISSING" else "#d8f0d8" for v in row] for row in cells]
    table = ax.table(
        cellText=cells, rowLabels=rows, colLabels=cols, cellColours=colours, loc="center"
    )
    table.scale(1, 1.6)
    ax.set_title("Read back with each tool's own reader, compared with the training loop's values")
    return save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, prog="tracking-figures")
    parser.add_argument("--out", type=Path, default=TOPIC_ROOT / "figures", help="figure folder")
    args = parser.parse_args(argv)
    return run_at_edge(lambda: make_figures(args.out), prog="tracking-figures")


def make_figures(out: Path) -> int:
    # The folder may hold other figures (those are kept); it must be a folder we can write in.
    check_writable_folder(out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        run = run_training(
            TrainConfig(
                epochs=15,
                trackers=("none", "tensorboard", "mlflow", "wandb"),
                out=Path(tmp) / "run",
                tracking_uri=uri,
            )
        )
        atomic_write(out / "training_curve.png", (run.out / "training_curve.png").read_bytes())
        plot_readback_matrix(readback_matrix(run, uri), out / "readback_matrix.png")
        compare.main(["--tracking-uri", uri, "--out", str(Path(tmp) / "compare"), "--epochs", "10"])
        atomic_write(
            out / "comparison.png", (Path(tmp) / "compare" / "comparison.png").read_bytes()
        )
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
