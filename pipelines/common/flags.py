"""Argument types and a parser that reports bad flags as usage errors, not tracebacks."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import NoReturn

from pipelines.common.errors import UsageError
from pipelines.common.tables import TableName


class TaskArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises ``UsageError`` so callers decide how to exit."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage().strip()}\n{self.prog}: error: {message}")


_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})(?:([+-])(\d{1,5})d)?")


def iso_date(text: str) -> dt.date:
    """``YYYY-MM-DD``, optionally shifted by whole days: ``2016-01-31-7d`` is 2016-01-24.

    The shift lets a scheduled job derive its windows from one run date (Databricks
    substitutes ``{{job.parameters.run_date}}`` before the task starts), since job
    parameters cannot do date arithmetic themselves.
    """
    match = _DATE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        day = dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a date: expected YYYY-MM-DD, optionally shifted by whole days"
            " (e.g. 2016-01-31 or 2016-01-31-7d)"
        ) from None
    if match.group(2):
        days = int(match.group(3))
        day += dt.timedelta(days=days if match.group(2) == "+" else -days)
    return day


def table_name(text: str) -> TableName:
    try:
        return TableName.parse(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def model_name(text: str) -> str:
    """A registered model name: three-level, like a Unity Catalog table."""
    try:
        TableName.parse(text)
    except UsageError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a three-level model name: expected catalog.schema.model"
        ) from None
    return text


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive whole number")
    return value


def check_date_range(start: dt.date, end: dt.date, start_flag: str, end_flag: str) -> None:
    if end <= start:
        raise UsageError(
            f"{end_flag} {end} must be after {start_flag} {start}: the range is"
            " [start, end), start included and end excluded."
        )


def day_start(day: dt.date) -> dt.datetime:
    """Midnight UTC of ``day``, time-zone aware: PySpark turns a naive datetime into an
    instant with the Python process's local time zone, while SQL literals and table data
    use the session's (UTC), so naive bounds would shift every range on a machine that
    is not set to UTC."""
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def sql_timestamp(value: dt.datetime | dt.date) -> str:
    """A SQL timestamp literal, for predicates that run unchanged locally and on Databricks."""
    if not isinstance(value, dt.datetime):
        value = day_start(value)
    return f"TIMESTAMP '{value.isoformat(sep=' ')}'"


def add_labelled_data_flags(parser: argparse.ArgumentParser, window: str) -> None:
    """The flags every task that reads labelled trips with their point-in-time features
    takes: the three tables and the pickup-date window [start, end) named ``window``."""
    parser.add_argument(
        "--input-table", type=table_name, required=True, help="labelled trips, catalog.schema.table"
    )
    for side in ("pickup", "dropoff"):
        parser.add_argument(
            f"--{side}-features-table",
            type=table_name,
            required=True,
            help=f"{side} zip feature table, joined point in time",
        )
    parser.add_argument(
        "--start-date",
        type=iso_date,
        required=True,
        help=f"first pickup day of the {window} (included), YYYY-MM-DD",
    )
    parser.add_argument(
        "--end-date",
        type=iso_date,
        required=True,
        help=f"end of the {window} (excluded), YYYY-MM-DD",
    )
