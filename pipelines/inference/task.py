"""The ``batch-inference`` task (``pipelines.inference.params.BATCH_INFERENCE``): score
a project's requests of [start, end) with the champion and replace that batch in the
inference table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
from pyspark.sql import functions as F

from pipelines.common import flags
from pipelines.common.expectations import check_rows, quarantine_table, replace_quarantined
from pipelines.common.project import ProblemType
from pipelines.common.registry import require_alias
from pipelines.common.tables import read_table, replace_where, table_exists
from pipelines.common.task import TaskContext
from pipelines.inference.params import BatchInferenceParams
from pipelines.inference.score import classify_requests, keep_known_labels, score_requests


def run(params: BatchInferenceParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    project = params.model_project
    lifecycle = project.implementation()
    version = require_alias(
        ctx.mlflow,
        params.model_name,
        params.model_alias,
        "Batch inference scores with that alias; run the training job and deploy a"
        " champion first (mlops run deploy ...).",
    )
    contract = lifecycle.schemas()["predictions"]
    scoring = lifecycle.scoring_set(spark, params.tables, params.start_date, params.end_date)
    requests = params.tables[project.requests_role] if project.requests_role else "its inputs"
    window = f"[{params.start_date}, {params.end_date})"
    checked = check_rows(
        spark,
        scoring,
        project.scoring_expectations,
        lifecycle.request_key(),
        f"The scoring set of {project.name} for {window}, from {requests},",
        on_databricks=ctx.runtime.on_databricks,
        refused="A batch with a duplicated key would be scored, labelled and counted twice,"
        " so nothing was scored or written.",
    )
    scoring = checked.valid
    # Pin the version, not the alias: the alias may move while this batch is scored.
    uri = f"models:/{params.model_name}/{version}"
    shape = (lifecycle.model_inputs(), lifecycle.request_columns(), project.label, contract)
    now = dt.datetime.now(dt.UTC)
    if project.problem_type is ProblemType.CLASSIFICATION:
        scored = classify_requests(scoring, mlflow.sklearn.load_model(uri), *shape, version, now)
    else:
        predict = mlflow.pyfunc.spark_udf(spark, uri, result_type="double", env_manager="local")
        scored = score_requests(scoring, predict, *shape, version, now)
    previous = None
    if table_exists(spark, params.output_table):
        previous = read_table(spark, params.output_table, contract).where(
            F.col("timestamp") >= F.lit(flags.day_start(params.start_date))
        )
    batch = keep_known_labels(scored, previous, lifecycle.request_key(), project.label).cache()
    condition = (
        f"timestamp >= {flags.sql_timestamp(params.start_date)}"
        f" AND timestamp < {flags.sql_timestamp(params.end_date)}"
    )
    replace_where(spark, ctx.runtime, batch, params.output_table, condition)
    quarantine = quarantine_table(params.output_table)
    replace_quarantined(
        spark, ctx.runtime, checked.quarantined, checked.kept_out, quarantine, condition
    )
    rows = batch.count()
    batch.unpersist()
    checked.release()
    return {
        "project": project.name,
        "table": str(params.output_table),
        "rows_scored": rows,
        # Rows each rule kept from the model, and where they are, with the rules they broke.
        "quarantined": dict(checked.stopped),
        "quarantine_table": str(quarantine),
        "model_name": params.model_name,
        "model_version": version,
    }
