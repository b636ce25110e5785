"""The ``generate-data`` task (``pipelines.data.params.GENERATE_DATA``): a project's
deterministic synthetic source data into its input tables."""

from __future__ import annotations

from typing import Any

from pipelines.common.tables import replace_where
from pipelines.common.task import TaskContext
from pipelines.data.params import GenerateDataParams


def run(params: GenerateDataParams, ctx: TaskContext) -> dict[str, Any]:
    project = params.model_project
    lifecycle = project.implementation()
    data = lifecycle.generate(
        params.start_date,
        params.end_date,
        params.size or project.default_size,
        params.seed,
        params.drift_start,
        params.drift,
    )
    contracts = lifecycle.schemas()
    written: dict[str, int] = {}
    for role, frame in data.frames.items():
        table = params.tables[role]
        rows = ctx.spark.createDataFrame(frame, schema=contracts[role])
        replace_where(ctx.spark, ctx.runtime, rows, table, data.replaces[role])
        written[str(table)] = len(frame)
    return {"project": project.name, "rows_written": written}
