"""Resolving model aliases, with errors that name the model and what to run."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelines.common.errors import MissingModelAlias

CHAMPION = "champion"
CHALLENGER = "challenger"


def version_for_alias(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version behind ``alias``, or None when the model or alias does not exist."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def require_alias(client: MlflowClient, model_name: str, alias: str, hint: str) -> str:
    version = version_for_alias(client, model_name, alias)
    if version is None:
        raise MissingModelAlias(
            f"Model {model_name} has no version with the alias '{alias}'. {hint}"
        )
    return version
