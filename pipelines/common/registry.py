"""The model registry's aliases and how a task finds the version it works on, with errors
that name the model and what to run. MLflow is imported by the functions that use it, so
the task interfaces read the alias names without it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.common.errors import MissingModelAlias, UsageError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

CHAMPION = "champion"
CHALLENGER = "challenger"


def version_for_alias(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version behind ``alias``, or None when the model or alias does not exist."""
    from mlflow.exceptions import MlflowException

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


def resolve_version(
    client: MlflowClient, model_name: str, version: int | str | None, alias: str, hint: str
) -> str:
    """``version`` (as a string) when given and registered, else the version behind ``alias``.

    Raises ``UsageError`` for a version the model does not have and ``MissingModelAlias``
    when no version was given and the alias is not set.
    """
    if version is None:
        return require_alias(client, model_name, alias, hint)
    from mlflow.exceptions import MlflowException

    version = str(version)
    try:
        client.get_model_version(model_name, version)
    except MlflowException:
        raise UsageError(
            f"--model-version {version}: model {model_name} has no version {version}."
            f" Pass a registered version, or leave the flag out to use the '{alias}' alias."
        ) from None
    return version
