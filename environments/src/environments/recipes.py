"""Check container recipes without building them: copied files exist, the lock is used.

No container engine runs on the machines these tests run on, so the Dockerfile and the Apptainer
definitions are validated statically. Each rule below is a mistake that makes an image either fail
to build or build a different environment than the one that was locked. Docker's general
pitfalls (untagged or `latest` bases, running as root, unpinned `pip install`) are hadolint's
rules DL3006, DL3007, DL3002 and DL3013: run hadolint on a Dockerfile too. What hadolint cannot
read is checked here: the uv lock rules, Apptainer definitions (base pins, %help, %labels), and
the workshop hub (`hub/Dockerfile`: a digest-pinned base, one locked environment and kernel per
topic, MLflow and TensorBoard proxied on loopback only).
"""

from __future__ import annotations

import glob
import re
import shlex
import sys
import tomllib
from pathlib import Path

from packaging.specifiers import SpecifierSet

from environments.plumbing import (
    EXAMPLE_PROJECT,
    TOPIC_ROOT,
    BadInput,
    OneLineParser,
    read_input,
    run_at_edge,
)

RECIPES = ("Dockerfile", "apptainer-uv.def", "apptainer-conda.def")
HUB = TOPIC_ROOT / "hub" / "Dockerfile"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def base_image_problem(image: str) -> str | None:
    """An Apptainer base image must be pinned: by digest, or at least by a tag naming a version.
    (For a Dockerfile hadolint says the same: DL3006, DL3007.)"""
    if DIGEST.search(image):
        return None
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    # `latest`, `bookworm` or a bare major (`python:3`) move to a new release without notice.
    if not re.search(r"\d+\.\d+", tag):
        return f"base image {image!r} is not pinned (use a version tag or @sha256 digest)"
    return None


def missing_sources(sources: list[str], context: Path) -> list[str]:
    """Sources of COPY / %files that do not exist in the build context (globs allowed)."""
    return [
        f"copies {src!r}, which does not exist in {context}"
        for src in sources
        if not glob.glob(str(context / src))
    ]


def python_problem(bases: str, context: Path) -> str | None:
    """The base image's Python (`python:3.11.11-...`, `uv:...-python3.11-...`) must satisfy the
    project's requires-python, or `uv sync --locked` in the image refuses the lock."""
    project = read_input(context / "pyproject.toml", tomllib.loads, "pyproject.toml (TOML)")
    spec = project.get("project", {}).get("requires-python")
    if not isinstance(spec, str):
        raise BadInput(f"{context / 'pyproject.toml'} has no requires-python")
    found = re.search(r"python:?(\d+\.\d+)", bases)
    if found is None:
        return f"base image names no Python version; the project requires {spec}"
    if not SpecifierSet(spec).contains(found[1]):
        return f"base image Python {found[1]} does not satisfy requires-python {spec}"
    return None


