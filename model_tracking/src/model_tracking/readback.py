"""Read each tool's own records back, so a test (or you) can check what was really logged.

A tracker is only as good as what you can get out of it again. Each function here uses the
tool's own reader: MLflow's client, TensorBoard's `EventAccumulator`, and for W&B offline
runs the run's `.wandb` file, which is a log of protobuf records (the same file `wandb sync`
uploads later).
"""

from __future__ import annotations

import json
import struct
import time
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
# W&B offline: `run-<id>.wandb` uses the LevelDB log format - 32 KiB blocks of chunks, each
# chunk a 7-byte header (crc32c, length, type) - and every whole record is a protobuf `Record`.

_WANDB_HEADER = struct.Struct("<4sHB")  # b":W&B", magic 0xBEE1, version
_CHUNK_HEADER = struct.Struct(
    "<IHB"
)  # masked crc32c, length, type (1 full, 2 first, 3 mid, 4 last)
_BLOCK = 32 * 1024


def iter_wandb_records(path: Path):
    """Yield the protobuf `Record`s stored in an offline run's `.wandb` file, in order."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    ident, magic, _version = _WANDB_HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1:
        raise ValueError(f"{path} is not a W&B run file")
    pos, pending = _WANDB_HEADER.size, b""
    while pos + _CHUNK_HEADER.size <= len(data):
        if _BLOCK - pos % _BLOCK < _CHUNK_HEADER.size:  # block tail too small: zero padding
            pos += _BLOCK - pos % _BLOCK
            continue
        _crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        pos += _CHUNK_HEADER.size
        chunk, pos = data[pos : pos + length], pos + length
        if kind == 0:  # padding written at the end of a block
            continue
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            yield wandb_internal_pb2.Record.FromString(pending)
            pending = b""


def _item_key(item) -> str:
    return item.key or "/".join(item.nested_key)


def _item_value(item) -> Any:
    if item.value_json:
        return json.loads(item.value_json)
    for field in ("number", "integer", "boolean", "text"):  # newer wandb writes typed values
        if item.HasField(field):
            return getattr(item, field)
    return None


def find_wandb_run_file(wandb_dir: Path) -> Path:
    """The single `.wandb` file under a `wandb/` folder (one offline run)."""
    files = sorted(Path(wandb_dir).glob("*run-*/run-*.wandb"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected one W&B run under {wandb_dir}, found {len(files)}")
    return files[0]


def wait_for_wandb_exit(run_file: Path, timeout_s: float = 60.0) -> bool:
    """Wait until the run file ends with its exit record: W&B's service process writes the file
    and may still be flushing it when `run.finish()` has returned. False on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if any(r.WhichOneof("record_type") == "exit" for r in iter_wandb_records(run_file)):
                return True
        except Exception:  # a record cut in the middle: not flushed yet
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def read_wandb_offline(wandb_dir: Path) -> dict[str, Any]:
    """Config, per-step history, summary, saved files and artifacts of one offline W&B run."""
    run_file = find_wandb_run_file(wandb_dir)
    wait_for_wandb_exit(run_file)
    config: dict[str, Any] = {}
    history: dict[str, list[Any]] = {}
    summary: dict[str, Any] = {}
    artifacts: dict[str, list[dict[str, Any]]] = {}  # name -> versions, in logging order
    name = None
    for record in iter_wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "config":
            config.update({_item_key(i): _item_value(i) for i in record.config.update})
        elif kind == "run":
            name = record.run.display_name
            config.update({_item_key(i): _item_value(i) for i in record.run.config.update})
        elif kind == "history":
            for item in record.history.item:
                history.setdefault(_item_key(item), []).append(_item_value(item))
        elif kind == "summary":
            summary.update({_item_key(i): _item_value(i) for i in record.summary.update})
        elif kind == "artifact":
            art = record.artifact
            artifacts.setdefault(art.name, []).append(
                {
                    "type": art.type,
                    "aliases": list(art.aliases),
                    "metadata": json.loads(art.metadata) if art.metadata else {},
                    # path -> (base64 md5, where the staged copy waits for `wandb sync`)
                    "files": {
                        c.path: (c.digest, Path(c.local_path)) for c in art.manifest.contents
                    },
                }
            )
    files_dir = run_file.parent / "files"
    files = sorted(p.name for p in files_dir.iterdir()) if files_dir.is_dir() else []
    config.pop("_wandb", None)
    return {
        "run_dir": run_file.parent,
        "name": name,
        "config": config,
        "history": history,
        "summary": summary,
        "files": files,
        "artifacts": artifacts,
    }
