"""Step 3: the headline run (learns, all outputs), determinism across processes, configs,
the optimiser from the config, LightningCLI's subcommands, and bad input as one line."""

import json
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
import yaml
from modular_training.step3_cli import (
    build_cli,
    lightning_cli,
    main,
    plain_cli,
    read_history,
    train,
)
from modular_training.step3_lightning import DigitsDataModule

TOPIC = Path(__file__).resolve().parents[1]
FAST = ["--trainer.max_epochs=2", "--trainer.enable_progress_bar=false"]


def headline(jobs, name: str) -> dict:
    rc, stdout, stderr = jobs[name].result()
    assert rc == 0, stderr[-3000:]
    return json.loads((jobs.root / name[-1] / "run.json").read_text())


def test_headline_run_learns_fast_and_writes_everything(jobs):
    receipt = headline(jobs, "headline_a")
    out = jobs.root / "a"
    assert receipt["metrics"]["test_accuracy"] >= 0.95
    for name in (
        "run.json",
        "config.yaml",
        "metrics.csv",
        "model.safetensors",
        "training_curve.png",
    ):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert receipt["weights_file"] == "model.safetensors"
    stdout = jobs["headline_a"].result()[1]
    assert "test accuracy" in stdout and receipt["weights_sha256"] in stdout
    assert set(receipt) >= {"command", "seed", "config", "git", "lock_sha256", "data_sha256", "env"}


def twin(tmp_path, *args: str) -> dict:
    """The headline run again, in this (pytest's) process: not the process that ran headline_a."""
    train([f"--out={tmp_path}", "--trainer.enable_progress_bar=false", *args], verbose=False)
    return json.loads((tmp_path / "run.json").read_text())


def test_same_seed_in_separate_processes_gives_identical_weights(jobs, tmp_path):
    a, b = headline(jobs, "headline_a"), twin(tmp_path)
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["data_sha256"] == b["data_sha256"]


def test_two_dataloader_workers_give_the_same_weights_as_none(jobs, tmp_path):
    """The batch order is f(seed, epoch), so moving loading into 2 worker processes changes nothing."""
    a, w2 = headline(jobs, "headline_a"), twin(tmp_path, "--data.num_workers=2")
    assert w2["config"]["data"]["num_workers"] == 2
    assert w2["weights_sha256"] == a["weights_sha256"]


def test_training_curve_comes_from_the_csv_logger(jobs):
    """metrics.csv (CSVLogger) has one train + val row per epoch, and its best val_acc is the one
    ModelCheckpoint chose the tested checkpoint by."""
    receipt = headline(jobs, "headline_a")
    history = read_history(jobs.root / "a" / "metrics.csv")
    assert [row["epoch"] for row in history] == list(range(20))
    best = torch.load(jobs.root / "a" / "checkpoints" / "best.ckpt", weights_only=False)
    callback = next(v for k, v in best["callbacks"].items() if k.startswith("ModelCheckpoint"))
    assert max(r["val_acc"] for r in history) == pytest.approx(float(callback["best_model_score"]))
    assert receipt["metrics"]["best_val_accuracy"] == max(r["val_acc"] for r in history)


def test_saved_config_reproduces_the_run(tmp_path):
    first = train(
        [f"--out={tmp_path / 'first'}", "--model.hidden=64", "--data.batch_size=64", *FAST],
        verbose=False,
    )
    saved = tmp_path / "first" / "config.yaml"  # written by LightningCLI's SaveConfigCallback
    again = train([f"--config={saved}", f"--out={tmp_path / 'again'}"], verbose=False)
    assert again["weights_sha256"] == first["weights_sha256"]
    assert yaml.safe_load(saved.read_text())["model"]["hidden"] == 64


def resolved(args: list[str]) -> dict:
    config = build_cli(args).config.as_dict()
    config.pop("config", None)
    return config


def test_the_plain_lightning_cli_form_trains_the_same_classes(tmp_path, monkeypatch):
    """`plain_cli` is LightningCLI with nothing of ours: one optimiser step and one validation
    batch (`fast_dev_run`), with the model's own `configure_optimizers` (Adam)."""
    monkeypatch.chdir(tmp_path)
    cli = plain_cli(["fit", "--trainer.fast_dev_run=1", "--trainer.accelerator=cpu"])
    assert cli.trainer.global_step == 1
    assert type(cli.trainer.optimizers[0]).__name__ == "Adam"


def test_configs_digits_yaml_is_the_default_run():
    assert resolved([f"--config={TOPIC / 'configs' / 'digits.yaml'}"]) == resolved([])


