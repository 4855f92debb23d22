"""MLflow and TensorBoard inside the hub: jupyter-server-proxy starts each on loopback on demand
and serves it at /proxy/<port>/ (and a launcher tile) behind the hub's own login.

Jupyter reads this file at start-up (the image copies it to /opt/conda/etc/jupyter/). Both tools
come from the model_tracking topic's locked environment, so the UI reads its runs with the same
MLflow version that wrote them. `{port}` is filled in by jupyter-server-proxy with a free port.
"""

import os
from pathlib import Path

# Where the tools and the runs live in the image; the variables let a test start the same
# command lines outside it.
TOOLS = Path(os.environ.get("ML_REPRO_HUB_TOOLS", "/opt/hub/model_tracking/.venv/bin"))
WORK = Path(os.environ.get("ML_REPRO_HUB_WORK", Path.home()))

c = get_config()  # noqa: F821 (defined by Jupyter's config loader)

c.ServerProxy.servers = {
    # What mlflow-server-proxy did in the original hub, in four lines: the runs a notebook logs
    # to sqlite:///~/mlflow.db, browsable without opening a port to the world.
    "mlflow": {
        "command": [
            str(TOOLS / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--backend-store-uri",
            f"sqlite:///{WORK / 'mlflow.db'}",
        ],
        "timeout": 120,
        "launcher_entry": {"title": "MLflow"},
    },
    # In place of the notebook magic `%tensorboard`: one server for every event file under home.
    "tensorboard": {
        "command": [
            str(TOOLS / "tensorboard"),
            "--logdir",
            str(WORK),
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
        ],
        "timeout": 120,
        "launcher_entry": {"title": "TensorBoard"},
    },
}
