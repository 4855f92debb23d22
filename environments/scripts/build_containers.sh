#!/usr/bin/env bash
# Build the example project's three container images. Untested on the machines that run this
# repository's tests (no container engine there); run it where Docker or Apptainer exists.
#   bash scripts/build_containers.sh [docker|apptainer-uv|apptainer-conda|all]
set -euo pipefail
cd "$(dirname "$0")/.."

# Refuse to build from recipes or exports that disagree with the lock, or that hadolint rejects.
uv run env-check-recipes
uv run env-sync-check
uv run hadolint example_project/Dockerfile

cd example_project
what="${1:-all}"
if [[ "$what" == docker || "$what" == all ]]; then
    docker build -t digits-baseline:0.1.0 .
    docker run --rm digits-baseline:0.1.0
fi
if [[ "$what" == apptainer-uv || "$what" == all ]]; then
    # --fakeroot lets an unprivileged user build where the admins enabled it (e.g. some clusters).
    apptainer build --fakeroot digits-baseline-uv.sif apptainer-uv.def
    apptainer test digits-baseline-uv.sif
fi
if [[ "$what" == apptainer-conda || "$what" == all ]]; then
    apptainer build --fakeroot digits-baseline-conda.sif apptainer-conda.def
    apptainer test digits-baseline-conda.sif
fi
