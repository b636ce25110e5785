"""TrainingJob: Train -> ModelValidation -> ModelDeployment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra.components.scheduled_job import (
    JobCode,
    JobSettings,
    JobSpec,
    ScheduledJob,
    ScheduledJobArgs,
    TaskSpec,
    run_date,
)
from pipelines.common.task_values import TRAINED_VERSION
from pipelines.deployment.params import DEPLOY
from pipelines.training.params import TRAIN
from pipelines.validation.params import VALIDATE

TYPE = "mlops-stack:jobs:TrainingJob"


@dataclass(frozen=True)
class TrainingJobArgs:
    """What TrainingJob needs.

    job: the job's name, schedule, compute, retries, run-as identity, permissions and tags.
        When another job starts this one (``RetrainingJob``), that job's run-as identity
        needs CAN_MANAGE_RUN here, the lowest job permission that may start a run
        (Databricks, "Jobs access control").
    code: the wheel and notebook folder of the code version.
    workspace_host: the workspace URL, for the job's link.
    data: the labelled-data params every task reads (train's, validate's and deploy's
        fields, e.g. the tables), by field name.
    model_name: the registered model, catalog.schema.model.
    experiment_path: the MLflow experiment train and validate log to.
    lookback_days: how many days before the holdout the model trains on.
    holdout_days: the days up to the run date it is validated and compared on.
    training: train's other params (hyperparameters), by field name.
    validation: validate's rule params (run mode and limits), by field name.
    depends_on: what must exist first (tables, grants, model, folder).
    """

    job: JobSettings
    code: JobCode
    workspace_host: str
    data: Mapping[str, Any]
    model_name: str
    experiment_path: str
    lookback_days: int
    holdout_days: int
    training: Mapping[str, Any] = field(default_factory=dict)
    validation: Mapping[str, Any] = field(default_factory=dict)
    depends_on: Sequence[pulumi.Resource] = ()


def training_job(args: TrainingJobArgs) -> JobSpec:
    """Three tasks, each waiting for the one before:

    - ``Train`` fits on the ``lookback_days`` before the holdout, registers a version,
      aliases it ``challenger`` and publishes its number as a task value (so it runs as a
      notebook task, see ``TaskSpec``);
    - ``ModelValidation`` evaluates that version on the ``holdout_days`` up to the run date
      against the validation rules;
    - ``ModelDeployment`` promotes it to ``champion`` if it passed and is no worse than the
      current champion on the same days, and refuses otherwise.
    """
    holdout = {"start_date": run_date(args.holdout_days), "end_date": run_date()}
    model = {"model_name": args.model_name}
    train = TaskSpec(
        key=TRAINED_VERSION.task_key,
        task=TRAIN,
        description="Fit, log and register a new version; alias it challenger.",
        values={
            **args.data,
            "start_date": run_date(args.lookback_days + args.holdout_days),
            "end_date": run_date(args.holdout_days),
            **model,
            "experiment": args.experiment_path,
            **args.training,
        },
    )
    version = train.value(TRAINED_VERSION.name).reference
    validate = TaskSpec(
        key="ModelValidation",
        task=VALIDATE,
        depends_on=(train.key,),
        description="Evaluate the new version on the holdout days against thresholds.",
        values={
            **args.data,
            **holdout,
            **model,
            "model_version": version,
            "experiment": args.experiment_path,
            **args.validation,
        },
    )
    deploy = TaskSpec(
        key="ModelDeployment",
        task=DEPLOY,
        depends_on=(validate.key,),
        description="Promote the version to champion if it passed and is no worse.",
        values={
            **args.data,
            **holdout,
            **model,
            "model_version": version,
            "reason": "training job run {{job.run_id}}",
        },
    )
    return JobSpec(
        key="training",
        settings=args.job,
        description="Trains, validates and deploys the model (champion/challenger).",
        tasks=(train, validate, deploy),
    )


class TrainingJob(ScheduledJob):
    """The training job of a model (``training_job``)."""

    def __init__(
        self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            name,
            ScheduledJobArgs(training_job(args), args.code, args.workspace_host, args.depends_on),
            opts,
            type_=TYPE,
        )
