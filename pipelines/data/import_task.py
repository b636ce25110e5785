"""The ``import-trips`` task (``pipelines.data.params.IMPORT_TRIPS``): load a parquet file
of real trips into the trips table.

The file's rows are checked against the trips table's expectations (the fare project's
``trips`` role, ``pipelines.common.expectations``) before anything is written: a trip id on
two different rows stops the import; a row breaking a row rule (no pickup time, a negative
or NaN distance or fare, a dropoff before its pickup) goes to ``<trips>_quarantine`` with
the rules it broke, tagged with the file it came from, and never to the trips table.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from pipelines.common import flags
from pipelines.common.errors import UsageError
from pipelines.common.expectations import check_rows, quarantine_table
from pipelines.common.tables import read_parquet, replace_where
from pipelines.common.task import TaskContext
from pipelines.data.params import ImportTripsParams
from pipelines.projects.fare import PROJECT, schemas
from pipelines.projects.fare.ingest import normalize_trips

# The quarantine's column naming the file a row came from: re-importing a file replaces
# its own quarantined rows, whatever their pickup time (or lack of one).
SOURCE_FILE = "source_file"


def run(params: ImportTripsParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    raw = read_parquet(spark, params.source_path)
    normalized, conversions = normalize_trips(raw, params.source_path)
    trips = normalized.cache()
    role = PROJECT.role("trips")
    checked = check_rows(
        spark,
        trips,
        role.expectations,
        role.keys,
        f"{params.source_path} (for {params.output_table})",
        on_databricks=ctx.runtime.on_databricks,
        refused="Two different trips with one id would be labelled and counted as one, so"
        " nothing was written.",
    )
    bounds = trips.select(
        F.to_date(F.min(schemas.PICKUP_TIME)).alias("first"),
        F.date_add(F.to_date(F.max(schemas.PICKUP_TIME)), 1).alias("last"),
        F.count("*").alias("rows"),
    ).first()
    if bounds is None or not bounds.rows:
        raise UsageError(f"--source-path {params.source_path} holds no trips.")
    quarantine = quarantine_table(params.output_table)
    source = params.source_path.replace("\\", "\\\\").replace("'", "\\'")
    replace_where(
        spark,
        ctx.runtime,
        checked.quarantined.withColumn(SOURCE_FILE, F.lit(params.source_path)),
        quarantine,
        f"{SOURCE_FILE} = '{source}'",
    )
    kept_out = checked.quarantined.count()
    if bounds.first is not None:
        condition = (
            f"{schemas.PICKUP_TIME} >= {flags.sql_timestamp(bounds.first)}"
            f" AND {schemas.PICKUP_TIME} < {flags.sql_timestamp(bounds.last)}"
        )
        replace_where(spark, ctx.runtime, checked.valid, params.output_table, condition)
    rows = bounds.rows - kept_out
    trips.unpersist()
    checked.quarantined.unpersist()
    return {
        "table": str(params.output_table),
        "rows_written": rows,
        "start_date": bounds.first.isoformat() if bounds.first else None,
        "end_date": bounds.last.isoformat() if bounds.last else None,
        "conversions": conversions,
        # Rows that repeated another row exactly, merged into it.
        "duplicates_merged": raw.count() - bounds.rows,
        # Rows each rule kept from the trips table; they are in the quarantine table.
        "quarantined": dict(checked.stopped),
        "quarantine_table": str(quarantine),
    }
