"""The feature task's interface: its flags, declared once (``pipelines.common.interface``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.common.interface import Task, check_date_range, flag
from pipelines.common.names import TableName


@dataclass(frozen=True, kw_only=True)
class WriteFeaturesParams:
    input_table: TableName = flag("raw trips, catalog.schema.table")
    pickup_features_table: TableName = flag()
    dropoff_features_table: TableName = flag()
    start_date: dt.date = flag()
    end_date: dt.date = flag()

    def validate(self) -> None:
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


WRITE_FEATURES = Task(
    name="write-features",
    params=WriteFeaturesParams,
    summary="Compute pickup (1 h sliding every 15 min) and dropoff (30 min) zip features for"
    " the windows ending in (start, end] and replace that range in the feature tables.",
    runs="pipelines.features.task:run",
)
