"""Model tracking: record what makes a training result reproducible, with four approaches."""

import os

# Offline by default: MLflow 3 sends anonymous usage telemetry unless told not to. A learner
# who wants it can export MLFLOW_DISABLE_TELEMETRY=false before running.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
