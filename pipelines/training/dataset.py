"""The labelled set that training, validation and deployment all read."""

from __future__ import annotations

import pandas as pd

from pipelines.common.errors import SchemaMismatch
from pipelines.common.expectations import applicable, check_rows
from pipelines.common.task import TaskContext
from pipelines.training.params import LabelledDataParams

MIN_LABELLED_ROWS = 100


def load_labelled_set(ctx: TaskContext, data: LabelledDataParams, purpose: str) -> pd.DataFrame:
    """``labelled_rows`` without the counts of rows its expectations kept out."""
    return labelled_rows(ctx, data, purpose)[0]


def labelled_rows(
    ctx: TaskContext, data: LabelledDataParams, purpose: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The project's labelled rows of [start, end) with their label, time column and
    point-in-time model inputs, as pandas sorted by time, and how many rows each of the
    project's expectations (those on columns the set has) kept out: a row breaking one
    never reaches a model or a validation metric.

    Raises ``SchemaMismatch`` (before anything is written) when the window holds fewer
    than ``MIN_LABELLED_ROWS`` labelled rows, or, for a classifier, a single class;
    ``purpose`` says what needed them.
    """
    project = data.model_project
    lifecycle = project.implementation()
    time = lifecycle.time_column()
    window = f"[{data.start_date}, {data.end_date})"
    frame = lifecycle.labelled_set(ctx.spark, data.tables, data.start_date, data.end_date)
    checked = check_rows(
        ctx.spark,
        frame,
        applicable(project.scoring_expectations, frame.columns),
        (),
        f"The labelled set of {project.name} for {window}",
        on_databricks=ctx.runtime.on_databricks,
    )
    labelled = checked.valid.toPandas()
    checked.release()
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
    return labelled.sort_values(time, kind="stable").reset_index(drop=True), dict(checked.stopped)
