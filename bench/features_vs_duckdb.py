"""Feature windows on local Spark (the pipelines' code) against the same windows in DuckDB.

Generates ~1M trips, writes them once to a parquet file, then computes both feature
tables for the whole range, side by side in one run:

- spark (pipelines): ``pickup_features`` + ``dropoff_features`` from
  ``pipelines.projects.fare.features`` (15-minute buckets, then each bucket into its windows);
- spark (naive F.window): ``F.window(ts, "1 hour", "15 minutes")`` group-by, the
  reference the issue cites, and a tumbling ``F.window(ts, "30 minutes")`` for dropoff;
- duckdb (SQL): the same windows in SQL over the same file.

Every side reads the parquet file and writes both tables as parquet into a fresh folder:
the measure is "file in, feature files out", what the feature job does minus the metastore.
Results are checked equal (row counts, keys and counts exactly, mean fares within 1e-9).

Target: spark (pipelines) at most 4x duckdb (median of 3 runs after one warm-up).

    .venv/bin/python -m bench.features_vs_duckdb
    .venv/bin/python -m bench.features_vs_duckdb --shuffle-partitions 2 --adaptive off
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.common import print_machine, print_series, run_interleaved, temp_runtime
from pipelines.common.flags import day_start
from pipelines.common.spark import get_spark
from pipelines.common.tables import check_schema
from pipelines.projects.fare.features import (
    DROPOFF_WINDOW,
    PICKUP_SLIDE,
    PICKUP_WINDOW,
    dropoff_features,
    pickup_features,
    trips_needed,
)
from pipelines.projects.fare.generator import generate_trips
from pipelines.projects.fare.schemas import DROPOFF_TIME, LABEL, PICKUP_TIME, TRIPS

TARGET_RATIO = 4.0
PICKUP = "pickup"
DROPOFF = "dropoff"
PACKAGES = ("pyspark", "duckdb", "pandas", "pyarrow", "numpy")

Compute = Callable[[DataFrame, dt.date, dt.date], DataFrame]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.features_vs_duckdb", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="trips to generate")
    parser.add_argument("--days", type=int, default=50, help="days the trips spread over")
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    parser.add_argument(
        "--row-group-rows",
        type=int,
        default=131_072,
        help="parquet row-group size of the trips file: both engines split scans by row"
        " group, so one big row group means one reading task",
    )
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        default=None,
        help="override spark.sql.shuffle.partitions (default: the session's)",
    )
    parser.add_argument(
        "--adaptive",
        choices=("on", "off"),
        default=None,
        help="override spark.sql.adaptive.enabled (default: the session's)",
    )
    parser.add_argument(
        "--max-partition-bytes",
        default=None,
        help="override spark.sql.files.maxPartitionBytes, e.g. 4m (more, smaller input splits)",
    )
    parser.add_argument(
        "--jvm-options",
        default=None,
        help="extra options for the Spark JVM (set as JDK_JAVA_OPTIONS before it starts);"
        " use the = form, e.g. --jvm-options=-XX:+UseSerialGC",
    )
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive side")
    return parser.parse_args(argv)


def write_trips(path: Path, rows: int, days: int, start: dt.date, row_group_rows: int) -> int:
    """Generate the trips and write them once; timestamps as UTC instants, so Spark reads
    them as TIMESTAMP, the type of the trips table."""
    trips = generate_trips(start, start + dt.timedelta(days=days), max(1, rows // days))
    for column in (PICKUP_TIME, DROPOFF_TIME):
        trips[column] = trips[column].dt.tz_localize("UTC")
    table = pa.Table.from_pandas(trips, preserve_index=False)
    pq.write_table(table, path, row_group_size=row_group_rows)
    return len(trips)


# --- Spark -------------------------------------------------------------------------------


def naive_pickup(trips: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """The sliding group-by the pipelines avoid: every trip expanded into its 4 windows."""
    window = F.window(PICKUP_TIME, "1 hour", "15 minutes")
    return _in_range(
        trips_needed(trips, PICKUP_TIME, start, end, PICKUP_WINDOW)
        .groupBy(F.col("pickup_zip").alias("zip"), window.alias("w"))
        .agg(
            F.avg(LABEL).alias("mean_fare_window_1h_pickup_zip"),
            F.count(F.lit(1)).alias("count_trips_window_1h_pickup_zip"),
        )
        .select(
            "zip",
            F.col("w.end").alias("window_end"),
            "mean_fare_window_1h_pickup_zip",
            "count_trips_window_1h_pickup_zip",
        ),
        start,
        end,
    )


def naive_dropoff(trips: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    window = F.window(DROPOFF_TIME, "30 minutes")
    return _in_range(
        trips_needed(trips, DROPOFF_TIME, start, end, DROPOFF_WINDOW)
        .groupBy(F.col("dropoff_zip").alias("zip"), window.alias("w"))
        .agg(F.count(F.lit(1)).alias("count_trips_window_30m_dropoff_zip"))
        .select(
            "zip",
            F.col("w.end").alias("window_end"),
            "count_trips_window_30m_dropoff_zip",
            F.dayofweek("w.start").isin(1, 7).cast("int").alias("dropoff_is_weekend"),
        ),
        start,
        end,
    )


def _in_range(df: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    lower, upper = day_start(start), day_start(end)
    return df.where((F.col("window_end") > F.lit(lower)) & (F.col("window_end") <= F.lit(upper)))


def _epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())


def spark_side(
    spark: SparkSession,
    trips_path: Path,
    out_root: Path,
    pickup: Compute,
    dropoff: Compute,
    start: dt.date,
    end: dt.date,
) -> Callable[[int], None]:
    def run(index: int) -> None:
        trips = spark.read.parquet(trips_path.as_uri())
        out = out_root / f"run{index}"
        pickup(trips, start, end).write.parquet((out / PICKUP).as_uri())
        dropoff(trips, start, end).write.parquet((out / DROPOFF).as_uri())

    return run


# --- DuckDB ------------------------------------------------------------------------------


def duckdb_queries(trips_path: Path, start: dt.date, end: dt.date) -> dict[str, str]:
    """Both tables in SQL with the pipelines' semantics: half-open windows [end - length,
    end) keyed by (zip, window_end), window_end in (start, end], only windows with trips.
    Pickup uses the same 15-minute buckets (the fastest form we found in DuckDB too)."""
    slide = int(PICKUP_SLIDE.total_seconds())
    slides = int(PICKUP_WINDOW / PICKUP_SLIDE)
    tumble = int(DROPOFF_WINDOW.total_seconds())
    lo, hi = _epoch(start), _epoch(end)
    source = f"read_parquet('{trips_path}')"
    pickup = f"""
        WITH buckets AS (
            SELECT pickup_zip AS zip,
                   (epoch_us({PICKUP_TIME}) // {slide * 10**6} + 1) * {slide} AS bucket_end,
                   sum({LABEL}) AS fare_sum,
                   count(*) AS trips
            FROM {source}
            WHERE {PICKUP_TIME} >= to_timestamp({lo - int(PICKUP_WINDOW.total_seconds())})
              AND {PICKUP_TIME} < to_timestamp({hi})
            GROUP BY ALL
        ), windows AS (
            SELECT zip, bucket_end + k * {slide} AS end_s, fare_sum, trips
            FROM buckets, range({slides}) AS r(k)
        )
        SELECT zip,
               to_timestamp(end_s) AS window_end,
               sum(fare_sum) / sum(trips) AS mean_fare_window_1h_pickup_zip,
               sum(trips)::BIGINT AS count_trips_window_1h_pickup_zip
        FROM windows
        WHERE end_s > {lo} AND end_s <= {hi}
        GROUP BY zip, end_s"""
    # Weekday of the window start from epoch seconds: 1970-01-01 was a Thursday (4, with
    # Sunday = 0), so no time-zone extension is involved; weekend = Saturday or Sunday.
    dropoff = f"""
        WITH windows AS (
            SELECT dropoff_zip AS zip,
                   (epoch_us({DROPOFF_TIME}) // {tumble * 10**6} + 1) * {tumble} AS end_s,
                   count(*) AS trips
            FROM {source}
            WHERE {DROPOFF_TIME} >= to_timestamp({lo - tumble})
              AND {DROPOFF_TIME} < to_timestamp({hi})
            GROUP BY ALL
        )
        SELECT zip,
               to_timestamp(end_s) AS window_end,
               trips::BIGINT AS count_trips_window_30m_dropoff_zip,
               (((end_s - {tumble}) // 86400 + 4) % 7 IN (0, 6))::INTEGER AS dropoff_is_weekend
        FROM windows
        WHERE end_s > {lo} AND end_s <= {hi}"""
    return {PICKUP: pickup, DROPOFF: dropoff}


def duckdb_side(
    con: duckdb.DuckDBPyConnection, queries: dict[str, str], out_root: Path
) -> Callable[[int], None]:
    def run(index: int) -> None:
        out = out_root / f"run{index}"
        out.mkdir(parents=True)
        for table, query in queries.items():
            con.execute(f"COPY ({query}) TO '{out / table}.parquet' (FORMAT parquet)")

    return run


# --- checking ----------------------------------------------------------------------------


def read_result(con: duckdb.DuckDBPyConnection, location: Path) -> pd.DataFrame:
    """A feature table written by either engine, window_end as epoch microseconds, sorted."""
    pattern = f"{location}/*.parquet" if location.is_dir() else str(location)
    return con.execute(
        f"SELECT * REPLACE (epoch_us(window_end) AS window_end)"
        f" FROM read_parquet('{pattern}') ORDER BY zip, window_end"
    ).df()


def compare(left: pd.DataFrame, right: pd.DataFrame) -> str | None:
    """None when both hold the same rows; otherwise what differs."""
    if len(left) != len(right):
        return f"{len(left)} rows against {len(right)}"
    if sorted(left.columns) != sorted(right.columns):
        return f"columns {sorted(left.columns)} against {sorted(right.columns)}"
    for column in left.columns:
        a, b = left[column].to_numpy(), right[column].to_numpy()
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            same = np.allclose(a.astype(float), b.astype(float), rtol=1e-9, atol=1e-9)
        else:
            same = np.array_equal(a.astype(np.int64), b.astype(np.int64))
        if not same:
            return f"values of {column} differ"
    return None


def check_results(con: duckdb.DuckDBPyConnection, out: Path, sides: list[str]) -> bool:
    """Compare the warm-up outputs of every Spark side with DuckDB's."""
    reference = out / "duckdb" / "run0"
    ok = True
    for table in (PICKUP, DROPOFF):
        expected = read_result(con, reference / f"{table}.parquet")
        for side in sides:
            problem = compare(read_result(con, out / side / "run0" / table), expected)
            ok = ok and problem is None
            verdict = "same rows" if problem is None else f"DIFFERENT: {problem}"
            print(f"  {table:<8} {side:<16} vs duckdb: {len(expected):>8,} rows, {verdict}")
    return ok


# --- main --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start = args.start_date
    end = start + dt.timedelta(days=args.days)
    print_machine(PACKAGES)
    with temp_runtime("bench-features-") as runtime, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        trips_path = work / "trips.parquet"
        began = time.perf_counter()
        rows = write_trips(trips_path, args.rows, args.days, start, args.row_group_rows)
        groups = pq.ParquetFile(trips_path).metadata.num_row_groups
        size_mb = trips_path.stat().st_size / 1e6
        print(
            f"trips: {rows:,} rows picked up in [{start}, {end}), {size_mb:.1f} MB parquet,"
            f" {groups} row groups ({time.perf_counter() - began:.1f} s to generate and write)"
        )

        began = time.perf_counter()
        if args.jvm_options:
            os.environ["JDK_JAVA_OPTIONS"] = args.jvm_options
        spark = get_spark(runtime, "bench-features")
        if args.shuffle_partitions is not None:
            spark.conf.set("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
        if args.adaptive is not None:
            spark.conf.set("spark.sql.adaptive.enabled", str(args.adaptive == "on").lower())
        if args.max_partition_bytes is not None:
            spark.conf.set("spark.sql.files.maxPartitionBytes", args.max_partition_bytes)
        trips = spark.read.parquet(trips_path.as_uri())
        check_schema(trips, TRIPS, str(trips_path))
        settings = ", ".join(
            f"{key.removeprefix('spark.sql.')}={spark.conf.get(key)}"
            for key in (
                "spark.sql.shuffle.partitions",
                "spark.sql.adaptive.enabled",
                "spark.sql.files.maxPartitionBytes",
            )
        )
        print(
            f"spark: {spark.sparkContext.master}, session ready in"
            f" {time.perf_counter() - began:.1f} s; {settings};"
            f" {trips.rdd.getNumPartitions()} input partitions"
            + (f"; JVM options {args.jvm_options}" if args.jvm_options else "")
        )
        con = duckdb.connect()
        con.execute(f"SET threads = {os.cpu_count()}")
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        print(f"duckdb {duckdb.__version__}: {threads} threads")

        out = work / "out"
        sides: dict[str, Callable[[int], None]] = {
            "spark": spark_side(
                spark, trips_path, out / "spark", pickup_features, dropoff_features, start, end
            ),
        }
        if not args.skip_naive:
            sides["spark_naive"] = spark_side(
                spark, trips_path, out / "spark_naive", naive_pickup, naive_dropoff, start, end
            )
        sides["duckdb"] = duckdb_side(con, duckdb_queries(trips_path, start, end), out / "duckdb")
        labels = {
            "spark": "spark (pipelines)",
            "spark_naive": "spark (naive F.window)",
            "duckdb": "duckdb (SQL)",
        }

        print(f"\ntimings (1 warm-up, then {args.repeats} interleaved runs; both tables,")
        print("parquet in, parquet out; cpu = our processes' CPU seconds, JVM included):")
        series = run_interleaved({labels[k]: fn for k, fn in sides.items()}, args.repeats)

        print("\nresults:")
        same = check_results(con, out, [k for k in sides if k != "duckdb"])

    print("\nmedians:")
    print_series(series)
    duck = series[labels["duckdb"]]
    ratio = series[labels["spark"]].wall / duck.wall
    print("\nratios to duckdb (wall; cpu in brackets):")
    for key, label in labels.items():
        if key in sides and key != "duckdb":
            s = series[label]
            print(f"  {label:<34} {s.wall / duck.wall:6.1f}x   ({s.cpu / duck.cpu:5.1f}x cpu)")
    if "spark_naive" in sides:
        share = series[labels["spark"]].wall / series[labels["spark_naive"]].wall
        word = "faster" if share < 1 else "slower"
        print(f"  spark (pipelines) takes {share:.2f}x the naive time ({word} than naive)")
    met = ratio <= TARGET_RATIO and same
    print(
        f"\nverdict: {'MET' if met else 'MISSED'} - spark (pipelines) {ratio:.1f}x duckdb"
        f" (target <= {TARGET_RATIO:.0f}x){'' if same else '; RESULTS DIFFER'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
