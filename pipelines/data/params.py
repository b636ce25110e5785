"""The data tasks' interfaces: their flags, declared once (``pipelines.common.interface``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, check_date_range, flag, positive_int
from pipelines.common.names import TableName


@dataclass(frozen=True, kw_only=True)
class GenerateDataParams:
    output_table: TableName = flag()
    start_date: dt.date = flag()
    end_date: dt.date = flag()
    trips_per_day: int = flag(default=2000, parse=positive_int)
    seed: int = flag(default=7)
    drift_start: dt.date | None = flag("from this date on, apply the drift factors", default=None)
    fare_drift: float = flag("multiply fares by this from --drift-start", default=1.0)
    distance_drift: float = flag("multiply distances by this from --drift-start", default=1.0)

    def validate(self) -> None:
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")
        for option, value in (
            ("--fare-drift", self.fare_drift),
            ("--distance-drift", self.distance_drift),
        ):
            if not 0.1 <= value <= 10:
                raise UsageError(f"{option} {value} is out of range: expected 0.1 to 10.")


GENERATE_DATA = Task(
    name="generate-data",
    params=GenerateDataParams,
    summary="Write deterministic synthetic NYC-taxi trips picked up in [start, end) into a"
    " table; re-running a range replaces it.",
    runs="pipelines.data.task:run",
)


@dataclass(frozen=True, kw_only=True)
class ImportTripsParams:
    source_path: str = flag("a parquet file or folder")
    output_table: TableName = flag()


IMPORT_TRIPS = Task(
    name="import-trips",
    params=ImportTripsParams,
    summary="Load real trips (parquet with the NYC taxi columns) into the trips table,"
    " replacing the days the file covers.",
    runs="pipelines.data.import_task:run",
)
