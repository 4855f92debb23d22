"""The sweep: a table sorted by MLflow, a plot, and only the best model registered, with aliases."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import torch
from model_tracking.compare import main
from model_tracking.digits import load_digit_splits

NAME = "digits-mlp"
TOPIC = Path(__file__).resolve().parents[1]


def champion_predictions(uri: str) -> torch.Tensor:
    """What a deployment loading `models:/digits-mlp@champion` gets: its test-set outputs."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    model = mlflow.pytorch.load_model(f"models:/{NAME}@champion")
    with torch.no_grad():
        return model(load_digit_splits().x_test)


def run_predictions(uri: str, run_id: str) -> torch.Tensor:
    import mlflow

    mlflow.set_tracking_uri(uri)
    [logged] = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{run_id}'",
        experiment_ids=[mlflow.get_run(run_id).info.experiment_id],
        output_format="list",
    )
    with torch.no_grad():
        return mlflow.pytorch.load_model(logged.model_uri)(load_digit_splits().x_test)


def sweep(uri, out, *argv: str) -> dict:
    """Run `tracking-compare`; its best.json plus what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*argv, "--tracking-uri", uri, "--out", str(out)]) == 0
    return {**json.loads((out / "best.json").read_text()), "printed": printed.getvalue()}


def small_sweep(uri, out, seed: int) -> dict:
    """One weak run (lr 0.001, 2 epochs): a poor model registered as a new version."""
    return sweep(uri, out, "--lrs", "0.001", "--seeds", str(seed), "--epochs", "2")


@pytest.fixture(scope="module")
def registry_story(tmp_path_factory):
    """A weak first champion, then the real sweep, then a weak challenger: three versions."""
    tmp = tmp_path_factory.mktemp("compare")
    uri = f"sqlite:///{tmp / 'sweep.db'}"
    first = small_sweep(uri, tmp / "first", seed=0)
    before = champion_predictions(uri)
    full = sweep(uri, tmp / "cmp", "--epochs", "6")
    after = champion_predictions(uri)
    last = small_sweep(uri, tmp / "last", seed=1)
    return {
        "uri": uri, "out": tmp / "cmp",
        "first": first, "sweep": full, "last": last, "before": before, "after": after,
    }  # fmt: skip


def test_compare_sweep_sorted_table_and_plot(registry_story):
    out = registry_story["out"]
    table = pd.read_csv(out / "comparison.csv")
    assert len(table) == 6
    assert sorted(zip(table["lr"], table["seed"], strict=True)) == [
        (lr, seed) for lr in (0.001, 0.01, 0.1) for seed in (0, 1)
    ]
    assert table["val_accuracy"].is_monotonic_decreasing
    # lr=0.001 learns visibly slower in 6 epochs: the table must show it at the bottom.
    assert set(table["lr"].tail(2)) == {0.001}
    assert (out / "comparison.png").stat().st_size > 10_000
    best_run = registry_story["sweep"]["run_id"]
    assert table.iloc[0]["val_accuracy"] == table.set_index("run_id").loc[best_run, "val_accuracy"]


def test_only_each_sweeps_best_run_is_registered(registry_story):
    from mlflow import MlflowClient

    uri = registry_story["uri"]
    versions = MlflowClient(uri).search_model_versions(f"name='{NAME}'")
    stories = (registry_story[k] for k in ("first", "sweep", "last"))
    assert {(int(v.version), v.run_id) for v in versions} == {
        (story["registry"]["version"], story["run_id"]) for story in stories
    }
    table = pd.read_csv(registry_story["out"] / "comparison.csv")
    registered = {v.run_id for v in versions}
    assert len(set(table["run_id"]) & registered) == 1  # five of the six sweep runs: not registered


def test_aliases_move_only_to_a_better_model_and_the_uri_follows(registry_story):
    from mlflow import MlflowClient

    uri, first, sweep, last = (registry_story[k] for k in ("uri", "first", "sweep", "last"))
    client = MlflowClient(uri)
    # 1. The first version ever becomes champion. 2. The sweep's best beats it: @champion moves.
    # 3. A weaker later version is only @challenger; @champion stays.
    assert first["registry"] == {
        "name": NAME,
        "version": 1,
        "champion": 1,
        "previous_champion": None,
    }
    assert sweep["registry"]["champion"] == 2 and sweep["registry"]["previous_champion"] == 1
    assert last["registry"]["version"] == 3 and last["registry"]["champion"] == 2
    assert int(client.get_model_version_by_alias(NAME, "champion").version) == 2
    assert int(client.get_model_version_by_alias(NAME, "challenger").version) == 3

    # The same URI, models:/digits-mlp@champion, loaded different models before and after.
    assert torch.equal(registry_story["before"], run_predictions(uri, first["run_id"]))
    assert torch.equal(registry_story["after"], run_predictions(uri, sweep["run_id"]))
    assert not torch.equal(registry_story["before"], registry_story["after"])

    # Moving the alias by hand (a rollback) changes what the URI loads, immediately.
    client.set_registered_model_alias(NAME, "champion", "1")
    assert torch.equal(champion_predictions(uri), registry_story["before"])
    client.set_registered_model_alias(NAME, "champion", "2")


def test_registered_version_says_why_it_was_chosen(registry_story):
    from mlflow import MlflowClient

    client = MlflowClient(registry_story["uri"])
    sweep = registry_story["sweep"]
    version = client.get_model_version(NAME, str(sweep["registry"]["version"]))
    table = pd.read_csv(registry_story["out"] / "comparison.csv")
    assert version.tags["sweep_id"] == sweep["sweep_id"]
    assert version.tags["selected_on"] == "val_accuracy"
    assert float(version.tags["val_accuracy"]) == table.iloc[0]["val_accuracy"]
    run = client.get_run(sweep["run_id"])
    assert version.tags["data_sha256"] == run.data.tags["data_sha256"]
    assert sweep["sweep_id"] in version.description and "validation" in version.description


def test_compare_prints_the_registry_story(registry_story):
    printed = registry_story["sweep"]["printed"]
    assert "sorted by validation accuracy" in printed
    assert f"registered {NAME} version 2 as @challenger; @champion moved to it" in printed
    assert f"models:/{NAME}@champion" in printed
    assert "@champion stays on version 2" in registry_story["last"]["printed"]


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--lrs", "0.01", "-3"], "--lr must be in"), (["--seeds", "0", "-1"], "--seed must be in")],
)
def test_compare_checks_every_run_before_the_first(argv, fragment, tmp_path, capsys, monkeypatch):
    from model_tracking import compare

    monkeypatch.setattr(compare, "run_training", lambda *a, **k: pytest.fail("a run started"))
    uri = f"sqlite:///{tmp_path / 's.db'}"
    code = main([*argv, "--tracking-uri", uri, "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and fragment in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("champion_accuracy", "promoted"),
    # Accuracies on the 360 validation images: 4 more right is +0.011, 3 more +0.008.
    [(343 / 360, True), (330 / 360, True), (344 / 360, False), (347 / 360, False), (1.0, False)],
)
def test_champion_moves_only_for_a_clear_margin(champion_accuracy, promoted):
    """The validation split is reused by every sweep: a win by less than the margin can be luck."""
    from model_tracking.compare import PROMOTION_MARGIN, beats_champion

    challenger = 347 / 360
    champion = {"val_accuracy": str(champion_accuracy), "data_sha256": "abc"}
    assert PROMOTION_MARGIN > 0
    assert beats_champion(challenger, "abc", champion) is promoted
    assert beats_champion(challenger, "other data", champion) is False
    assert beats_champion(challenger, "abc", None) is True


# The README's example sweep is `tracking-compare --epochs 6`, the sweep of `registry_story`.
# Accuracies (k of n) are machine-independent: the same under every kernel path measured (AVX512,
# AVX2, DEFAULT with MKL_CBWR=COMPATIBLE), so exact everywhere. val_loss was also the same to its
# 6 printed decimals there; it is a float sum, so off the README's fingerprint it is checked within
# VAL_LOSS_ATOL (the weights move by ~1e-6 between kernel paths). The 12-character weight hashes
# are machine-dependent: exact only on the fingerprint the README names (its headline table's
# first row), where the example was printed.
VAL_LOSS_ATOL = 1e-5
README_ROW = re.compile(
    r"^\s*(0\.\d+)\s+(\d+)\s+(0\.\d{6})\s+(0\.\d{6})\s+(\d+\.\d{6})\s+([0-9a-f]{12})\s", re.M
)


def test_readme_sweep_example_is_what_the_sweep_gives(registry_story):
    import warnings

    from test_docs import fingerprint_differences, headline_table

    readme = (TOPIC / "README.md").read_text()
    assert "uv run tracking-compare --epochs 6` prints" in readme
    shown = README_ROW.findall(readme.split("### Compare", 1)[1].split("```")[1])
    assert len(shown) >= 2, shown
    table = pd.read_csv(registry_story["out"] / "comparison.csv")
    one_run = registry_story["out"] / "lr0.01-seed0" / "run.json"  # every run has the same env
    env = json.loads(one_run.read_text())["env"]
    differ = fingerprint_differences(headline_table()[0], env)
    if differ:
        warnings.warn(
            "not the README example's fingerprint (" + ", ".join(differ) + "): weight hashes not "
            f"checked, val_loss within {VAL_LOSS_ATOL}",
            stacklevel=1,
        )
    for rank, (lr, seed, val_acc, test_acc, val_loss, digest) in enumerate(shown):
        row = table.iloc[rank]  # the same rank: the order is the sort's, on the same numbers
        assert (row["lr"], row["seed"]) == (float(lr), int(seed)), (rank, lr, seed)
        assert f"{row['val_accuracy']:.6f}" == val_acc and f"{row['test_accuracy']:.6f}" == test_acc
        if differ:
            assert abs(row["val_loss"] - float(val_loss)) <= VAL_LOSS_ATOL
        else:
            assert (f"{row['val_loss']:.6f}", row["weights_sha256"]) == (val_loss, digest)
    # "one lr's two seeds are ranks apart": a claim about seeds, from the table itself.
    ranks = {lr: list(table.index[table["lr"] == lr]) for lr in set(table["lr"])}
    quoted = re.search(r"here lr ([\d.]+) is (\w+)\s+and\s+(\w+)\)", readme)
    ordinal = ["first", "second", "third", "fourth", "fifth", "sixth"]
    assert ranks[float(quoted.group(1))] == [ordinal.index(quoted.group(i)) for i in (2, 3)]
