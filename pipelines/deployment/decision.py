"""Whether a version may be deployed, and whether it should replace the champion: pure
functions of the version's tags and of both models' primary metric (per problem type:
``pipelines.common.quality.primary_metric``) on the same reference data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.common.project import ProblemType
from pipelines.common.quality import primary_metric
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


# How a primary metric appears in the deploy task's result (``challenger_<key>``) and in a
# reason; a metric not listed here appears under its own name.
_SHORT_NAMES = {"root_mean_squared_error": ("rmse", "RMSE"), "roc_auc": ("roc_auc", "ROC AUC")}


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str


@dataclass(frozen=True)
class PrimaryMetric:
    """The metric champion and challenger are compared on, and its direction."""

    name: str
    higher_is_better: bool

    @classmethod
    def of(cls, problem_type: ProblemType) -> PrimaryMetric:
        return cls(*primary_metric(problem_type))

    @property
    def key(self) -> str:
        """Its short name in result keys: ``rmse``, ``roc_auc``."""
        return _SHORT_NAMES.get(self.name, (self.name, self.name))[0]

    @property
    def label(self) -> str:
        """Its name in a reason: ``RMSE``, ``ROC AUC``."""
        return _SHORT_NAMES.get(self.name, (self.name, self.name))[1]

    def no_worse(self, challenger: float, champion: float) -> bool:
        """Whether ``challenger`` is at least as good as ``champion`` (a tie is)."""
        return challenger >= champion if self.higher_is_better else challenger <= champion


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
    challenger_score: float | None = None,
    champion_score: float | None = None,
    data: str = "the reference data",
    *,
    metric: PrimaryMetric | None = None,
) -> Decision:
    """Promote when there is no champion or the challenger's ``metric`` is no worse than
    the champion's on the same ``data`` (lower RMSE, higher ROC AUC, ...); otherwise keep
    the champion. Ties promote: the newer model has seen more recent data."""
    if champion is None:
        return Decision(PROMOTED, f"no champion yet; version {challenger} becomes the first")
    if champion == challenger:
        return Decision(ALREADY_CHAMPION, f"version {challenger} is already the champion")
    if metric is None or challenger_score is None or champion_score is None:
        raise ValueError("comparing with a champion needs the metric and both its values")
    promote = metric.no_worse(challenger_score, champion_score)
    no_worse, worse = (">=", "<") if metric.higher_is_better else ("<=", ">")
    relation = no_worse if promote else worse
    comparison = (
        f"challenger version {challenger} {metric.label} {challenger_score:.4f} {relation}"
        f" champion version {champion} {metric.label} {champion_score:.4f} on {data}"
        f" ({'higher' if metric.higher_is_better else 'lower'} is better)"
    )
    if promote:
        return Decision(PROMOTED, comparison)
    return Decision(KEPT_CHAMPION, f"{comparison}; the champion stays")
