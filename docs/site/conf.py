"""Sphinx configuration of the workshop's lesson website.

`site-build` (src/ml_repro_docs/build.py) copies this folder and the topic folders into one
staging source tree and runs Sphinx there with warnings as errors; nothing here is built alone.
"""

from __future__ import annotations

import os

project = "Reproducibility and Open Science Practices in Machine Learning"
author = "The workshop's instructors"
copyright = "the workshop's instructors, MIT license"

# sphinx_lesson brings the lesson directives (exercise, solution, instructor-note, keypoints,
# exerciselist, ...), MyST-NB, the Read-the-Docs theme, copybutton and togglebutton: all
# bundled, so the built pages load nothing from another host.
extensions = ["sphinx_lesson"]

# Only the pages written for the site, the included READMEs and the teaching notebooks are
# documents; the rest of each staged topic folder is there for links, figures and execution.
include_patterns = [
    "index.md",
    "setup.md",
    "receipt.md",
    "exercises.md",
    "instructors.md",
    "sessions/*.md",
    "*/notebooks/*.ipynb",
    "jupyter_reproducibility/fixtures/trap_out_of_order.ipynb",
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "_extra", "_static"]
# The topic READMEs are included whole; their links to code and folders are rewritten by
# `ml_repro_docs.links` to the repository (see site-build).
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "sphinx_rtd_theme"
html_title = "ML reproducibility workshop"
html_static_path = ["_static"]
html_css_files = ["lesson.css"]
# The rendered Marp decks (slides/<deck>/slides.html) and their figures, copied as they are.
html_extra_path = ["_extra"]
html_show_sourcelink = False
html_copy_source = False
# No MathJax from a CDN. The pages have no math, so no page loads it (see setup() below); a page
# that gained math would ask for this local file, which is not shipped, and the browser test
# fails on the missing script: ship MathJax (Debian's libjs-mathjax) before using math.
mathjax_path = "mathjax/MathJax.js"

# --- notebooks ---------------------------------------------------------------------------------
# Every teaching notebook runs in its own topic's kernel (site-build registers one kernel per
# topic, pointing at <topic>/.venv/bin/python, and writes its name into the staged copy).
nb_execution_mode = os.environ.get("ML_REPRO_NB_EXECUTION", "cache")
# jupyter-cache keys on code and kernel name only, not on the environment: site-build names the
# cache folder after a sha256 of every topic file (uv.lock, src/, configs), so any change there
# executes the notebooks again.
nb_execution_cache_path = os.environ.get("ML_REPRO_NB_CACHE", "")
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_show_tb = True
# The stored out-of-order notebook is evidence: shown as stored, never re-run.
nb_execution_excludepatterns = ["jupyter_reproducibility/fixtures/*"]
nb_merge_streams = True

suppress_warnings: list[str] = []


def setup(app):  # noqa: ANN001, ANN201 - Sphinx's extension hook
    # An extension asks Sphinx to put MathJax on every page, in case an output holds math.
    # No page here has math: load it only on pages with equations.
    app.connect("builder-inited", lambda app: app.set_html_assets_policy("per_page"))
