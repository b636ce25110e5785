"""Where tasks run: the one place that reads the process environment.

On Databricks the cluster provides Spark, Unity Catalog and MLflow; on a laptop we run
an embedded Spark (Hive metastore on Derby, parquet tables) and a local MLflow store
(sqlite + local artifacts) under one project folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(".mlops")


@dataclass(frozen=True)
class Runtime:
    """How tasks reach Spark, tables and MLflow in this process."""

    on_databricks: bool
    home: Path
    tracking_uri: str
    registry_uri: str
    user: str

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "mlflow" / "artifacts"

    @property
    def table_format(self) -> str:
        """Delta on Databricks; parquet with atomic directory swaps locally (no Delta jars)."""
        return "delta" if self.on_databricks else "parquet"

    @classmethod
    def from_environment(cls, env: Mapping[str, str] | None = None) -> Runtime:
        """Build the runtime from environment variables.

        ``DATABRICKS_RUNTIME_VERSION`` is set by Databricks on every cluster and serverless
        task. ``MLOPS_HOME`` moves the local lake and MLflow store (default ``.mlops``).
        ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI`` override the local defaults.
        """
        env = os.environ if env is None else env
        on_databricks = bool(env.get("DATABRICKS_RUNTIME_VERSION"))
        home = Path(env.get("MLOPS_HOME") or DEFAULT_HOME).resolve()
        user = env.get("USER") or env.get("USERNAME") or "unknown"
        if on_databricks:
            tracking = env.get("MLFLOW_TRACKING_URI") or "databricks"
            registry = env.get("MLFLOW_REGISTRY_URI") or "databricks-uc"
        else:
            default_store = f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"
            tracking = env.get("MLFLOW_TRACKING_URI") or default_store
            registry = env.get("MLFLOW_REGISTRY_URI") or tracking
        return cls(
            on_databricks=on_databricks,
            home=home,
            tracking_uri=tracking,
            registry_uri=registry,
            user=user,
        )
