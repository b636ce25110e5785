"""The validation rules a challenger must meet, per problem type, declared once here:
absolute bounds, and bounds relative to the champion on the same data. Only the rules live
here; ``pipelines.validation.task`` applies them.

Each ``Limit`` is a flag of ``validate`` (``max_rmse`` is ``--max-rmse``) that applies to
the projects of one problem type, so a stack can tighten it without a code change. Metric
names are those MLflow's default evaluator emits for the problem type's ``model_type``
(``regressor``: ``root_mean_squared_error``, ...; ``classifier`` on a binary model with
``predict_proba``: ``roc_auc``, ``f1_score``, ``log_loss``, ...), so the thresholds apply to
``mlflow.models.evaluate`` results as they are. MLflow is imported only by the functions
that build rules, so the task's interface (``pipelines.validation.params``) reads the
limits without it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pipelines.common.project import ProblemType

if TYPE_CHECKING:
    from mlflow.models import MetricThreshold

RMSE = "root_mean_squared_error"
MAE = "mean_absolute_error"
R2 = "r2_score"
ROC_AUC = "roc_auc"
F1 = "f1_score"
LOG_LOSS = "log_loss"

# max: the metric at most the limit; min: at least. max_increase / max_decrease: relative
# to the champion's value on the same data, by at most that fraction of it.
LimitKind = Literal["max", "min", "max_increase", "max_decrease"]
RELATIVE_KINDS = ("max_increase", "max_decrease")


@dataclass(frozen=True)
class Limit:
    """One limit of the validate task: its flag, the metric it bounds and how.

    ``name`` is the flag's dest (``max_rmse`` is ``--max-rmse``); ``valid`` says whether a
    value can be applied, ``requirement`` what it must be otherwise (after the flag and
    value in the error).
    """

    name: str
    problem_type: ProblemType
    metric: str
    kind: LimitKind
    default: float
    help: str
    valid: Callable[[float], bool]
    requirement: str

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def relative(self) -> bool:
        return self.kind in RELATIVE_KINDS

    @property
    def greater_is_better(self) -> bool:
        return self.kind in ("min", "max_decrease")


def _above_zero(value: float) -> bool:
    return value > 0


def _at_most_one(value: float) -> bool:
    return value <= 1


def _zero_or_more(value: float) -> bool:
    return value >= 0


def _fraction(value: float) -> bool:
    return 0 <= value <= 1


# Every limit, by name. The defaults only reject a model that is clearly broken. The
# regression ones suit fares in dollars: a useful fare model is off by a couple of dollars
# and explains most of the variance. The classification ones reject a classifier that ranks
# barely better than chance (ROC AUC 0.5) or whose probabilities are worse than answering
# 0.5 for everyone (log loss ln 2 = 0.693); F1 (at predict's 0.5 cut) is not constrained
# by default, since with a rare positive class (a few percent churn a month) a good
# ranker can still predict few positives. The relative limits are tolerances rather than
# demands for improvement: a retrained model as good as the champion, up to
# window-to-window noise, should pass; deployment then makes the strict comparison on its
# reference window.
LIMITS: Mapping[str, Limit] = {
    limit.name: limit
    for limit in (
        Limit(
            "max_rmse",
            ProblemType.REGRESSION,
            RMSE,
            "max",
            6.0,
            f"largest allowed {RMSE}, in the label's unit",
            _above_zero,
            "must be above 0",
        ),
        Limit(
            "max_mae",
            ProblemType.REGRESSION,
            MAE,
            "max",
            4.0,
            f"largest allowed {MAE}, in the label's unit",
            _above_zero,
            "must be above 0",
        ),
        Limit(
            "min_r2",
            ProblemType.REGRESSION,
            R2,
            "min",
            0.5,
            f"smallest allowed {R2}",
            _at_most_one,
            "can never be met: r2 is at most 1",
        ),
        Limit(
            "max_rmse_increase",
            ProblemType.REGRESSION,
            RMSE,
            "max_increase",
            0.05,
            "largest allowed RMSE above the champion's on the same data, as a fraction of"
            " the champion's RMSE",
            _zero_or_more,
            "must be 0 or more (a fraction of the champion's RMSE, e.g. 0.05 for 5 %)",
        ),
        Limit(
            "min_roc_auc",
            ProblemType.CLASSIFICATION,
            ROC_AUC,
            "min",
            0.6,
            f"smallest allowed {ROC_AUC}",
            _at_most_one,
            "can never be met: roc_auc is at most 1",
        ),
        Limit(
            "min_f1",
            ProblemType.CLASSIFICATION,
            F1,
            "min",
            0.0,
            f"smallest allowed {F1} of the positive class (1)",
            _at_most_one,
            "can never be met: f1 is at most 1",
        ),
        Limit(
            "max_log_loss",
            ProblemType.CLASSIFICATION,
            LOG_LOSS,
            "max",
            0.69,
            f"largest allowed {LOG_LOSS}",
            _above_zero,
            "must be above 0",
        ),
        Limit(
            "max_roc_auc_decrease",
            ProblemType.CLASSIFICATION,
            ROC_AUC,
            "max_decrease",
            0.02,
            "largest allowed ROC AUC below the champion's on the same data, as a fraction of"
            " the champion's ROC AUC",
            _fraction,
            "must be from 0 to 1 (a fraction of the champion's ROC AUC, e.g. 0.02 for 2 %)",
        ),
    )
}


def limits_of(problem_type: ProblemType) -> tuple[Limit, ...]:
    """The limits that apply to projects of ``problem_type``, in declaration order."""
    kind = ProblemType(problem_type)
    return tuple(limit for limit in LIMITS.values() if limit.problem_type is kind)


def options_of(problem_type: ProblemType) -> str:
    """Its limits' flags, for messages: ``--max-rmse, --max-mae, ...``."""
    return ", ".join(limit.option for limit in limits_of(problem_type))


