"""The batch-inference task's interface: its flags, declared once
(``pipelines.common.interface``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.common.interface import Task, check_date_range, flag, model_name
from pipelines.common.names import TableName
from pipelines.common.registry import CHAMPION
from pipelines.projects import ProjectParams


@dataclass(frozen=True, kw_only=True)
class BatchInferenceParams(ProjectParams):
    output_table: TableName = flag("the inference table (the project's predictions, or another)")
    model_name: str = flag(parse=model_name)
    start_date: dt.date = flag("first request day (included), YYYY-MM-DD")
    end_date: dt.date = flag("end of the batch (excluded), YYYY-MM-DD")
    model_alias: str = flag("alias to score with", default=CHAMPION)

    def validate(self) -> None:
        super().validate()
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


BATCH_INFERENCE = Task(
    name="batch-inference",
    params=BatchInferenceParams,
    summary="Score a project's requests of [start, end) with models:/<model>@champion, using"
    " point-in-time features, and replace that batch in the inference table.",
    runs="pipelines.inference.task:run",
)
