#!/usr/bin/env bash
# Run the example project inside its container on a Slurm cluster, and fingerprint the
# environment the job really saw. Untested here (no Slurm, no Apptainer). Submit from environments/:
#   sbatch scripts/slurm_apptainer.sh example_project/digits-baseline-uv.sif
# Either image works: the uv one or example_project/digits-baseline-conda.sif.
#SBATCH --job-name=digits-baseline
#SBATCH --time=00:10:00
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --output=%x-%j.out
## For a GPU job add:  #SBATCH --gpus=1   (and keep --nv below)
set -euo pipefail
image="${1:-example_project/digits-baseline-uv.sif}"

# Threads = the cores Slurm gave us, set explicitly: the default is "all cores of the node",
# which changes with the node and changes floating-point sums with it.
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"

# --nv:       bind the host's NVIDIA driver and libraries (harmless on a CPU node: a warning)
# --cleanenv: do not leak the host's PYTHONPATH, conda or module variables into the container
# --env:      pass back in only what we decided to pass
flags=(--nv --cleanenv --env "OMP_NUM_THREADS=$OMP_NUM_THREADS")

# `apptainer run` starts the image's own %runscript. Both recipes have one; only the uv image
# installs the `digits-baseline` command (the conda image runs `python -m digits_baseline.train`).
apptainer run "${flags[@]}" "$image" --seed 0

# The fingerprint from *inside* the container: bind this topic's code read-only and run env-info
# with the container's Python (it needs numpy and threadpoolctl, which both images have).
# --lock: both images hold, at /opt/app/uv.lock, the lock they were built from; without it the
# record would hash a uv.lock next to the bound code, which is not there (a null hash).
mkdir -p outputs
apptainer exec "${flags[@]}" --bind "$PWD/src:/opt/envtools:ro" --env PYTHONPATH=/opt/envtools \
    "$image" python -m environments.envinfo --no-torch --lock /opt/app/uv.lock \
    --out "outputs/envinfo-${SLURM_JOB_ID:-local}.json"
