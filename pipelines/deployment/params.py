"""The deployment tasks' interfaces: their flags, declared once
(``pipelines.common.interface``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, flag, positive_int
from pipelines.common.registry import CHALLENGER
from pipelines.training.params import LabelledDataParams, registered_model_flag


@dataclass(frozen=True, kw_only=True)
class DeployParams(LabelledDataParams):
    window: ClassVar[str] = "reference window"

    model_name: str = registered_model_flag()
    model_version: int | None = flag(
        f"version to deploy (default: the version behind the '{CHALLENGER}' alias)",
        default=None,
        parse=positive_int,
    )
    reason: str | None = flag(
        "free text recorded in the new champion's champion_reason tag", default=None
    )


DEPLOY = Task(
    name="deploy",
    params=DeployParams,
    summary="Move the 'champion' alias to a validated version (default: the 'challenger')"
    " when there is no champion or when its primary metric (RMSE for a regression project,"
    " ROC AUC for a classification one) on the project's labelled rows of the reference"
    " window [start, end) is no worse than the champion's; otherwise keep the champion."
    " Tags both versions with who moved the alias, when and why.",
    runs="pipelines.deployment.task:run",
)


@dataclass(frozen=True, kw_only=True)
class RollbackParams:
    model_name: str = registered_model_flag()
    reason: str = flag("why the champion is rolled back; recorded on both versions")

    def validate(self) -> None:
        if not self.reason.strip():
            raise UsageError("--reason is empty: say why the champion is rolled back.")


ROLLBACK = Task(
    name="rollback",
    params=RollbackParams,
    summary="Move the 'champion' alias back to the version the current champion replaced"
    " (its previous_champion tag) and tag both versions with who rolled back, when and why."
    " Running it again goes one more version back.",
    runs="pipelines.deployment.rollback:run",
)
