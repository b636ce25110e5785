"""The monitoring tasks' interfaces: their flags, declared once
(``pipelines.common.interface``). The violation rule's flags, which check-violation and
monitoring-report share, are declared once in ``ViolationRuleParams``."""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, check_date_range, flag, positive_int
from pipelines.common.names import TableName
from pipelines.common.task_values import IS_METRIC_VIOLATED
from pipelines.monitoring.violation import (
    DIRECTIONS,
    GRANULARITIES,
    METRICS,
    ViolationRule,
    check_metric,
    usual_direction,
)
from pipelines.projects import ProjectNameParams, ProjectParams


@dataclass(frozen=True, kw_only=True)
class JoinLabelsParams(ProjectParams):
    inference_table: TableName = flag("the inference table")
    start_date: dt.date = flag()
    end_date: dt.date = flag()

    def validate(self) -> None:
        super().validate()
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


JOIN_LABELS = Task(
    name="join-labels",
    params=JoinLabelsParams,
    summary="Join the labels that arrived after scoring (from the project's labels table,"
    " by request key) into the rows of the inference table scored for requests in"
    " [start, end). Idempotent.",
    runs="pipelines.monitoring.labels_task:run",
)


def granularity_list(text: str) -> tuple[str, ...]:
    """``'1 day'`` or ``'1 hour,1 day'``: window sizes the metrics are computed for."""
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [g for g in chosen if g not in GRANULARITIES]
    if not chosen or unknown:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a comma-separated list of granularities: expected some of"
            f" {', '.join(repr(g) for g in GRANULARITIES)}"
        )
    return chosen


@dataclass(frozen=True, kw_only=True)
class RefreshMetricsParams(ProjectNameParams):
    inference_table: TableName = flag("the monitored table")
    start_date: dt.date = flag()
    end_date: dt.date = flag()
    granularities: tuple[str, ...] = flag(
        "comma-separated window sizes (default '1 day')",
        default=("1 day",),
        parse=granularity_list,
    )
    baseline_table: TableName | None = flag(
        "reference rows with the inference table's columns, for baseline drift", default=None
    )

    def validate(self) -> None:
        super().validate()
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")
        if self.baseline_table == self.inference_table:
            raise UsageError(
                f"--baseline-table {self.baseline_table} is the monitored table itself:"
                " expected a table of reference rows (e.g. scored validation data)."
            )


REFRESH_METRICS = Task(
    name="refresh-metrics",
    params=RefreshMetricsParams,
    summary="Compute profile and drift metrics (Lakehouse Monitoring's InferenceLog tables)"
    " for the windows starting in [start, end); on Databricks, refresh the quality monitor.",
    runs="pipelines.monitoring.refresh_task:run",
)


@dataclass(frozen=True, kw_only=True)
class ViolationRuleParams(ProjectNameParams):
    """The flags of a violation rule (``pipelines.monitoring.violation.ViolationRule``),
    shared by check-violation and monitoring-report."""

    metric: str = flag(
        "a model-quality metric of the project's problem type (a struct's field after a"
        " dot, e.g. f1_score.macro)",
        choices=METRICS,
    )
    threshold: float = flag()
    violated_when: str | None = flag(
        "default: the metric's usual side (an error above, a score below)",
        default=None,
        choices=tuple(DIRECTIONS),
    )
    evaluation_windows: int = flag("N", parse=positive_int)
    violation_windows: int = flag("M", parse=positive_int)
    granularity: str = flag("window size, e.g. '1 day'", default="1 day")
    end_date: dt.date | None = flag(
        "judge only the windows that start before this date (default: all windows)",
        default=None,
    )

    def rule(self) -> ViolationRule:
        """The rule; a ``UsageError`` when the project's monitor has no such metric."""
        check_metric(self.metric, self.model_project)
        return ViolationRule(
            self.metric,
            self.threshold,
            self.violated_when or usual_direction(self.metric),
            self.evaluation_windows,
            self.violation_windows,
            self.granularity,
        )

    def validate(self) -> None:
        super().validate()
        self.rule()


@dataclass(frozen=True, kw_only=True)
class CheckViolationParams(ViolationRuleParams):
    profile_metrics_table: TableName = flag("<inference table>_profile_metrics")


CHECK_VIOLATION = Task(
    name="check-violation",
    params=CheckViolationParams,
    summary="Decide whether the monitored metric is violated: at least M of the last N"
    " evaluation windows beyond the threshold, the latest included. Publishes the task"
    f" value {IS_METRIC_VIOLATED}.",
    runs="pipelines.monitoring.violation_task:run",
    publishes=(IS_METRIC_VIOLATED,),
)


@dataclass(frozen=True, kw_only=True)
class MonitoringReportParams(ViolationRuleParams):
    inference_table: TableName = flag("the monitored table")
    output: Path = flag("where to write the HTML", parse=Path)


MONITORING_REPORT = Task(
    name="monitoring-report",
    params=MonitoringReportParams,
    summary="Write a self-contained HTML report from <inference table>_profile_metrics and"
    " _drift_metrics, judged by the same rule as check-violation.",
    runs="pipelines.monitoring.report_task:run",
)
