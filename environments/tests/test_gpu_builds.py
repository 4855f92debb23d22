"""The three ways to get a CUDA (or CPU-only) torch: the example files parse and pin one build.

Only PyPI is reachable where these tests run, so the uv-index and conda-forge files are checked
statically; the PyPI route is the one this topic's own environment uses, and it is resolved here.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from conftest import NO_NETWORK, TOPIC, needs_uv
from packaging.requirements import Requirement

GPU_BUILDS = TOPIC / "gpu_builds"
UV_INDEX_EXAMPLES = ["uv-cpu", "uv-cuda"]


def locked_torch() -> str:
    """The torch version this topic's uv.lock resolved from PyPI (the one every topic uses)."""
    lock = tomllib.loads((TOPIC / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == "torch")


def pyproject(example: str) -> dict:
    return tomllib.loads((GPU_BUILDS / example / "pyproject.toml").read_text())


@pytest.mark.parametrize("example", ["pypi-default", *UV_INDEX_EXAMPLES])
def test_example_pins_the_torch_this_repository_locks(example):
    spec = pyproject(example)
    assert spec["project"]["requires-python"] == ">=3.11"
    (torch,) = [Requirement(r) for r in spec["project"]["dependencies"] if r.startswith("torch")]
    assert str(torch.specifier) == f"=={locked_torch()}"


@pytest.mark.parametrize("example", UV_INDEX_EXAMPLES)
def test_uv_index_is_explicit_and_only_for_torch(example):
    """explicit = true: only packages named in [tool.uv.sources] may come from that index."""
    uv = pyproject(example)["tool"]["uv"]
    (index,) = uv["index"]
    assert index["explicit"] is True
    assert index["url"].startswith("https://download.pytorch.org/whl/")
    flavour = index["url"].rsplit("/", 1)[1]
    assert flavour == "cpu" if example == "uv-cpu" else flavour.startswith("cu")
    assert set(uv["sources"]) == {"torch"}
    assert [source["index"] for source in uv["sources"]["torch"]] == [index["name"]]


def test_pypi_default_uses_no_other_index():
    assert "index" not in pyproject("pypi-default")["tool"]["uv"]


def test_conda_forge_environment_pins_the_gpu_build():
    spec = yaml.safe_load((GPU_BUILDS / "conda-forge" / "environment.yml").read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"]  # never the defaults channel
    pins = dict(dep.split("=", 1) for dep in spec["dependencies"])
    assert pins["python"] == "3.11"
    assert pins["pytorch-gpu"] == locked_torch()
    major, minor = pins["cuda-version"].split(".")
    assert major.isdigit() and minor.isdigit()
    assert "pytorch" not in pins  # pytorch-gpu, not the CPU-or-GPU `pytorch` package


def test_examples_are_not_topics_and_leave_the_lock_alone():
    """The root runner takes top-level folders with a pyproject.toml as topics: these sit two
    levels down. They are not workspace members, so this topic's lock does not see them."""
    root = TOPIC.parent
    for path in GPU_BUILDS.rglob("pyproject.toml"):
        assert len(path.relative_to(root).parts) > 2, path
    assert "workspace" not in tomllib.loads((TOPIC / "pyproject.toml").read_text())["tool"]["uv"]
    assert not list(GPU_BUILDS.rglob("uv.lock"))  # nothing for a lock check to find stale


def nvidia_packages(lock: dict) -> dict[str, dict]:
    return {p["name"]: p for p in lock["package"] if p["name"].startswith("nvidia-")}


def test_pypi_route_brings_cuda_as_pip_packages():
    """What ran here: this topic's lock resolved `torch` from PyPI with no index settings, and
    the CUDA runtime came as nvidia-* wheels that torch requires on Linux only."""
    lock = tomllib.loads((TOPIC / "uv.lock").read_text())
    torch = next(p for p in lock["package"] if p["name"] == "torch")
    assert torch["source"] == {"registry": "https://pypi.org/simple"}
    assert len(nvidia_packages(lock)) >= 10
    cudnn = [d for d in torch["dependencies"] if d["name"].startswith("nvidia-cudnn")]
    assert cudnn and all("sys_platform == 'linux'" in d["marker"] for d in cudnn)


def resolve_pypi_example(dest: Path, env: dict[str, str]) -> dict:
    """`uv lock` on a copy of the PyPI example: offline, from the index pages and metadata this
    topic's own `uv lock` left in uv's cache. Where the cache lacks them (a machine that only ran
    `uv sync --locked`, which downloads by URL), CI fills the cache by locking once with the
    network and fails if it cannot; elsewhere the test skips, saying how to fill the cache."""
    project = Path(shutil.copytree(GPU_BUILDS / "pypi-default", dest))
    cmd = [shutil.which("uv"), "lock", "--offline"]
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
    if done.returncode != 0 and "network was disabled" in done.stderr:
        if not env.get("CI"):
            pytest.skip(
                "uv's cache has no PyPI index pages for torch (a machine that only ran "
                "`uv sync --locked`, which downloads by URL); `uv lock` in this topic with "
                "network fills it. The lock-based test above still checks the PyPI route."
            )
        done = subprocess.run(cmd[:2], cwd=project, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(
                "CI: uv's cache lacks PyPI's index pages for torch and `uv lock` could not "
                f"fetch them: {done.stderr.strip().splitlines()[-1]}",
                pytrace=False,
            )
    assert done.returncode == 0, done.stderr
    return tomllib.loads((project / "uv.lock").read_text())


def uv_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return {**env, "UV_PYTHON_DOWNLOADS": "never", **extra}


@needs_uv
def test_pypi_default_example_resolves_like_this_topic(tmp_path):
    """uv resolves the PyPI example to the same torch and the same nvidia-* packages."""
    lock = resolve_pypi_example(tmp_path / "pypi-default", uv_env())
    mine = tomllib.loads((TOPIC / "uv.lock").read_text())
    assert next(p for p in lock["package"] if p["name"] == "torch")["version"] == locked_torch()
    versions = {n: p["version"] for n, p in nvidia_packages(lock).items()}
    assert versions == {n: p["version"] for n, p in nvidia_packages(mine).items()}


@needs_uv
def test_an_empty_cache_fails_under_ci_instead_of_skipping(tmp_path):
    """On a fresh CI machine the test above must not pass by skipping: with an empty uv cache
    and no way to reach PyPI (proxies on a closed port), CI=true turns the skip into a failure."""
    env = uv_env(CI="true", UV_CACHE_DIR=str(tmp_path / "empty-cache"), **NO_NETWORK)
    env["UV_HTTP_RETRIES"] = "0"  # fail at once instead of retrying the closed port
    try:
        resolve_pypi_example(tmp_path / "pypi-default", env)
    except pytest.fail.Exception as failed:
        assert "could not fetch them" in str(failed)
    except BaseException as other:  # a skip is what this test exists to rule out
        pytest.fail(f"under CI the empty cache gave {type(other).__name__}: {other}")
    else:
        pytest.fail("resolved with an empty cache and no network")


@pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() != "x86_64",
    reason="PyPI's torch is a CUDA build on Linux x86_64 only (CPU-only on macOS and Windows)",
)
def test_installed_torch_is_a_cuda_build_of_the_size_the_readme_says():
    """This topic's dev environment is the PyPI route: a CUDA build (here running on CPU), whose
    nvidia-* packages take the size the README quotes."""
    torch = pytest.importorskip("torch")
    assert torch.__version__.startswith(locked_torch())
    assert torch.version.cuda is not None
    readme = (TOPIC / "gpu_builds" / "README.md").read_text()  # the page that quotes it
    assert f"CUDA {torch.version.cuda} build (`{torch.__version__}`)" in readme
    # Sizes of the unpacked wheels of the locked versions: the same bytes on every Linux x86_64
    # machine, so the one-decimal figures are checked exactly (rounded as the README rounds).
    site = Path(torch.__file__).parents[1]
    quoted = re.search(
        r"nvidia-\* packages\) take (\d+\.\d) GB installed here,\s+torch itself "
        r"another (\d+\.\d) GB",
        readme,
    )
    assert quoted, "the README no longer quotes the sizes of the CUDA libraries and torch"
    for folder, figure in zip((site / "nvidia", site / "torch"), quoted.groups(), strict=True):
        files = [f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        size = sum(f.stat().st_size for f in files) / 1e9  # the wheel's files, not compiled .pyc
        assert f"{size:.1f}" == figure, f"{folder.name}: measured {size:.2f} GB"
