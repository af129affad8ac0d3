"""Experiment tracking: a local MLflow tracking server, and runs logged to it.

An experiment that is not written down is lost: which learning rate gave that AUC last Tuesday? A tracking
server keeps, for every run, its parameters, its metrics (per epoch too), its artifacts (the model, figures) and
where it came from, and lets you compare runs and *register* the one that goes into service under a name and a
version. :class:`TrackingServer` starts MLflow's server on 127.0.0.1 with a SQLite store and the artifacts in a
folder of your choice (the lab uses ``build/mlflow``), and stops it when asked or when Python exits.

>>> server = TrackingServer("build/mlflow-doc", port=5999)
>>> server.uri
'http://127.0.0.1:5999'
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from labkit.serving.process import LocalService, free_port


class TrackingServer(LocalService):
    """MLflow's tracking server: runs in ``<root>/mlflow.db``, artifacts in ``<root>/artifacts``, on 127.0.0.1."""

    def __init__(self, root: str | Path, *, port: int = 0) -> None:
        self.root = Path(root).resolve()
        port = port or free_port()
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "1", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                   "--artifacts-destination", str(self.root / "artifacts")]
        super().__init__(command, port=port, name="MLflow tracking server", log=self.root / "server.log",
                         env={"MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "1"})

    @property
    def uri(self) -> str:
        return self.url().rstrip("/")

    def start(self, timeout: float = 90) -> TrackingServer:
        self.root.mkdir(parents=True, exist_ok=True)
        super().start(timeout)
        import mlflow

        quiet()
        mlflow.set_tracking_uri(self.uri)
        return self


def quiet() -> None:
    """Keep MLflow's console to what a person needs: no run-URL banners, download bars or INFO lines."""
    import logging
    import os

    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def run(name: str, params: Mapping[str, Any] | None = None, *, nested: bool = False) -> Iterator[Any]:
    """An MLflow run with ``params`` logged at its start; ended (FINISHED, or FAILED on an error) at the end."""
    import mlflow

    with mlflow.start_run(run_name=name, nested=nested) as active:
        if params:
            mlflow.log_params(dict(params))
        yield active


def log_history(history: Mapping[str, list[float]]) -> None:
    """Log a Keras ``History.history`` (or any ``{metric: [value per epoch]}``) as step-wise metrics.

    >>> log_history({})  # nothing to log
    """
    if not history:
        return
    import mlflow

    for metric, values in history.items():
        for epoch, value in enumerate(values):
            mlflow.log_metric(metric, float(value), step=epoch)


# Model files are code-like: loading an untrusted one can crash the loader or worse. MLflow saves scikit-learn
# models with skops, which refuses types it has not been told to trust; these are the ones the kit's own
# delay model (gradient-boosted trees) holds.
TRUSTED_TYPES = ["sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"]


def log_model(model: Any, example: Any, *, name: str = "model") -> Any:
    """Log a scikit-learn classifier to the active run so that it serves probabilities (its pyfunc calls
    ``predict_proba``), with the input schema taken from ``example`` rows; returns MLflow's model info."""
    import warnings

    import mlflow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "integer columns cannot hold missing values": ours never miss
        return mlflow.sklearn.log_model(model, name=name, pyfunc_predict_fn="predict_proba", input_example=example,
                                        skops_trusted_types=TRUSTED_TYPES)


def register(model_uri: str, name: str) -> Any:
    """Register the logged model ``model_uri`` under ``name`` (a new version if the name exists) and return the
    version; MLflow's own messages about it are kept off the console."""
    import contextlib
    import io

    import mlflow

    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        return mlflow.register_model(model_uri, name)


def runs_table(experiment: str, metrics: list[str], params: list[str], *, parent: str | None = None):
    """The finished runs of ``experiment`` (only the children of run ``parent``, if given) as a DataFrame: the run's
    name, the ``params`` (as MLflow stores them: strings) and the ``metrics``."""
    import mlflow

    wanted = "attributes.status = 'FINISHED'" + (f" and tags.mlflow.parentRunId = '{parent}'" if parent else "")
    found = mlflow.search_runs(experiment_names=[experiment], filter_string=wanted)
    if found.empty:
        return found
    columns = ["tags.mlflow.runName", *[f"params.{p}" for p in params], *[f"metrics.{m}" for m in metrics]]
    table = found[[c for c in columns if c in found.columns]].copy()
    table.columns = [c.split(".", 1)[1].replace("mlflow.runName", "run") for c in table.columns]
    return table