def metrics_of(problem_type: ProblemType) -> tuple[str, ...]:
    """The metrics its rules judge, each once, in declaration order."""
    return tuple(dict.fromkeys(limit.metric for limit in limits_of(problem_type)))


@dataclass(frozen=True)
class Limits:
    """The value of every limit of one problem type (``limits`` builds it)."""

    problem_type: ProblemType
    values: Mapping[str, float]

    def __getitem__(self, name: str) -> float:
        return self.values[name]


def defaults(problem_type: ProblemType) -> Limits:
    return Limits(
        ProblemType(problem_type), {lim.name: lim.default for lim in limits_of(problem_type)}
    )


def limits(
    problem_type: ProblemType, overrides: Mapping[str, float | None] | None = None
) -> Limits:
    """The defaults of ``problem_type`` with every non-None override of one of its limits
    applied (other names ignored: ``foreign_limits`` is what refuses them)."""
    chosen = dict(defaults(problem_type).values)
    chosen.update(
        {k: float(v) for k, v in (overrides or {}).items() if k in chosen and v is not None}
    )
    return Limits(ProblemType(problem_type), chosen)


def foreign_limits(problem_type: ProblemType, given: Mapping[str, float | None]) -> list[Limit]:
    """The limits set in ``given`` (not None) that belong to another problem type."""
    kind = ProblemType(problem_type)
    return [
        LIMITS[name]
        for name, value in given.items()
        if value is not None and name in LIMITS and LIMITS[name].problem_type is not kind
    ]


def limit_problems(chosen: Limits) -> list[str]:
    """Why ``chosen`` cannot be applied, one phrase per bad limit (empty when all is well)."""
    return [
        f"{limit.option} {chosen[limit.name]:g} {limit.requirement}"
        for limit in limits_of(chosen.problem_type)
        if not limit.valid(chosen[limit.name])
    ]


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


def _rule(limit: Limit, value: float, champion_metrics: Mapping[str, float] | None) -> Rule:
    from mlflow.models import MetricThreshold

    if limit.kind == "max_increase":
        assert champion_metrics is not None
        bound = champion_metrics[limit.metric] * (1 + value)
    elif limit.kind == "max_decrease":
        assert champion_metrics is not None
        bound = champion_metrics[limit.metric] * (1 - value)
    else:
        bound = value
    threshold = MetricThreshold(threshold=float(bound), greater_is_better=limit.greater_is_better)
    return Rule(limit.name, limit.metric, threshold, relative=limit.relative)


def absolute_rules(chosen: Limits) -> list[Rule]:
    """Rules on the challenger alone."""
    return [
        _rule(limit, chosen[limit.name], None)
        for limit in limits_of(chosen.problem_type)
        if not limit.relative
    ]


def relative_rules(chosen: Limits, champion_metrics: Mapping[str, float]) -> list[Rule]:
    """Rules against the champion's metrics on the same data.

    MLflow's ``min_relative_change`` can only demand an improvement (it must lie in
    [0, 1]), so a tolerance such as "RMSE at most ``max_rmse_increase`` above the
    champion's" or "ROC AUC at most ``max_roc_auc_decrease`` below it" becomes a value
    threshold computed from the champion's metric.
    """
    return [
        _rule(limit, chosen[limit.name], champion_metrics)
        for limit in limits_of(chosen.problem_type)
        if limit.relative
    ]


def validation_rules(
    chosen: Limits, champion_metrics: Mapping[str, float] | None = None
) -> list[Rule]:
    """Every rule that applies: the relative ones only when there is a champion."""
    rules = absolute_rules(chosen)
    if champion_metrics is not None:
        rules += relative_rules(chosen, champion_metrics)
    return rules
