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
from pipelines.common.expectations import check_rows, quarantine_table, replace_quarantined
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
    role = PROJECT.role("trips")
    checked = check_rows(
        spark,
        normalized,
        role.expectations,
        role.keys,
        f"{params.source_path} (for {params.output_table})",
        on_databricks=ctx.runtime.on_databricks,
        refused="Two different trips with one id would be labelled and counted as one, so"
        " nothing was written.",
    )
    if not checked.rows:
        checked.release()
        raise UsageError(f"--source-path {params.source_path} holds no trips.")
    quarantine = quarantine_table(params.output_table)
    source = params.source_path.replace("\\", "\\\\").replace("'", "\\'")
    replace_quarantined(
        spark,
        ctx.runtime,
        checked.quarantined.withColumn(SOURCE_FILE, F.lit(params.source_path)),
        checked.kept_out,
        quarantine,
        f"{SOURCE_FILE} = '{source}'",
    )
    # The days the file's trips cover, quarantined ones included: its re-import replaces
    # them whole.
    days = F.to_date(F.col(schemas.PICKUP_TIME))
    bounds = (
        checked.valid.select(schemas.PICKUP_TIME)
        .unionByName(checked.quarantined.select(schemas.PICKUP_TIME))
        .select(F.min(days).alias("first"), F.date_add(F.max(days), 1).alias("last"))
        .first()
    )
    assert bounds is not None  # a global aggregate has one row
    if bounds.first is not None:
        condition = (
            f"{schemas.PICKUP_TIME} >= {flags.sql_timestamp(bounds.first)}"
            f" AND {schemas.PICKUP_TIME} < {flags.sql_timestamp(bounds.last)}"
        )
        replace_where(spark, ctx.runtime, checked.valid, params.output_table, condition)
    checked.release()
    return {
        "table": str(params.output_table),
        "rows_written": checked.passed,
        "start_date": bounds.first.isoformat() if bounds.first else None,
        "end_date": bounds.last.isoformat() if bounds.last else None,
        "conversions": conversions,
        # Rows that repeated another row exactly, merged into it.
        "duplicates_merged": raw.count() - checked.rows,
        # Rows each rule kept from the trips table; they are in the quarantine table.
        "quarantined": dict(checked.stopped),
        "quarantine_table": str(quarantine),
    }
