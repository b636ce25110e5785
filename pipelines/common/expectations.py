"""A project's expectations checked on Spark with databricks-labs-dqx: rows that break a row
rule are split off into quarantine, with the rules they broke; a duplicated key stops the
batch before anything is written.

dqx's engine wants a Databricks ``WorkspaceClient``, and its constructor asks the workspace
for a Spark version (dqx ``base.py``). Applying checks to a DataFrame needs nothing of the
workspace, so off Databricks the engine gets an autospec of the client, the way dqx's own
docs run it locally ("Local execution and testing with DQEngine", docs/dqx/docs/reference/
testing.mdx); on Databricks it gets the real client of the job's identity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipelines.common.errors import DataQualityError
from pipelines.common.names import TableName
from pipelines.common.project import Expectation
from pipelines.common.runtime import Runtime
from pipelines.common.tables import replace_where, table_exists

# dqx's result columns (dqx reporting_columns.py): a list of structs, one per broken rule.
ERRORS = "_errors"
WARNINGS = "_warnings"
EXAMPLES = 5


@dataclass(frozen=True)
class Checked:
    """A frame split by its rules: ``valid`` rows (the frame's own columns), the
    ``quarantined`` rows (the same columns and ``quarantine_rules``, the names of the rules
    each broke), how many rows each rule ``stopped``, and how many rows there were
    (``rows``) and were kept out (``kept_out``; a row breaking two rules counts once).

    Both frames read one cached evaluation of the rules, so writing both and counting
    computes the checked frame once; ``release`` frees it when they are written."""

    valid: DataFrame
    quarantined: DataFrame
    stopped: Mapping[str, int]
    rows: int
    kept_out: int
    _cached: DataFrame | None = None

    @property
    def passed(self) -> int:
        return self.rows - self.kept_out

    def release(self) -> None:
        if self._cached is not None:
            self._cached.unpersist()


def quarantine_table(table: TableName) -> TableName:
    """Where the rows kept from ``table`` go (a scoring batch's from the predictions, a
    feature write's from its feature table): beside it, in the project's schema, where the
    runner creates tables (CREATE_TABLE, as for the monitor's metric tables)."""
    return TableName(table.catalog, table.schema, f"{table.table}_quarantine")


def replace_quarantined(
    spark: SparkSession,
    runtime: Runtime,
    rows: DataFrame,
    kept_out: int,
    quarantine: TableName,
    condition: str,
) -> None:
    """Make ``quarantine``'s rows matching ``condition`` the ``rows`` a check kept out
    (``kept_out`` of them), creating the table on the first write. A clean batch over a
    slice that holds nothing changes nothing, so that write (locally a rewrite of the
    table's files) is skipped."""
    if (
        not kept_out
        and table_exists(spark, quarantine)
        and not spark.table(str(quarantine))
        .where(f"coalesce(({condition}), false)")
        .limit(1)
        .count()
    ):
        return
    replace_where(spark, runtime, rows, quarantine, condition)


def unique_rule(key: Sequence[str]) -> str:
    return f"{'_'.join(key)}_unique"


def dqx_checks(expectations: Sequence[Expectation], key: Sequence[str]) -> list[dict[str, Any]]:
    """The checks in dqx's metadata form: the key's uniqueness first (when there is a key),
    then each rule."""
    checks: list[dict[str, Any]] = [
        {
            "name": unique_rule(key),
            "criticality": "error",
            "check": {"function": "is_unique", "arguments": {"columns": list(key)}},
        }
    ][: 1 if key else 0]
    checks += [
        {
            "name": rule.name,
            "criticality": "error",
            "check": {"function": rule.function, "arguments": dict(rule.arguments)},
        }
        for rule in expectations
    ]
    return checks


def _engine(spark: SparkSession, on_databricks: bool) -> Any:
    from databricks.labs.dqx.engine import DQEngine
    from databricks.sdk import WorkspaceClient

    if on_databricks:
        return DQEngine(workspace_client=WorkspaceClient(), spark=spark)
    from unittest.mock import create_autospec

    return DQEngine(workspace_client=create_autospec(WorkspaceClient), spark=spark)


def check_rows(
    spark: SparkSession,
    df: DataFrame,
    expectations: Sequence[Expectation],
    key: Sequence[str],
    source: str,
    on_databricks: bool = False,
    refused: str = "Nothing was written.",
) -> Checked:
    """Split ``df`` by ``expectations``; raise ``DataQualityError`` when a ``key`` value is
    on more than one row (the caller writes nothing then), naming ``source``, the rule, the
    count and a few keys, then ``refused``: what that means for the task."""
    from databricks.labs.dqx.engine import DQEngineCore

    checks = dqx_checks(expectations, key)
    if not checks:
        nothing = df.limit(0).withColumn("quarantine_rules", F.array().cast("array<string>"))
        return Checked(valid=df, quarantined=nothing, stopped={}, rows=df.count(), kept_out=0)
    validation = DQEngineCore.validate_checks(checks)
    if validation.has_errors:
        raise ValueError(f"the expectations of {source} are not valid dqx checks: {validation}")
    missing = [c for rule in expectations for c in _columns(rule) if c not in df.columns]
    if missing:
        # dqx skips a check on a missing column and reports it on every row instead.
        raise ValueError(f"the expectations of {source} name columns it lacks: {missing}")
    engine = _engine(spark, on_databricks)
    # One evaluation of the rules, cached: the tally below, both writes and any count
    # read it, instead of dqx's split frames each evaluating the rules (its uniqueness
    # rule is a window over the key) again.
    evaluated = engine.apply_checks_by_metadata(df, checks).cache()
    names = [str(check["name"]) for check in checks]
    broke = {name: F.sum(F.exists(F.col(ERRORS), _named(name)).cast("int")) for name in names}
    tally = evaluated.select(
        F.count("*").alias("_rows"),
        F.count(F.col(ERRORS)).alias("_kept_out"),
        *[
            F.coalesce(total, F.lit(0)).alias(f"_rule_{i}")
            for i, total in enumerate(broke.values())
        ],
    ).first()
    assert tally is not None  # a global aggregate has one row
    counts = {name: int(tally[f"_rule_{i}"]) for i, name in enumerate(names)}
    bad = (
        engine.get_invalid(evaluated)
        .withColumn("quarantine_rules", F.transform(F.col(ERRORS), lambda e: e["name"]))
        .drop(ERRORS, WARNINGS)
    )
    duplicated = counts.get(unique_rule(key), 0) if key else 0
    if duplicated:
        examples = [
            ", ".join(str(row[c]) for c in key)
            for row in bad.where(F.array_contains("quarantine_rules", unique_rule(key)))
            .select(*key)
            .distinct()
            .limit(EXAMPLES)
            .collect()
        ]
        evaluated.unpersist()
        raise DataQualityError(
            f"{source}: {duplicated} rows break the rule {unique_rule(key)} (each"
            f" {', '.join(key)} on one row only), e.g. {'; '.join(examples)}. {refused}"
            " Remove the duplicates from the source and run again."
        )
    return Checked(
        valid=engine.get_valid(evaluated),
        quarantined=bad,
        stopped={rule.name: counts[rule.name] for rule in expectations},
        rows=int(tally["_rows"]),
        kept_out=int(tally["_kept_out"]),
        _cached=evaluated,
    )


def _named(name: str) -> Any:
    return lambda error: error["name"] == F.lit(name)


def applicable(expectations: Sequence[Expectation], columns: Sequence[str]) -> list[Expectation]:
    """The rules on ``columns`` only (a labelled set keeps only the model's inputs)."""
    return [rule for rule in expectations if set(_columns(rule)) <= set(columns)]


def _columns(rule: Expectation) -> list[str]:
    arguments = rule.arguments
    named = arguments.get("columns") or ([arguments["column"]] if "column" in arguments else [])
    return [str(c) for c in named]
