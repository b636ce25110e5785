"""The labelled set that training, validation and deployment all read."""

from __future__ import annotations

import pandas as pd

from pipelines.common.errors import SchemaMismatch
from pipelines.common.task import TaskContext
from pipelines.training.params import LabelledDataParams

MIN_LABELLED_ROWS = 100


def load_labelled_set(ctx: TaskContext, data: LabelledDataParams, purpose: str) -> pd.DataFrame:
    """The project's labelled rows of [start, end) with their label, time column and
    point-in-time model inputs, as pandas sorted by time.

    Raises ``SchemaMismatch`` (before anything is written) when the window holds fewer
    than ``MIN_LABELLED_ROWS`` labelled rows, or, for a classifier, a single class;
    ``purpose`` says what needed them.
    """
    project = data.model_project
    lifecycle = project.implementation()
    time = lifecycle.time_column()
    frame = lifecycle.labelled_set(ctx.spark, data.tables, data.start_date, data.end_date)
    labelled = frame.toPandas()
    window = f"[{data.start_date}, {data.end_date})"
    if len(labelled) < MIN_LABELLED_ROWS:
        raise SchemaMismatch(
            f"Project {project.name}: {len(labelled)} labelled rows in {window} in"
            f" {data.tables[lifecycle.label_role()]}; {purpose} needs at least"
            f" {MIN_LABELLED_ROWS}. Check --start-date/--end-date or load more data."
            " Nothing was written."
        )
    if project.problem_type == "classification":
        classes = labelled[project.label].nunique()
        if classes < 2:
            raise SchemaMismatch(
                f"Project {project.name}: the labelled rows in {window} of"
                f" {data.tables[lifecycle.label_role()]} have {classes} class of"
                f" {project.label} ({labelled[project.label].iloc[0]!r}); {purpose} of a"
                " classifier needs at least two. Widen --start-date/--end-date. Nothing"
                " was written."
            )
    return labelled.sort_values(time, kind="stable").reset_index(drop=True)
