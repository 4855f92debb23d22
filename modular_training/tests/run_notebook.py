"""Execute one notebook in the current folder with nbclient; exit 1 with the failing cell's error.

Started by conftest.py in a subprocess so that several notebooks run while other tests work.
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path = Path(sys.argv[1])
for attempt in (1, 2):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    try:
        client.execute()
        break
    except CellExecutionError as exc:
        print(f"{path.name}: {exc}", file=sys.stderr)
        sys.exit(1)
    except RuntimeError as exc:
        # jupyter_client picks free ports, then the kernel binds them; another process started
        # at the same moment can take one first ("Address already in use", "Kernel died before
        # replying to kernel_info"). No cell has run yet, so a fresh kernel is a clean retry.
        if attempt == 2 or "Kernel died before replying" not in str(exc):
            raise
print(f"{path.name}: executed {len(nb.cells)} cells")
