"""Execute one notebook in the current folder with nbclient; exit 1 with the failing cell's error.

Started by conftest.py in a subprocess so that several notebooks run while other tests work.
"""

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
client = NotebookClient(
    nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": "."}}
)
try:
    client.execute()
except CellExecutionError as exc:
    print(f"{path.name}: {exc}", file=sys.stderr)
    sys.exit(1)
print(f"{path.name}: executed {len(nb.cells)} cells")
