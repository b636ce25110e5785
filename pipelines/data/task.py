"""Entry point ``generate-data``: write synthetic trips for a date range into a table."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import Any

from pipelines.common import flags, schemas
from pipelines.common.flags import TaskArgumentParser
from pipelines.common.tables import TableName, replace_where
from pipelines.common.task import TaskContext, entry_point, new_parser
from pipelines.data.generator import Drift, generate_trips


@dataclass(frozen=True)
class Params:
    output_table: TableName
    start_date: dt.date
    end_date: dt.date
    trips_per_day: int = 2000
    seed: int = 7
    drift_start: dt.date | None = None
    fare_drift: float = 1.0
    distance_drift: float = 1.0

    def validate(self) -> None:
        flags.check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")
        for flag, value in (
            ("--fare-drift", self.fare_drift),
            ("--distance-drift", self.distance_drift),
        ):
            if not 0.1 <= value <= 10:
                raise flags.UsageError(f"{flag} {value} is out of range: expected 0.1 to 10.")


def build_parser() -> TaskArgumentParser:
    parser = new_parser(
        "generate-data",
        "Write deterministic synthetic NYC-taxi trips picked up in [start, end) into a table;"
        " re-running a range replaces it.",
    )
    parser.add_argument("--output-table", type=flags.table_name, required=True)
    parser.add_argument("--start-date", type=flags.iso_date, required=True)
    parser.add_argument("--end-date", type=flags.iso_date, required=True)
    parser.add_argument("--trips-per-day", type=flags.positive_int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--drift-start",
        type=flags.iso_date,
        default=None,
        help="from this date on, apply the drift factors",
    )
    parser.add_argument(
        "--fare-drift", type=float, default=1.0, help="multiply fares by this from --drift-start"
    )
    parser.add_argument(
        "--distance-drift",
        type=float,
        default=1.0,
        help="multiply distances by this from --drift-start",
    )
    return parser


def run(params: Params, ctx: TaskContext) -> dict[str, Any]:
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


def main(argv: list[str] | None = None) -> int:
    return entry_point(build_parser, Params, run, argv)


if __name__ == "__main__":
    sys.exit(main())
