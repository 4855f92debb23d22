"""Staging the site's source tree: topic folders copied, READMEs' links made to work on the site,
and the exercise blocks (exercise / collapsed solution) written from each topic's exercises/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPOSITORY = "https://github.com/AaltoSciComp/ml-reproducibility-examples"
SKIP = {".venv", "node_modules", "__pycache__", ".pytest_cache", "outputs", ".ipynb_checkpoints"}
# A Markdown link or image: [text](target) / ![alt](target "title"); HTML <img src="...">.
LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?(\s+\"[^\"]*\")?\s*\)")
HTML_IMG = re.compile(r"(<img[^>]+src=\")([^\"]+)(\")")
FENCE = re.compile(r"^\s*(```|~~~)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)|<img[^>]+src=\"([^\"]+)\"")


def session_topics(repo: Path) -> list[str]:
    """The lesson topics: top-level projects with a slides.md, sorted by name."""
    return sorted(
        p.parent.name for p in repo.glob("*/slides.md") if (p.parent / "pyproject.toml").is_file()
    )


def tracked_files(project: Path) -> list[Path]:
    """Files git tracks (or would track) in the project; a walk when it is not in a checkout."""
    run = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "."],
        cwd=project,
        capture_output=True,
        text=True,
    )
    if run.returncode == 0:
        return [project / p for p in run.stdout.split("\0") if p and (project / p).is_file()]
    return [
        p
        for p in project.rglob("*")
        if p.is_file() and not SKIP.intersection(p.relative_to(project).parts)
    ]


def copy_project(project: Path, target: Path) -> None:
    for path in tracked_files(project):
        dest = target / path.relative_to(project)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


def site_target(target: str, here: Path, topic_root: Path, topic: str) -> str:
    """Where a README's relative link points on the site.

    Images stay relative (the include rewrites them); teaching notebooks become document links
    from the source root; any other file or folder of the repository becomes its page on the
    repository host; a target that does not exist is left as written, so the build fails on it.
    """
    if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target):
        return target
    path, _, anchor = target.partition("#")
    resolved = (here / path).resolve()
    root = topic_root.parent.resolve()
    if not resolved.exists() or not resolved.is_relative_to(root):
        return target
    relative = resolved.relative_to(root).as_posix()
    if resolved.suffix == ".ipynb" and resolved.parent.name == "notebooks":
        return "/" + relative + (f"#{anchor}" if anchor else "")
    kind = "tree" if resolved.is_dir() else "blob"
    return f"{REPOSITORY}/{kind}/main/{relative}" + (f"#{anchor}" if anchor else "")


def rewrite_links(text: str, here: Path, topic_root: Path, topic: str, images_to: str) -> str:
    """Rewrite every relative link outside code fences; images become `images_to + path`."""
    out, fenced = [], False
    for line in text.splitlines(keepends=True):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced:

            def link(m: re.Match) -> str:
                bang, label, target, title = m.group(1), m.group(2), m.group(3), m.group(4) or ""
                if bang and not re.match(r"^([a-z]+:|/|#)", target):
                    rel = (here / target).resolve().relative_to(topic_root.parent.resolve())
                    return f"{bang}[{label}]({images_to}{rel.as_posix()}{title})"
                return f"{bang}[{label}]({site_target(target, here, topic_root, topic)}{title})"

            line = LINK.sub(link, line)
            line = HTML_IMG.sub(
                lambda m: (
                    m.group(1)
                    + images_to
                    + (here / m.group(2))
                    .resolve()
                    .relative_to(topic_root.parent.resolve())
                    .as_posix()
                    + m.group(3)
                ),
                line,
            )
        out.append(line)
    return "".join(out)


def rewrite_readme(readme: Path, topic: str) -> None:
    """The staged README, with links that work from sessions/<topic>.md, which includes it."""
    readme.write_text(rewrite_links(readme.read_text(), readme.parent, readme.parent, topic, "../"))


def exercise_blocks(stage_topic: Path, out: Path) -> None:
    """One `exercise` block per exercises/NN-name/ (its README) with a collapsed `solution`
    (solution/WHY.md); headings become bold lines, since a block cannot hold sections."""
    blocks = []
    for folder in sorted(p for p in (stage_topic / "exercises").glob("*/") if p.is_dir()):
        readme = folder / "README.md"
        if not readme.is_file():
            continue
        lines = readme.read_text().splitlines()
        title = next((ln.lstrip("# ").strip() for ln in lines if ln.startswith("# ")), folder.name)
        body = "\n".join(ln for ln in lines if not ln.startswith("# "))
        body = rewrite_links(body, folder, stage_topic, stage_topic.name, "../")
        body = re.sub(r"^#{2,6}\s+(.*)$", r"**\1**", body, flags=re.MULTILINE)
        why = folder / "solution" / "WHY.md"
        solution = ""
        if why.is_file():
            text = rewrite_links(why.read_text(), why.parent, stage_topic, stage_topic.name, "../")
            text = re.sub(r"^#{1,6}\s+(.*)$", r"**\1**", text, flags=re.MULTILINE)
            solution = f"::::{{solution}}\n{text}\n::::\n"
        blocks.append(
            f"::::{{exercise}} {stage_topic.name}: {title}\n"
            f"Folder `{stage_topic.name}/exercises/{folder.name}/`; check your answer with "
            f"`uv run pytest exercises/{folder.name}` inside `{stage_topic.name}/`.\n\n"
            f"{body}\n::::\n\n{solution}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(blocks) if blocks else "This session has no exercises folder.\n")


def deck_images(deck: Path) -> list[str]:
    """Local images a Marp deck shows, relative to the deck."""
    found = []
    for m in IMAGE.finditer(deck.read_text()):
        target = m.group(1) or m.group(2)
        if not re.match(r"^(https?:|data:|#)", target):
            found.append(target.split("#")[0])
    return found