def test_optimizer_and_scheduler_come_from_the_config():
    """Adam at 1e-3 by default; configs/sgd_cosine.yaml swaps in SGD + a cosine schedule, no code."""
    default = build_cli([]).model.configure_optimizers()
    assert type(default).__name__ == "Adam" and default.defaults["lr"] == 1e-3
    cli = build_cli([f"--config={TOPIC / 'configs' / 'sgd_cosine.yaml'}", "--optimizer.lr=0.2"])
    (optimizer,), (scheduler,) = cli.model.configure_optimizers()
    assert type(optimizer).__name__ == "SGD" and optimizer.defaults["momentum"] == 0.9
    assert optimizer.defaults["lr"] == 0.2  # the flag wins over the YAML
    assert type(scheduler).__name__ == "CosineAnnealingLR" and scheduler.T_max == 20


def test_print_config_shows_the_resolved_config(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--print_config", "--optimizer.lr=0.003"])
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["optimizer"]["init_args"]["lr"] == 0.003
    assert printed["trainer"]["deterministic"] is True


def test_lightning_subcommands_fit_validate_test_predict(tmp_path):
    """`mt-lightning fit` then `test` / `validate` / `predict` from its checkpoint, as LightningCLI does it."""
    fit = lightning_cli(["fit", f"--out={tmp_path}", "--trainer.max_epochs=1", *FAST[1:]])
    best = fit.trainer.checkpoint_callback.best_model_path
    assert Path(best).name == "best.ckpt" and (tmp_path / "config.yaml").is_file()
    common = [f"--out={tmp_path / 'eval'}", f"--ckpt_path={best}", *FAST[1:]]
    tested = lightning_cli(["test", *common]).trainer.callback_metrics["test_acc"]
    validated = lightning_cli(["validate", *common]).trainer.callback_metrics["val_acc"]
    assert float(validated) == pytest.approx(float(fit.trainer.callback_metrics["val_acc"]))
    predicted = lightning_cli(["predict", *common]).trainer.predict_loop.predictions
    splits = fit.datamodule.splits
    accuracy = (torch.cat(predicted) == splits.y_test).float().mean()
    assert float(accuracy) == pytest.approx(float(tested), abs=1e-6)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def make_other_model_checkpoint(path: Path) -> Path:
    """A readable Lightning-shaped checkpoint of a narrower MLP, as `--model.hidden 64` would leave."""
    torch.save({"state_dict": {"net.0.weight": torch.zeros(64, 64)}, "loops": {}}, path)
    return path


# One case per class of bad input: who refuses it (jsonargparse at parsing, a constructor or
# torch.optim while building, Lightning's Trainer at construction or once fitting starts, the
# OS for --out, our own checkpoint check) and what the one line says.
BAD_INPUT = {
    "unknown-flag": (["--model.hiden=64"], "unrecognized arguments: --model.hiden"),
    "unknown-yaml-key": (["--config=BAD_YAML"], "hiden"),
    "wrong-type": (["--trainer.max_epochs=abc"], 'Parser key "trainer.max_epochs"'),
    "random-seed": (["--seed_everything=true"], 'Parser key "seed_everything"'),
    "zero-threads": (["--threads=0"], 'Parser key "threads"'),
    "unknown-optimizer": (["--optimizer=NoSuchOptimizer"], 'Parser key "optimizer"'),
    "bad-dropout": (["--model.dropout=1.5"], "model.dropout must be in [0, 1), got 1.5"),
    "negative-lr": (["--optimizer.lr=-0.1"], "Invalid learning rate: -0.1"),
    "negative-epochs": (["--trainer.max_epochs", "-3"], "`max_epochs` must be a non-negative"),
    "bad-batch-limit": (["--trainer.limit_train_batches=-1"], "invalid value -1.0 for limit_train"),
    "no-such-accelerator": (["--trainer.accelerator=mps"], "`MPSAccelerator` can not run"),
    "unlogged-monitor": (["--checkpoint.monitor=val_f1"], "ModelCheckpoint(monitor='val_f1')"),
    "too-long-val-interval": (["--trainer.val_check_interval=5000"], "`val_check_interval` (5000)"),
    "unwritable-out": (["--out=/proc/forbidden/run"], "/proc/forbidden"),
    "missing-ckpt": (["--ckpt_path=MISSING"], "checkpoint not found"),
    "truncated-ckpt": (["--ckpt_path=TRUNCATED"], "truncated or corrupt"),
    "other-model-ckpt": (["--ckpt_path=OTHER_MODEL"], "does not fit this model (another config?)"),
}


# Bad input only on some systems: where it is not bad input, the case is skipped.
ONLY_ON = {
    "unwritable-out": (sys.platform != "linux", "only Linux has a /proc to fail writing into"),
    "no-such-accelerator": (sys.platform == "darwin", "macOS has MPS: there it is not bad input"),
}


def skip_unless_applies(name: str) -> pytest.MarkDecorator:
    skip, reason = ONLY_ON[name]
    return pytest.mark.skipif(skip, reason=reason)


BAD_INPUT_CASES = [
    pytest.param(*case, id=name, marks=[skip_unless_applies(name)] if name in ONLY_ON else [])
    for name, case in BAD_INPUT.items()
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUT_CASES)
def test_bad_input_gives_one_clear_line_and_exit_2(args, expected, tmp_path, capsys):
    from conftest import make_truncated_checkpoint

    subst = {
        "BAD_YAML": str(write(tmp_path / "bad.yaml", "model:\n  hiden: 64\n")),
        "MISSING": str(tmp_path / "nope.ckpt"),
        "TRUNCATED": str(make_truncated_checkpoint(tmp_path / "cut.ckpt")),
        "OTHER_MODEL": str(make_other_model_checkpoint(tmp_path / "other.ckpt")),
    }
    args = [
        a.split("=")[0] + "=" + subst[a.split("=", 1)[1]]
        if "=" in a and a.split("=", 1)[1] in subst
        else a
        for a in args
    ]
    out = tmp_path / "out"
    rc = main([f"--out={out}", "--trainer.max_epochs=1", *FAST[1:], *args])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not out.exists(), "bad input must leave nothing behind"


def test_bad_input_from_the_real_command_line(jobs):
    """`mt-train --trainer.max_epochs -3` through the real exit path: one line, exit 2, no traceback."""
    rc, stdout, stderr = jobs["max_epochs_negative"].result()
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert rc == 2, stderr[-2000:]
    assert lines == ["error: `max_epochs` must be a non-negative integer or -1. You passed in -3."]
    assert not (jobs.root / "bad").exists()


class FinalWeights(L.Callback):
    """Keeps a copy of the weights as training ends, before the best checkpoint is reloaded."""

    def on_train_end(self, trainer, pl_module) -> None:
        self.state = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}


