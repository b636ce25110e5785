"""Reading and writing tables by fully qualified name, safely.

Writes replace a slice of a table (rows matching a predicate) and keep the rest. On
Databricks that is Delta's ``replaceWhere``. Locally there is no Delta, so a write builds
the complete new contents in a fresh directory and then repoints the table to it with one
metastore update: a writer killed at any moment leaves the previous contents readable.
"""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.errors import SchemaMismatch, UnreadableFile, UsageError
from pipelines.common.names import TableName
from pipelines.common.runtime import Runtime

VERSION_DIR_PREFIX = "v-"


def _type_name(data_type: T.DataType) -> str:
    return data_type.simpleString()


def check_schema(
    df: DataFrame,
    expected: T.StructType,
    source: str,
    allowed: frozenset[tuple[str, str]] = frozenset(),
) -> None:
    """Raise ``SchemaMismatch`` listing every missing or mistyped column of ``df``: a
    column is mistyped unless its type is the expected one or ``(actual, expected)`` is in
    ``allowed`` (by type name, e.g. ``LOSSLESS``).

    Extra columns are allowed. ``source`` names the table or file in the message.
    """
    actual = {f.name.lower(): f.dataType for f in df.schema.fields}
    missing = [f for f in expected.fields if f.name.lower() not in actual]
    mistyped = [
        (f, actual[f.name.lower()])
        for f in expected.fields
        if f.name.lower() in actual
        and actual[f.name.lower()] != f.dataType
        and (_type_name(actual[f.name.lower()]), _type_name(f.dataType)) not in allowed
    ]
    if not missing and not mistyped:
        return
    problems = []
    if missing:
        cols = ", ".join(f"{f.name} ({_type_name(f.dataType)})" for f in missing)
        problems.append(f"missing columns: {cols}")
    if mistyped:
        cols = ", ".join(
            f"{f.name} is {_type_name(got)}, expected {_type_name(f.dataType)}"
            for f, got in mistyped
        )
        lossless = " (no lossless conversion: a value would change or be lost)"
        problems.append(f"mistyped columns: {cols}{lossless if allowed else ''}")
    expected_text = ", ".join(f"{f.name} {_type_name(f.dataType)}" for f in expected.fields)
    raise SchemaMismatch(
        f"{source} does not have the schema this task needs: {'; '.join(problems)}."
        f" Expected at least: {expected_text}. Nothing was written."
    )


# The conversions a file's column may get on its way into a contract, because they keep
# every value: integer widening, integers and floats to double, and a timestamp without a
# zone (parquet's isAdjustedToUTC=false) or a date to a timestamp, read in the session's time
# zone, UTC (pipelines/common/spark.py). Anything else, a string holding numbers included,
# is refused.
LOSSLESS: frozenset[tuple[str, str]] = frozenset(
    {
        ("tinyint", "smallint"), ("tinyint", "int"), ("tinyint", "bigint"),
        ("smallint", "int"), ("smallint", "bigint"), ("int", "bigint"),
        ("tinyint", "double"), ("smallint", "double"), ("int", "double"),
        ("float", "double"),
        ("timestamp_ntz", "timestamp"), ("date", "timestamp"),
    }
)  # fmt: skip


def conform(df: DataFrame, contract: T.StructType, source: str) -> tuple[DataFrame, list[str]]:
    """``df``'s contract columns, in the contract's order and types, and the conversions
    made (``"passenger_count int -> bigint"``). Raises ``SchemaMismatch`` naming every
    column missing or of a type with no lossless conversion (``LOSSLESS``)."""
    check_schema(df, contract, source, allowed=LOSSLESS)
    actual = {f.name.lower(): f for f in df.schema.fields}
    columns, conversions = [], []
    for f in contract.fields:
        found = actual[f.name.lower()]
        got, want = _type_name(found.dataType), _type_name(f.dataType)
        columns.append(F.col(found.name).cast(f.dataType).alias(f.name))
        if got != want:
            conversions.append(f"{f.name} {got} -> {want}")
    return df.select(*columns), conversions


def read_parquet(spark: SparkSession, path: str) -> DataFrame:
    """A parquet file or folder, or ``UnreadableFile`` naming it and Spark's reason in one
    line, instead of the Java stack."""
    try:
        df = spark.read.parquet(path)
        df.schema  # noqa: B018 - parquet footers are read here; a bad file fails now
    except (PySparkException, Py4JJavaError) as exc:
        reason = _first_line(_root_cause(exc) if isinstance(exc, Py4JJavaError) else str(exc))
        raise UnreadableFile(
            f"{path} is not readable parquet ({reason[:300]}): expected a parquet file, or a"
            " folder of parquet files. Nothing was written."
        ) from None
    return df


