"""The data tasks' interfaces: their flags, declared once (``pipelines.common.interface``)."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, check_date_range, existing_path, flag, positive_int
from pipelines.common.names import TableName
from pipelines.projects import ProjectParams


def knob_values(text: str) -> Mapping[str, float]:
    """``name=value,name=value``: the drift knobs and their values."""
    values: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, sep, value = item.partition("=")
        try:
            values[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(
                f"'{item}' is not name=number: expected e.g. fare=1.4,distance=1.25"
            )
    return values


@dataclass(frozen=True, kw_only=True)
class GenerateDataParams(ProjectParams):
    start_date: dt.date = flag("first day to generate (included), YYYY-MM-DD")
    end_date: dt.date = flag("end of the range (excluded), YYYY-MM-DD")
    size: int | None = flag(
        "how much data: the project's unit (fare: trips per day; churn: customers);"
        " default: the project's",
        default=None,
        parse=positive_int,
    )
    seed: int = flag(default=7)
    drift_start: dt.date | None = flag("from this date on, apply the drift knobs", default=None)
    drift: Mapping[str, float] = flag(
        "the project's drift knobs, name=value,... (fare: fare, distance factors; churn:"
        " price_increase, support_call_factor, competitor_offer)",
        default_factory=dict,
        parse=knob_values,
        metavar="KNOB=VALUE,...",
    )

    def validate(self) -> None:
        super().validate()
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")
        knobs = self.model_project.drift_knobs
        unknown = sorted(set(self.drift) - set(knobs))
        if unknown:
            raise UsageError(
                f"--drift {', '.join(unknown)}: project {self.project} has no such drift knob;"
                f" expected some of {', '.join(knobs) or '(none)'}."
            )
        if self.drift and self.drift_start is None:
            raise UsageError("--drift needs --drift-start: the day the drift begins.")


GENERATE_DATA = Task(
    name="generate-data",
    params=GenerateDataParams,
    summary="Write a project's deterministic synthetic source data for [start, end) into its"
    " input tables; re-running a range replaces it.",
    runs="pipelines.data.task:run",
)


@dataclass(frozen=True, kw_only=True)
class ImportTripsParams:
    source_path: str = flag("a parquet file or folder", parse=existing_path)
    output_table: TableName = flag()


IMPORT_TRIPS = Task(
    name="import-trips",
    params=ImportTripsParams,
    summary="Load real trips (parquet with the NYC taxi columns) into the fare project's"
    " trips table, replacing the days the file covers.",
    runs="pipelines.data.import_task:run",
)
