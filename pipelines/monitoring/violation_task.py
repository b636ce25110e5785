"""The ``check-violation`` task (``pipelines.monitoring.params.CHECK_VIOLATION``): decide
from the profile-metrics table whether the monitored metric is violated, and publish
``is_metric_violated`` for the job's condition task (Databricks task values; returned
locally)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from pipelines.common.errors import SchemaMismatch
from pipelines.common.names import TableName
from pipelines.common.project import ProblemType
from pipelines.common.tables import read_table
from pipelines.common.task import TaskContext
from pipelines.common.task_values import IS_METRIC_VIOLATED
from pipelines.monitoring.metrics import metric_type, profile_schema
from pipelines.monitoring.params import CheckViolationParams
from pipelines.monitoring.violation import ViolationRule, recent_windows_query, violation_query

# The task value this task publishes (CHECK_VIOLATION.publishes).
TASK_VALUE = IS_METRIC_VIOLATED


def _needed_columns(
    metric: str, problem_type: ProblemType = ProblemType.REGRESSION
) -> T.StructType:
    """The profile-metrics columns the query reads, typed as the metric table has them. A
    struct's field (``f1_score.macro``) is checked apart (``_check_metric_field``): a
    monitor's struct may hold more fields than the one read."""
    names = ["window", "granularity", "model_id", "log_type", "slice_key", "column_name"]
    if "." not in metric:
        names.append(metric)
    schema = profile_schema(problem_type)
    return T.StructType([schema[name] for name in names])


def _check_metric_field(
    df: DataFrame, table: TableName, metric: str, problem_type: ProblemType
) -> None:
    column, _, field = metric.partition(".")
    if not field:
        return
    found = {f.name.lower(): f.dataType for f in df.schema.fields}.get(column.lower())
    fields = {f.name.lower(): f.dataType for f in getattr(found, "fields", [])}
    if fields.get(field.lower()) != metric_type(problem_type, metric):
        got = "missing" if found is None else f"{found.simpleString()}"
        raise SchemaMismatch(
            f"Table {table} has no {metric} to judge: {column} is {got}, expected a struct"
            f" with a double {field} (the profile metrics of a {problem_type.value} monitor)."
        )


def run(params: CheckViolationParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    rule = params.rule()
    problem_type = params.model_project.problem_type
    table = read_table(
        spark, params.profile_metrics_table, _needed_columns(rule.metric, problem_type)
    )
    _check_metric_field(table, params.profile_metrics_table, rule.metric, problem_type)
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
