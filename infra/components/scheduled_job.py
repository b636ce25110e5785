"""What every job of the stack shares: wheel tasks with named flags, compute, schedule,
retries, notifications, run-as identity, permissions and tags.

The concrete jobs (``FeatureEngineeringJob``, ``TrainingJob``, ``BatchInferenceJob``,
``RetrainingJob``) only say which tasks they run with which flags. Most tasks run a console
script of the wheel (``TaskSpec``); a job may also branch on a value (``ConditionTaskSpec``)
and start another job (``RunJobTaskSpec``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
import pulumi_databricks as databricks

from infra import naming
from infra.settings import PROJECT, StackSettings
from infra.wheel import PACKAGE
from pipelines.common.notebook import notebook_source
from pipelines.common.task_values import PUBLISHED_BY, TaskValueRef

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
class Dependency:
    """A task this one waits for. ``outcome`` ("true" or "false") may only follow a
    condition task: the task then runs only when the condition came out that way."""

    task_key: str
    outcome: str | None = None


@dataclass(frozen=True)
class TaskSpec:
    """One task: the console script of the wheel it runs and its named flags.

    ``parameters`` become ``--<key>=<value>`` on the entry point's command line
    (``python_wheel_task.named_parameters``), so keys are the flags without dashes.
    ``depends_on`` names the tasks it waits for (a ``Dependency`` to pick an outcome).

    A task whose entry point publishes task values (``pipelines.common.task_values``)
    runs as a notebook instead, since only notebook tasks may set them: the stack uploads
    a notebook that installs the wheel and runs the same entry point with the same flags,
    passed as the notebook's parameters (docs/platform.md, "Task values").
    """

    key: str
    entry_point: str
    parameters: Mapping[str, str]
    depends_on: tuple[str | Dependency, ...] = ()
    description: str = ""

    @property
    def task(self) -> str:
        """The task's name (``mlops run <task>``): the console script without ``mlops-``."""
        return self.entry_point.removeprefix("mlops-")

    @property
    def publishes(self) -> tuple[str, ...]:
        """The task values this task publishes; any makes it a notebook task."""
        return PUBLISHED_BY.get(self.task, ())

    def value(self, name: str) -> TaskValueRef:
        """A value this task publishes, for the parameters and conditions of later tasks."""
        if name not in self.publishes:
            raise ValueError(f"task {self.key} ({self.entry_point}) publishes no {name!r}")
        return TaskValueRef(self.key, name)


