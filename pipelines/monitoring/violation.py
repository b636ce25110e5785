"""The retraining trigger: one SQL query over a profile-metrics table.

The metric is violated when, among the last N evaluation windows, at least M are beyond
the threshold and the most recent one is too. An evaluation window is a window whose
metric could be computed (windows without labels have a NULL metric and do not count).
The query reads only Lakehouse Monitoring's column names (DESIGN contract 3), so the same
text runs on a Databricks monitor's table and on the table ``refresh-metrics`` writes
locally. It imports neither Spark nor MLflow: the tasks' interfaces
(``pipelines.monitoring.params``) check a rule with it before anything heavy is loaded.

A rule's metric is a model-quality column of the ``:table`` rows, or a struct's field
after a dot (``f1_score.macro``); which ones a monitor has depends on its project's
problem type (``pipelines.common.project.MONITOR_METRICS``, declared once there).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

from pipelines.common.errors import UsageError
from pipelines.common.names import TableName
from pipelines.common.project import MONITOR_METRICS, ModelProject, ProblemType

# Every metric a rule may name, of any problem type (a project's own are checked by
# ``check_metric``), in MONITOR_METRICS's order.
METRICS: tuple[str, ...] = tuple(
    dict.fromkeys(metric for metrics in MONITOR_METRICS.values() for metric in metrics)
)
DIRECTIONS = {"above": ">", "below": "<"}
_GRANULARITY = re.compile(r"^\d+ (minute|hour|day|week|month|year)s?$")
# The rows that describe the whole table, all model versions together, no slice.
ALL_MODELS = "*"

# The window sizes metrics are computed for (``pipelines.monitoring.metrics``). Tumbling
# windows, aligned like Spark's F.window(ts, g): window starts are multiples of the length
# since 1970-01-01 00:00 UTC. So days start at midnight UTC and weeks start on Thursdays at
# 00:00 UTC (1970-01-01 was a Thursday).
GRANULARITIES: dict[str, dt.timedelta] = {
    "1 hour": dt.timedelta(hours=1),
    "1 day": dt.timedelta(days=1),
    "1 week": dt.timedelta(weeks=1),
}


def problem_type_of(metric: str) -> ProblemType | None:
    """The problem type whose monitors have ``metric`` (names are not shared)."""
    for problem_type, metrics in MONITOR_METRICS.items():
        if metric in metrics:
            return problem_type
    return None


def check_metric(metric: str, project: ModelProject) -> None:
    """A ``UsageError`` unless ``project``'s monitor has ``metric``."""
    known = MONITOR_METRICS[project.problem_type]
    if metric not in known:
        raise UsageError(
            f"--metric {metric} is not a metric of project {project.name}: its monitor is"
            f" {project.problem_type.value}, whose metrics are {', '.join(known)}."
        )


def usual_direction(metric: str) -> str:
    """The side a rule on ``metric`` is usually violated on: an error grows ("above"), a
    score falls ("below")."""
    problem_type = problem_type_of(metric)
    return "above" if problem_type is None else MONITOR_METRICS[problem_type][metric]


@dataclass(frozen=True)
class ViolationRule:
    """When the monitored metric counts as violated."""

    metric: str
    threshold: float
    violated_when: str  # "above" or "below"
    evaluation_windows: int  # N
    violation_windows: int  # M
    granularity: str = "1 day"

    def __post_init__(self) -> None:
        problems = []
        if self.metric not in METRICS:
            problems.append(f"metric '{self.metric}' is not one of {', '.join(METRICS)}")
        if not math.isfinite(self.threshold):
            problems.append(f"threshold {self.threshold} is not a finite number")
        if self.violated_when not in DIRECTIONS:
            problems.append(f"violated-when '{self.violated_when}' is not 'above' or 'below'")
        if self.evaluation_windows < 1:
            problems.append(f"evaluation windows {self.evaluation_windows} is below 1")
        if not 1 <= self.violation_windows <= self.evaluation_windows:
            problems.append(
                f"violation windows {self.violation_windows} is not between 1 and the"
                f" evaluation windows ({self.evaluation_windows})"
            )
        if not _GRANULARITY.match(self.granularity):
            problems.append(f"granularity '{self.granularity}' is not like '1 day' or '1 hour'")
        if problems:
            raise UsageError("Bad violation rule: " + "; ".join(problems) + ".")

    @property
    def comparator(self) -> str:
        return DIRECTIONS[self.violated_when]

    def describe(self) -> str:
        return (
            f"{self.metric} {self.violated_when} {self.threshold:g} in at least"
            f" {self.violation_windows} of the last {self.evaluation_windows}"
            f" {self.granularity} windows, the latest included"
        )


def metric_sql(metric: str) -> str:
    """The metric as a column reference, each part backquoted (``precision`` is a word of
    SQL): f1_score.macro is `f1_score`.`macro`."""
    return ".".join(f"`{part}`" for part in metric.split("."))


def _recent_windows(profile_table: TableName, rule: ViolationRule, before: dt.date | None) -> str:
    # A window that starts on or after `before` is not judged: a re-run or backfill for an
    # earlier date sees the windows as they were then.
    cutoff = ""
    if before is not None:
        cutoff = f"\n    AND window.start < TIMESTAMP '{before.isoformat()} 00:00:00'"
    return f"""
  SELECT window.start AS window_start, window.end AS window_end,
         {metric_sql(rule.metric)} AS metric_value
  FROM {profile_table}
  WHERE column_name = ':table'
    AND slice_key IS NULL
    AND model_id = '{ALL_MODELS}'
    AND log_type = 'INPUT'
    AND granularity = '{rule.granularity}'
    AND {metric_sql(rule.metric)} IS NOT NULL{cutoff}
  ORDER BY window.start DESC
  LIMIT {rule.evaluation_windows}"""


def violation_query(
    profile_table: TableName, rule: ViolationRule, before: dt.date | None = None
) -> str:
    """One row: evaluated_windows, violating_windows, latest_window_start,
    latest_value, latest_violates and is_metric_violated (a boolean). Only windows that
    start before ``before`` (when given) are judged."""
    beyond = f"metric_value {rule.comparator} {rule.threshold!r}"
    return f"""WITH recent AS ({_recent_windows(profile_table, rule, before)}
),
judged AS (
  SELECT *, {beyond} AS beyond,
         window_start = max(window_start) OVER () AS is_latest
  FROM recent
)
SELECT
  count(*) AS evaluated_windows,
  count_if(beyond) AS violating_windows,
  max(window_start) AS latest_window_start,
  max_by(metric_value, window_start) AS latest_value,
  coalesce(bool_or(is_latest AND beyond), false) AS latest_violates,
  count(*) >= {rule.evaluation_windows}
    AND count_if(beyond) >= {rule.violation_windows}
    AND coalesce(bool_or(is_latest AND beyond), false) AS is_metric_violated
FROM judged"""


def recent_windows_query(
    profile_table: TableName, rule: ViolationRule, before: dt.date | None = None
) -> str:
    """The windows the decision looked at, newest first, for the explanation."""
    return _recent_windows(profile_table, rule, before).strip()
