"""The numbers the README quotes about locks and builds are the ones the files hold."""

from __future__ import annotations

import re
import tomllib

from conftest import EXAMPLE, TOPIC
from environments.sync_check import lock_versions_and_hashes

README = (TOPIC / "README.md").read_text()


def test_example_project_versions_match_its_lock():
    locked = lock_versions_and_hashes(EXAMPLE)[0]
    assert (
        f"agree on\n{len(locked)} packages" in README
        or f"agree on {len(locked)} packages" in README
    )
    assert f"`├── numpy v{locked['numpy']}`" in README
    assert f"`└── scikit-learn v{locked['scikit-learn']}`" in README
    assert f"numpy=={locked['numpy']}" in README


def test_gpu_build_numbers_match_this_topics_lock():
    gpu_page = (TOPIC / "gpu_builds" / "README.md").read_text()
    packages = {p["name"]: p for p in tomllib.loads((TOPIC / "uv.lock").read_text())["package"]}
    nvidia = [name for name in packages if name.startswith("nvidia-")]
    assert re.search(rf"as {len(nvidia)} `nvidia-\*` pip packages", gpu_page)
    assert f"`torch=={packages['torch']['version']}`" in gpu_page


def test_counter_example_problem_count():
    from environments.recipes import check_recipe

    problems = check_recipe(EXAMPLE / "Dockerfile.unpinned", EXAMPLE)
    words = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    assert f"names {words.get(len(problems), len(problems))} problems" in README, problems


def test_recipe_table_names_each_recipes_base_image():
    """The README's container table shows the base image each recipe really starts from."""
    for name in ("apptainer-conda.def", "apptainer-uv.def", "Dockerfile"):
        recipe = (EXAMPLE / name).read_text()
        base = re.search(r"^(?:FROM|From:)\s+(\S+)", recipe, re.M)[1]
        row = next(line for line in README.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"`{base}`" in row, (name, base, row)
