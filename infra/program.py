"""The program: settings -> components -> exports. ``__main__`` and the offline render
both run it; neither adds anything of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_databricks as databricks

from infra import naming
from infra.components.batch_inference_job import BatchInferenceJob, BatchInferenceJobArgs
from infra.components.catalog_access import CatalogAccess, CatalogAccessArgs, Column, OutputTable
from infra.components.feature_engineering_job import (
    FeatureEngineeringJob,
    FeatureEngineeringJobArgs,
)
from infra.components.lakehouse_storage import LakehouseStorage, LakehouseStorageArgs
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
from infra.components.training_job import TrainingJob, TrainingJobArgs
from infra.outputs import stack_outputs
from infra.settings import PROJECT, StackSettings, stack_folder


@dataclass(frozen=True)
class CodePackage:
    """The code the jobs run: its content hash and the local wheel to upload."""

    version: str
    wheel_file: str


@dataclass
class Deployment:
    """What the program built: the providers, the top-level components, and the exports."""

    provider: databricks.Provider
    aws_provider: aws.Provider | None = None
    components: list[pulumi.ComponentResource] = field(default_factory=list)
    jobs: dict[str, ScheduledJob] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)


def _schedule(schedule: Any, paused: bool) -> Schedule:
    return Schedule(cron=schedule.cron, timezone=schedule.timezone, paused=paused)


def job_settings(settings: StackSettings, job: str, may_run: tuple[str, ...] = ()) -> JobSettings:
    """What the stack's job ``job`` (a ``schedules`` key) takes from the settings: its name
    and schedule, the compute, retries, run-as identity, tags and who may see and run it
    (readers view it, the ML team runs and repairs it; ``may_run`` lists the service
    principals that may also start it)."""
    compute, policy, groups = settings.compute, settings.jobs, settings.groups
    return JobSettings(
        name=naming.resource_name(settings.environment, job.replace("_", "-")),
        schedule=_schedule(settings.schedules[job], paused=settings.schedules_paused),
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
        run_as=settings.principals.runner,
        permissions=(
            *(Permission(sp, "CAN_MANAGE_RUN", "service_principal") for sp in may_run),
            Permission(groups.readers, "CAN_VIEW"),
            Permission(groups.ml_team, "CAN_MANAGE_RUN"),
        ),
        tags={**settings.tags, "project": PROJECT, "environment": settings.environment},
        notification_emails=tuple(settings.notification_emails),
    )


def fare_inference_log() -> InferenceLog:
    """The fare model's predictions table as the monitor reads it
    (``pipelines.common.schemas.INFERENCE``)."""
    from pipelines.common import schemas

    return InferenceLog(
        problem_type="PROBLEM_TYPE_REGRESSION",
        prediction_col=schemas.PREDICTION,
        label_col=schemas.LABEL,
        model_id_col=schemas.MODEL_VERSION_COL,
        timestamp_col=schemas.TIMESTAMP,
    )


def output_tables(settings: StackSettings) -> list[OutputTable]:
    """The tables the stack creates in its schema (what the jobs write, and inputs that
    live there), with the columns of the pipelines' own table contracts."""
    from pipelines.common import schemas

    def columns(struct: Any, keys: tuple[str, ...] = ()) -> list[Column]:
        return [
            Column(
                name=f.name,
                type=f.dataType.simpleString().upper(),
                nullable=f.name not in keys,
                comment="primary key" if f.name in keys else None,
            )
            for f in struct.fields
        ]

    feature_keys = ("zip", "window_end")
    tables = settings.tables
    home = f"{settings.catalog}.{settings.schema}."
    # An input table in the stack's own schema exists only if the stack creates it.
    inputs = [
        OutputTable(
            name,
            columns(struct, (schemas.TRIP_ID,)),
            f"{what}; loaded by the ML team's group, read by the jobs. Created by the stack"
            " because it lives in the stack's schema.",
            written_by_runner=False,
        )
        for name, struct, what in (
            (tables.trips, schemas.TRIPS, "Raw trips with their fares, keyed by trip_id"),
            (
                tables.inference_requests,
                schemas.REQUESTS,
                "Scoring requests (trips without their fare), keyed by trip_id",
            ),
        )
        if name.startswith(home)
    ]
    return [
        *inputs,
        OutputTable(
            tables.pickup_features,
            columns(schemas.PICKUP_FEATURES, feature_keys),
            "Pickup-zip features per 1 h window sliding by 15 min; key (zip, window_end),"
            " window_end is the timestamp key.",
        ),
        OutputTable(
            tables.dropoff_features,
            columns(schemas.DROPOFF_FEATURES, feature_keys),
            "Dropoff-zip features per 30 min window; key (zip, window_end), window_end is the"
            " timestamp key.",
        ),
        OutputTable(
            tables.predictions,
            columns(schemas.INFERENCE),
            "Inference table: requests, prediction, model_version, timestamp, and the fare"
            " once known.",
            readable_by_readers=True,
            # The quality monitor reads changes incrementally.
            properties={"delta.enableChangeDataFeed": "true"},
            monitor_refreshed_by_runner=settings.monitoring.enabled,
        ),
    ]


