"""The batch-inference task's interface: its flags, declared once
(``pipelines.common.interface``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pipelines.common.interface import Task, check_date_range, flag, model_name
from pipelines.common.names import TableName
from pipelines.common.registry import CHAMPION


@dataclass(frozen=True, kw_only=True)
class BatchInferenceParams:
    input_table: TableName = flag("requests (trips)")
    pickup_features_table: TableName = flag()
    dropoff_features_table: TableName = flag()
    output_table: TableName = flag("the inference table")
    model_name: str = flag(parse=model_name)
    start_date: dt.date = flag()
    end_date: dt.date = flag()
    model_alias: str = flag("alias to score with", default=CHAMPION)

    def validate(self) -> None:
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


BATCH_INFERENCE = Task(
    name="batch-inference",
    params=BatchInferenceParams,
    summary="Score the requests picked up in [start, end) with models:/<model>@champion,"
    " using point-in-time features, and replace that batch in the inference table.",
    runs="pipelines.inference.task:run",
)
