"""What the feature tables' expectations cost a write-features run, side by side in one run.

For each size (trips a day over ``--days`` days of generated fare trips), in one Spark
session and one temporary lake:

- ``checked``: the ``write-features`` task as the jobs run it: every feature table's rows
  checked with dqx against its role's expectations (``pipelines.common.expectations``),
  the quarantine slices replaced, then the feature tables;
- ``unchecked``: the same feature frames from the same lifecycle, written with the same
  ``replace_where`` into tables of their own, with no check and no quarantine.

The difference is the price of the rules: dqx building its columns (a fixed cost per
table, in the driver), the one cached evaluation with its uniqueness window over the key,
and the tally. Both sides write the same rows (checked). Target: checked at most 1.5x
unchecked at the largest size, where the rows, not the fixed costs, dominate.

    .venv/bin/python -m bench.expectations_cost
    .venv/bin/python -m bench.expectations_cost --sizes 300,20000 --days 14
"""

from __future__ import annotations

import argparse
import datetime as dt

from bench.common import print_machine, print_series, run_interleaved, temp_runtime
from pipelines import tasks
from pipelines.common.interface import positive_int
from pipelines.common.names import TableName
from pipelines.common.tables import replace_where
from pipelines.common.task import TaskContext
from pipelines.features.params import WRITE_FEATURES
from pipelines.projects import project

TARGET_RATIO = 1.5
START = dt.date(2016, 1, 1)
PACKAGES = ("pyspark", "databricks-labs-dqx")


def _sizes(text: str) -> list[int]:
    return [positive_int(part.strip()) for part in text.split(",")]


def measure_size(ctx: TaskContext, size: int, days: int, repeats: int) -> float | None:
    """Time both sides on ``size`` trips a day; their wall ratio, or None if they wrote
    different rows."""
    spark = ctx.spark
    end = START + dt.timedelta(days=days)
    schema = f"spark_catalog.bench_checks_{size}"
    flags = ["--project", "fare", "--tables", str(project("fare").tables_in(schema))]
    flags += ["--start-date", START.isoformat(), "--end-date", end.isoformat()]
    tasks.run_task("generate-data", [*flags, "--size", str(size)], ctx)
    params = WRITE_FEATURES.parse(flags)
    lifecycle = params.model_project.implementation()
    written: dict[str, dict[str, int]] = {}

    def checked(_: int) -> None:
        written["checked"] = tasks.run_task("write-features", flags, ctx)["rows_written"]

    def unchecked(_: int) -> None:
        counts = {}
        frames = lifecycle.features(spark, params.tables, params.start_date, params.end_date)
        for rows in frames:
            table = params.tables[rows.role]
            target = TableName(table.catalog, table.schema, f"{table.table}_unchecked")
            frame = rows.frame.cache()
            replace_where(spark, ctx.runtime, frame, target, rows.replaces)
            counts[str(table)] = frame.count()
            frame.unpersist()
        written["unchecked"] = counts

    print(f"\n{size:,} trips a day over {days} days:")
    sides = {"checked (write-features)": checked, "unchecked (same frames)": unchecked}
    series = run_interleaved(sides, repeats)
    if written["checked"] != written["unchecked"]:
        print(f"rows differ: {written}")
        return None
    print_series(series)
    ratio = series["checked (write-features)"].wall / series["unchecked (same frames)"].wall
    rows = sum(written["checked"].values())
    print(f"  {rows:,} feature rows; checked / unchecked: {ratio:.2f}x wall")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.expectations_cost", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--sizes", type=_sizes, default=[300, 20_000], help="trips a day, comma-separated"
    )
    parser.add_argument("--days", type=positive_int, default=14, help="days of trips")
    parser.add_argument("--repeats", type=positive_int, default=3, help="timed runs per side")
    args = parser.parse_args(argv)
    print_machine(PACKAGES)
    ratios: dict[int, float] = {}
    with temp_runtime("bench-expectations-") as runtime:
        ctx = TaskContext(runtime)
        for size in args.sizes:
            ratio = measure_size(ctx, size, args.days, args.repeats)
            if ratio is None:
                return 1
            ratios[size] = ratio
    largest = ratios[max(ratios)]
    verdict = "met" if largest <= TARGET_RATIO else "missed"
    summary = ", ".join(f"{size:,}/day {ratio:.2f}x" for size, ratio in ratios.items())
    print(
        f"\nverdict: {verdict}: checked at most {TARGET_RATIO}x unchecked at the largest"
        f" size ({summary})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
