"""Whether a version may be deployed, and whether it should replace the champion: pure
functions of the version's tags and of both models' RMSE on the same reference data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.deployment.history import ROLLBACK_REASON, ROLLED_BACK_AT
from pipelines.validation.task import (
    DRY_RUN_FAILED,
    FAILED,
    PASSED,
    RUN_ID_TAG,
    SKIPPED,
    STATUS_TAG,
)

PROMOTED, KEPT_CHAMPION, ALREADY_CHAMPION = "promoted", "kept_champion", "already_champion"
# DRY_RUN_FAILED and SKIPPED are deployable on purpose: a stack that runs validation in
# dry-run or disabled mode has chosen not to gate deployment on it.
DEPLOYABLE_STATUSES = (PASSED, DRY_RUN_FAILED, SKIPPED)


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str


def refusal(version: str, tags: Mapping[str, str]) -> str | None:
    """Why ``version`` (with these tags) must not be deployed, or None when it may be."""
    status = tags.get(STATUS_TAG)
    if status is None:
        return (
            f"version {version} has no {STATUS_TAG} tag, so it was never validated."
            " Run the validate task on it first."
        )
    if status not in DEPLOYABLE_STATUSES:
        run = tags.get(RUN_ID_TAG, "unknown")
        detail = " (see the validation run for the broken rules)" if status == FAILED else ""
        return (
            f"version {version} has {STATUS_TAG}={status} from MLflow run {run}{detail};"
            f" only {', '.join(DEPLOYABLE_STATUSES)} may be deployed."
        )
    if ROLLED_BACK_AT in tags:
        # Without this, the next scheduled deploy would quietly undo a rollback while the
        # rolled-back version still holds the challenger alias.
        return (
            f"version {version} was rolled back at {tags[ROLLED_BACK_AT]}"
            f" (reason: {tags.get(ROLLBACK_REASON, 'not given')}). Train a new challenger,"
            f" or delete the {ROLLED_BACK_AT} tag of version {version} to deploy it again."
        )
    return None


def decide(
    challenger: str,
    champion: str | None,
    challenger_rmse: float | None = None,
    champion_rmse: float | None = None,
    data: str = "the reference data",
) -> Decision:
    """Promote when there is no champion or the challenger's RMSE is no worse than the
    champion's on the same ``data``; otherwise keep the champion. Ties promote: the newer
    model has seen more recent data."""
    if champion is None:
        return Decision(PROMOTED, f"no champion yet; version {challenger} becomes the first")
    if champion == challenger:
        return Decision(ALREADY_CHAMPION, f"version {challenger} is already the champion")
    if challenger_rmse is None or champion_rmse is None:
        raise ValueError("comparing with a champion needs both RMSE values")
    comparison = (
        f"challenger version {challenger} RMSE {challenger_rmse:.4f}"
        f" {'<=' if challenger_rmse <= champion_rmse else '>'}"
        f" champion version {champion} RMSE {champion_rmse:.4f} on {data}"
    )
    if challenger_rmse <= champion_rmse:
        return Decision(PROMOTED, comparison)
    return Decision(KEPT_CHAMPION, f"{comparison}; the champion stays")
