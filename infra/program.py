"""The program: settings -> components -> exports. ``__main__`` and the offline render
both run it; neither adds anything of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_databricks as databricks

from infra import naming
from infra.components.batch_inference_job import BatchInferenceJob
from infra.components.catalog_access import CatalogAccess, CatalogAccessArgs, Column, OutputTable
from infra.components.feature_engineering_job import FeatureEngineeringJob
from infra.components.lakehouse_storage import LakehouseStorage, LakehouseStorageArgs
from infra.components.ml_artifacts import MlArtifacts, MlArtifactsArgs
from infra.components.monitored_table import MonitoredTable, MonitoredTableArgs
from infra.components.pipeline_code import PipelineCode, PipelineCodeArgs
from infra.components.scheduled_job import ScheduledJob, ScheduledJobArgs
from infra.components.stack_folder import StackFolder, StackFolderArgs
from infra.components.training_job import TrainingJob
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
    job_args = ScheduledJobArgs(
        settings=settings,
        wheel_path=pipeline_code.wheel_path,
        code_version=code.version,
        notebook_folder=naming.notebook_folder(env, code.version),
        depends_on=(folder, access, artifacts, pipeline_code),
    )
    jobs: dict[str, ScheduledJob] = {
        "featureEngineering": FeatureEngineeringJob(
            naming.resource_name(env, "feature-engineering"), job_args, opts
        ),
        "training": TrainingJob(naming.resource_name(env, "training"), job_args, opts),
        "batchInference": BatchInferenceJob(
            naming.resource_name(env, "batch-inference"), job_args, opts
        ),
    }
    deployment.components = [folder, access, artifacts, pipeline_code, *jobs.values()]
    monitored = None
    if settings.monitoring.enabled:
        monitored = MonitoredTable(
            naming.resource_name(env, "monitoring"),
            MonitoredTableArgs(
                settings=settings,
                table=access.tables[settings.tables.predictions],
                training=jobs["training"],
                job=job_args,
                assets_folder=folder,
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
