#!/usr/bin/env bash
# Run the example project inside its container on a Slurm cluster, and fingerprint the
# environment the job really saw. Untested here (no Slurm, no Apptainer). Submit from environments/:
#   sbatch scripts/slurm_apptainer.sh example_project/digits-baseline-uv.sif           # NVIDIA or CPU
#   sbatch scripts/slurm_apptainer.sh example_project/digits-baseline-uv.sif amd       # LUMI (AMD)
# Either image works: the uv one or example_project/digits-baseline-conda.sif. Where to build it
# (fakeroot on the cluster, or elsewhere and copy the .sif): scripts/README.md.
#SBATCH --job-name=digits-baseline
#SBATCH --time=00:10:00
#SBATCH --cpus-per-task=4
#SBATCH --mem=4G
#SBATCH --output=%x-%j.out
## For a GPU job add:  #SBATCH --gpus=1   (LUMI: #SBATCH --partition=small-g --gpus-per-node=1)
## On CSC and LUMI also: #SBATCH --account=project_<number>
set -euo pipefail
image="${1:-example_project/digits-baseline-uv.sif}"
gpu="${2:-nvidia}"   # nvidia | amd | none

# The cluster's big folders. Home is small (a few GB to tens of GB) and backed up; images, caches
# and data go to scratch. CSC (Puhti, Mahti) and LUMI: /scratch/<project> and /projappl/<project>,
# where the project is the job's account. Elsewhere (Aalto Triton: /scratch/work/$USER) set
# SCRATCH_DIR and PROJECT_DIR before sbatch.
account="${SLURM_JOB_ACCOUNT:-$USER}"
scratch="${SCRATCH_DIR:-/scratch/$account}"
project_dir="${PROJECT_DIR:-/projappl/$account}"

# Apptainer's layer cache and build space default to ~/.apptainer and /tmp: one `apptainer pull`
# or `build` of a CUDA image fills a small home or a node's /tmp. Keep both on scratch.
export APPTAINER_CACHEDIR="${APPTAINER_CACHEDIR:-$scratch/$USER/apptainer/cache}"
export APPTAINER_TMPDIR="${APPTAINER_TMPDIR:-$scratch/$USER/apptainer/tmp}"
mkdir -p "$APPTAINER_CACHEDIR" "$APPTAINER_TMPDIR"

# Threads = the cores Slurm gave us, set explicitly: the default is "all cores of the node",
# which changes with the node and changes floating-point sums with it.
export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"

# --cleanenv: do not leak the host's PYTHONPATH, conda or module variables into the container
# --env:      pass back in only what we decided to pass
# --bind:     the container sees only what is bound; home and the current folder are by default,
#             scratch and the project folder (data, results) are not
flags=(--cleanenv --env "OMP_NUM_THREADS=$OMP_NUM_THREADS")
for dir in "$scratch" "$project_dir"; do
    if [[ -d "$dir" ]]; then
        flags+=(--bind "$dir")
    fi
done
# The GPU: the host's driver is bound in, the GPU libraries (CUDA or ROCm) come from the image.
# --nv:   NVIDIA (harmless on a CPU node: a warning)
# --rocm: AMD, e.g. LUMI's MI250X (a GPU image then needs a ROCm build of torch, not a CUDA one)
case "$gpu" in
    nvidia) flags+=(--nv) ;;
    amd) flags+=(--rocm) ;;
    none) ;;
    *) echo "error: the second argument must be nvidia, amd or none, not '$gpu'" >&2; exit 2 ;;
esac

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
