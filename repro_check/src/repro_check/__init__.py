"""repro-check: a repo-review plugin that asks "how does *my* project do on reproducibility?".

Each check is named after the workshop lesson that fixes it; `repo-review PATH` runs them.
"""

__version__ = "0.1.0"