def dockerfile_lines(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with comments dropped and `\\` continuations joined."""
    joined = re.sub(
        r"\\\s*\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, args = line.strip().partition(" ")
            pairs.append((instruction.upper(), args.strip()))
    return pairs


def check_dockerfile(path: Path, context: Path) -> list[str]:
    text = read_input(path, str, "Dockerfile")
    problems, sources, runs, envs = [], [], [], []
    for instruction, args in dockerfile_lines(text):
        if instruction in {"COPY", "ADD"}:
            words = shlex.split(args)
            if any(w.startswith("--from") for w in words):
                continue  # copied from another image, not from the build context
            words = [w for w in words if not w.startswith("--")]
            sources += words[:-1]
        elif instruction == "RUN":
            runs.append(args)
        elif instruction == "ENV":
            envs.append(args)
    problems += missing_sources(sources, context)
    problems += uv_rules("\n".join(runs), " ".join(envs), sources, text, context)
    return problems


def uv_rules(post: str, env: str, sources: list[str], text: str, context: Path) -> list[str]:
    """An image from uv.lock: copies the lock, installs with --locked, leaves no cache."""
    problems = []
    if "uv.lock" not in " ".join(sources):
        problems.append("does not copy uv.lock")
    syncs = [cmd for cmd in re.split(r"\n|&&|;", post) if re.search(r"\buv sync\b", cmd)]
    if not syncs or any("--locked" not in cmd for cmd in syncs):
        problems.append("does not always install with `uv sync --locked` (the lock may be ignored)")
    installs = [cmd for cmd in syncs if "--no-install-project" not in cmd]
    if any("--no-editable" not in cmd for cmd in installs):
        problems.append(
            "installs the project editable (add --no-editable): the image would run the code in"
            " its source folder, which a bind mount can replace, instead of an installed copy"
        )
    if syncs and "UV_NO_CACHE=1" not in env + post and "--no-cache" not in post:
        problems.append("leaves uv's download cache in the image (set UV_NO_CACHE=1)")
    if re.search(r"\bpip install\b", post):
        problems.append("uses `pip install` next to the lock (versions from outside uv.lock)")
    bases = " ".join(re.findall(r"^(?:FROM|From:)\s*(\S+)", text, flags=re.M))
    problems += [p for p in [python_problem(bases, context)] if p]
    return problems


def def_sections(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Apptainer definition: header keys (Bootstrap, From) and %section bodies."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("%"):
            current = line[1:].split()[0]
            sections[current] = []
        elif current is None and ":" in line:
            key, _, value = line.partition(":")
            header[key.strip().lower()] = value.strip()
        elif current is not None:
            sections[current].append(line)
    return header, sections


def check_apptainer(path: Path, context: Path) -> list[str]:
    text = read_input(path, str, "Apptainer definition")
    header, sections = def_sections(text)
    problems = []
    if header.get("bootstrap") != "docker" or "from" not in header:
        problems.append("needs `Bootstrap: docker` and `From: <image>`")
    else:
        problems += [p for p in [base_image_problem(header["from"])] if p]
    sources = [shlex.split(line)[0] for line in sections.get("files", [])]
    problems += missing_sources(sources, context)
    post = "\n".join(sections.get("post", []))
    if "micromamba" in post:  # conda recipe: environment.yml in, package cache out
        if "environment.yml" not in " ".join(sources):
            problems.append("does not copy environment.yml")
        if not re.search(r"micromamba (install|create)\b.*(-f|--file)\s+\S*environment\.yml", post):
            problems.append("does not install from environment.yml")
        if not re.search(r"micromamba clean (--all|-a)", post):
            problems.append("leaves the package cache in the image (micromamba clean --all --yes)")
    else:
        problems += uv_rules(post, "", sources, text, context)
    # What a user of the .sif (on a cluster, months later) can read without the recipe.
    if not sections.get("help"):
        problems.append("has no %help: `apptainer run-help IMAGE` says nothing about it")
    if not sections.get("labels"):
        problems.append("has no %labels: `apptainer inspect IMAGE` shows no versions")
    return problems


# pip options followed by a value (the value is not a package)
VALUE_OPTIONS = {"--python", "-p", "--exclude-newer", "--index-url", "-i", "--target", "--prefix"}


def unpinned_installs(runs: str) -> list[str]:
    """Every package a `pip install` / `uv pip install` names outside a lock: `name==version`."""
    problems = []
    for spec in re.findall(r"\bpip install\b([^&;\n]*)", runs):
        words, packages = shlex.split(spec), []
        for before, word in zip(["", *words[:-1]], words, strict=True):
            if not word.startswith("-") and before not in VALUE_OPTIONS:
                packages.append(word)
        if not packages or any("==" not in p for p in packages):
            problems.append(f"`pip install {' '.join(words)}`: a package without an exact version")
    return problems


def check_hub(path: Path) -> list[str]:
    """The workshop's JupyterHub image: a Jupyter base pinned by digest, then for every topic
    copied to /opt/hub/<topic>/ its own `uv sync --locked` and a kernel named after it."""
    text = read_input(path, str, "Dockerfile")
    lines = dockerfile_lines(text)
    problems = []
    bases = [args.split()[0] for instruction, args in lines if instruction == "FROM"]
    if not bases or not DIGEST.search(bases[-1]):
        problems.append("base image not pinned by @sha256 digest (a tag can be moved)")
    copies = [args.split()[-2:] for instruction, args in lines if instruction == "COPY"]
    topics = [m[1] for _, dest in copies if (m := re.fullmatch(r"/opt/hub/(\w+)/?", dest))]
    runs = "\n".join(args for instruction, args in lines if instruction == "RUN")
    if not topics:
        problems.append("copies no topic to /opt/hub/<topic>/")
    for topic in topics:
        venv = rf"/opt/hub/{topic}(\s|$)"
        if not re.search(rf"\buv sync --locked\b[^&;\n]*--project {venv}", runs):
            problems.append(f"{topic}: no `uv sync --locked --project /opt/hub/{topic}`")
        kernel = rf"/opt/hub/{topic}/\.venv/bin/python -m ipykernel install\b[^&;\n]*"
        if not re.search(rf"{kernel}--name {topic}(\s|$)", runs):
            problems.append(f"{topic}: no kernel `--name {topic}` from its own .venv")
    if any("--locked" not in cmd for cmd in re.findall(r"\buv sync\b[^&;\n]*", runs)):
        problems.append("a `uv sync` without --locked (the lock may be ignored)")
    problems += unpinned_installs(runs)
    if "UV_NO_CACHE=1" not in " ".join(a for i, a in lines if i == "ENV"):
        problems.append("leaves uv's download cache in the image (set UV_NO_CACHE=1)")
    if not any(
        src.endswith("jupyter_server_config.py") and "etc/jupyter" in dest for src, dest in copies
    ):
        problems.append("does not copy jupyter_server_config.py to etc/jupyter (no proxies)")
    return problems + proxy_problems(path.parent / "jupyter_server_config.py", topics)


class ConfigSection(dict):
    """Stands in for Jupyter's config object: `c.ServerProxy.servers = {...}` just works."""

    def __getattr__(self, name: str) -> ConfigSection:
        return self.setdefault(name, ConfigSection())

    __setattr__ = dict.__setitem__


def proxy_problems(config: Path, topics: list[str]) -> list[str]:
    """Each jupyter-server-proxy entry runs a tool from a topic's locked .venv in the image,
    on the `{port}` the proxy picks, listening on 127.0.0.1 only (the proxy adds the login)."""
    root = ConfigSection()
    code = read_input(config, str, "jupyter_server_config.py")
    try:  # run the file as Jupyter does; `get_config()` returns the stand-in
        exec(compile(code, str(config), "exec"), {"get_config": lambda: root})
    except Exception as exc:
        raise BadInput(f"{config}: {type(exc).__name__}: {exc}") from exc
    servers = root.ServerProxy.get("servers") or {}
    problems = [] if servers else [f"{config.name} declares no ServerProxy.servers"]
    for name, entry in servers.items():
        command = entry.get("command") if isinstance(entry, dict) else None
        if not command or not all(isinstance(word, str) for word in command):
            problems.append(f"proxy {name}: `command` is not a list of strings")
            continue
        if "{port}" not in command:
            problems.append(f"proxy {name}: does not listen on the proxy's {{port}}")
        pairs = zip(command, [*command[1:], ""], strict=True)
        hosts = [b for a, b in pairs if a == "--host"] + [
            w.partition("=")[2] for w in command if w.startswith("--host=")
        ]
        if hosts != ["127.0.0.1"]:
            problems.append(f"proxy {name}: listens on {hosts or 'its default'}, not 127.0.0.1")
        tool = re.fullmatch(r"/opt/hub/(\w+)/\.venv/bin/[\w.-]+", command[0])
        if tool is None or tool[1] not in topics:
            problems.append(f"proxy {name}: runs {command[0]!r}, not a tool of a hub .venv")
    return problems


def check_recipe(path: Path, context: Path) -> list[str]:
    if not path.is_file():
        raise BadInput(f"recipe {path} not found")
    if path.suffix == ".def":
        return check_apptainer(path, context)
    if re.search(r"^FROM\s+\S*jupyter/", read_input(path, str, "Dockerfile"), re.M):
        return check_hub(path)
    return check_dockerfile(path, context)


def check_all(recipes: list[Path], context: Path) -> int:
    if not context.is_dir():
        raise BadInput(f"--context {context} is not a folder")
    # Every recipe is read and checked before the first verdict is printed.
    results = [(recipe, check_recipe(recipe, context)) for recipe in recipes]
    for recipe, problems in results:
        name = f"hub/{recipe.name}" if recipe.parent.name == "hub" else recipe.name
        print(f"{'ok  ' if not problems else 'FAIL'} {name}")
        for problem in problems:
            print(f"     - {problem}")
    return 1 if any(problems for _, problems in results) else 0


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="env-check-recipes", description=__doc__.splitlines()[0])
    parser.add_argument(
        "recipes", nargs="*", type=Path, help="default: the example project's three and the hub"
    )
    parser.add_argument(
        "--context", type=Path, default=EXAMPLE_PROJECT, help="build context folder"
    )
    args = parser.parse_args(argv)
    recipes = args.recipes or [*(args.context / name for name in RECIPES), HUB]
    return run_at_edge(lambda: check_all(recipes, args.context))


if __name__ == "__main__":
    sys.exit(main())
