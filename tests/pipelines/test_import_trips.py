"""import-trips on bad files: types are a contract (only lossless conversions, each named in
the result), and a file that is not parquet gets one paragraph naming it; neither writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.common.errors import SchemaMismatch, UnreadableFile
from tests.conftest import run_task

PICKUP = [dt.datetime(2016, 1, 4, 8, m) for m in range(4)]


def trips_file(path: Path, **override: pa.Array) -> Path:
    """A small trips file in the contract's own types, some columns replaced."""
    columns = {
        "tpep_pickup_datetime": pa.array(PICKUP, pa.timestamp("us", tz="UTC")),
        "tpep_dropoff_datetime": pa.array(
            [t + dt.timedelta(minutes=9) for t in PICKUP], pa.timestamp("us", tz="UTC")
        ),
        "trip_distance": pa.array([1.0, 2.5, 3.2, 0.4], pa.float64()),
        "fare_amount": pa.array([6.5, 11.0, 13.5, 4.0], pa.float64()),
        "pickup_zip": pa.array([10001, 10002, 10003, 10001], pa.int32()),
        "dropoff_zip": pa.array([10002, 10003, 10001, 10002], pa.int32()),
    }
    columns.update(override)
    pq.write_table(pa.table(columns), path)
    return path


def import_trips(path: Path, table: str, ctx) -> dict:
    return run_task("import-trips", ["--source-path", str(path), "--output-table", table], ctx)


def test_right_names_all_strings_are_refused_and_nothing_is_written(tmp_path, ctx, spark, schema):
    table = f"{schema}.trips"
    import_trips(trips_file(tmp_path / "good.parquet"), table, ctx)
    before = sorted(spark.table(table).collect())
    strings = {
        "trip_distance": pa.array(["1.0", "2.5", "3.2", "0.4"]),
        "fare_amount": pa.array(["6.5", "11.0", "13.5", "4.0"]),
    }
    bad = trips_file(tmp_path / "strings.parquet", **strings)
    with pytest.raises(SchemaMismatch) as refused:
        import_trips(bad, table, ctx)
    message = str(refused.value)
    assert "trip_distance is string, expected double" in message
    assert "fare_amount is string, expected double" in message
    assert str(bad) in message and "Nothing was written" in message
    assert sorted(spark.table(table).collect()) == before


def test_lossless_conversions_are_made_and_named(tmp_path, ctx, spark, schema):
    table = f"{schema}.trips"
    converted = trips_file(
        tmp_path / "widened.parquet",
        trip_distance=pa.array([1.0, 2.5, 3.25, 0.5], pa.float32()),
        tpep_pickup_datetime=pa.array(PICKUP, pa.timestamp("us")),  # no zone: timestamp_ntz
    )
    done = import_trips(converted, table, ctx)
    assert done["rows_written"] == 4
    assert set(done["conversions"]) == {
        "trip_distance float -> double",
        "tpep_pickup_datetime timestamp_ntz -> timestamp",
    }
    assert sorted(r.trip_distance for r in spark.table(table).collect()) == [0.5, 1.0, 2.5, 3.25]


def test_a_narrowing_is_refused(tmp_path, ctx, schema):
    wide = trips_file(
        tmp_path / "wide.parquet", pickup_zip=pa.array([10001, 10002, 10003, 10001], pa.int64())
    )
    with pytest.raises(SchemaMismatch, match="pickup_zip is bigint, expected int"):
        import_trips(wide, f"{schema}.trips", ctx)


def test_a_text_file_named_parquet_is_named_in_one_paragraph(tmp_path, ctx, spark, schema):
    fake = tmp_path / "trips.parquet"
    fake.write_text("tpep_pickup_datetime,fare_amount\n2016-01-04 08:00:00,6.5\n")
    with pytest.raises(UnreadableFile) as refused:
        import_trips(fake, f"{schema}.trips", ctx)
    message = str(refused.value)
    assert message.startswith(f"{fake} is not readable parquet (")
    assert len(message.splitlines()) == 1 and "at org.apache" not in message
    assert not spark.catalog.tableExists(f"{schema}.trips")
