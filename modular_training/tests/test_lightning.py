"""Step 3: the headline run (learns, < 60 s, all outputs), determinism across processes, configs, bad input."""

import json
import os
from pathlib import Path

import pytest
import torch
import yaml
from modular_training.step3_lightning import DigitsDataModule, build_cli, main, run

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
    # The claim is "< 60 s on 2 idle cores". The root runner shares the cores with other topics'
    # tests (load average 16 seen), so the limit grows with how oversubscribed the machine is.
    busy = max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))
    assert receipt["seconds"] < 60 * busy, f"training + test took too long (load x{busy:.1f})"
    for name in ("run.json", "config.yaml", "model.safetensors", "training_curve.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert len(list((out / "checkpoints").glob("best-*.ckpt"))) == 1
    stdout = jobs["headline_a"].result()[1]
    assert "test accuracy" in stdout and receipt["weights_sha256"] in stdout
    assert set(receipt) >= {"command", "seed", "config", "git", "lock_sha256", "data_sha256", "env"}
    print(
        f"headline wall time {jobs['headline_a'].seconds:.1f} s (incl. imports, with other jobs running)"
    )


def test_same_seed_in_separate_processes_gives_identical_weights(jobs):
    a, b = headline(jobs, "headline_a"), headline(jobs, "headline_b")
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["data_sha256"] == b["data_sha256"]


def test_two_dataloader_workers_give_the_same_weights_as_none(jobs):
    """The batch order is f(seed, epoch), so moving loading into 2 worker processes changes nothing."""
    a, w2 = headline(jobs, "headline_a"), headline(jobs, "headline_w")
    assert w2["config"]["data"]["num_workers"] == 2
    assert w2["weights_sha256"] == a["weights_sha256"]


def test_different_seeds_give_different_weights(tmp_path):
    s0 = run([f"--out={tmp_path / 's0'}", "--seed_everything=0", *FAST], verbose=False)
    s1 = run([f"--out={tmp_path / 's1'}", "--seed_everything=1", *FAST], verbose=False)
    assert s0["weights_sha256"] != s1["weights_sha256"]


def test_saved_config_reproduces_the_run(tmp_path):
    first = run(
        [f"--out={tmp_path / 'first'}", "--model.hidden=64", "--data.batch_size=64", *FAST],
        verbose=False,
    )
    saved = tmp_path / "first" / "config.yaml"
    again = run([f"--config={saved}", f"--out={tmp_path / 'again'}"], verbose=False)
    assert again["weights_sha256"] == first["weights_sha256"]
    assert yaml.safe_load(saved.read_text())["model"]["hidden"] == 64


def test_configs_digits_yaml_is_the_default_run():
    def resolved(args):
        config = build_cli(args, []).config.as_dict()
        config.pop("config", None)
        return config

    assert resolved([f"--config={TOPIC / 'configs' / 'digits.yaml'}"]) == resolved([])


def test_print_config_shows_the_resolved_config(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--print_config", "--model.lr=0.003"])
    assert exit_info.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["model"]["lr"] == 0.003 and printed["trainer"]["deterministic"] is True


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--model.hiden=64"], "unrecognized arguments: --model.hiden"),
        (["--config=BAD_YAML"], "does not accept option 'hiden'"),
        (["--model.lr=-0.1"], "model.lr must be positive, got -0.1"),
        (["--trainer.max_epochs=abc"], "invalid value for trainer.max_epochs"),
        (["--seed_everything=true"], "seed_everything must be an integer, got True"),
        (["--ckpt_path=MISSING"], "checkpoint not found"),
        (["--ckpt_path=TRUNCATED"], "truncated or corrupt"),
        (["--ckpt_path=OTHER_MODEL"], "does not fit this model (another config?): net.0.weight"),
    ],
    ids=[
        "unknown-flag",
        "unknown-yaml-key",
        "negative-lr",
        "wrong-type",
        "random-seed",
        "missing-ckpt",
        "truncated-ckpt",
        "other-model-ckpt",
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_2(args, expected, tmp_path, capsys):
    from conftest import make_truncated_checkpoint

    subst = {
        "BAD_YAML": str(write(tmp_path / "bad.yaml", "model:\n  hiden: 64\n")),
        "MISSING": str(tmp_path / "nope.ckpt"),
        "TRUNCATED": str(make_truncated_checkpoint(tmp_path / "cut.ckpt")),
        "OTHER_MODEL": str(make_other_model_checkpoint(tmp_path / "other.ckpt")),
    }
    args = [a.split("=")[0] + "=" + subst.get(a.split("=", 1)[1], a.split("=", 1)[1]) for a in args]
    assert main([*args, f"--out={tmp_path / 'out'}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err
    assert not (tmp_path / "out" / "run.json").exists()


def make_other_model_checkpoint(path: Path) -> Path:
    """A readable Lightning-shaped checkpoint of a narrower MLP, as `--model.hidden 64` would leave."""
    torch.save({"state_dict": {"net.0.weight": torch.zeros(64, 64)}, "loops": {}}, path)
    return path


def test_truncated_checkpoint_from_the_real_command_line(jobs):
    rc, stdout, stderr = jobs["truncated_ckpt"].result()
    error_lines = [
        line for line in stderr.splitlines() if line.startswith("error:") or "Traceback" in line
    ]
    assert rc == 2
    assert len(error_lines) == 1 and "truncated or corrupt" in error_lines[0], stderr[-2000:]


def test_resolved_config_and_receipt_are_consistent(tmp_path):
    s = run([f"--out={tmp_path}", "--seed_everything=3", *FAST], verbose=False)
    receipt = json.loads((tmp_path / "run.json").read_text())
    assert receipt["seed"] == 3 and receipt["config"]["seed_everything"] == 3
    assert receipt["config"] == yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert receipt["weights_sha256"] == s["weights_sha256"]
    assert torch.load(s["last_checkpoint"], weights_only=True)["epoch"] == 1


def test_rerun_in_the_same_folder_replaces_the_previous_checkpoints(tmp_path):
    for epochs in (3, 2):
        s = run([f"--out={tmp_path}", f"--trainer.max_epochs={epochs}", *FAST[1:]], verbose=False)
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert len(names) == 2 and "last.ckpt" in names, names  # no last-v1.ckpt, no stale best
    assert torch.load(s["last_checkpoint"], weights_only=True)["epoch"] == 1


def test_mnist_without_torchvision_is_one_clear_line(tmp_path, capsys, monkeypatch):
    """The real-MNIST path is opt-in; without its extra (or network) it refuses cleanly."""
    import sys

    monkeypatch.setitem(sys.modules, "torchvision", None)  # as if `--extra mnist` was not synced
    assert main(["--data.dataset=mnist", f"--out={tmp_path / 'out'}"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["error: dataset 'mnist' needs torchvision: uv sync --extra mnist"]
    assert not (tmp_path / "out").exists()
    assert DigitsDataModule(dataset="mnist").in_features == 28 * 28
