"""Zip features: exact windows on hand-built trips, and range rewrites through the task."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections import Counter

import pandas as pd
import pytest
from pyspark.sql import DataFrame

from pipelines.common.tables import TableName
from pipelines.projects.fare import schemas
from pipelines.projects.fare.features import dropoff_features, pickup_features
from tests.conftest import fare_tables, run_task

A, B, C = 10001, 10002, 10003
MONDAY = dt.date(2016, 1, 4)


def at(day: dt.date, hh: int, mm: int, ss: int = 0) -> dt.datetime:
    # Aware UTC times, so the tests hold on a machine in any time zone.
    return dt.datetime.combine(day, dt.time(hh, mm, ss), tzinfo=dt.UTC)


def utc_rows(df: DataFrame) -> list[dict]:
    """Rows with window_end as aware UTC (toPandas reads in the session time zone, UTC;
    collect() would convert to the machine's local time)."""
    frame = df.toPandas()
    frame["window_end"] = frame["window_end"].dt.tz_localize("UTC")
    return [{**r, "window_end": r["window_end"].to_pydatetime()} for r in frame.to_dict("records")]


def trips_frame(spark, rows: list[tuple]) -> DataFrame:
    """Trips from (trip_id, pickup, dropoff, fare, pickup_zip, dropoff_zip) tuples."""
    return spark.createDataFrame(
        [(i, p, d, 1.0, fare, pz, dz) for i, p, d, fare, pz, dz in rows],
        schema=schemas.TRIPS,
    )


def pickup_rows(df) -> set[tuple]:
    return {
        (
            r["zip"],
            r["window_end"],
            round(r["mean_fare_window_1h_pickup_zip"], 9),
            r["count_trips_window_1h_pickup_zip"],
        )
        for r in utc_rows(df)
    }


def dropoff_rows(df) -> set[tuple]:
    return {
        (
            r["zip"],
            r["window_end"],
            r["count_trips_window_30m_dropoff_zip"],
            r["dropoff_is_weekend"],
        )
        for r in utc_rows(df)
    }


def test_pickup_windows_are_one_hour_sliding_every_15_minutes(spark) -> None:
    d = MONDAY
    trips = trips_frame(
        spark,
        [
            (1, at(d, 10, 5), at(d, 10, 20), 10.0, A, B),
            # Exactly on a window boundary: in [10:30, 11:30), not in [9:30, 10:30).
            (2, at(d, 10, 30), at(d, 10, 50), 20.0, A, B),
            (3, at(d, 10, 59, 59), at(d, 11, 10), 7.0, B, A),
        ],
    )
    got = pickup_features(trips, d, d + dt.timedelta(days=1))
    assert got.schema["count_trips_window_1h_pickup_zip"].dataType.simpleString() == "bigint"
    assert pickup_rows(got) == {
        (A, at(d, 10, 15), 10.0, 1),
        (A, at(d, 10, 30), 10.0, 1),
        (A, at(d, 10, 45), 15.0, 2),
        (A, at(d, 11, 0), 15.0, 2),
        (A, at(d, 11, 15), 20.0, 1),
        (A, at(d, 11, 30), 20.0, 1),
        (B, at(d, 11, 0), 7.0, 1),
        (B, at(d, 11, 15), 7.0, 1),
        (B, at(d, 11, 30), 7.0, 1),
        (B, at(d, 11, 45), 7.0, 1),
    }


def test_pickup_range_holds_windows_ending_after_start_up_to_end(spark) -> None:
    d = MONDAY
    before, after = d - dt.timedelta(days=1), d + dt.timedelta(days=1)
    trips = trips_frame(
        spark,
        [
            # The day before: its windows ending after midnight belong to the range.
            (1, at(before, 23, 30), at(d, 0, 5), 8.0, C, A),
            # Late in the range: only its window ending exactly at `end` belongs to it.
            (2, at(d, 23, 50), at(after, 0, 5), 12.0, C, A),
            # After the range: no window of it ends by `end`.
            (3, at(after, 0, 0), at(after, 0, 9), 30.0, C, A),
        ],
    )
    assert pickup_rows(pickup_features(trips, d, after)) == {
        (C, at(d, 0, 15), 8.0, 1),
        (C, at(d, 0, 30), 8.0, 1),
        (C, at(after, 0, 0), 12.0, 1),
    }


def test_dropoff_windows_are_30_minute_tumbling_with_a_weekend_flag(spark) -> None:
    friday, saturday, sunday = dt.date(2016, 1, 8), dt.date(2016, 1, 9), dt.date(2016, 1, 10)
    monday = dt.date(2016, 1, 11)
    trips = trips_frame(
        spark,
        [
            (1, at(saturday, 9, 50), at(saturday, 10, 10), 9.0, B, A),
            (2, at(saturday, 10, 0), at(saturday, 10, 29, 59), 9.0, B, A),
            # On the boundary: the next window.
            (3, at(saturday, 10, 10), at(saturday, 10, 30), 9.0, B, A),
            # The window ending at Saturday 00:00 lies on Friday: not a weekend window.
            (4, at(friday, 23, 30), at(friday, 23, 50), 9.0, B, A),
            # The window ending at Monday 00:00 lies on Sunday: a weekend window.
            (5, at(sunday, 23, 30), at(sunday, 23, 45), 9.0, B, A),
            (6, at(monday, 0, 30), at(monday, 0, 40), 9.0, B, B),
        ],
    )
    got = dropoff_features(trips, friday, monday + dt.timedelta(days=1))
    assert dropoff_rows(got) == {
        (A, at(saturday, 10, 30), 2, 1),
        (A, at(saturday, 11, 0), 1, 1),
        (A, at(saturday, 0, 0), 1, 0),
        (A, at(monday, 0, 0), 1, 1),
        (B, at(monday, 1, 0), 1, 0),
    }
    # The range is (start, end] on window_end: Monday's window is out of [Fri, Mon).
    assert (B, at(monday, 1, 0), 1, 0) not in dropoff_rows(dropoff_features(trips, friday, monday))


def _sorted(spark, table: TableName, key=("zip", "window_end")) -> pd.DataFrame:
    frame = spark.table(str(table)).toPandas()
    return frame.sort_values(list(key), kind="stable").reset_index(drop=True)


def _keys(frame: pd.DataFrame) -> Counter:
    return Counter(zip(frame["zip"], frame["window_end"], strict=True))


def test_rewriting_ranges_replaces_rows_and_matches_one_pass(ctx, spark, schema) -> None:
    trips = f"{schema}.trips"
    d1, d2, d3, d4 = (dt.date(2016, 1, 4) + dt.timedelta(days=i) for i in (0, 1, 2, 3))

    def dates(start: dt.date, end: dt.date) -> list[str]:
        return ["--start-date", start.isoformat(), "--end-date", end.isoformat()]

    tables = ["--project", "fare", "--tables", fare_tables(schema).replace(
        f"{schema}.pickup_features", f"{schema}.parts_pickup").replace(
        f"{schema}.dropoff_features", f"{schema}.parts_dropoff")]  # fmt: skip
    run_task("generate-data", [*tables, "--size", "150", *dates(d1, d4)], ctx)

    def write_features(start: dt.date, end: dt.date) -> dict:
        return run_task("write-features", [*tables, *dates(start, end)], ctx)

    write_features(d1, d3)
    # A range overlapping the first by one day: its windows ending in (d2, d3] are
    # computed again and must replace the ones already there.
    written = write_features(d2, d4)
    assert written["rows_written"][f"{schema}.parts_pickup"] > 0

    all_trips = spark.table(trips)
    for kind, compute in (("pickup", pickup_features), ("dropoff", dropoff_features)):
        parts = _sorted(spark, TableName.parse(f"{schema}.parts_{kind}"))
        duplicates = [k for k, n in _keys(parts).items() if n > 1]
        assert not duplicates, f"{kind}: duplicate (zip, window_end) keys {duplicates[:5]}"
        whole = compute(all_trips, d1, d4).select(*parts.columns).toPandas()
        whole = whole.sort_values(["zip", "window_end"], kind="stable").reset_index(drop=True)
        assert parts["window_end"].min() > pd.Timestamp(d1)
        assert parts["window_end"].max() <= pd.Timestamp(d4)
        pd.testing.assert_frame_equal(parts, whole, check_exact=False, rtol=1e-12)


@pytest.fixture
def new_york_machine():
    """The driver process set to New York time, as on a laptop there (Spark's session
    time zone stays UTC)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_feature_ranges_do_not_depend_on_the_machines_time_zone(
    ctx, spark, schema, new_york_machine
) -> None:
    d1, d2 = dt.date(2016, 1, 4), dt.date(2016, 1, 5)
    dates = ["--start-date", d1.isoformat(), "--end-date", d2.isoformat()]
    tables = ["--project", "fare", "--tables", fare_tables(schema)]
    run_task("generate-data", [*tables, "--size", "100", *dates], ctx)
    run_task("write-features", [*tables, *dates], ctx)
    # toPandas goes through Arrow in the session time zone (UTC), unlike collect().
    written = _sorted(spark, TableName.parse(f"{schema}.pickup_features"))
    assert written["window_end"].min() == pd.Timestamp(d1) + pd.Timedelta(minutes=15)
    assert written["window_end"].max() == pd.Timestamp(d2)
