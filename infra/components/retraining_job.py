"""RetrainingJob: join late labels, refresh the monitor, check the rule, retrain if violated."""

from __future__ import annotations

import pulumi

from infra import naming
from infra.components.scheduled_job import (
    RUN_DATE,
    AnyTaskSpec,
    ConditionTaskSpec,
    Dependency,
    RecentDaysJob,
    RunJobTaskSpec,
    ScheduledJob,
    ScheduledJobArgs,
    TaskSpec,
    run_date,
)
from infra.settings import StackSettings
from pipelines.common.task_values import METRIC_VIOLATED


class RetrainingJob(RecentDaysJob):
    """Five tasks, each waiting for the one before:

    - ``JoinLabels`` fills in the fares that arrived since scoring, for the predictions
      scored in the ``days`` days up to the run date (``lookbackDays`` on schedule);
    - ``RefreshMetrics`` refreshes the quality monitor, so the metric tables hold those
      windows with their labels;
    - ``CheckViolation`` applies the rule of the settings to the profile-metrics table and
      publishes ``is_metric_violated`` (a notebook task, see ``TaskSpec``);
    - ``IsViolated`` compares that value with ``true``;
    - ``Retrain`` runs only on the ``true`` outcome: it starts the training job for the
      same run date and waits for it (train, validate, deploy if no worse).
    """

    TYPE = "mlops-stack:jobs:RetrainingJob"
    JOB = "monitoring"
    DESCRIPTION = (
        "Joins late labels into the predictions, refreshes their quality monitor, and runs"
        " the training job when the monitored metric is violated."
    )

    def __init__(
        self,
        name: str,
        args: ScheduledJobArgs,
        training: ScheduledJob,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # Set before the base class builds the tasks: the run-job task needs its id.
        self.training = training
        super().__init__(name, args, opts)

    @classmethod
    def default_days(cls, settings: StackSettings) -> int:
        return settings.monitoring.lookback_days

    @classmethod
    def task_specs(cls, settings: StackSettings) -> list[TaskSpec]:
        """The wheel tasks: JoinLabels, RefreshMetrics, CheckViolation."""
        tables, monitoring = settings.tables, settings.monitoring
        window = {"start-date": run_date(cls.DAYS), "end-date": run_date()}
        refresh = {
            "inference-table": tables.predictions,
            **window,
            "granularities": ",".join(monitoring.granularities),
        }
        if monitoring.baseline_table:
            refresh["baseline-table"] = monitoring.baseline_table
        profile_table, _ = naming.metric_tables(tables.predictions)
        return [
            TaskSpec(
                key="JoinLabels",
                entry_point="mlops-join-labels",
                description="Join the fares that arrived into predictions of [run_date - days,"
                " run_date).",
                parameters={
                    "inference-table": tables.predictions,
                    "labels-table": tables.trips,
                    **window,
                },
            ),
            TaskSpec(
                key="RefreshMetrics",
                entry_point="mlops-refresh-metrics",
                depends_on=("JoinLabels",),
                description="Refresh the quality monitor's profile and drift metrics.",
                parameters=refresh,
            ),
            TaskSpec(
                key=METRIC_VIOLATED.task_key,
                entry_point="mlops-check-violation",
                depends_on=("RefreshMetrics",),
                description="Decide whether the monitored metric is violated in the windows"
                " before run_date; publish is_metric_violated.",
                parameters={
                    "profile-metrics-table": profile_table,
                    "metric": monitoring.metric,
                    "threshold": str(monitoring.threshold),
                    "violated-when": monitoring.violated_when,
                    "evaluation-windows": str(monitoring.evaluation_windows),
                    "violation-windows": str(monitoring.violation_windows),
                    "granularity": monitoring.granularity,
                    # Judge the windows before the run date, so a backfill sees them as
                    # they were then and today's partial window is left out.
                    "end-date": run_date(),
                },
            ),
        ]

    def build_tasks(self, settings: StackSettings) -> list[AnyTaskSpec]:
        specs = self.task_specs(settings)
        (check,) = [spec for spec in specs if spec.key == METRIC_VIOLATED.task_key]
        return [
            *specs,
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
                job_id=self.training.job.id.apply(int),
                job_parameters={"run_date": RUN_DATE},
                timeout_seconds=self.training.timeout_seconds,
                depends_on=(Dependency("IsViolated", outcome="true"),),
                description="Run the training job for this run date and wait for it.",
            ),
        ]
