"""The validation rules a challenger must meet: absolute bounds, and bounds relative to the
champion. Only the rules live here; ``pipelines.validation.task`` applies them.

Metric names are those MLflow's default regressor evaluator emits, so the thresholds apply
to ``mlflow.models.evaluate`` results as they are. Every limit is a flag of ``validate``
(``max_rmse`` is ``--max-rmse``), so a stack can tighten it without a code change. MLflow is
imported only by the functions that build rules, so the task's interface
(``pipelines.validation.params``) can read the limits without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.models import MetricThreshold

RMSE = "root_mean_squared_error"
MAE = "mean_absolute_error"
R2 = "r2_score"
METRICS = (RMSE, MAE, R2)


@dataclass(frozen=True)
class Limits:
    """What a challenger must achieve on the validation window.

    Fares are in dollars: a useful fare model is off by a couple of dollars and explains
    most of the variance; the defaults only reject a model that is clearly broken.
    """

    max_rmse: float = 6.0
    max_mae: float = 4.0
    min_r2: float = 0.5
    # A tolerance rather than a demand for improvement: a retrained model that is as good
    # as the champion, up to window-to-window noise, should pass validation; deployment
    # then makes the strict comparison on its reference window.
    max_rmse_increase: float = 0.05


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Rule:
    """One check: ``metric`` of the challenger against ``threshold``.

    ``name`` is the limit (and flag dest) that sets it; ``relative`` rules compare with the
    champion and exist only when there is one.
    """

    name: str
    metric: str
    threshold: MetricThreshold
    relative: bool = False

    @property
    def bound(self) -> float:
        return float(self.threshold.threshold)

    @property
    def comparison(self) -> str:
        return ">=" if self.threshold.greater_is_better else "<="


def limits(overrides: Mapping[str, float | None] | None = None) -> Limits:
    """The default limits with every non-None override applied (unknown names ignored)."""
    names = {f.name for f in fields(Limits)}
    given = {k: float(v) for k, v in (overrides or {}).items() if k in names and v is not None}
    return replace(DEFAULT_LIMITS, **given)


def limit_problems(chosen: Limits) -> list[str]:
    """Why ``chosen`` cannot be applied, one phrase per bad limit (empty when all is well)."""
    problems = []
    if chosen.max_rmse <= 0:
        problems.append(f"--max-rmse {chosen.max_rmse} must be above 0")
    if chosen.max_mae <= 0:
        problems.append(f"--max-mae {chosen.max_mae} must be above 0")
    if chosen.min_r2 > 1:
        problems.append(f"--min-r2 {chosen.min_r2} can never be met: r2 is at most 1")
    if chosen.max_rmse_increase < 0:
        problems.append(
            f"--max-rmse-increase {chosen.max_rmse_increase} must be 0 or more"
            " (a fraction of the champion's RMSE, e.g. 0.05 for 5 %)"
        )
    return problems


def absolute_rules(chosen: Limits) -> list[Rule]:
    """Rules on the challenger alone."""
    from mlflow.models import MetricThreshold

    return [
        Rule("max_rmse", RMSE, MetricThreshold(threshold=chosen.max_rmse, greater_is_better=False)),
        Rule("max_mae", MAE, MetricThreshold(threshold=chosen.max_mae, greater_is_better=False)),
        Rule("min_r2", R2, MetricThreshold(threshold=chosen.min_r2, greater_is_better=True)),
    ]


def relative_rules(chosen: Limits, champion_metrics: Mapping[str, float]) -> list[Rule]:
    """Rules against the champion's metrics on the same data.

    MLflow's ``min_relative_change`` can only demand an improvement (it must lie in
    [0, 1]), so the tolerance "at most ``max_rmse_increase`` worse than the champion"
    becomes a value threshold computed from the champion's RMSE.
    """
    from mlflow.models import MetricThreshold

    allowed = champion_metrics[RMSE] * (1 + chosen.max_rmse_increase)
    return [
        Rule(
            "max_rmse_increase",
            RMSE,
            MetricThreshold(threshold=float(allowed), greater_is_better=False),
            relative=True,
        )
    ]


def validation_rules(
    chosen: Limits, champion_metrics: Mapping[str, float] | None = None
) -> list[Rule]:
    """Every rule that applies: the relative ones only when there is a champion."""
    rules = absolute_rules(chosen)
    if champion_metrics is not None:
        rules += relative_rules(chosen, champion_metrics)
    return rules
