"""TrainingJob: Train -> ModelValidation -> ModelDeployment."""

from __future__ import annotations

import pulumi_databricks as databricks

from infra.components.scheduled_job import ScheduledJob, TaskSpec, run_date
from infra.settings import StackSettings
from pipelines.common.task_values import TRAINED_VERSION


class TrainingJob(ScheduledJob):
    """Three tasks, each waiting for the one before:

    - ``Train`` fits on trips picked up in the ``lookbackDays`` before the holdout, registers
      a version, aliases it ``challenger`` and publishes its number as a task value (so it
      runs as a notebook task, see ``TaskSpec``);
    - ``ModelValidation`` evaluates that version on the ``holdoutDays`` up to the run date
      against the thresholds in the settings;
    - ``ModelDeployment`` promotes it to ``champion`` if it passed and is no worse than the
      current champion on the same days, and refuses otherwise.

    When the stack monitors its predictions, the retraining job (``RetrainingJob``) starts
    this job with a run-job task, which starts the run as the retraining job's run-as
    identity, the runner. CAN_MANAGE_RUN is the lowest job permission that may start a run
    (Databricks, "Jobs access control"), so the runner gets that level here, and only then;
    in dev the jobs run as whoever deployed them, who owns this job already.
    """

    TYPE = "mlops-stack:jobs:TrainingJob"
    JOB = "training"
    DESCRIPTION = "Trains, validates and deploys the fare model (champion/challenger)."

    @classmethod
    def access_controls(
        cls, settings: StackSettings
    ) -> list[databricks.PermissionsAccessControlArgs]:
        access = super().access_controls(settings)
        runner = settings.principals.runner
        if settings.monitoring.enabled and runner:
            access.insert(
                0,
                databricks.PermissionsAccessControlArgs(
                    service_principal_name=runner, permission_level="CAN_MANAGE_RUN"
                ),
            )
        return access

    @classmethod
    def task_specs(cls, settings: StackSettings) -> list[TaskSpec]:
        training, tables, thresholds = settings.training, settings.tables, settings.validation
        labelled = {
            "input-table": tables.trips,
            "pickup-features-table": tables.pickup_features,
            "dropoff-features-table": tables.dropoff_features,
        }
        holdout = {"start-date": run_date(training.holdout_days), "end-date": run_date()}
        model = {"model-name": settings.model_full_name}
        train = TaskSpec(
            key=TRAINED_VERSION.task_key,
            entry_point="mlops-train",
            description="Fit, log and register a new version; alias it challenger.",
            parameters={
                **labelled,
                "start-date": run_date(training.lookback_days + training.holdout_days),
                "end-date": run_date(training.holdout_days),
                **model,
                "experiment": settings.experiment_path,
                "max-iter": str(training.max_iter),
                "learning-rate": str(training.learning_rate),
            },
        )
        version = train.value(TRAINED_VERSION.name).reference
        return [
            train,
            TaskSpec(
                key="ModelValidation",
                entry_point="mlops-validate",
                depends_on=(train.key,),
                description="Evaluate the new version on the holdout days against thresholds.",
                parameters={
                    **labelled,
                    **holdout,
                    **model,
                    "model-version": version,
                    "experiment": settings.experiment_path,
                    "run-mode": thresholds.run_mode,
                    "max-rmse": str(thresholds.max_rmse),
                    "max-mae": str(thresholds.max_mae),
                    "min-r2": str(thresholds.min_r2),
                    "max-rmse-increase": str(thresholds.max_rmse_increase),
                },
            ),
            TaskSpec(
                key="ModelDeployment",
                entry_point="mlops-deploy",
                depends_on=("ModelValidation",),
                description="Promote the version to champion if it passed and is no worse.",
                parameters={
                    **labelled,
                    **holdout,
                    **model,
                    "model-version": version,
                    "reason": "training job run {{job.run_id}}",
                },
            ),
        ]
