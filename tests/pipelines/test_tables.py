"""Table names, schema checks and the copy-on-write slice replacement of local tables."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from pyspark.sql import types as T

from pipelines.common.errors import SchemaMismatch, UsageError
from pipelines.common.tables import (
    VERSION_DIR_PREFIX,
    TableName,
    check_schema,
    read_table,
    replace_where,
)
from tests.pipelines import table_writer

REPO = Path(__file__).resolve().parents[2]

ROWS = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("day", T.IntegerType()),
        T.StructField("value", T.DoubleType()),
    ]
)


@pytest.mark.parametrize(
    "text",
    ["trips", "mlops.trips", "a.b.c.d", "spark_catalog.ml-ops.trips", "cat..trips", "1a.b.c", ""],
)
def test_table_name_must_have_three_identifiers(text: str) -> None:
    with pytest.raises(UsageError) as raised:
        TableName.parse(text)
    assert f"'{text}'" in str(raised.value)
    assert "catalog.schema.table" in str(raised.value)


def test_table_name_round_trips() -> None:
    name = TableName.parse("spark_catalog.mlops_1.trips_2016")
    assert (name.catalog, name.schema, name.table) == ("spark_catalog", "mlops_1", "trips_2016")
    assert str(name) == "spark_catalog.mlops_1.trips_2016"
    assert str(name.sibling("features")) == "spark_catalog.mlops_1.features"


def _rows(spark, name: TableName) -> list[tuple]:
    return sorted(tuple(r) for r in spark.table(str(name)).collect())


def _versions(runtime, name: TableName) -> list[str]:
    root = runtime.lake_dir / "tables" / name.catalog / name.schema / name.table
    return sorted(p.name for p in root.iterdir() if p.name.startswith(VERSION_DIR_PREFIX))


def _frame(spark, rows: list[tuple]):
    return spark.createDataFrame(rows, schema=ROWS)


DAY_1 = [(1, 1, 1.0), (2, 1, 2.0)]
DAY_2 = [(3, 2, 3.0), (4, 2, 4.0)]


def test_check_schema_lists_missing_and_mistyped_columns_and_nothing_is_written(
    ctx, spark, schema
) -> None:
    name = TableName.parse(f"{schema}.rows")
    replace_where(spark, ctx.runtime, _frame(spark, DAY_1), name, "day = 1")
    before_rows, before_versions = _rows(spark, name), _versions(ctx.runtime, name)
    wrong = spark.createDataFrame([(3, "2")], "id bigint, day string")
    with pytest.raises(SchemaMismatch) as raised:
        check_schema(wrong, ROWS, "Table x.y.z")
    message = str(raised.value)
    assert "Table x.y.z" in message
    assert "missing columns: value (double)" in message
    assert "day is string, expected int" in message
    problems = message.split("Expected at least")[0]
    assert "id (" not in problems and "id is" not in problems

    with pytest.raises(SchemaMismatch) as raised:
        replace_where(spark, ctx.runtime, wrong, name, "day = 2")
    assert "value" in str(raised.value) and "day is string" in str(raised.value)
    assert _rows(spark, name) == before_rows
    assert _versions(ctx.runtime, name) == before_versions


def test_check_schema_accepts_extra_columns_and_any_case(spark) -> None:
    df = spark.createDataFrame([(1, 1, 1.0, "x")], "ID bigint, Day int, value double, note string")
    check_schema(df, ROWS, "rows")


def test_replace_where_replaces_only_its_slice_and_is_idempotent(ctx, spark, schema) -> None:
    name = TableName.parse(f"{schema}.rows")
    replace_where(spark, ctx.runtime, _frame(spark, DAY_1), name, "day = 1")
    replace_where(spark, ctx.runtime, _frame(spark, DAY_2), name, "day = 2")
    assert _rows(spark, name) == sorted(DAY_1 + DAY_2)

    new_day_2 = [(3, 2, 30.0), (5, 2, 50.0)]
    for _ in range(2):
        replace_where(spark, ctx.runtime, _frame(spark, new_day_2), name, "day = 2")
        assert _rows(spark, name) == sorted(DAY_1 + new_day_2)
    # Superseded versions are gone: one directory holds the table.
    assert len(_versions(ctx.runtime, name)) == 1


def test_replace_where_refuses_rows_outside_its_slice(ctx, spark, schema) -> None:
    name = TableName.parse(f"{schema}.rows")
    replace_where(spark, ctx.runtime, _frame(spark, DAY_1), name, "day = 1")
    before_versions = _versions(ctx.runtime, name)
    with pytest.raises(UsageError) as raised:
        replace_where(spark, ctx.runtime, _frame(spark, DAY_1 + DAY_2), name, "day = 1")
    assert "outside the slice" in str(raised.value) and "day = 1" in str(raised.value)
    assert _rows(spark, name) == sorted(DAY_1)
    assert _versions(ctx.runtime, name) == before_versions
    # A row whose condition is null (unknown day) is outside too.
    with pytest.raises(UsageError):
        replace_where(spark, ctx.runtime, _frame(spark, [(9, None, 9.0)]), name, "day = 1")
    assert _rows(spark, name) == sorted(DAY_1)


def test_reading_a_missing_table_names_it(spark, schema) -> None:
    name = TableName.parse(f"{schema}.nowhere")
    with pytest.raises(SchemaMismatch) as raised:
        read_table(spark, name, ROWS)
    assert f"Table {name} does not exist" in str(raised.value)
    assert "id, day, value" in str(raised.value)


# The kill test. Every wait is bounded; a Spark process starts in 12-17 s on an idle
# machine, and several may be starting at once on a shared one.
STEP_TIMEOUT_S = 150
EXIT_TIMEOUT_S = 30
KILL_AFTER_WRITE_STARTED_S = 2.0


class Child:
    """A Python process in its own process group, its stdout read as JSON lines."""

    def __init__(self, home: Path, *args: str) -> None:
        env = {
            **os.environ,
            "MLOPS_HOME": str(home),
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.pipelines.table_writer", *args],
            cwd=home,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.name = args[0]
        self.output: list[str] = []
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.output.append(line)
                self.lines.put(line)
        self.lines.put(None)

    def output_tail(self) -> str:
        return "".join(self.output[-40:])

    def next_step(self, step: str) -> dict:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                pytest.fail(f"{self.name} ended before '{step}':\n{self.output_tail()}")
            if line.startswith("{") and json.loads(line)["step"] == step:
                return json.loads(line)
        self.kill()
        pytest.fail(f"{self.name}: no '{step}' within {STEP_TIMEOUT_S} s:\n{self.output_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole group (the Python driver, the JVM, Spark's Python workers)
        and wait until none of them runs any more."""
        group = self.proc.pid
        members = [p for p in psutil.process_iter(["pid"]) if _group_of(p.pid) == group]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        self.proc.wait(timeout=EXIT_TIMEOUT_S)
        _gone, alive = psutil.wait_procs(members, timeout=EXIT_TIMEOUT_S)
        running = [p for p in alive if _status(p) not in (None, psutil.STATUS_ZOMBIE)]
        assert not running, f"still running after SIGKILL: {running}"

    def finish(self) -> None:
        try:
            code = self.proc.wait(timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} did not finish within {STEP_TIMEOUT_S} s")
        assert code == 0, f"{self.name} exited with {code}:\n{self.output_tail()}"


