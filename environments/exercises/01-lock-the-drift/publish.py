"""Publish a release of `tinystats` into wheels/ (next to this file), which plays PyPI here.

    uv run python exercises/01-lock-the-drift/publish.py 1.0.0     # day 1
    uv run python exercises/01-lock-the-drift/publish.py 1.1.0     # day 2: a new release

The wheels are byte-identical on every machine (fixed timestamps), so a lock made from them
stays valid wherever the checker rebuilds them.
"""

import sys
from pathlib import Path

from environments.drift import SOURCES, build_wheel

if len(sys.argv) != 2 or sys.argv[1] not in SOURCES:
    sys.exit(f"error: name a release to publish: {' or '.join(SOURCES)}")
wheel = build_wheel(sys.argv[1], Path(__file__).parent / "wheels")
print(f"published {wheel.name}")
