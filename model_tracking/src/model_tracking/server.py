"""A real MLflow tracking server on this machine: start it, wait for /health, stop it cleanly.

    tracking-server --port 5000            # then, in another shell:
    tracking-train --tracker mlflow --tracking-uri http://127.0.0.1:5000

The server keeps runs in a sqlite file and artifacts in a folder under --root; clients only
talk HTTP to it, exactly as they would to a shared group server or a cluster node.
It listens on 127.0.0.1 (this machine only; reach it from elsewhere through an ssh tunnel).
`--host 0.0.0.0` opens it to everyone who can reach this machine, without any login unless
the server runs MLflow's basic-auth app (`mlflow server --app-name basic-auth`).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from model_tracking.plumbing import BadInput, check_writable_folder, parser_for, run_at_edge

HOST = "127.0.0.1"  # loopback only: nobody else on the network can read or write your runs


@dataclass
class MlflowServer:
    process: subprocess.Popen
    port: int
    root: Path
    host: str = HOST

    @property
    def uri(self) -> str:
        # A server bound to every interface is still reached locally through loopback.
        host = HOST if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can connect to (127.x.x.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to a public interface
        return False


def host_warning(host: str) -> str | None:
    """What binding to `host` exposes, or None when only this machine can connect."""
    if is_loopback(host):
        return None
    return (
        f"warning: the server on {host} accepts anyone who can reach this machine, with no "
        "login: they can read, change and delete every run. Prefer the default 127.0.0.1 and an "
        "ssh tunnel; on a shared network put MLflow's basic-auth app in front "
        "(mlflow server --app-name basic-auth) or a reverse proxy with TLS."
    )


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_command(port: int, root: Path, host: str = HOST) -> list[str]:
    root = Path(root).resolve()
    return [
        sys.executable, "-m", "mlflow", "server",
        "--host", host,
        "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        # Clients upload artifacts through the server, which stores them here.
        "--artifacts-destination", str(root / "mlartifacts"),
        "--workers", "1",
    ]  # fmt: skip


def start_server(root: Path, port: int | None = None, host: str = HOST) -> MlflowServer:
    """Launch `mlflow server` in its own process group (so it can be stopped as a whole)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port(host)
    # The background job runner (for GenAI evaluation jobs) is not needed for tracking and
    # slows start-up and shutdown; switch it off.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(root / "server.log", "ab")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        server_command(port, root, host),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log.close()  # the child keeps its own copy of the file descriptor
    return MlflowServer(process, port, root, host)


def is_healthy(uri: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{uri}/health", timeout=timeout_s) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until_healthy(server: MlflowServer, timeout_s: float = 180.0) -> None:
    """Poll /health; it takes 30-60 s on a busy laptop (imports, database migrations)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            log = (server.root / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"mlflow server exited with {server.process.returncode}:\n{log}")
        if is_healthy(server.uri):
            return
        time.sleep(0.5)
    stop_server(server)
    raise TimeoutError(f"mlflow server at {server.uri} not healthy after {timeout_s:.0f} s")


def stop_server(server: MlflowServer, timeout_s: float = 20.0) -> None:
    """SIGTERM to the whole process group, then SIGKILL what is left: no process stays behind."""
    pgid = server.process.pid  # start_new_session=True made the server its group's leader
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and group_alive(pgid):
            server.process.poll()  # reap the leader so it does not linger as a zombie
            time.sleep(0.2)
        if not group_alive(pgid):
            break
    server.process.wait(timeout=timeout_s)


def group_alive(pgid: int) -> bool:
    """True while any process of the group exists (call poll() first to reap our own child)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = parser_for(__doc__, prog="tracking-server")
    parser.add_argument(
        "--host",
        default=HOST,
        help="interface to listen on (default %(default)s: this machine only)",
    )
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--root", type=Path, default=Path("outputs/mlflow-server"))
    args = parser.parse_args(argv)
    return run_at_edge(lambda: serve(args), prog="tracking-server")


def serve(args) -> int:
    """Check the input, start the server, wait for Ctrl-C, stop it."""
    if not 0 < args.port < 65536:  # else mlflow would fail only after its slow start-up
        raise BadInput(f"--port must be in 1-65535, got {args.port}")
    # The store may exist already (a restarted server keeps its runs); it must be a folder.
    check_writable_folder(args.root, "--root")
    if is_healthy(MlflowServer(None, args.port, args.root, args.host).uri, timeout_s=1):
        raise BadInput(f"something already serves MLflow on port {args.port}")
    warning = host_warning(args.host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    # Ctrl-C (SIGINT) and `kill` (SIGTERM) both end in the `finally` below, which stops the
    # server's whole process group; it runs in its own session, so it never sees Ctrl-C itself.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = start_server(args.root, args.port, args.host)
    print(
        f"starting mlflow server on {server.uri} (log: {server.root / 'server.log'}) ...",
        flush=True,
    )
    started = time.monotonic()
    try:
        wait_until_healthy(server)
        print(f"ready after {time.monotonic() - started:.0f} s: {server.uri}")
        print(f"train with --tracker mlflow --tracking-uri {server.uri}")
        print("Ctrl-C stops the server.", flush=True)
        server.process.wait()
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: tracking-server: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        stop_server(server)
    print("server stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
