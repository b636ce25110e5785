"""The ``import-trips`` task (``pipelines.data.params.IMPORT_TRIPS``): load a parquet file
of real trips into the trips table."""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from pipelines.common import flags
from pipelines.common.errors import UsageError
from pipelines.common.tables import read_parquet, replace_where
from pipelines.common.task import TaskContext
from pipelines.data.params import ImportTripsParams
from pipelines.projects.fare import schemas
from pipelines.projects.fare.ingest import normalize_trips


def run(params: ImportTripsParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    raw = read_parquet(spark, params.source_path)
    trips, conversions = normalize_trips(raw, params.source_path)
    trips = trips.cache()
    bounds = trips.select(
        F.to_date(F.min(schemas.PICKUP_TIME)).alias("first"),
        F.date_add(F.to_date(F.max(schemas.PICKUP_TIME)), 1).alias("last"),
    ).first()
    if bounds.first is None:
        raise UsageError(f"--source-path {params.source_path} holds no trips.")
    condition = (
        f"{schemas.PICKUP_TIME} >= {flags.sql_timestamp(bounds.first)}"
        f" AND {schemas.PICKUP_TIME} < {flags.sql_timestamp(bounds.last)}"
    )
    replace_where(spark, ctx.runtime, trips, params.output_table, condition)
    rows = trips.count()
    trips.unpersist()
    return {
        "table": str(params.output_table),
        "rows_written": rows,
        "start_date": bounds.first.isoformat(),
        "end_date": bounds.last.isoformat(),
        "conversions": conversions,
    }
