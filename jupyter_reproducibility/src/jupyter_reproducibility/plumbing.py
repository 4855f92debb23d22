"""Plumbing shared by this topic's commands: reading notebooks, running kernels, writing files.

Nothing here is the lesson. It turns the many ways a notebook file or a kernel can be unusable
into one `NotebookUnusable` with a readable reason (the commands print it as one `error: ...`
line and exit 2), and writes results atomically so a failed run leaves nothing half-written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode

UNUSABLE = 2  # exit code for bad input, the same in every command of the repository


class NotebookUnusable(Exception):
    """The input cannot be used at all (missing, not JSON, not a notebook, kernel won't run)."""


def error(message: str) -> int:
    """Print the one `error: ...` line on stderr; return the exit code for bad input."""
    print(f"error: {message}", file=sys.stderr)
    return UNUSABLE


def read_notebook(path: Path) -> NotebookNode:
    """Read and validate; any problem becomes one NotebookUnusable with a readable reason."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookUnusable(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookUnusable(f"cannot read {path}: {exc}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise NotebookUnusable(f"{path} is not a valid notebook: {exc.message}") from None
    except Exception as exc:  # nbformat raises several types for non-notebook JSON
        # Its messages quote the file's start over several lines: keep the first one.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookUnusable(f"{path} is not a valid notebook: {reason}") from None
    return nb


def execute_in_kernel(client, what: str = "the run") -> None:
    """`client.execute()` of an nbclient NotebookClient, its failures as NotebookUnusable."""
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        # The kernel's own log (e.g. its TCP notice) is not notebook output: keep it off reports.
        client.execute(stderr=subprocess.DEVNULL)
    except NoSuchKernel:
        raise NotebookUnusable(
            f"no Jupyter kernel named {client.kernel_name!r} (try --kernel python3)"
        ) from None
    except CellTimeoutError:
        raise NotebookUnusable(
            f"a cell ran longer than --timeout {client.timeout} s in {what}"
        ) from None
    except DeadKernelError as exc:
        raise NotebookUnusable(f"the kernel died during {what}: {exc}") from None
    except Exception as exc:  # e.g. the kernel's interpreter is missing or cannot start
        raise NotebookUnusable(
            f"could not run kernel {client.kernel_name!r}: {type(exc).__name__}: {exc}"
        ) from None


def write_notebook_atomic(nb: NotebookNode, path: Path) -> None:
    """Write to a temporary file and rename, so a failed run never leaves half a notebook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            nbformat.write(nb, f)
        os.chmod(tmp, 0o644)  # mkstemp makes the file private; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def launching_command() -> list[str] | None:
    """The command line of the process that started this kernel, e.g. `papermill nb.ipynb ...`.

    Inside a notebook, sys.argv is the kernel's own (`ipykernel_launcher -f kernel.json`), which
    re-runs nothing; the real command is its parent's. `python .../bin/papermill ...` and
    `python -m papermill ...` are written as typed: `papermill ...`. None if it cannot be read.
    """
    import psutil

    try:
        argv = psutil.Process().parent().cmdline()
    except (psutil.Error, AttributeError):  # no parent, or not allowed to read it
        return None
    for i, arg in enumerate(argv):
        if Path(arg).name == "papermill":
            return ["papermill", *argv[i + 1 :]]
        if arg == "-m" and argv[i + 1 : i + 2] == ["papermill"]:
            return ["papermill", *argv[i + 2 :]]
    return argv


def python3_kernel_is_this_interpreter(folder: Path) -> None:
    """Make kernel "python3" start *this* interpreter (the topic's), even where a cluster or a
    user installed another "python3" kernelspec: JUPYTER_PATH is searched before the others."""
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(Path(folder) / "kernels" / "python3")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(folder), os.environ.get("JUPYTER_PATH")])
    )
