"""Point MLflow at the workspace (Databricks) or at the local store, and pick the experiment."""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from pipelines.common.runtime import Runtime


def configure_mlflow(runtime: Runtime) -> MlflowClient:
    """Set tracking and registry URIs for this process and return a client on them."""
    if not runtime.on_databricks:
        runtime.artifacts_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(runtime.tracking_uri)
    mlflow.set_registry_uri(runtime.registry_uri)
    return MlflowClient(tracking_uri=runtime.tracking_uri, registry_uri=runtime.registry_uri)


def use_experiment(runtime: Runtime, client: MlflowClient, experiment: str) -> str:
    """Make ``experiment`` (a workspace path such as /Shared/x) current; return its id.

    Locally its artifacts go under the project's MLflow folder rather than the cwd.
    """
    existing = client.get_experiment_by_name(experiment)
    if existing is not None:
        experiment_id = existing.experiment_id
    elif runtime.on_databricks:
        experiment_id = client.create_experiment(experiment)
    else:
        location = Path(runtime.artifacts_dir) / experiment.strip("/").replace("/", "_")
        experiment_id = client.create_experiment(experiment, artifact_location=location.as_uri())
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id
