"""A separate process for the kill test of tables.replace_where (see test_tables.py).

It uses the lake under ``MLOPS_HOME`` (its own, never the test session's: Derby allows one
Spark process per metastore) and prints one JSON line per step, flushed, so the test can
follow it:

    python -m tests.pipelines.table_writer slow-write TABLE   # version 1, then a slow version 2
    python -m tests.pipelines.table_writer read-then-write TABLE   # read, write version 3, read
"""

from __future__ import annotations

import json
import sys
import time

from pyspark.sql import functions as F

from pipelines.common.runtime import Runtime
from pipelines.common.tables import TableName, overwrite_table, replace_where
from pipelines.common.task import TaskContext

ROWS = 100
# Version 2 replaces the upper half; each of its rows takes this long to compute, so the
# write lasts about (ROWS / 2) * SECONDS_PER_ROW / 2 seconds on two cores.
UPPER_HALF = f"id >= {ROWS // 2}"
SECONDS_PER_ROW = 1.0


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


def contents(ctx: TaskContext, name: TableName) -> list[list[int]]:
    rows = ctx.spark.table(str(name)).orderBy("id").collect()
    return [[r["id"], r["version"]] for r in rows]


def version(ctx: TaskContext, number: int, ids: range, slow: bool = False):
    df = ctx.spark.range(ids.start, ids.stop, numPartitions=2)
    if not slow:
        return df.withColumn("version", F.lit(number))

    def slowly(row_id):
        time.sleep(SECONDS_PER_ROW)
        return number

    # The slow column is not in the slice condition, so only the write itself computes it.
    return df.withColumn("version", F.udf(slowly, "int")("id"))


def main(command: str, table: str) -> None:
    ctx = TaskContext(Runtime.from_environment())
    name = TableName.parse(table)
    if command == "slow-write":
        overwrite_table(ctx.spark, ctx.runtime, version(ctx, 1, range(ROWS)), name)
        say(step="version 1 written")
        say(step="writing version 2")
        replace_where(
            ctx.spark,
            ctx.runtime,
            version(ctx, 2, range(ROWS // 2, ROWS), slow=True),
            name,
            UPPER_HALF,
        )
        say(step="version 2 written")
    elif command == "read-then-write":
        say(step="read", rows=contents(ctx, name))
        replace_where(
            ctx.spark, ctx.runtime, version(ctx, 3, range(ROWS // 2, ROWS)), name, UPPER_HALF
        )
        say(step="read after version 3", rows=contents(ctx, name))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
