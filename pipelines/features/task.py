"""The ``write-features`` task (``pipelines.features.params.WRITE_FEATURES``): a project's
feature tables for a range, each replacing that range."""

from __future__ import annotations

from typing import Any

from pipelines.common.tables import replace_where
from pipelines.common.task import TaskContext
from pipelines.features.params import WriteFeaturesParams


def run(params: WriteFeaturesParams, ctx: TaskContext) -> dict[str, Any]:
    spark = ctx.spark
    lifecycle = params.model_project.implementation()
    written = {}
    for rows in lifecycle.features(spark, params.tables, params.start_date, params.end_date):
        table = params.tables[rows.role]
        features = rows.frame.cache()
        replace_where(spark, ctx.runtime, features, table, rows.replaces)
        written[str(table)] = features.count()
        features.unpersist()
    return {"rows_written": written}