def deploy(settings: StackSettings, code: CodePackage) -> Deployment:
    """Register every resource of the stack and export the stack outputs."""
    env, runner, groups = settings.environment, settings.principals.runner, settings.groups
    # Credentials come from the environment (DATABRICKS_TOKEN, or OAuth client id/secret,
    # or OIDC in CI); only the host is configuration.
    provider = databricks.Provider(
        naming.resource_name(env, "databricks"), host=settings.workspace_host
    )
    deployment = Deployment(provider=provider)
    opts = pulumi.ResourceOptions(providers=[provider])

    # First, so that the catalog or schema can be created with its storage root there.
    storage = lakehouse_storage(settings, provider)
    folder = StackFolder(
        naming.resource_name(env, "folder"),
        StackFolderArgs(
            path=stack_folder(env),
            runner=runner,
            readers=groups.readers,
            ml_team=groups.ml_team,
            protect=settings.protect,
        ),
        opts,
    )
    access = CatalogAccess(
        naming.resource_name(env, "catalog"),
        CatalogAccessArgs(
            catalog=settings.catalog,
            schema=settings.schema,
            runner=runner,
            readers=groups.readers,
            input_tables=settings.tables.inputs,
            output_tables=output_tables(settings),
            loaders=groups.ml_team,
            protect=settings.protect,
            sql_warehouse_id=settings.sql_warehouse_id,
            storage_root=storage.component.storage_root if storage is not None else None,
            owns_catalog=settings.storage.owns_catalog,
        ),
        opts,
    )
    artifacts = MlArtifacts(
        naming.resource_name(env, "ml"),
        MlArtifactsArgs(
            host=settings.workspace_host,
            catalog=settings.catalog,
            schema=access.schema.name,
            model_name=settings.model_name,
            experiment_path=settings.experiment_path,
            runner=runner,
            owners=groups.model_owners,
            readers=groups.readers,
            ml_team=groups.ml_team,
            experiment_folder=folder,
            protect=settings.protect,
        ),
        opts,
    )
    pipeline_code = PipelineCode(
        naming.resource_name(env, "code"),
        PipelineCodeArgs(
            catalog=settings.catalog,
            schema=access.schema.name,
            volume=settings.code_volume,
            code_version=code.version,
            wheel_file=code.wheel_file,
            runner=runner,
        ),
        opts,
    )
    code_args = JobCode(
        wheel_path=pipeline_code.wheel_path,
        code_version=code.version,
        notebook_folder=naming.notebook_folder(env, code.version),
    )
    host = settings.workspace_host
    uses = (folder, access, artifacts, pipeline_code)
    tables, training, validation = settings.tables, settings.training, settings.validation
    labelled = {
        "input_table": tables.trips,
        "pickup_features_table": tables.pickup_features,
        "dropoff_features_table": tables.dropoff_features,
    }
    feature_engineering = FeatureEngineeringJob(
        naming.resource_name(env, "feature-engineering"),
        FeatureEngineeringJobArgs(
            job=job_settings(settings, "feature_engineering"),
            code=code_args,
            workspace_host=host,
            data=labelled,
            depends_on=uses,
        ),
        opts,
    )
    monitoring = settings.monitoring
    # The retraining job starts the training job as its own run-as identity, the runner.
    starts_training = (runner,) if monitoring.enabled and runner else ()
    training_job = TrainingJob(
        naming.resource_name(env, "training"),
        TrainingJobArgs(
            job=job_settings(settings, "training", may_run=starts_training),
            code=code_args,
            workspace_host=host,
            data=labelled,
            model_name=settings.model_full_name,
            experiment_path=settings.experiment_path,
            lookback_days=training.lookback_days,
            holdout_days=training.holdout_days,
            training={"max_iter": training.max_iter, "learning_rate": training.learning_rate},
            validation={
                "run_mode": validation.run_mode,
                "max_rmse": validation.max_rmse,
                "max_mae": validation.max_mae,
                "min_r2": validation.min_r2,
                "max_rmse_increase": validation.max_rmse_increase,
            },
            depends_on=uses,
        ),
        opts,
    )
    batch_inference = BatchInferenceJob(
        naming.resource_name(env, "batch-inference"),
        BatchInferenceJobArgs(
            job=job_settings(settings, "batch_inference"),
            code=code_args,
            workspace_host=host,
            data={
                "input_table": tables.inference_requests,
                "pickup_features_table": tables.pickup_features,
                "dropoff_features_table": tables.dropoff_features,
            },
            output_table=tables.predictions,
            model_name=settings.model_full_name,
            depends_on=uses,
        ),
        opts,
    )
    jobs: dict[str, ScheduledJob] = {
        "featureEngineering": feature_engineering,
        "training": training_job,
        "batchInference": batch_inference,
    }
    deployment.components = [folder, access, artifacts, pipeline_code, *jobs.values()]
    monitored = None
    if monitoring.enabled:
        profile_table, _ = naming.metric_tables(tables.predictions)
        refresh: dict[str, Any] = {
            "inference_table": tables.predictions,
            "granularities": ",".join(monitoring.granularities),
            "baseline_table": monitoring.baseline_table,
        }
        monitored = MonitoredTable(
            naming.resource_name(env, "monitoring"),
            MonitoredTableArgs(
                table_name=tables.predictions,
                table=access.tables[tables.predictions],
                inference_log=fare_inference_log(),
                granularities=monitoring.granularities,
                assets_dir=naming.monitoring_assets_dir(env),
                assets_folder=folder,
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
                retraining=RetrainingJobArgs(
                    job=job_settings(settings, "monitoring"),
                    code=code_args,
                    workspace_host=host,
                    labels={"inference_table": tables.predictions, "labels_table": tables.trips},
                    refresh=refresh,
                    rule={
                        "profile_metrics_table": profile_table,
                        "metric": monitoring.metric,
                        "threshold": monitoring.threshold,
                        "violated_when": monitoring.violated_when,
                        "evaluation_windows": monitoring.evaluation_windows,
                        "violation_windows": monitoring.violation_windows,
                        "granularity": monitoring.granularity,
                    },
                    lookback_days=monitoring.lookback_days,
                    training_job_id=training_job.job.id.apply(int),
                    training_timeout_seconds=training_job.timeout_seconds,
                    depends_on=uses,
                ),
            ),
            opts,
        )
        deployment.components.append(monitored)
        jobs["monitoring"] = monitored.retraining
    if storage is not None:
        deployment.aws_provider = storage.provider
        deployment.components.append(storage.component)
    deployment.jobs = jobs
    deployment.exports = stack_outputs(
        settings,
        model_url=artifacts.model_url,
        experiment_id=artifacts.experiment_id,
        experiment_url=artifacts.experiment_url,
        jobs=jobs,
        wheel_path=pipeline_code.wheel_path,
        code_version=code.version,
        monitor=monitored,
        storage=storage.component if storage is not None else None,
    )
    for key, value in deployment.exports.items():
        pulumi.export(key, value)
    return deployment


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
