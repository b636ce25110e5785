"""The ``write-features`` task (``pipelines.features.params.WRITE_FEATURES``): compute both
feature tables for a date range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.common import flags, schemas
from pipelines.common.tables import read_table, replace_where
from pipelines.common.task import TaskContext
from pipelines.features.compute import dropoff_features, pickup_features
from pipelines.features.params import WriteFeaturesParams


def window_end_range(start: dt.date, end: dt.date) -> str:
    return f"window_end > {flags.sql_timestamp(start)} AND window_end <= {flags.sql_timestamp(end)}"


def run(params: WriteFeaturesParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    trips = read_table(spark, params.input_table, schemas.TRIPS)
    condition = window_end_range(params.start_date, params.end_date)
    written = {}
    for table, compute, contract in (
        (params.pickup_features_table, pickup_features, schemas.PICKUP_FEATURES),
        (params.dropoff_features_table, dropoff_features, schemas.DROPOFF_FEATURES),
    ):
        features = (
            compute(trips, params.start_date, params.end_date)
            .select(*contract.fieldNames())
            .cache()
        )
        replace_where(spark, ctx.runtime, features, table, condition)
        written[str(table)] = features.count()
        features.unpersist()
    return {"rows_written": written}
