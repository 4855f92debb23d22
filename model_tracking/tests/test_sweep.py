"""The W&B sweep: sweep.yaml's grid, run offline, each point an offline W&B run in one group,
read back with W&B's own reader and ranked on validation accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from model_tracking.wandb_sweep import SWEEP_FILE, grid, load_sweep, main

TOPIC = Path(__file__).resolve().parents[1]


def test_the_shipped_sweep_is_the_readmes_grid():
    sweep = load_sweep(SWEEP_FILE)
    points = grid(sweep)
    assert sorted((p["lr"], p["seed"]) for p in points) == [
        (lr, seed) for lr in (0.001, 0.01, 0.1) for seed in (0, 1)
    ]
    assert {p["epochs"] for p in points} == {6}
    # Selection on validation data, as everywhere in this topic.
    assert sweep["metric"] == {"name": "final_val_accuracy", "goal": "maximize"}
    readme = (TOPIC / "README.md").read_text()
    assert f"`uv run tracking-sweep` runs its {len(points)} points" in readme


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory) -> dict:
    """Two grid points of one epoch: the loop, the offline runs and the read-back, at least cost."""
    tmp = tmp_path_factory.mktemp("sweep")
    config = tmp / "sweep.yaml"
    sweep = yaml.safe_load(SWEEP_FILE.read_text())
    sweep["parameters"] = {"lr": {"values": [0.1, 0.001]}, "seed": {"value": 0}}
    config.write_text(yaml.safe_dump(sweep))
    out = tmp / "out"
    assert main(["--config", str(config), "--epochs", "1", "--out", str(out)]) == 0
    return {"out": out, "table": json.loads((out / "sweep.json").read_text())}


def test_each_point_is_an_offline_wandb_run_read_back_as_its_receipt_says(small_sweep):
    out, rows = small_sweep["out"], small_sweep["table"]["runs"]
    assert sorted(row["lr"] for row in rows) == [0.001, 0.1]
    assert len({row["group"] for row in rows}) == 1 and rows[0]["group"].startswith("sweep-")
    for row in rows:
        run_dir = out / row["run_dir"]
        assert run_dir.name.startswith("offline-run-"), run_dir
        # W&B's record (read by `wandb leet inspect`) against the run's own receipt.
        receipt = json.loads((run_dir.parents[1] / "run.json").read_text())
        assert receipt["config"]["lr"] == row["lr"] and receipt["config"]["epochs"] == 1
        assert receipt["metrics"]["final_val_accuracy"] == row["final_val_accuracy"]
        assert receipt["metrics"]["test_accuracy"] == row["test_accuracy"]
        assert f"--wandb-group {row['group']}" in " ".join(receipt["command"])


def test_the_sweep_ranks_on_validation_accuracy(small_sweep):
    rows = small_sweep["table"]["runs"]
    accuracies = [row["final_val_accuracy"] for row in rows]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[0] > accuracies[-1]
    assert rows[0]["lr"] == 0.1  # one epoch at lr 0.001 barely learns


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        ({"method": "bayes"}, "`method: grid` sweeps only"),
        ({"metric": {"name": "val_accuracy"}}, "needs a `name` and a `goal`"),
        ({"parameters": {"momentum": {"values": [0.9]}}}, "parameters must be some of"),
        ({"parameters": {"lr": {"values": ["1e-3"]}}}, "lr needs numbers"),
        ({"parameters": {"lr": {"values": [-1.0]}}}, "--lr must be in"),
    ],
)
def test_a_sweep_this_loop_cannot_run_is_one_line_before_any_run(edit, fragment, tmp_path, capsys):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump({**yaml.safe_load(SWEEP_FILE.read_text()), **edit}))
    code = main(["--config", str(config), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err, err
    assert err.startswith("error: tracking-sweep: ")
    assert not (tmp_path / "out").exists()