@dataclass(frozen=True)
class ConditionTaskSpec:
    """A task that compares two values, e.g. a task value with ``true``; it needs no
    compute and has no retries. Tasks after it choose an outcome with ``Dependency``."""

    key: str
    left: str
    op: str  # EQUAL_TO, NOT_EQUAL, GREATER_THAN, ...
    right: str
    depends_on: tuple[str | Dependency, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class RunJobTaskSpec:
    """A task that starts another job of the stack and waits for its run.

    job_id: the other job's id (the ``databricks.Job`` id output, as a number).
    job_parameters: the other job's parameters for that run.
    timeout_seconds: how long to wait: the other job's own time limit.
    """

    key: str
    job_id: pulumi.Input[int]
    job_parameters: Mapping[str, str]
    timeout_seconds: int
    depends_on: tuple[str | Dependency, ...] = ()
    description: str = ""


AnyTaskSpec = TaskSpec | ConditionTaskSpec | RunJobTaskSpec


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
    notebook_folder: the workspace folder for this code version's task notebooks
        (``naming.notebook_folder``).
    depends_on: what must exist before the job (the tables, grants and folder it uses).
    """

    settings: StackSettings
    wheel_path: pulumi.Input[str]
    code_version: str
    notebook_folder: str = ""
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

    def build_tasks(self, settings: StackSettings) -> list[AnyTaskSpec]:
        """The tasks of this instance: ``task_specs`` unless a job's tasks need other
        resources (e.g. the id of a job they start)."""
        return list(self.task_specs(settings))

    @classmethod
    def job_parameters(cls, settings: StackSettings) -> list[JobParameter]:
        return [JobParameter("run_date", RUN_DATE_DEFAULT)]

    @classmethod
    def access_controls(
        cls, settings: StackSettings
    ) -> list[databricks.PermissionsAccessControlArgs]:
        """Who may see and run the job: readers view it, the ML team runs and repairs it."""
        return [
            databricks.PermissionsAccessControlArgs(
                group_name=settings.groups.readers, permission_level="CAN_VIEW"
            ),
            databricks.PermissionsAccessControlArgs(
                group_name=settings.groups.ml_team, permission_level="CAN_MANAGE_RUN"
            ),
        ]

    def __init__(
        self, name: str, args: ScheduledJobArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        settings = args.settings
        self.tasks = self.build_tasks(settings)
        self.timeout_seconds = job_timeout_seconds(settings, self.tasks)
        self.job_name = naming.resource_name(settings.environment, self.JOB.replace("_", "-"))
        self.notebooks = {
            spec.key: self._notebook(name, spec, args)
            for spec in self.tasks
            if isinstance(spec, TaskSpec) and spec.publishes
        }
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
                {key: notebook.path for key, notebook in self.notebooks.items()},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.permissions = databricks.Permissions(
            f"{name}-permissions",
            job_id=self.job.id,
            access_controls=self.access_controls(settings),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.job_id = self.job.id
        self.job_url = self.job.id.apply(
            lambda job_id: naming.job_url(settings.workspace_host, job_id)
        )
        self.register_outputs(
            {"job_id": self.job_id, "job_url": self.job_url, "job_name": self.job_name}
        )

    def _notebook(self, name: str, spec: TaskSpec, args: ScheduledJobArgs) -> databricks.Notebook:
        """The notebook a publishing task runs: generated for this code version, sent as
        content (no local file), in the code version's folder; the provider creates the
        folder when it is missing."""
        if not args.notebook_folder:
            raise ValueError(f"task {spec.key} publishes task values but no notebook folder given")
        flags = list(spec.parameters)
        content = pulumi.Output.from_input(args.wheel_path).apply(
            lambda wheel: base64.b64encode(
                notebook_source(spec.task, flags, wheel, args.code_version).encode()
            ).decode()
        )
        return databricks.Notebook(
            f"{name}-{spec.key}-notebook",
            path=f"{args.notebook_folder}/{self.JOB}/{spec.key}",
            language="PYTHON",
            content_base64=content,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )


def job_args(
    settings: StackSettings,
    job_name: str,
    description: str,
    job_key: str,
    tasks: Sequence[AnyTaskSpec],
    parameters: Sequence[JobParameter],
    wheel_path: pulumi.Input[str],
    code_version: str,
    notebooks: Mapping[str, pulumi.Input[str]] | None = None,
) -> databricks.JobArgs:
    """The full job definition, from settings and task specs; ``notebooks`` holds the
    notebook path of each task that publishes task values."""
    notebooks = notebooks or {}
    policy = settings.jobs
    serverless = settings.compute.kind == "serverless"
    schedule = settings.schedules[job_key]
    task_args = []
    for spec in tasks:
        common: dict[str, Any] = {
            "task_key": spec.key,
            "description": spec.description or None,
            "depends_ons": [_dependency(after) for after in spec.depends_on] or None,
        }
        if isinstance(spec, ConditionTaskSpec):
            # No compute, and Databricks allows no retries on a condition task.
            task_args.append(
                databricks.JobTaskArgs(
                    condition_task=databricks.JobTaskConditionTaskArgs(
                        left=spec.left, op=spec.op, right=spec.right
                    ),
                    **common,
                )
            )
            continue
        if isinstance(spec, RunJobTaskSpec):
            # No retries: the started job retries its own tasks, and retrying here would
            # start the whole job again.
            task_args.append(
                databricks.JobTaskArgs(
                    run_job_task=databricks.JobTaskRunJobTaskArgs(
                        job_id=spec.job_id, job_parameters=dict(spec.job_parameters)
                    ),
                    timeout_seconds=spec.timeout_seconds,
                    **common,
                )
            )
            continue
        if spec.publishes:
            # A notebook installs the wheel itself (%pip), on either compute: a serverless
            # notebook task takes no job environment and a classic one needs no library.
            compute: dict[str, object] = {} if serverless else {"job_cluster_key": JOB_CLUSTER_KEY}
            action: dict[str, object] = {
                "notebook_task": databricks.JobTaskNotebookTaskArgs(
                    notebook_path=notebooks[spec.key],
                    source="WORKSPACE",
                    base_parameters=dict(spec.parameters),
                )
            }
        else:
            compute = (
                {"environment_key": ENVIRONMENT_KEY}
                if serverless
                else {
                    "job_cluster_key": JOB_CLUSTER_KEY,
                    "libraries": [databricks.JobTaskLibraryArgs(whl=wheel_path)],
                }
            )
            action = {
                "python_wheel_task": databricks.JobTaskPythonWheelTaskArgs(
                    package_name=PACKAGE,
                    entry_point=spec.entry_point,
                    named_parameters=dict(spec.parameters),
                )
            }
        task_args.append(
            databricks.JobTaskArgs(
                **action,
                max_retries=policy.max_retries,
                min_retry_interval_millis=policy.min_retry_interval_minutes * 60_000,
                retry_on_timeout=False,
                timeout_seconds=policy.timeout_minutes * 60,
                **common,
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
        timeout_seconds=job_timeout_seconds(settings, tasks),
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


def job_timeout_seconds(settings: StackSettings, tasks: Sequence[AnyTaskSpec]) -> int:
    """The job's time limit: long enough for every task to use all its attempts in turn.

    A job's own timeout cancels the whole run, retries included (docs/platform.md, "A
    Experiments and job timeouts"), so each wheel task counts its first attempt, each
    retry and the wait before each retry; a run-job task counts the other job's limit; a
    condition task takes no time."""
    policy = settings.jobs
    attempts = policy.max_retries + 1
    per_task = attempts * policy.timeout_minutes * 60
    per_task += policy.max_retries * policy.min_retry_interval_minutes * 60
    total = 0
    for spec in tasks:
        if isinstance(spec, RunJobTaskSpec):
            total += spec.timeout_seconds
        elif isinstance(spec, TaskSpec):
            total += per_task
    return total


def _dependency(after: str | Dependency) -> databricks.JobTaskDependsOnArgs:
    if isinstance(after, str):
        return databricks.JobTaskDependsOnArgs(task_key=after)
    return databricks.JobTaskDependsOnArgs(task_key=after.task_key, outcome=after.outcome)


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
    def default_days(cls, settings: StackSettings) -> int:
        """How many days a scheduled run covers."""
        return 1

    @classmethod
    def job_parameters(cls, settings: StackSettings) -> list[JobParameter]:
        days = JobParameter("days", str(cls.default_days(settings)))
        return [*super().job_parameters(settings), days]
