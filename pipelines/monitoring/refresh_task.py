"""The ``refresh-metrics`` task (``pipelines.monitoring.params.REFRESH_METRICS``): bring the
monitor's metric tables up to date for the windows that start in [start, end).

On Databricks the quality monitor owns its metric tables, so the task asks it to refresh
and waits for the refresh to finish. Locally it computes the same tables itself
(``pipelines.monitoring.metrics``) and replaces those windows in
``<inference table>_profile_metrics`` and ``<inference table>_drift_metrics``.
"""

from __future__ import annotations

import time
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common import flags
from pipelines.common.errors import PipelineError
from pipelines.common.names import TableName
from pipelines.common.project import ModelProject
from pipelines.common.tables import read_table, replace_where
from pipelines.common.task import TaskContext
from pipelines.monitoring import metrics
from pipelines.monitoring.params import RefreshMetricsParams

PROFILE_SUFFIX = "_profile_metrics"
DRIFT_SUFFIX = "_drift_metrics"
# A refresh of a month of daily windows takes minutes on Databricks; give up after an hour.
REFRESH_TIMEOUT_SECONDS = 3600


def metric_tables(inference_table: TableName) -> tuple[TableName, TableName]:
    """Where the monitor's metric tables live: beside the monitored table."""
    name = inference_table.table
    return (
        inference_table.sibling(f"{name}{PROFILE_SUFFIX}"),
        inference_table.sibling(f"{name}{DRIFT_SUFFIX}"),
    )


def run(params: RefreshMetricsParams, ctx: TaskContext) -> dict[str, Any]:
    if ctx.runtime.on_databricks:
        return _refresh_databricks_monitor(params)
    return _compute_locally(params, ctx)


def predictions_schema(project: ModelProject) -> T.StructType:
    """The contract of the project's predictions table (its lifecycle's)."""
    (role,) = project.roles("predictions")
    return project.implementation().schemas()[role]


def _compute_locally(params: RefreshMetricsParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    project = params.model_project
    spec = metrics.monitor_spec(project)
    contract = predictions_schema(project)
    inference = read_table(spark, params.inference_table, contract)
    baseline = None
    if params.baseline_table is not None:
        baseline = read_table(spark, params.baseline_table, contract)
    since = flags.day_start(params.start_date)
    until = flags.day_start(params.end_date)
    # One window more before the range: consecutive drift compares with it.
    longest = max(metrics.GRANULARITIES[g] for g in params.granularities)
    at = F.col(spec.timestamp_col)
    rows = inference.where((at >= F.lit(since - longest)) & (at < F.lit(until))).cache()
    profiles: list[DataFrame] = []
    drifts: list[DataFrame] = []
    for granularity in params.granularities:
        computed = metrics.compute_metrics(rows, spec, granularity, baseline, since)
        profiles.append(computed.profile)
        drifts.append(computed.drift)
    profile = _union(profiles).where(F.col("window.start") < F.lit(until)).cache()
    drift = _union(drifts).where(F.col("window.start") < F.lit(until)).cache()
    chosen = ", ".join(f"'{g}'" for g in params.granularities)
    condition = (
        f"window.start >= {flags.sql_timestamp(params.start_date)}"
        f" AND window.start < {flags.sql_timestamp(params.end_date)}"
        f" AND granularity IN ({chosen})"
    )
    profile_table, drift_table = metric_tables(params.inference_table)
    # Both frames are computed before either table changes, so a failure leaves both as
    # they were.
    profile_rows, drift_rows = profile.count(), drift.count()
    replace_where(spark, ctx.runtime, profile, profile_table, condition)
    replace_where(spark, ctx.runtime, drift, drift_table, condition)
    summary = _window_summary(profile, spec)
    for frame in (profile, drift, rows):
        frame.unpersist()
    return {
        "profile_metrics_table": str(profile_table),
        "drift_metrics_table": str(drift_table),
        "profile_rows": profile_rows,
        "drift_rows": drift_rows,
        **summary,
    }


def _union(frames: list[DataFrame]) -> DataFrame:
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def _window_summary(profile: DataFrame, spec: metrics.MonitorSpec) -> dict[str, Any]:
    """Windows written, how many have no labels yet, and non-finite predictions seen
    (always 0 for a categorical prediction)."""
    table_rows = profile.where(
        (F.col("column_name") == metrics.TABLE_COLUMN) & (F.col("model_id") == metrics.ALL_MODELS)
    )
    unlabelled = F.col(metrics.labelled_metric(spec.problem_type)).isNull()
    stats = table_rows.agg(
        F.count(F.lit(1)).alias("windows"),
        F.count_if(unlabelled).alias("windows_without_labels"),
    ).first()
    bad = (
        profile.where(
            (F.col("column_name") == spec.prediction_col)
            & (F.col("model_id") == metrics.ALL_MODELS)
        )
        .agg(
            F.coalesce(F.sum("num_nan"), F.lit(0)).alias("nan"),
            F.coalesce(F.sum("num_inf"), F.lit(0)).alias("inf"),
        )
        .first()
    )
    return {
        "windows": stats["windows"],
        "windows_without_labels": stats["windows_without_labels"],
        "nan_predictions": bad["nan"],
        "infinite_predictions": bad["inf"],
    }


def _refresh_databricks_monitor(params: RefreshMetricsParams) -> dict[str, Any]:
    """Ask the table's quality monitor to refresh and wait for it (Databricks only).

    Uses the Data Quality API, for which USE_CATALOG, USE_SCHEMA and MANAGE on the table
    are enough (the runner holds MANAGE on the inference table and does not own it).
    """
    # Present on every Databricks runtime.
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.dataquality import Refresh

    client = WorkspaceClient()
    table = str(params.inference_table)
    table_id = client.tables.get(full_name=table).table_id
    started = client.data_quality.create_refresh(
        object_type="table",
        object_id=table_id,
        refresh=Refresh(object_type="table", object_id=table_id),
    )
    deadline = time.monotonic() + REFRESH_TIMEOUT_SECONDS
    state = "PENDING"
    while time.monotonic() < deadline:
        info = client.data_quality.get_refresh(
            object_type="table", object_id=table_id, refresh_id=started.refresh_id
        )
        state = info.state.value.removeprefix("MONITOR_REFRESH_STATE_") if info.state else "?"
        if state == "SUCCESS":
            profile_table, drift_table = metric_tables(params.inference_table)
            return {
                "refresh_id": started.refresh_id,
                "state": state,
                "profile_metrics_table": str(profile_table),
                "drift_metrics_table": str(drift_table),
            }
        if state in ("FAILED", "CANCELED"):
            raise PipelineError(
                f"The quality monitor of {table} ended refresh {started.refresh_id} in state"
                f" {state}: {info.message or 'no message'}. The metric tables keep their"
                " previous windows."
            )
        time.sleep(30)
    raise PipelineError(
        f"The quality monitor of {table} did not finish refresh {started.refresh_id} within"
        f" {REFRESH_TIMEOUT_SECONDS} s (last state {state})."
    )
