"""Entry point ``write-features``: compute both feature tables for a date range."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

from pipelines.common import flags, schemas
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.tables import TableName, read_table, replace_where
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.features.compute import dropoff_features, pickup_features


@dataclass(frozen=True)
class Params:
    input_table: TableName
    pickup_features_table: TableName
    dropoff_features_table: TableName
    start_date: dt.date
    end_date: dt.date

    def validate(self) -> None:
        flags.check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "write-features",
        "Compute pickup (1 h sliding every 15 min) and dropoff (30 min) zip features for the"
        " windows ending in (start, end] and replace that range in the feature tables.",
    )
    parser.add_argument(
        "--input-table",
        type=flags.table_name,
        required=True,
        help="raw trips, catalog.schema.table",
    )
    parser.add_argument("--pickup-features-table", type=flags.table_name, required=True)
    parser.add_argument("--dropoff-features-table", type=flags.table_name, required=True)
    parser.add_argument("--start-date", type=flags.iso_date, required=True)
    parser.add_argument("--end-date", type=flags.iso_date, required=True)
    return parser


def window_end_range(start: dt.date, end: dt.date) -> str:
    return f"window_end > {flags.sql_timestamp(start)} AND window_end <= {flags.sql_timestamp(end)}"


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
