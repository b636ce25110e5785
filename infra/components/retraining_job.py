"""RetrainingJob: join late labels, refresh the monitor, check the rule, retrain if violated."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from infra.components.scheduled_job import (
    DAYS,
    RUN_DATE,
    ConditionTaskSpec,
    Dependency,
    JobCode,
    JobSettings,
    JobSpec,
    RunJobTaskSpec,
    ScheduledJob,
    ScheduledJobArgs,
    TaskSpec,
    recent_days,
    run_date,
)
from pipelines.common.task_values import METRIC_VIOLATED
from pipelines.monitoring.params import CHECK_VIOLATION, JOIN_LABELS, REFRESH_METRICS

TYPE = "mlops-stack:jobs:RetrainingJob"


@dataclass(frozen=True)
class RetrainingJobArgs:
    """What RetrainingJob needs.

    job, code, workspace_host: as for every job (``JobSettings``, ``JobCode``). Its run-as
        identity needs CAN_MANAGE_RUN on the training job.
    labels: join-labels' table params (the inference table and where labels come from).
    refresh: refresh-metrics' params besides the dates (inference table, granularities,
        baseline table).
    rule: check-violation's rule params (profile metrics table, metric, threshold,
        windows, granularity).
    lookback_days: how many days of predictions a scheduled run labels and refreshes.
    training_job_id: the training job it starts when the rule is violated.
    training_timeout_seconds: that job's time limit, which the run-job task waits for.
    depends_on: what must exist first (the monitor, its grants, the tables).
    """

    job: JobSettings
    code: JobCode
    workspace_host: str
    labels: Mapping[str, Any]
    refresh: Mapping[str, Any]
    rule: Mapping[str, Any]
    lookback_days: int
    training_job_id: pulumi.Input[int]
    training_timeout_seconds: int
    depends_on: Sequence[pulumi.Resource] = ()


def retraining_job(args: RetrainingJobArgs) -> JobSpec:
    """Five tasks, each waiting for the one before:

    - ``JoinLabels`` fills in the labels that arrived since scoring, for the predictions
      scored in the ``days`` days up to the run date (``lookback_days`` on schedule);
    - ``RefreshMetrics`` refreshes the quality monitor, so the metric tables hold those
      windows with their labels;
    - ``CheckViolation`` applies the rule to the profile-metrics table and publishes
      ``is_metric_violated`` (a notebook task, see ``TaskSpec``);
    - ``IsViolated`` compares that value with ``true``;
    - ``Retrain`` runs only on the ``true`` outcome: it starts the training job for the
      same run date and waits for it (train, validate, deploy if no worse).
    """
    window = {"start_date": run_date(DAYS), "end_date": run_date()}
    check = TaskSpec(
        key=METRIC_VIOLATED.task_key,
        task=CHECK_VIOLATION,
        depends_on=("RefreshMetrics",),
        description="Decide whether the monitored metric is violated in the windows before"
        " run_date; publish is_metric_violated.",
        # Judge the windows before the run date, so a backfill sees them as they were
        # then and today's partial window is left out.
        values={**args.rule, "end_date": run_date()},
    )
    return JobSpec(
        key="monitoring",
        settings=args.job,
        description="Joins late labels into the predictions, refreshes their quality monitor,"
        " and runs the training job when the monitored metric is violated.",
        tasks=(
            TaskSpec(
                key="JoinLabels",
                task=JOIN_LABELS,
                description="Join the labels that arrived into predictions of"
                " [run_date - days, run_date).",
                values={**args.labels, **window},
            ),
            TaskSpec(
                key="RefreshMetrics",
                task=REFRESH_METRICS,
                depends_on=("JoinLabels",),
                description="Refresh the quality monitor's profile and drift metrics.",
                values={**args.refresh, **window},
            ),
            check,
            ConditionTaskSpec(
                key="IsViolated",
                left=check.value(METRIC_VIOLATED.name).reference,
                op="EQUAL_TO",
                right="true",
                depends_on=(check.key,),
                description="Retrain only when the metric is violated.",
            ),
            RunJobTaskSpec(
                key="Retrain",
                job_id=args.training_job_id,
                job_parameters={"run_date": RUN_DATE},
                timeout_seconds=args.training_timeout_seconds,
                depends_on=(Dependency("IsViolated", outcome="true"),),
                description="Run the training job for this run date and wait for it.",
            ),
        ),
        parameters=recent_days(args.lookback_days),
    )


class RetrainingJob(ScheduledJob):
    """The retraining job of a monitored model (``retraining_job``)."""

    def __init__(
        self, name: str, args: RetrainingJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(
            name,
            ScheduledJobArgs(retraining_job(args), args.code, args.workspace_host, args.depends_on),
            opts,
            type_=TYPE,
        )
