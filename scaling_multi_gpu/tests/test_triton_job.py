"""The Triton job script has a real cluster's shape, checked without the cluster (no Slurm, no GPU).

Each check reads scripts/triton_gpu.sbatch as text; each is shown to fail on a copy with the line
it looks for removed, so a check that cannot fail would show here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from scaling_multi_gpu.config import build_parser

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "triton_gpu.sbatch"


def train_options(text: str) -> list[str]:
    """The options the script passes to scaling_multi_gpu.train; a lone `$VAR` becomes a number."""
    command = re.search(
        r"-m scaling_multi_gpu\.train (.*?)\"\$@\"", text.replace("\\\n", " "), re.S
    )
    assert command, 'the script must run `-m scaling_multi_gpu.train ... "$@"`'
    return [re.sub(r"^\$\{?\w+\}?$", "7", word) for word in shlex.split(command[1])]


def triton_shape_problems(text: str) -> list[str]:
    """What keeps the script from having the cluster's shape; [] when nothing does."""
    lines = text.splitlines()
    problems = []
    if not any(re.match(r"#SBATCH --partition=gpu-\S+ ", line) for line in lines):
        problems.append("no `#SBATCH --partition=gpu-...` line (Triton's GPU partitions)")
    if not any(re.match(r"#SBATCH --gpus=\d", line) for line in lines):
        problems.append("no `#SBATCH --gpus=N` (a GPU partition refuses a job without GPUs)")
    if not any(re.match(r"module load \S", line) for line in lines):
        problems.append("no `module load ...` line")
    if not any(re.match(r"export OMP_NUM_THREADS=.*SLURM_CPUS_PER_TASK", line) for line in lines):
        problems.append("OMP_NUM_THREADS is not set from SLURM_CPUS_PER_TASK")
    if not any(re.match(r"export UV_CACHE_DIR=.*WRKDIR", line) for line in lines):
        problems.append("UV_CACHE_DIR is not in scratch ($WRKDIR): the home quota is 10 GB")
    return problems


def test_the_triton_script_has_the_clusters_shape():
    text = SCRIPT.read_text()
    assert triton_shape_problems(text) == []
    build_parser().parse_args(train_options(text))  # every option it passes exists in train.py


@pytest.mark.parametrize(
    "planted, named",
    [
        (r"#SBATCH --partition=.*\n", "--partition"),
        (r"#SBATCH --gpus=.*\n", "--gpus"),
        (r"module load .*\n", "module load"),
        (r"export OMP_NUM_THREADS=.*\n", "OMP_NUM_THREADS"),
        (r"export UV_CACHE_DIR=.*\n", "UV_CACHE_DIR"),
    ],
)
def test_each_check_fails_when_its_line_is_removed(planted, named):
    broken = re.sub(planted, "", SCRIPT.read_text())
    assert any(named in problem for problem in triton_shape_problems(broken))


def test_a_misspelt_train_option_is_caught():
    text = SCRIPT.read_text().replace("--global-batch", "--global-bacth")
    with pytest.raises(SystemExit):
        build_parser().parse_args(train_options(text))
