"""Train the digits classifier once and record the run with the tracker(s) you choose.

    tracking-train --tracker mlflow                       # local store ./mlflow.db
    tracking-train --tracker none tensorboard mlflow wandb --seed 1

Read it top to bottom: each tool's own calls are written out where the run reaches them
(open a run, every epoch, the end, close). Whatever the tool, the same things are recorded:
hyperparameters, per-epoch train and validation loss/accuracy, provenance (git commit and dirty
flag, uv.lock hash, data hash, package versions, seed) and files (training curve, model summary,
checkpoints, run.json). `none` is the naive record: the lists the loop keeps and those files.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from model_tracking.config import (
    RUN_FILES,
    TRACKERS,
    TrainConfig,
    build_parser,
    config_from_args,
    validate,
)
from model_tracking.digits import (
    build_model,
    evaluate,
    load_digit_splits,
    seed_everything,
    train_one_epoch,
)
from model_tracking.mlflow_store import ensure_experiment
from model_tracking.plumbing import BadInput, publish, run_at_edge
from model_tracking.provenance import model_requirements, provenance, scrub, scrubbed_argv
from model_tracking.receipt import data_sha256, weights_sha256
from model_tracking.run_record import hyperparameters, relative_to, report, write_run_files

EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
__all__ = ["EPOCH_METRICS", "TRACKERS", "BadInput", "RunResult", "TrainConfig", "main"]
__all__ += ["build_parser", "config_from_args", "run_training", "validate"]


@dataclass
class RunResult:
    out: Path
    history: dict[str, list[float]]
    metrics: dict[str, float]
    weights_sha256: str
    locations: dict[str, dict[str, str]]
    model: torch.nn.Module


# %% 1. Open one run per tool. `runs` fills as each opens, so a failure closes only those.
def open_runs(runs: dict, config: TrainConfig, folder: Path, name: str, tags: dict, data) -> None:
    params = hyperparameters(config)
    if "tensorboard" in config.trackers:
        from torch.utils.tensorboard import SummaryWriter

        runs["tensorboard"] = writer = SummaryWriter(log_dir=str(folder / "tensorboard"))
        table = "\n".join(f"| {k} | {v} |" for k, v in tags.items())
        writer.add_text("provenance", "| tag | value |\n|---|---|\n" + table)
    if "mlflow" in config.trackers:
        import mlflow

        # We pass pip_requirements ourselves; MLflow's note that pip itself is missing is noise.
        logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
        mlflow.set_tracking_uri(config.tracking_uri)
        experiment_id = ensure_experiment(config.tracking_uri, config.experiment)
        runs["mlflow"] = mlflow.start_run(experiment_id=experiment_id, run_name=name, tags=tags)
        mlflow.log_params(params)
        for context, (x, y) in data.named_splits().items():
            # MLflow's digest hashes only the first 10,000 values (and the shape); the input
            # tag carries the receipt-style sha256 over every byte of this split.
            dataset = mlflow.data.from_numpy(x.numpy(), targets=y.numpy(), name=f"digits-{context}")
            mlflow.log_input(dataset, context=context, tags={"sha256": data_sha256(x, y)})
    if "wandb" in config.trackers:
        import wandb

        with scrubbed_argv():  # W&B stores sys.argv in the run's metadata
            runs["wandb"] = wandb.init(
                project="model-tracking",
                name=name,
                group=config.wandb_group,
                dir=str(folder),
                mode=config.wandb_mode,
                config={**params, "provenance": tags},
                settings=wandb.Settings(silent=True),
            )


def where(runs: dict, config: TrainConfig) -> dict[str, dict[str, str]]:
    """Where to find each run again (shown in run.json and in the final message)."""
    places = {}
    if "tensorboard" in runs:
        places["tensorboard"] = {"logdir": runs["tensorboard"].log_dir}
    if "mlflow" in runs:
        info = runs["mlflow"].info
        places["mlflow"] = {"tracking_uri": config.tracking_uri,
                            "experiment_id": info.experiment_id, "run_id": info.run_id}  # fmt: skip
    if "wandb" in runs:
        places["wandb"] = {"mode": config.wandb_mode,
                           "run_dir": str(Path(runs["wandb"].dir).parent)}  # fmt: skip
    return places


# %% 2. Every epoch: the four numbers, with the epoch as the step, and that epoch's weights.
def log_epoch(runs: dict, epoch: int, metrics: dict[str, float], checkpoint: Path) -> None:
    if writer := runs.get("tensorboard"):
        for key, value in metrics.items():
            writer.add_scalar(key, value, epoch)
    if "mlflow" in runs:
        import mlflow

        mlflow.log_metrics(metrics, step=epoch)
        mlflow.log_artifact(str(checkpoint), artifact_path="checkpoints")
    if run := runs.get("wandb"):
        import wandb

        run.log(metrics, step=epoch)
        # One artifact name, a new version per epoch: W&B keeps the history and the aliases
        # say which is which ("latest" moves along by itself).
        weights = wandb.Artifact("digits-mlp-checkpoint", type="model", metadata={"epoch": epoch})
        weights.add_file(str(checkpoint))
        run.log_artifact(weights, aliases=[f"epoch-{epoch}"])


# %% 3. The end: the model, the final numbers, the files.
def log_outcome(runs: dict, config: TrainConfig, model, x_example, final: dict, files: list):
    if writer := runs.get("tensorboard"):
        import matplotlib.image

        with warnings.catch_warnings():  # add_graph traces with torch.jit, which warns it is old
            warnings.simplefilter("ignore", FutureWarning)
            writer.add_graph(model, x_example[:1])
        # hparams link settings to results in the HParams tab; run_name="." keeps them in
        # this run's folder instead of a new timestamped one.
        writer.add_hparams(hyperparameters(config), final, run_name=".")
        for path in files:  # no artifact store: images go in as images, files are kept beside
            if path.suffix == ".png":
                writer.add_image(path.stem, matplotlib.image.imread(path), dataformats="HWC")
            shutil.copy2(path, Path(writer.log_dir) / path.name)
    if "mlflow" in runs:
        import mlflow
        from mlflow.models import infer_signature

        x = x_example[:5]
        with torch.no_grad():
            y = model(x)
        info = mlflow.pytorch.log_model(
            model,
            name="model",
            # The signature records input/output shapes and dtypes; the example shows a caller
            # what to send. Explicit requirements avoid a slow, guessy environment inference.
            signature=infer_signature(x.numpy(), y.numpy()),
            input_example=x.numpy(),
            pip_requirements=model_requirements(),
            # pt2 = torch.export: a traced graph plus weights, loaded without unpickling code.
            serialization_format="pt2",
            registered_model_name=config.register_as or None,
        )
        # Final metrics linked to the logged model let `search_logged_models` rank models.
        mlflow.log_metrics(final, model_id=info.model_id)
        for path in files:
            mlflow.log_artifact(str(path))
    if run := runs.get("wandb"):
        import wandb

        run.summary.update(final)
        # An artifact, not copies in the run folder: each file is hashed into a manifest and
        # staged (in WANDB_DATA_DIR) for `wandb sync`; later runs can use the version.
        artifact = wandb.Artifact("digits-mlp", type="model", metadata=final)
        for path in files:
            artifact.add_file(str(path))
        run.log_artifact(artifact)


# %% 4. Close every run that was opened, marked failed when training raised.
def close_runs(runs: dict, ok: bool) -> None:
    if writer := runs.get("tensorboard"):
        writer.close()
    if "mlflow" in runs:
        import mlflow

        mlflow.end_run(status="FINISHED" if ok else "FAILED")
    if run := runs.get("wandb"):
        from model_tracking.readback import wait_for_wandb_run

        run.finish(exit_code=0 if ok else 1)
        wait_for_wandb_run(Path(run.dir).parent)  # the service writes the run file after finish


# %% The run: train, and send every step to the tools opened above.
def run_training(config: TrainConfig) -> RunResult:
    """Validate, train, record with every chosen tracker, and publish `config.out` at the end."""
    started = time.time()
    validate(config)  # every check before the first byte is written
    generator = seed_everything(config.seed)
    data = load_digit_splits()
    data_hash = data_sha256(*data.arrays())
    # The run name is shown and stored by every tool: a token pasted into it must not be.
    run_name = scrub(config.run_name or f"lr{config.lr}-seed{config.seed}")

    # Work in a fresh side folder, renamed to --out at the end: --out never holds half a run.
    out = Path(config.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{out.name}.partial-"))
    runs: dict[str, Any] = {}
    ok = False
    try:
        tags = scrub({**provenance(data_hash), **config.extra_tags})
        open_runs(runs, config, staging, run_name, tags, data)
        locations = {k: relative_to(v, staging) for k, v in where(runs, config).items()}
        model, history = train_epochs(config, data, generator, runs, staging, run_name)
        metrics = {key: values[-1] for key, values in history.items()}
        # Select models on validation data only; the test accuracy is reported, never chosen on.
        final = {
            "final_val_accuracy": metrics["val_accuracy"],
            "test_accuracy": evaluate(model, data.x_test, data.y_test)[1],
        }
        weights_hash = weights_sha256(model.state_dict())
        files = write_run_files(
            staging, config, model, history, {**metrics, **final}, weights_hash, data_hash,
            locations, started,
        )  # fmt: skip
        log_outcome(runs, config, model, data.x_test, final, files)
        ok = True
    except BaseException as exc:
        # A crash (or Ctrl-C) during the work is not bad input: keep the epochs trained so far.
        exc.add_note(
            f"the partial run, checkpoints of each finished epoch included, is in {staging}"
        )
        raise
    finally:
        close_runs(runs, ok)
    publish(staging, out, replaceable=RUN_FILES)
    return RunResult(out, history, {**metrics, **final}, weights_hash, locations, model)


def train_epochs(config, data, generator, runs, folder, run_name):
    """The training loop: every epoch's numbers and weights go to every tool."""
    checkpoints = folder / "checkpoints"
    checkpoints.mkdir()
    model = build_model(config.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: dict[str, list[float]] = {key: [] for key in EPOCH_METRICS}
    for epoch in tqdm(range(1, config.epochs + 1), desc=run_name, unit="epoch", disable=None):
        train_loss, train_acc = train_one_epoch(
            model, optimizer, data.x_train, data.y_train, config.batch_size, generator
        )
        val_loss, val_acc = evaluate(model, data.x_val, data.y_val)
        metrics = dict(zip(EPOCH_METRICS, (train_loss, train_acc, val_loss, val_acc), strict=True))
        for key, value in metrics.items():
            history[key].append(value)
        # Every epoch's weights: a later question ("was epoch 9 better?") needs no re-run.
        checkpoint = checkpoints / f"epoch-{epoch:03d}.safetensors"
        save_file(model.state_dict(), checkpoint)
        log_epoch(runs, epoch, metrics, checkpoint)
    return model, history


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(build_parser(__doc__).parse_args(argv))

    def body() -> int:
        result = run_training(config)
        print(report(result, config))
        # The benchmark of the headline demo: wall time as run.json records it (imports excluded);
        # printed, never asserted, because it depends on the machine and its load.
        seconds = json.loads((result.out / "run.json").read_text())["seconds"]
        print(f"took {seconds:.1f} s (run.json: seconds)")
        print(json.dumps({"weights_sha256": result.weights_sha256, **result.metrics}))
        return 0

    return run_at_edge(body, prog="tracking-train")


if __name__ == "__main__":
    sys.exit(main())
