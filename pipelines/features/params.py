"""The feature task's interface: its flags, declared once (``pipelines.common.interface``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.common.interface import Task, check_date_range, flag
from pipelines.projects import ProjectParams


@dataclass(frozen=True, kw_only=True)
class WriteFeaturesParams(ProjectParams):
    start_date: dt.date = flag("first day of the range (included), YYYY-MM-DD")
    end_date: dt.date = flag("end of the range (excluded), YYYY-MM-DD")

    def validate(self) -> None:
        super().validate()
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


WRITE_FEATURES = Task(
    name="write-features",
    params=WriteFeaturesParams,
    summary="Compute a project's feature tables for the range (fare: zip windows ending in"
    " (start, end]; churn: the snapshots of [start, end)) and replace that range in them.",
    runs="pipelines.features.task:run",
)
