"""Entry point ``check-violation``: decide from the profile-metrics table whether the
monitored metric is violated, and publish ``is_metric_violated`` for the job's condition
task (Databricks task values; returned locally)."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

from pyspark.sql import types as T

from pipelines.common import flags
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.tables import TableName, read_table
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.common.task_values import IS_METRIC_VIOLATED
from pipelines.monitoring.metrics import PROFILE_METRICS
from pipelines.monitoring.violation import (
    DIRECTIONS,
    METRICS,
    ViolationRule,
    recent_windows_query,
    violation_query,
)

TASK_VALUE = IS_METRIC_VIOLATED


def _needed_columns(metric: str) -> T.StructType:
    """The profile-metrics columns the query reads, typed as the metric table has them."""
    names = ("window", "granularity", "model_id", "log_type", "slice_key", "column_name", metric)
    return T.StructType([PROFILE_METRICS[name] for name in names])


@dataclass(frozen=True)
class Params:
    profile_metrics_table: TableName
    metric: str
    threshold: float
    violated_when: str
    evaluation_windows: int
    violation_windows: int
    granularity: str = "1 day"
    end_date: dt.date | None = None

    def rule(self) -> ViolationRule:
        return rule_of(self)

    def validate(self) -> None:
        self.rule()


def rule_of(params: Any) -> ViolationRule:
    """The rule given by a task's rule flags (see ``add_rule_flags``)."""
    return ViolationRule(
        params.metric,
        params.threshold,
        params.violated_when,
        params.evaluation_windows,
        params.violation_windows,
        params.granularity,
    )


def add_rule_flags(parser: TaskArgumentParser) -> None:
    """The flags of a violation rule, shared by check-violation and monitoring-report."""
    parser.add_argument("--metric", choices=METRICS, required=True)
    parser.add_argument("--threshold", type=float, required=True)
    parser.add_argument("--violated-when", choices=list(DIRECTIONS), default="above")
    parser.add_argument("--evaluation-windows", type=flags.positive_int, required=True, help="N")
    parser.add_argument("--violation-windows", type=flags.positive_int, required=True, help="M")
    parser.add_argument("--granularity", default="1 day", help="window size, e.g. '1 day'")
    parser.add_argument(
        "--end-date",
        type=flags.iso_date,
        default=None,
        help="judge only the windows that start before this date (default: all windows)",
    )


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "check-violation",
        "Decide whether the monitored metric is violated: at least M of the last N"
        " evaluation windows beyond the threshold, the latest included. Publishes the task"
        f" value {TASK_VALUE}.",
    )
    parser.add_argument(
        "--profile-metrics-table",
        type=flags.table_name,
        required=True,
        help="<inference table>_profile_metrics",
    )
    add_rule_flags(parser)
    return parser


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    rule = params.rule()
    read_table(spark, params.profile_metrics_table, _needed_columns(rule.metric))
    query = violation_query(params.profile_metrics_table, rule, params.end_date)
    verdict = spark.sql(query).first()
    windows = [
        {"window_start": row["window_start"], "value": row["metric_value"]}
        for row in spark.sql(
            recent_windows_query(params.profile_metrics_table, rule, params.end_date)
        ).collect()
    ]
    violated = bool(verdict["is_metric_violated"])
    result = {
        TASK_VALUE: violated,
        "reason": explain(rule, verdict.asDict()),
        "rule": rule.describe(),
        "evaluated_windows": verdict["evaluated_windows"],
        "violating_windows": verdict["violating_windows"],
        "latest_window_start": verdict["latest_window_start"],
        "latest_value": verdict["latest_value"],
        "windows": windows,
        "query": query,
    }
    ctx.set_task_value(TASK_VALUE, violated)
    return result


def explain(rule: ViolationRule, verdict: dict[str, Any]) -> str:
    """Why the verdict is what it is, in one sentence."""
    evaluated, violating = verdict["evaluated_windows"], verdict["violating_windows"]
    if evaluated < rule.evaluation_windows:
        return (
            f"not violated: only {evaluated} {rule.granularity} window(s) with"
            f" {rule.metric} (labels joined), fewer than the {rule.evaluation_windows}"
            " the rule needs"
        )
    latest = verdict["latest_value"]
    side = f"{rule.violated_when} {rule.threshold:g}"
    if violating < rule.violation_windows:
        return (
            f"not violated: {violating} of the last {evaluated} windows {side},"
            f" fewer than {rule.violation_windows}"
        )
    if not verdict["latest_violates"]:
        return (
            f"not violated: {violating} of the last {evaluated} windows {side}, but the"
            f" latest ({latest:.3f}) is not"
        )
    return f"violated: {violating} of the last {evaluated} windows {side}, the latest {latest:.3f}"


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
