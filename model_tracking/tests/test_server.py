"""A real `mlflow server` on 127.0.0.1: log over HTTP, read back, load the model, stop cleanly.

The server is started once per session by conftest.py (at collection, so its 30-60 s start-up
overlaps the tests collected before these) and stopped at the end of the session at the latest.
"""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest
import torch
from model_tracking.digits import load_digit_splits
from model_tracking.server import free_port, group_alive, is_healthy, main, stop_server
from model_tracking.train import TrainConfig, run_training


def test_run_logged_over_http_reads_back_and_model_predicts_identically(
    mlflow_server, tmp_path, secrets
):
    import mlflow

    result = run_training(
        TrainConfig(
            epochs=4,
            seed=3,
            trackers=("mlflow",),
            out=tmp_path / "run",
            tracking_uri=mlflow_server.uri,
        )
    )
    run_id = result.locations["mlflow"]["run_id"]

    mlflow.set_tracking_uri(mlflow_server.uri)
    runs = mlflow.search_runs(experiment_names=["digits"], filter_string="params.seed = '3'")
    assert run_id in set(runs["run_id"])
    row = runs.set_index("run_id").loc[run_id]
    assert (
        row["params.lr"] == "0.01"
        and row["metrics.val_accuracy"] == result.history["val_accuracy"][-1]
    )
    receipt = json.loads((result.out / "run.json").read_text())
    assert row["tags.data_sha256"] == receipt["data_sha256"]
    assert row["tags.lock_sha256"] == receipt["lock_sha256"]

    # The artifacts went through the server into its own artifact folder, not ours.
    stored = {p.name for p in (mlflow_server.root / "mlartifacts").rglob("*") if p.is_file()}
    assert {"run.json", "model.safetensors", "training_curve.png"} <= stored

    # The dummy credentials in the environment reached none of the server's files either.
    for path in (p for p in mlflow_server.root.rglob("*") if p.is_file()):
        assert not any(secret.encode() in path.read_bytes() for secret in secrets.values()), path

    [logged] = [
        m
        for m in mlflow.search_logged_models(
            experiment_ids=[runs["experiment_id"][0]], output_format="list"
        )
        if m.source_run_id == run_id
    ]
    loaded = mlflow.pytorch.load_model(logged.model_uri)
    x = load_digit_splits().x_test
    with torch.no_grad():
        assert torch.equal(result.model.eval()(x), loaded(x))


def test_server_listens_on_loopback_by_default(mlflow_server):
    from model_tracking.server import HOST

    assert HOST == "127.0.0.1" and mlflow_server.host == "127.0.0.1"
    # `mlflow server` itself got that address: its command line, read from the OS (Linux's /proc,
    # `ps` on macOS and other Unixes).
    proc = Path(f"/proc/{mlflow_server.process.pid}/cmdline")
    if proc.exists():
        cmdline = proc.read_bytes().decode().split("\0")
    else:
        ps = ["ps", "-ww", "-o", "args=", "-p", str(mlflow_server.process.pid)]
        cmdline = subprocess.run(ps, capture_output=True, text=True, check=True).stdout.split()
    assert cmdline[cmdline.index("--host") + 1] == "127.0.0.1"


def test_server_stops_leaving_no_process(mlflow_server):
    pgid = mlflow_server.process.pid
    assert group_alive(pgid)
    stop_server(mlflow_server)
    assert not group_alive(pgid)
    assert mlflow_server.process.returncode is not None
    assert not is_healthy(mlflow_server.uri, timeout_s=1)
    with socket.socket() as s:  # nobody listens on the port any more
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # old client connections linger
        s.bind(("127.0.0.1", mlflow_server.port))
        s.listen()


def test_bad_port_is_refused_before_starting_anything(tmp_path, capsys):
    assert main(["--port", "99999", "--root", str(tmp_path / "srv")]) == 2
    assert (
        capsys.readouterr().err == "error: tracking-server: --port must be in 1-65535, got 99999\n"
    )
    assert not (tmp_path / "srv").exists()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.17", "gpu17"])
def test_binding_beyond_loopback_warns_before_starting(host, tmp_path, capsys, monkeypatch):
    from model_tracking import server

    started = []
    monkeypatch.setattr(server, "start_server", lambda *a: started.append(a) or exit(3))
    with pytest.raises(SystemExit):
        main(["--host", host, "--port", str(free_port()), "--root", str(tmp_path / "srv")])
    err = capsys.readouterr().err
    assert err.startswith(f"warning: the server on {host} accepts anyone") and "basic-auth" in err
    assert started and started[0][2] == host  # the warning came first, then the start


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_hosts_start_without_warning(host, tmp_path, capsys, monkeypatch):
    from model_tracking import server

    monkeypatch.setattr(server, "start_server", lambda *a: exit(3))
    with pytest.raises(SystemExit):
        main(["--host", host, "--port", str(free_port()), "--root", str(tmp_path / "srv")])
    assert capsys.readouterr().err == ""
