"""The program: settings -> components -> exports. ``__main__`` and the offline render
both run it; neither adds anything of its own.

What the stack's projects share is built once: the Databricks provider, the stack's
folder (with a folder per project), the catalog access (every project's schema, tables and
grants, in one component so that a securable two projects use gets one grant per
principal), the code volume and its wheel. Then each project the settings list gets its
registered model and experiment, its three jobs and, when its monitoring is enabled, its
quality monitor and retraining job, all named ``<env>-mlops-stack-<project>-<item>``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_databricks as databricks

from infra import naming
from infra.components.batch_inference_job import BatchInferenceJob, BatchInferenceJobArgs
from infra.components.catalog_access import (
    CatalogAccess,
    CatalogAccessArgs,
    Column,
    OutputTable,
    ProjectSchema,
)
from infra.components.feature_engineering_job import (
    FeatureEngineeringJob,
    FeatureEngineeringJobArgs,
)
from infra.components.ml_artifacts import MlArtifacts, MlArtifactsArgs
from infra.components.monitored_table import InferenceLog, MonitoredTable, MonitoredTableArgs
from infra.components.pipeline_code import PipelineCode, PipelineCodeArgs
from infra.components.retraining_job import RetrainingJobArgs
from infra.components.scheduled_job import (
    Compute,
    JobCode,
    JobSettings,
    Permission,
    RetryPolicy,
    Schedule,
    ScheduledJob,
)
from infra.components.stack_folder import StackFolder, StackFolderArgs
from infra.components.training_job import TrainingJob, TrainingJobArgs, training_job
from infra.outputs import stack_outputs
from infra.settings import PROJECT, ProjectSettings, StackSettings, stack_folder
from infra.wheel import wheel_name

if TYPE_CHECKING:
    # Imported where a stack's storage is built, not here: see lakehouse_storage.
    import pulumi_aws as aws

    from infra.components.lakehouse_storage import LakehouseStorage


@dataclass(frozen=True)
class CodePackage:
    """The code the jobs run: its content hash and the local wheel to upload."""

    version: str
    wheel_file: str


@dataclass
class ProjectDeployment:
    """What the program built for one project: its model and experiment, its jobs (by
    their key in the outputs) and its monitor, if any."""

    artifacts: MlArtifacts
    jobs: dict[str, ScheduledJob] = field(default_factory=dict)
    monitor: MonitoredTable | None = None


@dataclass
class Deployment:
    """What the program built: the providers, the top-level components, each project's
    part, and the exports."""

    provider: databricks.Provider
    aws_provider: aws.Provider | None = None
    components: list[pulumi.ComponentResource] = field(default_factory=list)
    projects: dict[str, ProjectDeployment] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)


def _schedule(schedule: Any, paused: bool) -> Schedule:
    return Schedule(cron=schedule.cron, timezone=schedule.timezone, paused=paused)


def job_settings(
    settings: StackSettings, project: ProjectSettings, job: str, may_run: tuple[str, ...] = ()
) -> JobSettings:
    """What the job ``job`` (a ``schedules`` key) of ``project`` takes from the settings:
    its name and schedule, the project's compute, the stack's retries, the project's run-as
    identity, tags and who may see and run it (readers view it, the ML team runs and
    repairs it; ``may_run`` lists the service principals that may also start it)."""
    compute, policy, groups = project.compute, settings.jobs, settings.groups
    return JobSettings(
        name=naming.project_resource_name(
            settings.environment, project.name, job.replace("_", "-")
        ),
        schedule=_schedule(project.schedules[job], paused=settings.schedules_paused),
        compute=Compute(
            kind="serverless" if compute.kind == "serverless" else "job_cluster",
            spark_version=compute.spark_version,
            node_type=compute.node_type,
            num_workers=compute.num_workers,
            policy_id=compute.policy_id,
            serverless_environment_version=compute.serverless_environment_version,
        ),
        retries=RetryPolicy(
            max_retries=policy.max_retries,
            min_retry_interval_minutes=policy.min_retry_interval_minutes,
            timeout_minutes=policy.timeout_minutes,
        ),
        run_as=project.runner,
        permissions=(
            *(Permission(sp, "CAN_MANAGE_RUN", "service_principal") for sp in may_run),
            Permission(groups.readers, "CAN_VIEW"),
            Permission(groups.ml_team, "CAN_MANAGE_RUN"),
        ),
        tags={
            **settings.tags,
            "project": PROJECT,
            "environment": settings.environment,
            "model_project": project.name,
        },
        notification_emails=tuple(settings.notification_emails),
    )


def inference_log(project: ProjectSettings) -> InferenceLog:
    """A project's predictions table as its monitor reads it: the problem type and the
    columns of its declaration (``ModelProject.monitoring``)."""
    declared = project.declaration
    columns = declared.monitoring
    return InferenceLog(
        problem_type=declared.problem_type.monitor_problem_type,
        prediction_col=columns.prediction_col,
        label_col=columns.label_col,
        model_id_col=columns.model_id_col,
        timestamp_col=columns.timestamp_col,
    )


def _columns(struct: Any, keys: tuple[str, ...]) -> list[Column]:
    return [
        Column(
            name=f.name,
            type=f.dataType.simpleString().upper(),
            nullable=f.name not in keys,
            comment="primary key" if f.name in keys else None,
        )
        for f in struct.fields
    ]


def output_tables(project: ProjectSettings, monitored: bool) -> list[OutputTable]:
    """The tables the stack creates in a project's schema (what its jobs write, and its
    inputs that live there), with the columns of the project's own table contracts
    (``ProjectLifecycle.schemas``)."""
    contracts = project.declaration.implementation().schemas()
    found = []
    for role in project.declaration.tables:
        name = project.tables[role.role]
        if role.kind == "input":
            # An input table in the project's own schema exists only if the stack creates it.
            if name.rpartition(".")[0] != project.home:
                continue
            found.append(
                OutputTable(
                    name,
                    _columns(contracts[role.role], role.keys),
                    f"{role.description}; loaded by the ML team's group, read by the jobs."
                    " Created by the stack because it lives in the project's schema.",
                    written_by_runner=False,
                )
            )
        elif role.kind == "predictions":
            found.append(
                OutputTable(
                    name,
                    _columns(contracts[role.role], role.keys),
                    role.description,
                    readable_by_readers=True,
                    # The quality monitor reads changes incrementally.
                    properties={"delta.enableChangeDataFeed": "true"},
                    monitor_refreshed_by_runner=monitored,
                )
            )
        else:
            found.append(
                OutputTable(name, _columns(contracts[role.role], role.keys), role.description)
            )
    return found


def project_schema(
    settings: StackSettings, project: ProjectSettings, storage: LakehouseStorage | None = None
) -> ProjectSchema:
    """A project's place in the catalog: its schema (on the stack's own storage, if any),
    its tables, and what of the other projects its runner reads (``runnerReaches``).

    With storage and ``managedLocation: schema``, the first project keeps the storage root
    the stack's one schema had before several projects (``<location>/managed``); every
    other project's schema gets its own beside it (``LakehouseStorage.schema_root``):
    managed storage locations may not overlap."""
    storage_root: pulumi.Input[str] | None = None
    if storage is not None and not settings.storage.owns_catalog:
        storage_root = (
            storage.storage_root
            if project.name == naming.FIRST_PROJECT
            else storage.schema_root(project.schema)
        )
    reads = [
        table
        for other in project.runner_reaches
        for table in settings.project(other).tables.values()
    ]
    return ProjectSchema(
        project=project.name,
        schema=project.schema,
        runner=project.runner,
        input_tables=project.inputs,
        output_tables=output_tables(project, project.monitoring.enabled),
        reads=reads,
        previous_names=project.name == naming.FIRST_PROJECT,
        storage_root=storage_root,
    )


def _aliased(
    opts: pulumi.ResourceOptions, settings: StackSettings, project: ProjectSettings, item: str
) -> pulumi.ResourceOptions:
    """``opts`` with the alias of a project's component to its name from before the
    settings' schemaVersion 2, if it had one (``naming.previous_name``); its children's
    aliases follow from it."""
    previous = naming.previous_name(settings.environment, project.name, item)
    if previous is None:
        return opts
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=previous)])
    )


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Runs a program's evaluation with Python's cyclic garbage collector paused; it
    collects the cycles left behind on its next run, after the evaluation.

    Each resource the program registers leaves thousands of short-lived objects in the
    SDK's asyncio machinery (futures, tasks, outputs), many in reference cycles, so the
    collector runs over and over an ever larger heap while the program runs: with 20
    projects that doubled the evaluation (``bench/plan_projects.py``). Reference counting
    still frees everything outside cycles; the peak memory of a 20-project evaluation is
    the same either way. ``infra/__main__.py`` pauses it for the whole process instead, as
    the SDK goes on registering resources after the program's module has returned.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def deploy(settings: StackSettings, code: CodePackage) -> Deployment:
    """Register every resource of the stack and export the stack outputs."""
    env, groups = settings.environment, settings.groups
    # Credentials come from the environment (DATABRICKS_TOKEN, or OAuth client id/secret,
    # or OIDC in CI); only the host is configuration.
    provider = databricks.Provider(
        naming.resource_name(env, "databricks"), host=settings.workspace_host
    )
    deployment = Deployment(provider=provider)
    opts = pulumi.ResourceOptions(providers=[provider])

    # First, so that the catalog or schemas can be created with their storage root there.
    storage = lakehouse_storage(settings, provider)
    folder = StackFolder(
        naming.resource_name(env, "folder"),
        StackFolderArgs(
            path=stack_folder(env),
            runners=settings.runners,
            readers=groups.readers,
            ml_team=groups.ml_team,
            projects=settings.project_names,
            protect=settings.protect,
        ),
        opts,
    )
    access = CatalogAccess(
        naming.resource_name(env, "catalog"),
        CatalogAccessArgs(
            catalog=settings.catalog,
            readers=groups.readers,
            schemas=[
                project_schema(settings, p, storage.component if storage else None)
                for p in settings.projects
            ],
            loaders=groups.ml_team,
            protect=settings.protect,
            sql_warehouse_id=settings.sql_warehouse_id,
            storage_root=storage.component.storage_root if storage is not None else None,
            owns_catalog=settings.storage.owns_catalog,
        ),
        opts,
    )
    # One wheel per stack, on a volume in the first project's schema.
    first = settings.projects[0]
    pipeline_code = PipelineCode(
        naming.resource_name(env, "code"),
        PipelineCodeArgs(
            catalog=settings.catalog,
            schema=access.schemas[first.name].name,
            volume=settings.code_volume,
            code_version=code.version,
            wheel_file=code.wheel_file,
            runners=settings.runners,
        ),
        opts,
    )
    deployment.components = [folder, access, pipeline_code]
    for project in settings.projects:
        built = deploy_project(settings, project, code, folder, access, pipeline_code, opts)
        deployment.projects[project.name] = built
        # The retraining job is the monitor's child: the monitor stands for both.
        deployment.components += [
            built.artifacts,
            *(job for key, job in built.jobs.items() if key != "monitoring"),
            *([built.monitor] if built.monitor is not None else []),
        ]
    if storage is not None:
        deployment.aws_provider = storage.provider
        deployment.components.append(storage.component)
    deployment.exports = stack_outputs(
        settings,
        projects=deployment.projects,
        wheel_path=pipeline_code.wheel_path,
        code_version=code.version,
        storage=storage.component if storage is not None else None,
    )
    for key, value in deployment.exports.items():
        pulumi.export(key, value)
    return deployment


@dataclass(frozen=True)
class ProjectJobArgs:
    """A project's jobs as the stack deploys them, as data: the narrow args of each job
    component (``retraining`` is None when the project's monitoring is disabled). The
    program builds its components from them; ``mlops demo`` runs the same specs locally."""

    feature_engineering: FeatureEngineeringJobArgs
    training: TrainingJobArgs
    batch_inference: BatchInferenceJobArgs
    retraining: RetrainingJobArgs | None = None


def code_wheel_path(settings: StackSettings, code_version: str) -> str:
    """Where ``PipelineCode`` puts the wheel of ``code_version``: on the code volume in
    the first project's schema."""
    return (
        f"/Volumes/{settings.catalog}/{settings.code_schema}/{settings.code_volume}"
        f"/{code_version}/{wheel_name()}"
    )


def project_job_args(
    settings: StackSettings,
    project: ProjectSettings,
    code_version: str,
    wheel_path: pulumi.Input[str] | None = None,
    training_job_id: pulumi.Input[int] = 0,
    depends_on: Sequence[pulumi.Resource] = (),
) -> ProjectJobArgs:
    """The args of ``project``'s jobs from the settings: every task that works on the
    project's tables gets ``project`` and all its tables (``--tables``), the monitoring
    tasks the project. ``wheel_path`` defaults to where the stack uploads the wheel;
    ``training_job_id`` is the id of the training job the retraining job starts (known
    once the training job is registered)."""
    env, runner = settings.environment, project.runner
    name = project.name
    code = JobCode(
        wheel_path=wheel_path
        if wheel_path is not None
        else code_wheel_path(settings, code_version),
        code_version=code_version,
        notebook_folder=naming.notebook_folder(env, code_version, name),
    )
    host = settings.workspace_host
    data = {"project": name, "tables": str(project.table_map())}
    training, validation, monitoring = project.training, project.validation, project.monitoring
    # The retraining job starts the training job as its own run-as identity, the runner.
    starts_training = (runner,) if monitoring.enabled and runner else ()
    training_args = TrainingJobArgs(
        job=job_settings(settings, project, "training", may_run=starts_training),
        code=code,
        workspace_host=host,
        data=data,
        model_name=project.model_full_name,
        experiment_path=project.experiment_path,
        lookback_days=training.lookback_days,
        holdout_days=training.holdout_days,
        training={"max_iter": training.max_iter, "learning_rate": training.learning_rate},
        validation={"run_mode": validation.run_mode, **validation.limits()},
        depends_on=depends_on,
    )
    retraining = None
    if monitoring.enabled:
        predictions = project.predictions
        profile_table, _ = naming.metric_tables(predictions)
        retraining = RetrainingJobArgs(
            job=job_settings(settings, project, "monitoring"),
            code=code,
            workspace_host=host,
            labels={**data, "inference_table": predictions},
            refresh={
                "project": name,
                "inference_table": predictions,
                "granularities": ",".join(monitoring.granularities),
                "baseline_table": monitoring.baseline_table,
            },
            rule={
                "project": name,
                "profile_metrics_table": profile_table,
                "metric": monitoring.metric,
                "threshold": monitoring.threshold,
                "violated_when": monitoring.violated_when,
                "evaluation_windows": monitoring.evaluation_windows,
                "violation_windows": monitoring.violation_windows,
                "granularity": monitoring.granularity,
            },
            lookback_days=monitoring.lookback_days,
            training_job_id=training_job_id,
            training_timeout_seconds=training_job(training_args).timeout_seconds,
            depends_on=depends_on,
        )
    return ProjectJobArgs(
        feature_engineering=FeatureEngineeringJobArgs(
            job=job_settings(settings, project, "feature_engineering"),
            code=code,
            workspace_host=host,
            data=data,
            depends_on=depends_on,
        ),
        training=training_args,
        batch_inference=BatchInferenceJobArgs(
            job=job_settings(settings, project, "batch_inference"),
            code=code,
            workspace_host=host,
            data=data,
            output_table=project.predictions,
            model_name=project.model_full_name,
            depends_on=depends_on,
        ),
        retraining=retraining,
    )


def deploy_project(
    settings: StackSettings,
    project: ProjectSettings,
    code: CodePackage,
    folder: StackFolder,
    access: CatalogAccess,
    pipeline_code: PipelineCode,
    opts: pulumi.ResourceOptions,
) -> ProjectDeployment:
    """One project's model, experiment, jobs and (when enabled) monitor."""
    env, groups, runner = settings.environment, settings.groups, project.runner
    name = project.name

    def resource(item: str) -> str:
        return naming.project_resource_name(env, name, item)

    artifacts = MlArtifacts(
        resource("ml"),
        MlArtifactsArgs(
            host=settings.workspace_host,
            catalog=settings.catalog,
            schema=access.schemas[name].name,
            model_name=project.model_name,
            experiment_path=project.experiment_path,
            runner=runner,
            owners=project.model_owners,
            readers=groups.readers,
            ml_team=groups.ml_team,
            experiment_folder=folder.project_directories[name],
            protect=settings.protect,
            title=project.declaration.title,
        ),
        _aliased(opts, settings, project, "ml"),
    )
    jobs = project_job_args(
        settings,
        project,
        code.version,
        wheel_path=pipeline_code.wheel_path,
        # The project's own folders, tables and grants, not the whole folder and catalog
        # components (see CatalogAccess.used_by).
        depends_on=(*folder.used_by(name), *access.used_by(name), artifacts, pipeline_code),
    )
    feature_engineering = FeatureEngineeringJob(
        resource("feature-engineering"),
        jobs.feature_engineering,
        _aliased(opts, settings, project, "feature-engineering"),
    )
    training = TrainingJob(
        resource("training"), jobs.training, _aliased(opts, settings, project, "training")
    )
    batch_inference = BatchInferenceJob(
        resource("batch-inference"),
        jobs.batch_inference,
        _aliased(opts, settings, project, "batch-inference"),
    )
    built = ProjectDeployment(
        artifacts=artifacts,
        jobs={
            "featureEngineering": feature_engineering,
            "training": training,
            "batchInference": batch_inference,
        },
    )
    if jobs.retraining is None:
        return built
    monitoring, predictions = project.monitoring, project.predictions
    monitored = MonitoredTable(
        resource("monitoring"),
        MonitoredTableArgs(
            table_name=predictions,
            table=access.tables[predictions],
            inference_log=inference_log(project),
            granularities=monitoring.granularities,
            assets_dir=naming.monitoring_assets_dir(env, name),
            assets_folder=folder.project_directories[name],
            readers=groups.readers,
            ml_team=groups.ml_team,
            runner=runner,
            warehouse_id=settings.sql_warehouse_id,
            baseline_table=monitoring.baseline_table,
            slicing_exprs=monitoring.slicing_exprs,
            # No schedule where schedules are paused: a monitor's cannot be.
            schedule=None
            if settings.schedules_paused or monitoring.refresh_schedule is None
            else _schedule(monitoring.refresh_schedule, paused=False),
            notification_emails=settings.notification_emails,
            retraining=replace(jobs.retraining, training_job_id=training.job.id.apply(int)),
        ),
        _aliased(opts, settings, project, "monitoring"),
    )
    built.monitor = monitored
    built.jobs["monitoring"] = monitored.retraining
    return built


@dataclass(frozen=True)
class StackStorage:
    """The AWS provider and the ``LakehouseStorage`` of a stack whose storage is enabled."""

    provider: aws.Provider
    component: LakehouseStorage


def lakehouse_storage(
    settings: StackSettings, databricks_provider: databricks.Provider
) -> StackStorage | None:
    """The stack's own S3 storage, when ``storage.enabled``; AWS credentials come from the
    environment (OIDC in CI), only the region is configuration."""
    storage, env = settings.storage, settings.environment
    if not storage.enabled:
        return None
    # The AWS provider's SDK only where storage is enabled: pulumi_aws puts some 250 lazy
    # submodules in sys.modules (pulumi/_utils.py ``lazy_import``), and skops, which saves
    # the models, looks an object up in every loaded module when it is imported
    # (skops/io/_utils.py ``whichmodule``), loading each of them: 20 s of the demo, which
    # builds the dev stack's jobs in the process that trains the models.
    import pulumi_aws as aws

    from infra.components.lakehouse_storage import LakehouseStorage, LakehouseStorageArgs

    tags = {**settings.tags, "project": PROJECT, "environment": env}
    aws_provider = aws.Provider(
        naming.resource_name(env, "aws"),
        region=storage.aws_region,
        default_tags=aws.ProviderDefaultTagsArgs(tags=tags),
    )
    component = LakehouseStorage(
        naming.resource_name(env, "storage"),
        LakehouseStorageArgs(
            bucket_name=storage.bucket_name,
            role_name=naming.resource_name(env, "uc-storage"),
            aws_account_id=storage.aws_account_id,
            unity_catalog_role_arn=storage.unity_catalog_role_arn,
            prefix=settings.catalog,
            deployer=settings.principals.deployer,
            force_destroy=storage.force_destroy,
            protect=settings.protect,
        ),
        pulumi.ResourceOptions(providers=[databricks_provider, aws_provider]),
    )
    return StackStorage(provider=aws_provider, component=component)
