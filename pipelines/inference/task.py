"""The ``batch-inference`` task (``pipelines.inference.params.BATCH_INFERENCE``): score trips
picked up in [start, end) with the champion and replace that batch in the inference table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import mlflow
from pyspark.sql import functions as F

from pipelines.common import flags, schemas
from pipelines.common.registry import require_alias
from pipelines.common.tables import read_table, replace_where, table_exists
from pipelines.common.task import TaskContext
from pipelines.features.join import with_model_inputs
from pipelines.inference.params import BatchInferenceParams
from pipelines.inference.score import REQUEST_COLUMNS, keep_known_labels, score_requests


def run(params: BatchInferenceParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    version = require_alias(
        ctx.mlflow,
        params.model_name,
        params.model_alias,
        "Batch inference scores with that alias; run the training job and deploy a"
        " champion first (mlops run deploy ...).",
    )
    in_batch = (F.col(schemas.PICKUP_TIME) >= F.lit(flags.day_start(params.start_date))) & (
        F.col(schemas.PICKUP_TIME) < F.lit(flags.day_start(params.end_date))
    )
    requests = (
        read_table(spark, params.input_table, schemas.REQUESTS)
        .where(in_batch)
        .select(*REQUEST_COLUMNS)
    )
    with_features = with_model_inputs(
        requests,
        read_table(spark, params.pickup_features_table, schemas.PICKUP_FEATURES),
        read_table(spark, params.dropoff_features_table, schemas.DROPOFF_FEATURES),
    )
    # Pin the version, not the alias: the alias may move while this batch is scored.
    predict = mlflow.pyfunc.spark_udf(
        spark,
        f"models:/{params.model_name}/{version}",
        result_type="double",
        env_manager="local",
    )
    scored = score_requests(with_features, predict, version, dt.datetime.now(dt.UTC))
    previous = None
    if table_exists(spark, params.output_table):
        previous = read_table(spark, params.output_table, schemas.INFERENCE).where(
            F.col("timestamp") >= F.lit(flags.day_start(params.start_date))
        )
    batch = keep_known_labels(scored, previous).cache()
    condition = (
        f"timestamp >= {flags.sql_timestamp(params.start_date)}"
        f" AND timestamp < {flags.sql_timestamp(params.end_date)}"
    )
    replace_where(spark, ctx.runtime, batch, params.output_table, condition)
    rows = batch.count()
    batch.unpersist()
    return {
        "table": str(params.output_table),
        "rows_scored": rows,
        "model_name": params.model_name,
        "model_version": version,
    }
