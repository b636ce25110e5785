"""The ``monitoring-report`` task (``pipelines.monitoring.params.MONITORING_REPORT``): one
self-contained HTML page from the metric tables: the monitored metric per window against
its threshold, drift per column, row counts and model versions over time, and the
violation check's verdict (for a classification project, also the latest confusion
matrix)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import functions as F

from pipelines.common.errors import UsageError
from pipelines.common.tables import table_exists
from pipelines.common.task import TaskContext
from pipelines.monitoring import violation_task
from pipelines.monitoring.params import MonitoringReportParams
from pipelines.monitoring.refresh_task import metric_tables
from pipelines.monitoring.report import flatten_windows, render_report, write_report
from pipelines.monitoring.violation import ViolationRule, violation_query


def run(params: MonitoringReportParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    rule: ViolationRule = params.rule()
    profile_table, drift_table = metric_tables(params.inference_table)
    verdict = None
    profile = drift = None
    if table_exists(spark, profile_table):
        checked = spark.sql(violation_query(profile_table, rule, params.end_date)).first().asDict()
        verdict = violation_task.explain(rule, checked)
        profile = spark.table(str(profile_table)).where(F.col("slice_key").isNull()).toPandas()
    if table_exists(spark, drift_table):
        drift = spark.table(str(drift_table)).where(F.col("slice_key").isNull()).toPandas()
    html = render_report(
        flatten_windows(profile) if profile is not None else None,
        flatten_windows(drift) if drift is not None else None,
        table=str(params.inference_table),
        metric=rule.metric,
        threshold=rule.threshold,
        violated_when=rule.violated_when,
        evaluation_windows=rule.evaluation_windows,
        violation_windows=rule.violation_windows,
        verdict=verdict,
        generated_at=dt.datetime.now(dt.UTC),
        granularity=rule.granularity,
        prediction_col=params.model_project.monitoring.prediction_col,
    )
    try:
        path = write_report(params.output, html)
    except OSError as exc:
        raise UsageError(
            f"--output {params.output} cannot be written ({exc.strerror or exc}): expected a"
            " file path in a folder this process may create and write."
        ) from None
    windows = 0
    if profile is not None:
        windows = int(((profile["column_name"] == ":table") & (profile["model_id"] == "*")).sum())
    return {"path": str(path.resolve()), "windows": windows, "verdict": verdict}