def test_receipt_hashes_the_tested_checkpoint_not_the_last_epoch(tmp_path):
    """run.json's weights_sha256 and model.safetensors are the weights `trainer.test` used: the
    checkpoint validation chose. Choosing the *highest* val_loss makes that epoch 0, not the
    last, so hashing the final in-memory weights instead would fail here."""
    from modular_training.receipt import weights_sha256
    from safetensors.torch import load_file

    final = FinalWeights()
    args = [f"--out={tmp_path}", "--seed_everything=3", "--checkpoint.monitor=val_loss", *FAST]
    train([*args, "--checkpoint.mode=max"], callbacks=[final], verbose=False)
    best = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["epoch"] == 0  # not the last of the 2 epochs: the test can tell them apart
    receipt = json.loads((tmp_path / "run.json").read_text())
    saved = load_file(tmp_path / receipt["weights_file"])  # read back with safetensors' own reader
    assert receipt["weights_sha256"] == weights_sha256(best["state_dict"]) == weights_sha256(saved)
    assert receipt["weights_sha256"] != weights_sha256(final.state)
    assert receipt["seed"] == 3 and receipt["config"]["seed_everything"] == 3


def test_rerun_in_the_same_folder_replaces_the_previous_checkpoints(tmp_path):
    for epochs in (3, 2):
        s = train([f"--out={tmp_path}", f"--trainer.max_epochs={epochs}", *FAST[1:]], verbose=False)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert names == ["best.ckpt", "last.ckpt"], names  # no last-v1.ckpt (enable_version_counter)
    assert torch.load(s["last_checkpoint"], weights_only=True)["epoch"] == 1  # this run's


def test_mnist_without_torchvision_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """The real-MNIST path is opt-in; without its extra (or network) it refuses cleanly."""
    import sys

    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if `--extra mnist` was not synced
    assert main(["--data.dataset=mnist", f"--out={tmp_path / 'out'}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["error: dataset 'mnist' needs torchvision: uv sync --extra mnist"]
    assert not (tmp_path / "out").exists()
    assert DigitsDataModule(dataset="mnist").in_features == 28 * 28
