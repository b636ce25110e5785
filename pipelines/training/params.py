"""The training task's interface, and the labelled-data flags that train, validate and
deploy share: declared once (``pipelines.common.interface``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from pipelines.common.errors import UsageError
from pipelines.common.interface import Task, check_date_range, flag, model_name, positive_int
from pipelines.common.task_values import MODEL_VERSION
from pipelines.projects import ProjectParams


def registered_model_flag() -> Any:
    """``--model-name``, the registered model a task works on."""
    return flag("three-level registered model name, catalog.schema.model", parse=model_name)


@dataclass(frozen=True, kw_only=True)
class LabelledDataParams(ProjectParams):
    """The flags of every task that reads a project's labelled rows with their
    point-in-time features (``pipelines.training.dataset.load_labelled_set``): the project,
    its tables and the window [start, end), which each task names in its help (``window``)."""

    window: ClassVar[str] = "window"

    start_date: dt.date = flag("first day of the {window} (included), YYYY-MM-DD")
    end_date: dt.date = flag("end of the {window} (excluded), YYYY-MM-DD")

    def validate(self) -> None:
        super().validate()
        check_date_range(self.start_date, self.end_date, "--start-date", "--end-date")


@dataclass(frozen=True, kw_only=True)
class TrainParams(LabelledDataParams):
    window: ClassVar[str] = "training range"

    model_name: str = registered_model_flag()
    experiment: str = flag("MLflow experiment path, e.g. /Shared/mlops-stack/dev/experiment")
    test_fraction: float = flag("latest share of the range held out for testing", default=0.2)
    max_iter: int = flag("boosting iterations", default=200, parse=positive_int)
    learning_rate: float = flag("boosting learning rate, in (0, 1]", default=0.1)

    def validate(self) -> None:
        super().validate()
        if not 0.05 <= self.test_fraction <= 0.5:
            raise UsageError(
                f"--test-fraction {self.test_fraction} is out of range: expected 0.05 to 0.5."
            )
        if not 0 < self.learning_rate <= 1:
            raise UsageError(f"--learning-rate {self.learning_rate}: expected (0, 1].")


TRAIN = Task(
    name="train",
    params=TrainParams,
    summary="Train a project's model on its labelled rows of [start, end) with point-in-time"
    " features, log it to MLflow, register a new version and alias it 'challenger'.",
    runs="pipelines.training.task:run",
    publishes=(MODEL_VERSION,),
)
