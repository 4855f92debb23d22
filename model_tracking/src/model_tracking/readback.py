"""Read each tool's own records back, so a test (or you) can check what was really logged.

A tracker is only as good as what you can get out of it again. Each function here uses the
tool's own reader: MLflow's client, TensorBoard's `EventAccumulator`, and for W&B offline
runs `wandb leet inspect --json`, W&B's reader of the run's `.wandb` transaction log (the
same file `wandb sync` uploads later).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------------------------
# MLflow: the tracking client talks to the same store the run wrote to (sqlite file or server).


def read_mlflow_run(tracking_uri: str, run_id: str) -> dict[str, Any]:
    """Params, tags, metric series (and steps), datasets and artifact names of one MLflow run."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    run = client.get_run(run_id)
    histories = {
        key: sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
        for key in run.data.metrics
    }
    return {
        "params": dict(run.data.params),
        "tags": {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")},
        "metrics": {key: [m.value for m in history] for key, history in histories.items()},
        "steps": {key: [m.step for m in history] for key, history in histories.items()},
        "artifacts": sorted(a.path for a in client.list_artifacts(run_id)),
        "checkpoints": sorted(a.path for a in client.list_artifacts(run_id, "checkpoints")),
        # Datasets logged with mlflow.log_input, by context (training / validation / testing).
        "inputs": {
            tag_value(i.tags, "mlflow.data.context"): {
                "name": i.dataset.name,
                "digest": i.dataset.digest,
                "tags": {t.key: t.value for t in i.tags},
            }
            for i in run.inputs.dataset_inputs
        },
    }


def tag_value(tags, key: str) -> str | None:
    return next((t.value for t in tags if t.key == key), None)


# --------------------------------------------------------------------------------------------
# TensorBoard: event files are read back with the same loader the TensorBoard UI uses.


def read_tensorboard(logdir: Path) -> dict[str, Any]:
    """Scalar series, hyperparameters, text and whether a graph/image exist in a TensorBoard logdir."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [e.value for e in acc.Scalars(t)] for t in tags["scalars"]}
    steps = {t: [e.step for e in acc.Scalars(t)] for t in tags["scalars"]}
    hparams: dict[str, Any] = {}
    for content in acc.PluginTagToContent("hparams").values():
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if data.HasField("session_start_info"):
            for name, value in data.session_start_info.hparams.items():
                kind = value.WhichOneof("kind")
                hparams[name] = getattr(value, kind)
    texts = {
        t: acc.Tensors(t)[-1].tensor_proto.string_val[0].decode()
        for t in tags["tensors"]
        if t.endswith("text_summary")
    }
    return {
        "scalars": scalars,
        "steps": steps,
        "hparams": hparams,
        "texts": texts,
        "images": list(tags["images"]),
        "has_graph": bool(tags["graph"]),
    }


# --------------------------------------------------------------------------------------------
# W&B offline: `run-<id>.wandb` is a log of protobuf records. W&B's own reader prints them as
# JSON, one record per line: `wandb leet inspect --json FILE` (its Go core, `wandb-core`, reads
# the file; the command exists since wandb 0.2x and this topic's uv.lock pins the version).
# Python has no public reader: `wandb.sdk.internal.datastore.DataStore`, the internal one older
# versions shipped, is gone from the version locked here, so we use the command.


def wandb_records(run_file: Path, wait_s: float = 0) -> list[dict[str, Any]]:
    """Every record of a `.wandb` file, in order, as W&B's reader prints them.

    With `wait_s`, follow the file until the run's exit record is written (W&B's service process
    may still be flushing it after `run.finish()` returned), for at most that long without a write.
    """
    command = [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_file)]
    if wait_s:
        command += ["--follow", "--idle-timeout", f"{wait_s:.0f}s"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=wait_s + 120)
    if done.returncode != 0:
        raise RuntimeError(f"wandb leet inspect {run_file}: {done.stderr.strip()[-500:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def wait_for_wandb_run(run_dir: Path, wait_s: float = 60) -> None:
    """Return once W&B's service has written the run's exit record (or `wait_s` passed idle)."""
    for run_file in Path(run_dir).glob("run-*.wandb"):  # none when the mode was "disabled"
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):  # only a wait
            wandb_records(run_file, wait_s=wait_s)


def find_wandb_run_file(wandb_dir: Path) -> Path:
    """The single `.wandb` file under a `wandb/` folder (one offline run)."""
    files = sorted(Path(wandb_dir).glob("*run-*/run-*.wandb"))
    files = [f for f in files if not f.parent.is_symlink()]  # latest-run links to the same run
    if len(files) != 1:
        raise FileNotFoundError(f"expected one W&B run under {wandb_dir}, found {len(files)}")
    return files[0]


def read_wandb_offline(wandb_dir: Path) -> dict[str, Any]:
    """Config, per-step history, summary, saved files and artifacts of one offline W&B run."""
    run_file = find_wandb_run_file(wandb_dir)
    config: dict[str, Any] = {}
    history: dict[str, list[Any]] = {}
    summary: dict[str, Any] = {}
    artifacts: dict[str, list[dict[str, Any]]] = {}  # name -> versions, in logging order
    name = group = None
    # Wait for the exit record: after `run.finish()` W&B's service may still be writing the file.
    for record in wandb_records(run_file, wait_s=60):
        kind, body = record["type"], record.get(record["type"], {})
        if kind == "run":
            name, group = body.get("display_name"), body.get("run_group")
            config.update(body.get("config", {}).get("update", {}))
        elif kind == "config":
            config.update(body.get("update", {}))
        elif kind == "history":
            for key, value in body.get("item", {}).items():
                history.setdefault(key, []).append(value)
        elif kind == "summary":
            summary.update(body.get("update", {}))
        elif kind == "artifact":
            artifacts.setdefault(body["name"], []).append(
                {
                    "type": body["type"],
                    "aliases": body.get("aliases", []),
                    "metadata": json.loads(body.get("metadata") or "{}"),
                    # path -> (base64 md5, where the staged copy waits for `wandb sync`)
                    "files": {
                        c["path"]: (c["digest"], Path(c["local_path"]))
                        for c in body["manifest"]["contents"]
                    },
                }
            )
    files_dir = run_file.parent / "files"
    files = sorted(p.name for p in files_dir.iterdir()) if files_dir.is_dir() else []
    config.pop("_wandb", None)
    return {
        "run_dir": run_file.parent,
        "name": name,
        "group": group,
        "config": config,
        "history": history,
        "summary": summary,
        "files": files,
        "artifacts": artifacts,
    }
