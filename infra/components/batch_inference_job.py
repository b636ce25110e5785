"""BatchInferenceJob: score the day's requests with the champion into the predictions table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.components.scheduled_job import (
    DAYS,
    JobCode,
    JobSettings,
    JobSpec,
    ScheduledJob,
    ScheduledJobArgs,
    TaskSpec,
    recent_days,
    run_date,
)
from pipelines.common.registry import CHAMPION
from pipelines.inference.params import BATCH_INFERENCE

TYPE = "mlops-stack:jobs:BatchInferenceJob"


@dataclass(frozen=True)
class BatchInferenceJobArgs:
    """What BatchInferenceJob needs.

    job, code, workspace_host: as for every job (``JobSettings``, ``JobCode``).
    data: batch-inference's input params (requests and feature tables), by field name.
    output_table: the predictions (inference) table.
    model_name: the registered model whose ``champion`` scores.
    days: how many days up to the run date a scheduled run scores (1).
    depends_on: what must exist first (tables, grants, model).
    """

    job: JobSettings
    code: JobCode
    workspace_host: str
    data: Mapping[str, Any]
    output_table: str
    model_name: str
    days: int = 1
    depends_on: Sequence[pulumi.Resource] = ()


def batch_inference_job(args: BatchInferenceJobArgs) -> JobSpec:
    """One task, ``ScoreBatch``: requests in [run_date - days, run_date), joined point in
    time with the features, scored by the version the ``champion`` alias names when the
    task starts. Re-scoring a day replaces it and keeps the labels that arrived."""
    return JobSpec(
        key="batch_inference",
        settings=args.job,
        description="Scores inference requests with the champion model into the predictions table.",
        tasks=(
            TaskSpec(
                key="ScoreBatch",
                task=BATCH_INFERENCE,
                description="Predictions for requests in [run_date - days, run_date).",
                values={
                    **args.data,
                    "output_table": args.output_table,
                    "model_name": args.model_name,
                    "model_alias": CHAMPION,
                    "start_date": run_date(DAYS),
                    "end_date": run_date(),
                },
            ),
        ),
        parameters=recent_days(args.days),
    )


class BatchInferenceJob(ScheduledJob):
    """The batch inference job of a model (``batch_inference_job``)."""

    def __init__(
        self, name: str, args: BatchInferenceJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            name,
            ScheduledJobArgs(
                batch_inference_job(args), args.code, args.workspace_host, args.depends_on
            ),
            opts,
            type_=TYPE,
        )
