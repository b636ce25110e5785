"""Resolving model aliases (with errors that name the model and what to run) and moving
the champion alias together with its trace."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from pipelines.common.errors import MissingModelAlias, UsageError
from pipelines.deployment.history import ChampionMove

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


def resolve_version(
    client: MlflowClient, model_name: str, version: int | str | None, alias: str, hint: str
) -> str:
    """``version`` (as a string) when given and registered, else the version behind ``alias``.

    Raises ``UsageError`` for a version the model does not have and ``MissingModelAlias``
    when no version was given and the alias is not set.
    """
    if version is None:
        return require_alias(client, model_name, alias, hint)
    version = str(version)
    try:
        client.get_model_version(model_name, version)
    except MlflowException:
        raise UsageError(
            f"--model-version {version}: model {model_name} has no version {version}."
            f" Pass a registered version, or leave the flag out to use the '{alias}' alias."
        ) from None
    return version


def move_champion(client: MlflowClient, model_name: str, move: ChampionMove) -> None:
    """Write the move's trace tags, then point ``champion`` at ``move.new_champion``.

    The alias is written last: an error before it leaves every alias as it was (and at
    worst tags describing a move that did not happen, which a re-run overwrites), and no
    alias ever moves without its trace.
    """
    for version, keys in move.delete_tags.items():
        present = client.get_model_version(model_name, version).tags
        for key in keys:
            if key in present:
                client.delete_model_version_tag(model_name, version, key)
    for version, tags in move.set_tags.items():
        for key, value in tags.items():
            client.set_model_version_tag(model_name, version, key, value)
    client.set_registered_model_alias(model_name, CHAMPION, move.new_champion)
