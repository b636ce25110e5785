"""The ``rollback`` task (``pipelines.deployment.params.ROLLBACK``): give the ``champion``
alias back to the version the current champion replaced (its ``previous_champion`` tag),
recording who did it and why."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlflow.exceptions import MlflowException

from pipelines.common.errors import DeploymentRefused
from pipelines.common.registry import CHAMPION, require_alias
from pipelines.common.task import TaskContext
from pipelines.deployment import history
from pipelines.deployment.aliases import move_champion
from pipelines.deployment.params import RollbackParams

ROLLED_BACK = "rolled_back"


def run(params: RollbackParams, ctx: TaskContext) -> dict[str, Any]:
    client = ctx.mlflow
    name = params.model_name
    current = require_alias(client, name, CHAMPION, "There is no champion to roll back.")
    previous = client.get_model_version(name, current).tags.get(history.PREVIOUS_CHAMPION)
    if previous is None or previous == history.NO_PREVIOUS:
        how = (
            "it was the first champion"
            if previous == history.NO_PREVIOUS
            else f"it has no {history.PREVIOUS_CHAMPION} tag (the alias was not set by deploy)"
        )
        raise DeploymentRefused(
            f"Cannot roll back model {name}: champion version {current} replaced no earlier"
            f" version ({how}), so there is nothing to roll back to. Nothing was changed. To"
            " make another version champion, deploy it with --model-version."
        )
    try:
        client.get_model_version(name, previous)
    except MlflowException:
        raise DeploymentRefused(
            f"Cannot roll back model {name}: champion version {current} replaced version"
            f" {previous}, which no longer exists in the registry. Nothing was changed."
        ) from None
    move = history.rollback(
        current, previous, dt.datetime.now(dt.UTC), ctx.runtime.user, params.reason
    )
    move_champion(client, name, move)
    return {
        "model_name": name,
        "decision": ROLLED_BACK,
        "demoted_version": current,
        "champion_version": previous,
        "reason": params.reason,
    }