def _status(process: psutil.Process) -> str | None:
    try:
        return process.status()
    except psutil.NoSuchProcess:
        return None


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return None


def test_a_writer_killed_mid_write_leaves_the_previous_version_readable(tmp_path) -> None:
    home = tmp_path / "kill-home"
    home.mkdir()
    table = "spark_catalog.kill_test.rows"
    root = home / "lake" / "tables" / "spark_catalog" / "kill_test" / "rows"
    version_1 = [[i, 1] for i in range(table_writer.ROWS)]

    writer = Child(home, "slow-write", table)
    try:
        writer.next_step("version 1 written")
        (v1_dir,) = [p for p in root.iterdir() if p.name.startswith(VERSION_DIR_PREFIX)]
        writer.next_step("writing version 2")
        # The write of version 2 has begun once Spark creates its new version directory.
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while not [p for p in root.iterdir() if p != v1_dir]:
            assert writer.proc.poll() is None, f"writer ended early:\n{writer.output_tail()}"
            assert time.monotonic() < deadline, "the write of version 2 never started"
            time.sleep(0.2)
        time.sleep(KILL_AFTER_WRITE_STARTED_S)
        assert writer.proc.poll() is None, "version 2 finished before the kill: make it slower"
    finally:
        writer.kill()
    orphans = [p for p in root.iterdir() if p != v1_dir]
    assert orphans, "the killed writer left no partial version to clean up"

    reader = Child(home, "read-then-write", table)
    try:
        assert reader.next_step("read")["rows"] == version_1
        after = reader.next_step("read after version 3")["rows"]
        reader.finish()
    finally:
        if reader.proc.poll() is None:
            reader.kill()
    half = table_writer.ROWS // 2
    assert after == [[i, 1] for i in range(half)] + [[i, 3] for i in range(half, 2 * half)]
    remaining = [p for p in root.iterdir() if p.name.startswith(VERSION_DIR_PREFIX)]
    assert len(remaining) == 1
    assert remaining[0] != v1_dir and not any(p.exists() for p in orphans)
