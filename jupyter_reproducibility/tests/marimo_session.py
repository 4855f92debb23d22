"""Drive a running marimo app the way its browser front end does, over 127.0.0.1.

`marimo run --headless` serves the app; a front end opens the page (which carries the server's
skew-protection token), opens the websocket `/ws?session_id=...` (the kernel starts and runs
every cell, streaming `cell-op` messages with each cell's output), and sends UI changes with
POST `/api/kernel/set_ui_element_value`. Nothing here asks a cell to run: if a cell runs after a
UI change, marimo's own dependency graph decided it.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from websockets.sync.client import connect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    """What one reactive run did: which cells ran, and each cell's last output."""

    ran: list[str] = field(default_factory=list)  # cell ids, in the order they started
    outputs: dict[str, str] = field(default_factory=dict)  # cell id -> output data


class MarimoApp:
    """A `marimo run` server with one connected session; use as a context manager."""

    def __init__(self, notebook: Path, cwd: Path, timeout: float = 120) -> None:
        self.port = free_port()
        self.timeout = timeout
        self.session_id = "test-session"
        self._closing = contextlib.ExitStack()
        self.server = subprocess.Popen(
            [sys.executable, "-m", "marimo", "run", "--headless", "--no-token", "--include-code"]
            + ["--port", str(self.port), str(notebook)],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> MarimoApp:
        try:
            return self._connect()
        except BaseException:
            self.__exit__()
            raise

    def _connect(self) -> MarimoApp:
        page = self._wait_for_page()
        self.server_token = re.search(r'marimo-server-token data-token="([^"]+)"', page).group(1)
        self.ws = self._closing.enter_context(
            connect(f"ws://127.0.0.1:{self.port}/ws?session_id={self.session_id}")
        )
        self.codes: dict[str, str] = {}
        self.first_run = self.collect_run()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.close()
        self.server.terminate()
        self.server.wait(timeout=30)

    def _wait_for_page(self) -> str:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5) as r:
                    return r.read().decode()
            except OSError:
                if self.server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("marimo run did not start") from None
                time.sleep(0.2)

    def collect_run(self) -> Run:
        """Read messages until the kernel reports the run finished (`completed-run`)."""
        run = Run()
        deadline = time.monotonic() + self.timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            op, data = message["op"], message["data"]
            if op == "kernel-ready":
                self.codes = dict(zip(data["cell_ids"], data["codes"], strict=True))
            elif op == "cell-op":
                if data.get("status") == "running":
                    run.ran.append(data["cell_id"])
                if data.get("output"):
                    run.outputs[data["cell_id"]] = data["output"]["data"]
            elif op == "completed-run":
                return run

    def cell(self, code_contains: str) -> str:
        """The id of the one cell whose code contains `code_contains`."""
        (found,) = [cell_id for cell_id, code in self.codes.items() if code_contains in code]
        return found

    def set_ui_value(self, object_id: str, value: object) -> Run:
        """What moving a UI element in the browser sends; returns the run it caused."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/kernel/set_ui_element_value",
            data=json.dumps({"objectIds": [object_id], "values": [value]}).encode(),
            headers={
                "Content-Type": "application/json",
                "Marimo-Session-Id": self.session_id,
                "Marimo-Server-Token": self.server_token,
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
        return self.collect_run()


def ui_element_id(html: str) -> str:
    """The object id marimo gives a UI element in a cell's HTML output."""
    return re.search(r"object-id='([^']+)'", html).group(1)
