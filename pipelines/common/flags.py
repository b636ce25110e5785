"""Time bounds as the tasks' SQL and DataFrame filters use them. How a flag's text is read
is in ``pipelines.common.interface``."""

from __future__ import annotations

import datetime as dt


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
