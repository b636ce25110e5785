"""Entry point ``rollback``: give the ``champion`` alias back to the version the current
champion replaced (its ``previous_champion`` tag), recording who did it and why."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

from mlflow.exceptions import MlflowException

from pipelines.common import flags
from pipelines.common.errors import DeploymentRefused, UsageError
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.deployment import history
from pipelines.deployment.aliases import CHAMPION, move_champion, require_alias

ROLLED_BACK = "rolled_back"


@dataclass(frozen=True)
class Params:
    model_name: str
    reason: str

    def validate(self) -> None:
        if not self.reason.strip():
            raise UsageError("--reason is empty: say why the champion is rolled back.")


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "rollback",
        "Move the 'champion' alias back to the version the current champion replaced (its"
        " previous_champion tag) and tag both versions with who rolled back, when and why."
        " Running it again goes one more version back.",
    )
    parser.add_argument(
        "--model-name",
        type=flags.model_name,
        required=True,
        help="three-level registered model name, catalog.schema.model",
    )
    parser.add_argument(
        "--reason",
        required=True,
        help="why the champion is rolled back; recorded on both versions",
    )
    return parser


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
