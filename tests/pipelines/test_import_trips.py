"""import-trips on bad files: types are a contract (only lossless conversions, each named in
the result), and a file that is not parquet gets one paragraph naming it; neither writes.
The trips table's expectations hold at the door: a trip id on two different rows stops the
import, rows breaking a row rule go to the quarantine with their rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops.cli import main as mlops
from pipelines.common.errors import SchemaMismatch, UnreadableFile
from pipelines.common.expectations import quarantine_table
from pipelines.common.names import TableName
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
    # Spark's own reason, not py4j's name of the call that failed.
    assert "is not a Parquet file" in message and "An error occurred while calling" not in message
    assert not spark.catalog.tableExists(f"{schema}.trips")


def test_a_trip_id_on_two_different_rows_stops_the_import_through_the_cli(
    tmp_path, runtime, spark, schema, monkeypatch, capsys
):
    """Through ``mlops run``'s own entry point (the console script's), in this process: its
    store is the session's, so the tables are read back here."""
    monkeypatch.setenv("MLOPS_HOME", str(runtime.home))
    table = f"{schema}.trips"

    def run(path: Path) -> int:
        return mlops(["run", "import-trips", "--source-path", str(path), "--output-table", table])

    good = trips_file(tmp_path / "good.parquet", trip_id=pa.array([1, 2, 3, 4], pa.int64()))
    assert run(good) == 0
    capsys.readouterr()
    ids = pa.array([1, 2, 2, 2], pa.int64())  # trip 2 three times, with different fares
    clash = trips_file(tmp_path / "clash.parquet", trip_id=ids)
    assert run(clash) == 1
    # One paragraph on one line, and nothing else from us.
    (message,) = capsys.readouterr().err.splitlines()
    assert message.startswith("error: ")
    assert str(clash) in message and table in message and "trip_id_unique" in message
    assert "3 rows break" in message and "e.g. 2." in message
    assert "nothing was written" in message
    # The trips table is as the good import left it, and its quarantine as empty.
    assert sorted(r.trip_id for r in spark.table(table).collect()) == [1, 2, 3, 4]
    assert spark.table(f"{table}_quarantine").count() == 0


def test_rows_repeating_another_exactly_are_merged_and_counted(tmp_path, ctx, spark, schema):
    table = f"{schema}.trips"
    twice = trips_file(tmp_path / "twice.parquet")
    doubled = pq.read_table(twice)
    pq.write_table(pa.concat_tables([doubled, doubled.slice(0, 2)]), twice)
    done = import_trips(twice, table, ctx)
    assert (done["rows_written"], done["duplicates_merged"]) == (4, 2)
    assert spark.table(table).count() == 4


def test_rows_breaking_a_trip_rule_are_quarantined_with_rules_and_file(
    tmp_path, ctx, spark, schema
):
    """40% of the distances bad (NaN, infinite, negative, NULL), one trip without a pickup
    time and one dropped off before its pickup: only the good trips reach the table."""
    n = 20
    pickup = [dt.datetime(2016, 1, 4, 8, m) for m in range(n)]
    distance = [1.0 + i for i in range(n)]
    bad = {0: float("nan"), 1: float("inf"), 2: -3.0, 3: None}  # rows i % 10 = 0..3
    distance = [bad.get(i % 10, d) for i, d in enumerate(distance)]
    dropoff = [t + dt.timedelta(minutes=9) for t in pickup]
    dropoff[4] = pickup[4] - dt.timedelta(minutes=1)
    pickup_times: list[dt.datetime | None] = list(pickup)
    pickup_times[5] = None
    path = trips_file(
        tmp_path / "mixed.parquet",
        tpep_pickup_datetime=pa.array(pickup_times, pa.timestamp("us", tz="UTC")),
        tpep_dropoff_datetime=pa.array(dropoff, pa.timestamp("us", tz="UTC")),
        trip_distance=pa.array(distance, pa.float64()),
        fare_amount=pa.array([5.0 + i for i in range(n)], pa.float64()),
        pickup_zip=pa.array([10001] * n, pa.int32()),
        dropoff_zip=pa.array([10002] * n, pa.int32()),
    )
    table = f"{schema}.trips"
    done = import_trips(path, table, ctx)
    expected = {
        "trip_distance_not_null": 2,
        "trip_distance_non_negative": 2,
        "trip_distance_finite": 4,  # NaN and +infinity
        "tpep_pickup_datetime_not_null": 1,
        "tpep_dropoff_datetime_not_before_tpep_pickup_datetime": 1,
    }
    assert {rule: c for rule, c in done["quarantined"].items() if c} == expected
    assert done["rows_written"] == n - 10
    assert spark.table(table).count() == n - 10
    kept = spark.table(table).where("NOT (trip_distance >= 0 AND trip_distance < 1e9)").count()
    assert kept == 0
    quarantine = str(quarantine_table(TableName.parse(table)))
    assert done["quarantine_table"] == quarantine
    held = spark.table(quarantine).collect()
    assert len(held) == 10 and {r.source_file for r in held} == {str(path)}
    assert any(r.tpep_pickup_datetime is None for r in held)
    broken = sorted(rule for r in held for rule in r.quarantine_rules)
    assert broken == sorted(rule for rule, c in expected.items() for _ in range(c))
    # Importing the same file again replaces its own quarantined rows: still ten.
    import_trips(path, table, ctx)
    assert spark.table(quarantine).count() == 10 and spark.table(table).count() == n - 10
