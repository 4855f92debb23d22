"""The README's cluster instructions and install numbers match how things really work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TOPIC = Path(__file__).resolve().parents[1]
DOCS = [TOPIC / "README.md", TOPIC / "slides.md"]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]"}
TUNNEL = re.compile(r"ssh\s[^`\n]*?-L\s*(\d+):([^:\s]+):(\d+)[^`\n]*")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)


def tunnels(text: str) -> list[tuple[str, str, str]]:
    """(command, forward host, where it appears) for every `ssh -L` in blocks and inline code."""
    found = []
    for block in code_blocks(text):
        found += [(m.group(0), m.group(2), block) for m in TUNNEL.finditer(block)]
    prose = re.sub(r"```[a-z]*\n.*?```", "", text, flags=re.DOTALL)
    for line in prose.splitlines():
        found += [(m.group(0), m.group(2), line) for m in TUNNEL.finditer(line)]
    return found


def destination(command: str) -> str:
    """The host ssh finally logs in to: the last word that is not an option's value."""
    words = re.sub(r'-o\s+\S+="[^"]*"', "", command).split()
    return words[-1]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_tunnel_reaches_a_server_that_listens_where_it_points(doc):
    found = tunnels(doc.read_text())
    assert found, f"no ssh tunnel in {doc.name}"
    for command, host, context in found:
        if host in LOOPBACK:
            # 127.0.0.1 is looked up on the machine ssh connects to: that must be the node
            # where the server runs, not the login node.
            assert "login" not in destination(command), command
        else:
            # Forwarding to the node's address only works for a server bound beyond loopback;
            # otherwise the text must say that it does not work.
            assert "--host" in context or "does **not** work" in context, command


def test_the_nvidia_package_count_in_the_readme_matches_the_lock():
    lock = (TOPIC / "uv.lock").read_text()
    count = len(re.findall(r'^name = "nvidia-', lock, flags=re.MULTILINE))
    readme = (TOPIC / "README.md").read_text()
    assert f"`uv.lock` pulls {count} `nvidia-*` packages and `triton`" in readme
    assert re.search(r'^name = "triton"', lock, flags=re.MULTILINE)
