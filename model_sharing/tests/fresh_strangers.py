"""Run the stranger scripts (fresh_load_*.py) one after another in ONE fresh interpreter.

Starting Python and importing transformers is the slow part, so the tests pay for it once.
Usage: `python fresh_strangers.py JOBS.json`, each job `[script, *args]`; each script prints
its result as a JSON line. None of them imports our package.
"""

import json
import runpy
import sys
from pathlib import Path

for job in json.loads(Path(sys.argv[1]).read_text()):
    sys.argv = job
    runpy.run_path(job[0], run_name="__main__")
