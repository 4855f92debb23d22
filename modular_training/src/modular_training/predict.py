"""Use it: load a trained checkpoint back with `load_from_checkpoint` and predict the test split.

A checkpoint holds the weights and the constructor arguments of the model *and* of the data module
(`save_hyperparameters`), so nothing else is needed to rebuild both: not the YAML, not the flags.
The predictions are scored against the held-out labels and written with their own run receipt;
its `weights_sha256` is the training receipt's when the checkpoint is the one that was tested.

Run:  uv run mt-predict --ckpt_path outputs/lightning/checkpoints/best.ckpt --out outputs/predict
"""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import lightning as L
import torch

from modular_training.plumbing import (
    OneLineParser,
    check_checkpoint,
    check_out,
    output_folder,
    positive_int,
    quiet_known_warnings,
    run_at_edge,
)
from modular_training.receipt import atomic_write, data_sha256, weights_sha256, write_run_json
from modular_training.step3_lightning import DigitClassifier, DigitsDataModule


def predict(ckpt_path: str, out: str | Path, threads: int = 1) -> dict:
    """Rebuild model and data from the checkpoint, predict the test split, write the outputs."""
    started = time.time()
    check_out(out)  # an unwritable --out, and a missing or damaged checkpoint: before any work
    check_checkpoint(ckpt_path)
    torch.set_num_threads(threads)
    model = DigitClassifier.load_from_checkpoint(ckpt_path, map_location="cpu")
    data = DigitsDataModule.load_from_checkpoint(ckpt_path)  # same dataset, same split seed
    trainer = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    predicted = torch.cat(trainer.predict(model, datamodule=data))
    labels = data.splits.y_test
    accuracy = int((predicted == labels).sum()) / len(labels)  # correct / n, exactly

    rows = io.StringIO()
    writer = csv.writer(rows)
    writer.writerow(["test_index", "label", "predicted"])
    writer.writerows(zip(range(len(labels)), labels.tolist(), predicted.tolist(), strict=True))
    with output_folder(out) as folder:
        atomic_write(folder / "predictions.csv", rows.getvalue())
        write_run_json(
            folder,
            seed=int(data.hparams.seed),
            config={"ckpt_path": str(ckpt_path), "threads": threads, "data": dict(data.hparams)},
            metrics={"test_accuracy": accuracy, "n_test": float(len(labels))},
            weights_sha256=weights_sha256(model.state_dict()),
            data_sha256=data_sha256(*data.splits.tensors()),
            started=started,
            weights_file=Path(ckpt_path),
        )
    return {
        "out": folder,
        "test_accuracy": accuracy,
        "weights_sha256": weights_sha256(model.state_dict()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="mt-predict", description="Predict the test split from a checkpoint."
    )
    parser.add_argument("--ckpt_path", required=True, help="a checkpoint written by mt-train")
    parser.add_argument("--out", default="outputs/predict", help="output folder")
    parser.add_argument("--threads", type=positive_int, default=1)
    args = parser.parse_args(argv)
    quiet_known_warnings()

    def command() -> None:
        result = predict(args.ckpt_path, args.out, args.threads)
        print(
            f"test accuracy {result['test_accuracy']:.4f} from {args.ckpt_path}\n"
            f"weights_sha256 {result['weights_sha256']}\n"
            f"wrote {result['out']}/predictions.csv, run.json"
        )

    return run_at_edge(command)


if __name__ == "__main__":
    sys.exit(main())
