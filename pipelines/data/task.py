"""The ``generate-data`` task (``pipelines.data.params.GENERATE_DATA``): write synthetic
trips for a date range into a table."""

from __future__ import annotations

from typing import Any

from pipelines.common import flags, schemas
from pipelines.common.tables import replace_where
from pipelines.common.task import TaskContext
from pipelines.data.generator import Drift, generate_trips
from pipelines.data.params import GenerateDataParams


def run(params: GenerateDataParams, ctx: TaskContext) -> dict[str, Any]:
    drift = Drift(params.drift_start, params.fare_drift, params.distance_drift)
    trips = generate_trips(
        params.start_date, params.end_date, params.trips_per_day, params.seed, drift
    )
    df = ctx.spark.createDataFrame(trips, schema=schemas.TRIPS)
    condition = (
        f"{schemas.PICKUP_TIME} >= {flags.sql_timestamp(params.start_date)}"
        f" AND {schemas.PICKUP_TIME} < {flags.sql_timestamp(params.end_date)}"
    )
    replace_where(ctx.spark, ctx.runtime, df, params.output_table, condition)
    return {"table": str(params.output_table), "rows_written": len(trips)}
