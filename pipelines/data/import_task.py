"""Entry point ``import-trips``: load a parquet file of real trips into the trips table."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyspark.sql import functions as F

from pipelines.common import flags, schemas
from pipelines.common.errors import UsageError
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.tables import TableName, replace_where
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.data.ingest import normalize_trips


@dataclass(frozen=True)
class Params:
    source_path: str
    output_table: TableName


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "import-trips",
        "Load real trips (parquet with the NYC taxi columns) into the trips table, replacing"
        " the days the file covers.",
    )
    parser.add_argument("--source-path", required=True, help="a parquet file or folder")
    parser.add_argument("--output-table", type=flags.table_name, required=True)
    return parser


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    local = "://" not in params.source_path
    if local and not Path(params.source_path).exists():
        raise UsageError(f"--source-path {params.source_path}: no such file or folder.")
    trips = normalize_trips(spark.read.parquet(params.source_path), params.source_path).cache()
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
    }


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