def _root_cause(exc: Py4JJavaError) -> str:
    """The message of the innermost Java cause: py4j's own text only says which call
    failed ("An error occurred while calling o48.parquet.")."""
    cause = exc.java_exception
    while cause.getCause() is not None:
        cause = cause.getCause()
    return str(cause.toString())


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else "no reason given"


def table_exists(spark: SparkSession, name: TableName) -> bool:
    return spark.catalog.tableExists(str(name))


def read_table(spark: SparkSession, name: TableName, expected: T.StructType) -> DataFrame:
    """Read a table and check it against the columns a task needs."""
    if not table_exists(spark, name):
        raise SchemaMismatch(
            f"Table {name} does not exist. Expected a table with columns"
            f" {', '.join(f.name for f in expected.fields)}; write it first"
            " (see `mlops run --help` for the task that produces it)."
        )
    df = spark.table(str(name))
    check_schema(df, expected, f"Table {name}")
    return df


# The schemas this process has made sure of, by warehouse: the jobs never drop one, and
# CREATE SCHEMA IF NOT EXISTS is a metastore round trip (about 0.1 s locally) per write.
_ensured_schemas: set[tuple[str, str, str]] = set()


def ensure_schema(spark: SparkSession, name: TableName) -> None:
    key = (spark.conf.get("spark.sql.warehouse.dir") or "", name.catalog, name.schema)
    if key in _ensured_schemas:
        return
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {name.catalog}.`{name.schema}`")
    _ensured_schemas.add(key)


def replace_where(
    spark: SparkSession,
    runtime: Runtime,
    df: DataFrame,
    name: TableName,
    condition: str,
) -> None:
    """Make the rows of ``name`` matching SQL ``condition`` exactly the rows of ``df``.

    Rows outside ``condition`` are kept. Every row of ``df`` must satisfy ``condition``
    (checked), so re-running a write for the same slice never duplicates a key.
    """
    ensure_schema(spark, name)
    if runtime.table_format == "delta":
        # Checked on ``df`` first, for this message; Delta's replaceWhere checks it again
        # as it writes. The parquet path checks what it wrote instead, so as not to compute
        # ``df`` (a scoring, a feature pipeline) twice.
        _refuse_rows_outside(df, name, condition)
        (
            df.write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", condition)
            .saveAsTable(str(name))
        )
        return
    _swap_write_parquet(spark, runtime, df, name, condition)


def _refuse_rows_outside(df: DataFrame, name: TableName, condition: str) -> None:
    if df.where(f"NOT coalesce(({condition}), false)").limit(1).count():
        raise UsageError(
            f"Refusing to write {name}: some new rows fall outside the slice being replaced"
            f" ({condition}). Nothing was written."
        )


def overwrite_table(spark: SparkSession, runtime: Runtime, df: DataFrame, name: TableName) -> None:
    """Replace the whole table atomically."""
    replace_where(spark, runtime, df, name, "true")


def _table_root(runtime: Runtime, name: TableName) -> Path:
    return runtime.lake_dir / "tables" / name.catalog / name.schema / name.table


def _swap_write_parquet(
    spark: SparkSession, runtime: Runtime, df: DataFrame, name: TableName, condition: str
) -> None:
    root = _table_root(runtime, name)
    root.mkdir(parents=True, exist_ok=True)
    new_dir = root / f"{VERSION_DIR_PREFIX}{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    exists = table_exists(spark, name)
    kept = None
    if exists:
        kept = spark.table(str(name)).where(f"NOT coalesce(({condition}), false)")
        check_schema(df, kept.schema, f"The new rows for {name}")
        df = df.select(*kept.columns)
    # The old version stays untouched until the metastore points at the new one. The new
    # rows are computed once, written, and checked where they were written; the rows kept
    # are added beside them, read from the old version's own directory.
    df.write.mode("errorifexists").parquet(new_dir.as_uri())
    try:
        _refuse_rows_outside(spark.read.parquet(new_dir.as_uri()), name, condition)
    except UsageError:
        shutil.rmtree(new_dir, ignore_errors=True)
        raise
    if kept is not None:
        kept.write.mode("append").parquet(new_dir.as_uri())
    if exists:
        spark.sql(f"ALTER TABLE {name} SET LOCATION '{new_dir.as_uri()}'")
        spark.catalog.refreshTable(str(name))
    else:
        spark.sql(f"CREATE TABLE {name} USING parquet LOCATION '{new_dir.as_uri()}'")
    _remove_other_versions(root, keep=new_dir)


def _remove_other_versions(root: Path, keep: Path) -> None:
    """Delete superseded versions and leftovers of killed writers."""
    for child in root.iterdir():
        if child.name.startswith(VERSION_DIR_PREFIX) and child != keep:
            shutil.rmtree(child, ignore_errors=True)
