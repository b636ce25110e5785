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

# dqx's result columns (dqx reporting_columns.py): a list of structs, one per broken rule.
ERRORS = "_errors"
WARNINGS = "_warnings"
EXAMPLES = 5


@dataclass(frozen=True)
class Checked:
    """A frame split by its rules: ``valid`` rows (the frame's own columns), the
    ``quarantined`` rows (the same columns and ``quarantine_rules``, the names of the rules
    each broke), and how many rows each rule stopped."""

    valid: DataFrame
    quarantined: DataFrame
    stopped: Mapping[str, int]


def quarantine_table(table: TableName) -> TableName:
    """Where the rows kept from ``table`` go (a scoring batch's from the predictions, a
    feature write's from its feature table): beside it, in the project's schema, where the
    runner creates tables (CREATE_TABLE, as for the monitor's metric tables)."""
    return TableName(table.catalog, table.schema, f"{table.table}_quarantine")


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
        return Checked(valid=df, quarantined=nothing, stopped={})
    validation = DQEngineCore.validate_checks(checks)
    if validation.has_errors:
        raise ValueError(f"the expectations of {source} are not valid dqx checks: {validation}")
    missing = [c for rule in expectations for c in _columns(rule) if c not in df.columns]
    if missing:
        # dqx skips a check on a missing column and reports it on every row instead.
        raise ValueError(f"the expectations of {source} name columns it lacks: {missing}")
    valid, bad = _engine(spark, on_databricks).apply_checks_by_metadata_and_split(df, checks)
    bad = bad.where(F.size(F.col(ERRORS)) > 0).withColumn(
        "quarantine_rules", F.transform(F.col(ERRORS), lambda e: e["name"])
    )
    bad = bad.drop(ERRORS, WARNINGS).cache()
    counts = {
        row["rule"]: row["n"]
        for row in bad.select(F.explode("quarantine_rules").alias("rule"))
        .groupBy("rule")
        .agg(F.count("*").alias("n"))
        .collect()
    }
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
        bad.unpersist()
        raise DataQualityError(
            f"{source}: {duplicated} rows break the rule {unique_rule(key)} (each"
            f" {', '.join(key)} on one row only), e.g. {'; '.join(examples)}. {refused}"
            " Remove the duplicates from the source and run again."
        )
    stopped = {rule.name: counts.get(rule.name, 0) for rule in expectations}
    return Checked(valid=valid, quarantined=bad, stopped=stopped)


def applicable(expectations: Sequence[Expectation], columns: Sequence[str]) -> list[Expectation]:
    """The rules on ``columns`` only (a labelled set keeps only the model's inputs)."""
    return [rule for rule in expectations if set(_columns(rule)) <= set(columns)]


def _columns(rule: Expectation) -> list[str]:
    arguments = rule.arguments
    named = arguments.get("columns") or ([arguments["column"]] if "column" in arguments else [])
    return [str(c) for c in named]
