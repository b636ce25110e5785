"""ScheduledJob: one Databricks job built from a job spec, which is data.

A ``JobSpec`` says everything about a job: its tasks, parameters, compute, schedule,
retries, run-as identity, permissions and tags. ``ScheduledJob`` turns any spec into a
``databricks.Job``, its permissions and the notebooks of the tasks that publish task
values; it has no hooks to override. The stack's jobs (``FeatureEngineeringJob``,
``TrainingJob``, ``BatchInferenceJob``, ``RetrainingJob``) are functions from their own
narrow args to a spec, each with its component type.

A task is a ``TaskSpec`` (a task of the wheel, declared once in
``pipelines.common.interface``, with the values of its params), a ``ConditionTaskSpec``
(branch on a value) or a ``RunJobTaskSpec`` (start another job).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_databricks as databricks

from infra import naming
from infra.wheel import PACKAGE
from pipelines.common.interface import Task
from pipelines.common.task_values import TaskValueRef
from pipelines.notebook import notebook_source

JOB_CLUSTER_KEY = "ml_cluster"
ENVIRONMENT_KEY = "pipelines"
RUN_DATE = "{{job.parameters.run_date}}"
DAYS = "{{job.parameters.days}}"
# Databricks replaces this with the run's start date (UTC) when a scheduled run starts; a
# manual run may override run_date to backfill or re-run a day.
RUN_DATE_DEFAULT = "{{job.start_time.iso_date}}"


def run_date(days_back: int | str = 0) -> str:
    """A date flag relative to the run date, in the form ``pipelines`` dates accept."""
    return RUN_DATE if days_back in (0, "0") else f"{RUN_DATE}-{days_back}d"


# --- the parts of a job spec --------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """When a job runs: a Quartz cron expression in a time zone; ``paused`` keeps the
    schedule but starts no run (dev)."""

    cron: str
    timezone: str = "UTC"
    paused: bool = False


@dataclass(frozen=True)
class Compute:
    """Where the tasks run.

    kind: ``job_cluster`` (a new cluster per run, shared by the job's tasks) or
        ``serverless`` (a serverless environment with the wheel as a dependency).
    spark_version, node_type, num_workers, policy_id: the job cluster (0 workers is a
        single-node cluster); unused on serverless.
    serverless_environment_version: the serverless environment's version.
    """

    kind: Literal["job_cluster", "serverless"] = "job_cluster"
    spark_version: str = ""
    node_type: str = ""
    num_workers: int = 0
    policy_id: str | None = None
    serverless_environment_version: str = "2"

    @property
    def serverless(self) -> bool:
        return self.kind == "serverless"


@dataclass(frozen=True)
class RetryPolicy:
    """How each wheel or notebook task is retried and how long one attempt may take."""

    max_retries: int = 0
    min_retry_interval_minutes: int = 1
    timeout_minutes: int = 60


@dataclass(frozen=True)
class Permission:
    """One entry of the job's access list: a group, service principal (application id) or
    user, and a job permission level (CAN_VIEW, CAN_MANAGE_RUN, CAN_MANAGE, IS_OWNER)."""

    principal: str
    level: str
    kind: Literal["group", "service_principal", "user"] = "group"

    def args(self) -> databricks.PermissionsAccessControlArgs:
        key = {"group": "group_name", "service_principal": "service_principal_name"}.get(
            self.kind, "user_name"
        )
        return databricks.PermissionsAccessControlArgs(
            permission_level=self.level, **{key: self.principal}
        )


@dataclass(frozen=True)
class JobParameter:
    name: str
    default: str


@dataclass(frozen=True)
class Dependency:
    """A task this one waits for. ``outcome`` ("true" or "false") may only follow a
    condition task: the task then runs only when the condition came out that way."""

    task_key: str
    outcome: str | None = None


@dataclass(frozen=True)
class TaskSpec:
    """One task of the wheel: which task (``pipelines.common.interface.Task``) and the
    values of its params, by field name, as text (dynamic value references allowed).

    The job passes them as the task's named parameters (``--<flag>=<value>``);
    ``Task.parameters`` checks them against the task's params when the spec is made, so a
    misspelt or missing flag fails when the stack renders. A task that publishes task
    values runs as a notebook instead, since only notebook tasks may set them: the stack
    uploads a notebook that installs the wheel and runs the same task with the same
    flags, passed as the notebook's parameters (docs/platform.md, "Task values").
    """

    key: str
    task: Task[Any]
    values: Mapping[str, Any]
    depends_on: tuple[str | Dependency, ...] = ()
    description: str = ""
    parameters: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", self.task.parameters(**self.values))

    @property
    def entry_point(self) -> str:
        return self.task.console_script

    @property
    def publishes(self) -> tuple[str, ...]:
        return self.task.publishes

    def value(self, name: str) -> TaskValueRef:
        """A value this task publishes, for the parameters and conditions of later tasks."""
        if name not in self.publishes:
            raise ValueError(f"task {self.key} ({self.task.name}) publishes no {name!r}")
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
    """A task that starts another job and waits for its run.

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
class JobSettings:
    """What a job takes from its stack besides its tasks: the same for every job of a
    project, except ``name`` and ``schedule``.

    name: the job's workspace name (``naming.resource_name``).
    schedule: when it runs.
    compute, retries: where and how its tasks run.
    run_as: the service principal (application id) it runs as; ``None`` runs it as the
        deployer (dev).
    permissions: who may view, run or manage it.
    tags: job tags (the code version is added).
    notification_emails: who hears of a failed run.
    """

    name: str
    schedule: Schedule
    compute: Compute
    retries: RetryPolicy = RetryPolicy()
    run_as: str | None = None
    permissions: tuple[Permission, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    notification_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobSpec:
    """A whole job: its settings, description, tasks and job parameters.

    key: the job's short name (``training``), the folder of its task notebooks.
    """

    key: str
    settings: JobSettings
    description: str
    tasks: tuple[AnyTaskSpec, ...]
    parameters: tuple[JobParameter, ...] = (JobParameter("run_date", RUN_DATE_DEFAULT),)

    @property
    def timeout_seconds(self) -> int:
        """The job's time limit: long enough for every task to use all its attempts in turn.

        A job's own timeout cancels the whole run, retries included (docs/platform.md,
        "Experiments and job timeouts"), so each wheel task counts its first attempt, each
        retry and the wait before each retry; a run-job task counts the other job's limit;
        a condition task takes no time."""
        policy = self.settings.retries
        per_task = (policy.max_retries + 1) * policy.timeout_minutes * 60
        per_task += policy.max_retries * policy.min_retry_interval_minutes * 60
        total = 0
        for spec in self.tasks:
            if isinstance(spec, RunJobTaskSpec):
                total += spec.timeout_seconds
            elif isinstance(spec, TaskSpec):
                total += per_task
        return total

    def task(self, key: str) -> AnyTaskSpec:
        (found,) = [spec for spec in self.tasks if spec.key == key]
        return found


def recent_days(default: int) -> tuple[JobParameter, ...]:
    """The job parameters of a job over the ``days`` days up to the run date: 1 on
    schedule, more to backfill (``DAYS``)."""
    return (JobParameter("run_date", RUN_DATE_DEFAULT), JobParameter("days", str(default)))


@dataclass(frozen=True)
class JobCode:
    """The code a job runs.

    wheel_path: the wheel on the volume (``PipelineCode.wheel_path``).
    code_version: the version of that wheel, tagged on the job.
    notebook_folder: the workspace folder of this code version's task notebooks
        (``naming.notebook_folder``); needed only by jobs with publishing tasks.
    """

    wheel_path: pulumi.Input[str]
    code_version: str
    notebook_folder: str = ""


@dataclass(frozen=True)
class ScheduledJobArgs:
    """What ScheduledJob needs.

    spec: the job.
    code: the wheel and notebook folder of its code version.
    workspace_host: the workspace URL, for the job's link.
    depends_on: what must exist before the job (the tables, grants and folder it uses).
    """

    spec: JobSpec
    code: JobCode
    workspace_host: str
    depends_on: Sequence[pulumi.Resource] = ()


class ScheduledJob(pulumi.ComponentResource):
    """A Databricks job from a ``JobSpec``: the job, its permissions, and a generated
    notebook per task that publishes task values. The stack's jobs pass their own
    ``type_`` token; otherwise it is ``mlops-stack:jobs:ScheduledJob``."""

    job: databricks.Job
    permissions: databricks.Permissions

    def __init__(
        self,
        name: str,
        args: ScheduledJobArgs,
        opts: pulumi.ResourceOptions | None = None,
        type_: str = "mlops-stack:jobs:ScheduledJob",
    ) -> None:
        super().__init__(type_, name, None, opts)
        spec = args.spec
        self.spec = spec
        self.job_name = spec.settings.name
        self.timeout_seconds = spec.timeout_seconds
        self.notebooks = {
            task.key: self._notebook(name, task, args)
            for task in spec.tasks
            if isinstance(task, TaskSpec) and task.publishes
        }
        self.job = databricks.Job(
            f"{name}-job",
            args=job_args(
                spec,
                args.code,
                {key: notebook.path for key, notebook in self.notebooks.items()},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )
        self.permissions = databricks.Permissions(
            f"{name}-permissions",
            job_id=self.job.id,
            access_controls=[entry.args() for entry in spec.settings.permissions],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.job_id = self.job.id
        host = args.workspace_host
        self.job_url = self.job.id.apply(lambda job_id: naming.job_url(host, job_id))
        self.register_outputs(
            {"job_id": self.job_id, "job_url": self.job_url, "job_name": self.job_name}
        )

    def _notebook(self, name: str, task: TaskSpec, args: ScheduledJobArgs) -> databricks.Notebook:
        """The notebook a publishing task runs: generated for this code version, sent as
        content (no local file), in the code version's folder; the provider creates the
        folder when it is missing."""
        code = args.code
        if not code.notebook_folder:
            raise ValueError(f"task {task.key} publishes task values but no notebook folder given")
        flags = list(task.parameters)
        content = pulumi.Output.from_input(code.wheel_path).apply(
            lambda wheel: base64.b64encode(
                notebook_source(task.task.name, flags, wheel, code.code_version).encode()
            ).decode()
        )
        return databricks.Notebook(
            f"{name}-{task.key}-notebook",
            path=f"{code.notebook_folder}/{args.spec.key}/{task.key}",
            language="PYTHON",
            content_base64=content,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.depends_on)),
        )


def job_args(
    spec: JobSpec, code: JobCode, notebooks: Mapping[str, pulumi.Input[str]] | None = None
) -> databricks.JobArgs:
    """The full job definition from its spec; ``notebooks`` holds the notebook path of each
    task that publishes task values."""
    notebooks = notebooks or {}
    settings = spec.settings
    policy, compute = settings.retries, settings.compute
    tasks = [_task_args(task, code, compute, policy, notebooks) for task in spec.tasks]
    emails = list(settings.notification_emails)
    schedule = settings.schedule
    return databricks.JobArgs(
        name=settings.name,
        description=spec.description,
        tasks=tasks,
        job_clusters=None if compute.serverless else [_job_cluster(compute)],
        environments=[_serverless_environment(compute, code.wheel_path)]
        if compute.serverless
        else None,
        parameters=[
            databricks.JobParameterArgs(name=p.name, default=p.default) for p in spec.parameters
        ],
        schedule=databricks.JobScheduleArgs(
            quartz_cron_expression=schedule.cron,
            timezone_id=schedule.timezone,
            pause_status="PAUSED" if schedule.paused else "UNPAUSED",
        ),
        max_concurrent_runs=1,
        queue=databricks.JobQueueArgs(enabled=True),
        timeout_seconds=spec.timeout_seconds,
        email_notifications=databricks.JobEmailNotificationsArgs(
            on_failures=emails, no_alert_for_skipped_runs=True
        )
        if emails
        else None,
        run_as=databricks.JobRunAsArgs(service_principal_name=settings.run_as)
        if settings.run_as
        else None,
        tags={**settings.tags, "code_version": code.code_version},
    )


def _task_args(
    spec: AnyTaskSpec,
    code: JobCode,
    compute: Compute,
    policy: RetryPolicy,
    notebooks: Mapping[str, pulumi.Input[str]],
) -> databricks.JobTaskArgs:
    depends_ons = [_dependency(after) for after in spec.depends_on] or None
    description = spec.description or None
    if isinstance(spec, ConditionTaskSpec):
        # No compute, and Databricks allows no retries on a condition task.
        return databricks.JobTaskArgs(
            task_key=spec.key,
            description=description,
            depends_ons=depends_ons,
            condition_task=databricks.JobTaskConditionTaskArgs(
                left=spec.left, op=spec.op, right=spec.right
            ),
        )
    if isinstance(spec, RunJobTaskSpec):
        # No retries: the started job retries its own tasks, and retrying here would
        # start the whole job again.
        return databricks.JobTaskArgs(
            task_key=spec.key,
            description=description,
            depends_ons=depends_ons,
            run_job_task=databricks.JobTaskRunJobTaskArgs(
                job_id=spec.job_id, job_parameters=dict(spec.job_parameters)
            ),
            timeout_seconds=spec.timeout_seconds,
        )
    retries: dict[str, Any] = {
        "max_retries": policy.max_retries,
        "min_retry_interval_millis": policy.min_retry_interval_minutes * 60_000,
        "retry_on_timeout": False,
        "timeout_seconds": policy.timeout_minutes * 60,
    }
    if spec.publishes:
        # A notebook installs the wheel itself (%pip), on either compute: a serverless
        # notebook task takes no job environment and a classic one needs no library.
        return databricks.JobTaskArgs(
            task_key=spec.key,
            description=description,
            depends_ons=depends_ons,
            notebook_task=databricks.JobTaskNotebookTaskArgs(
                notebook_path=notebooks[spec.key],
                source="WORKSPACE",
                base_parameters=dict(spec.parameters),
            ),
            job_cluster_key=None if compute.serverless else JOB_CLUSTER_KEY,
            **retries,
        )
    return databricks.JobTaskArgs(
        task_key=spec.key,
        description=description,
        depends_ons=depends_ons,
        python_wheel_task=databricks.JobTaskPythonWheelTaskArgs(
            package_name=PACKAGE,
            entry_point=spec.entry_point,
            named_parameters=dict(spec.parameters),
        ),
        environment_key=ENVIRONMENT_KEY if compute.serverless else None,
        job_cluster_key=None if compute.serverless else JOB_CLUSTER_KEY,
        libraries=None
        if compute.serverless
        else [databricks.JobTaskLibraryArgs(whl=code.wheel_path)],
        **retries,
    )


def _dependency(after: str | Dependency) -> databricks.JobTaskDependsOnArgs:
    if isinstance(after, str):
        return databricks.JobTaskDependsOnArgs(task_key=after)
    return databricks.JobTaskDependsOnArgs(task_key=after.task_key, outcome=after.outcome)


def _job_cluster(compute: Compute) -> databricks.JobJobClusterArgs:
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
    compute: Compute, wheel_path: pulumi.Input[str]
) -> databricks.JobEnvironmentArgs:
    return databricks.JobEnvironmentArgs(
        environment_key=ENVIRONMENT_KEY,
        spec=databricks.JobEnvironmentSpecArgs(
            environment_version=compute.serverless_environment_version,
            dependencies=[wheel_path],
        ),
    )
