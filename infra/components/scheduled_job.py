"""What every job of the stack shares: wheel tasks with named flags, compute, schedule,
retries, notifications, run-as identity, permissions and tags.

The concrete jobs (``FeatureEngineeringJob``, ``TrainingJob``, ``BatchInferenceJob``) only
say which tasks they run with which flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import pulumi
import pulumi_databricks as databricks

from infra import naming
from infra.settings import PROJECT, StackSettings
from infra.wheel import PACKAGE

JOB_CLUSTER_KEY = "ml_cluster"
ENVIRONMENT_KEY = "pipelines"
RUN_DATE = "{{job.parameters.run_date}}"
# Databricks replaces this with the run's start date (UTC) when a scheduled run starts; a
# manual run may override run_date to backfill or re-run a day.
RUN_DATE_DEFAULT = "{{job.start_time.iso_date}}"


def run_date(days_back: int | str = 0) -> str:
    """A date flag relative to the run date, in the form ``pipelines`` dates accept."""
    return RUN_DATE if days_back in (0, "0") else f"{RUN_DATE}-{days_back}d"


@dataclass(frozen=True)
class TaskSpec:
    """One task: the console script of the wheel it runs and its named flags.

    ``parameters`` become ``--<key>=<value>`` on the entry point's command line
    (``python_wheel_task.named_parameters``), so keys are the flags without dashes.
    """

    key: str
    entry_point: str
    parameters: Mapping[str, str]
    depends_on: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class JobParameter:
    name: str
    default: str


@dataclass(frozen=True)
class ScheduledJobArgs:
    """What every job needs.

    settings: the stack settings (compute, schedule, retries, principals, tags, ...).
    wheel_path: the wheel on the volume (``PipelineCode.wheel_path``).
    code_version: the version of that wheel, tagged on the job.
    depends_on: what must exist before the job (the tables and grants it uses).
    """

    settings: StackSettings
    wheel_path: pulumi.Input[str]
    code_version: str
    depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


class ScheduledJob(pulumi.ComponentResource):
    """A Databricks job of wheel tasks; subclasses define ``TYPE``, ``JOB`` and the tasks."""

    TYPE: ClassVar[str]
    JOB: ClassVar[str]  # settings key, e.g. "training"
    DESCRIPTION: ClassVar[str]

    job: databricks.Job
    permissions: databricks.Permissions

    @classmethod
    def task_specs(cls, settings: StackSettings) -> list[TaskSpec]:
        """The job's tasks; every concrete job defines them."""
        raise NotImplementedError(f"{cls.__name__} defines no tasks")

    @classmethod
    def job_parameters(cls, settings: StackSettings) -> list[JobParameter]:
        return [JobParameter("run_date", RUN_DATE_DEFAULT)]

    def __init__(
        self, name: str, args: ScheduledJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        settings = args.settings
        self.tasks = self.task_specs(settings)
        self.job_name = naming.resource_name(settings.environment, self.JOB.replace("_", "-"))
        self.job = databricks.Job(
            f"{name}-job",
            args=job_args(
                settings,
                self.job_name,
                self.DESCRIPTION,
                self.JOB,
                self.tasks,
                self.job_parameters(settings),
                args.wheel_path,
                args.code_version,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.permissions = databricks.Permissions(
            f"{name}-permissions",
            job_id=self.job.id,
            access_controls=[
                databricks.PermissionsAccessControlArgs(
                    group_name=settings.groups.readers, permission_level="CAN_VIEW"
                ),
                databricks.PermissionsAccessControlArgs(
                    group_name=settings.groups.ml_team, permission_level="CAN_MANAGE_RUN"
                ),
            ],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.job_id = self.job.id
        self.job_url = self.job.id.apply(
            lambda job_id: naming.job_url(settings.workspace_host, job_id)
        )
        self.register_outputs(
            {"job_id": self.job_id, "job_url": self.job_url, "job_name": self.job_name}
        )


def job_args(
    settings: StackSettings,
    job_name: str,
    description: str,
    job_key: str,
    tasks: Sequence[TaskSpec],
    parameters: Sequence[JobParameter],
    wheel_path: pulumi.Input[str],
    code_version: str,
) -> databricks.JobArgs:
    """The full job definition, from settings and task specs."""
    policy = settings.jobs
    serverless = settings.compute.kind == "serverless"
    schedule = settings.schedules[job_key]
    task_args = []
    for spec in tasks:
        compute: dict[str, object] = (
            {"environment_key": ENVIRONMENT_KEY}
            if serverless
            else {
                "job_cluster_key": JOB_CLUSTER_KEY,
                "libraries": [databricks.JobTaskLibraryArgs(whl=wheel_path)],
            }
        )
        task_args.append(
            databricks.JobTaskArgs(
                task_key=spec.key,
                description=spec.description or None,
                depends_ons=[
                    databricks.JobTaskDependsOnArgs(task_key=key) for key in spec.depends_on
                ]
                or None,
                python_wheel_task=databricks.JobTaskPythonWheelTaskArgs(
                    package_name=PACKAGE,
                    entry_point=spec.entry_point,
                    named_parameters=dict(spec.parameters),
                ),
                max_retries=policy.max_retries,
                min_retry_interval_millis=policy.min_retry_interval_minutes * 60_000,
                retry_on_timeout=False,
                timeout_seconds=policy.timeout_minutes * 60,
                **compute,
            )
        )
    emails = list(settings.notification_emails)
    return databricks.JobArgs(
        name=job_name,
        description=description,
        tasks=task_args,
        job_clusters=None if serverless else [_job_cluster(settings)],
        environments=[_serverless_environment(settings, wheel_path)] if serverless else None,
        parameters=[
            databricks.JobParameterArgs(name=p.name, default=p.default) for p in parameters
        ],
        schedule=databricks.JobScheduleArgs(
            quartz_cron_expression=schedule.cron,
            timezone_id=schedule.timezone,
            pause_status="PAUSED" if settings.schedules_paused else "UNPAUSED",
        ),
        max_concurrent_runs=1,
        queue=databricks.JobQueueArgs(enabled=True),
        timeout_seconds=policy.timeout_minutes * 60 * len(tasks),
        email_notifications=databricks.JobEmailNotificationsArgs(
            on_failures=emails, no_alert_for_skipped_runs=True
        )
        if emails
        else None,
        run_as=databricks.JobRunAsArgs(service_principal_name=settings.principals.runner)
        if settings.principals.runner
        else None,
        tags=job_tags(settings, code_version),
    )


def job_tags(settings: StackSettings, code_version: str) -> dict[str, str]:
    return {
        **settings.tags,
        "project": PROJECT,
        "environment": settings.environment,
        "code_version": code_version,
    }


def _job_cluster(settings: StackSettings) -> databricks.JobJobClusterArgs:
    compute = settings.compute
    single_node = compute.num_workers == 0
    return databricks.JobJobClusterArgs(
        job_cluster_key=JOB_CLUSTER_KEY,
        new_cluster=databricks.JobJobClusterNewClusterArgs(
            spark_version=compute.spark_version,
            node_type_id=compute.node_type,
            num_workers=compute.num_workers,
            # Unity Catalog with an ML runtime needs dedicated (single user) access mode;
            # on a job cluster the user is the job's run-as identity.
            data_security_mode="SINGLE_USER",
            policy_id=compute.policy_id,
            apply_policy_default_values=True if compute.policy_id else None,
            spark_conf={
                "spark.databricks.cluster.profile": "singleNode",
                "spark.master": "local[*]",
            }
            if single_node
            else None,
            custom_tags={"ResourceClass": "SingleNode"} if single_node else None,
        ),
    )


def _serverless_environment(
    settings: StackSettings, wheel_path: pulumi.Input[str]
) -> databricks.JobEnvironmentArgs:
    return databricks.JobEnvironmentArgs(
        environment_key=ENVIRONMENT_KEY,
        spec=databricks.JobEnvironmentSpecArgs(
            environment_version=settings.compute.serverless_environment_version,
            dependencies=[wheel_path],
        ),
    )


class RecentDaysJob(ScheduledJob):
    """A job over the ``days`` days up to the run date: 1 on schedule, more to backfill."""

    DAYS: ClassVar[str] = "{{job.parameters.days}}"

    @classmethod
    def job_parameters(cls, settings: StackSettings) -> list[JobParameter]:
        return [*super().job_parameters(settings), JobParameter("days", "1")]
