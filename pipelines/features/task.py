"""The ``write-features`` task (``pipelines.features.params.WRITE_FEATURES``): a project's
feature tables for a range, each replacing that range.

Each feature table's rows are checked against its role's expectations first
(``TableRole.expectations``, ``pipelines.common.expectations``): a key on two rows stops
the task before any table is written; a row breaking a row rule goes to the table's
quarantine (``<table>_quarantine``, the same range replaced) and never to the feature table.
"""

from __future__ import annotations

from typing import Any

from pipelines.common.expectations import check_rows, quarantine_table, replace_quarantined
from pipelines.common.tables import replace_where
from pipelines.common.task import TaskContext
from pipelines.features.params import WriteFeaturesParams


def run(params: WriteFeaturesParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    project = params.model_project
    lifecycle = project.implementation()
    window = f"[{params.start_date}, {params.end_date})"
    # Every table checked before any is written: a blocking rule leaves them all as they were.
    checked = []
    for rows in lifecycle.features(spark, params.tables, params.start_date, params.end_date):
        table = params.tables[rows.role]
        role = project.role(rows.role)
        result = check_rows(
            spark,
            rows.frame,
            role.expectations,
            role.keys,
            f"The {rows.role} of {project.name} for {window}, for {table},",
            on_databricks=ctx.runtime.on_databricks,
            refused="A feature key on two rows would give a lookup two answers, so no feature"
            " table was written.",
        )
        checked.append((rows, table, result))
    written: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    # The quarantines first: if one cannot be written, no feature table has changed yet.
    for rows, table, result in checked:
        replace_quarantined(
            spark,
            ctx.runtime,
            result.quarantined,
            result.kept_out,
            quarantine_table(table),
            rows.replaces,
        )
    for rows, table, result in checked:
        replace_where(spark, ctx.runtime, result.valid, table, rows.replaces)
        written[str(table)] = result.passed
        for rule, count in result.stopped.items():
            quarantined[rule] = quarantined.get(rule, 0) + count
        result.release()
    return {
        "rows_written": written,
        # Rows each rule kept from the feature tables; they are in each table's quarantine.
        "quarantined": quarantined,
        "quarantine_tables": [str(quarantine_table(table)) for _, table, _ in checked],
    }
