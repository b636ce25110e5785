"""Moving the champion alias together with its trace."""

from __future__ import annotations

from mlflow.tracking import MlflowClient

from pipelines.common.registry import CHAMPION
from pipelines.deployment.history import ChampionMove


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
