"""MlArtifacts: the Unity Catalog registered model, the MLflow experiment, and who may use them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_databricks as databricks

from infra import naming

TYPE = "mlops-stack:ml:MlArtifacts"


@dataclass(frozen=True)
class MlArtifactsArgs:
    """What MlArtifacts needs.

    host: the workspace URL, for the links in the outputs.
    catalog, schema: where the model is registered; the schema must exist (``schema`` may
        be the ``CatalogAccess`` schema's name output, so the model waits for it).
    model_name: the model's name inside the schema.
    experiment_path: the MLflow experiment's workspace path.
    runner: application id of the service principal the jobs run as (``None`` in dev).
    readers: the group that may load the model and read the runs.
    ml_team: the group that reads the runs.
    protect: keep the model from being deleted by Pulumi (prod).
    """

    host: str
    catalog: str
    schema: pulumi.Input[str]
    model_name: str
    experiment_path: str
    runner: str | None
    readers: str
    ml_team: str
    protect: bool = False


class MlArtifacts(pulumi.ComponentResource):
    """The registered model and the experiment the training job logs to.

    In Unity Catalog only the owner of a registered model (or a metastore admin) may create
    versions and move aliases, and the training and deployment tasks do both; so in staging
    and prod the runner owns the model, while the deployer keeps control through owning the
    schema. Everyone else gets EXECUTE at most; the model's grants are authoritative, so a
    privilege granted by hand is revoked on the next ``pulumi up``.
    """

    registered_model: databricks.RegisteredModel
    experiment: databricks.MlflowExperiment

    def __init__(
        self, name: str, args: MlArtifactsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        full_name = pulumi.Output.concat(args.catalog, ".", args.schema, ".", args.model_name)

        self.registered_model = databricks.RegisteredModel(
            f"{name}-model",
            catalog_name=args.catalog,
            schema_name=args.schema,
            name=args.model_name,
            owner=args.runner,
            comment="NYC taxi fare model. Versions come from the training job; the deployment"
            " task moves the 'champion' and 'challenger' aliases.",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        model_grants = [databricks.GrantsGrantArgs(principal=args.readers, privileges=["EXECUTE"])]
        if args.runner:
            model_grants.insert(
                0, databricks.GrantsGrantArgs(principal=args.runner, privileges=["EXECUTE"])
            )
        self.model_grants = databricks.Grants(
            f"{name}-model-grants",
            model=self.registered_model.id,
            grants=model_grants,
            opts=child,
        )

        self.experiment = databricks.MlflowExperiment(
            f"{name}-experiment",
            name=args.experiment_path,
            description="Runs of the training and validation tasks of mlops-stack.",
            opts=child,
        )
        access = [
            databricks.PermissionsAccessControlArgs(
                group_name=args.readers, permission_level="CAN_READ"
            ),
            databricks.PermissionsAccessControlArgs(
                group_name=args.ml_team, permission_level="CAN_READ"
            ),
        ]
        if args.runner:
            access.insert(
                0,
                databricks.PermissionsAccessControlArgs(
                    service_principal_name=args.runner, permission_level="CAN_EDIT"
                ),
            )
        self.experiment_permissions = databricks.Permissions(
            f"{name}-experiment-permissions",
            experiment_id=self.experiment.id,
            access_controls=access,
            opts=child,
        )

        self.model_name = full_name
        self.model_url = full_name.apply(lambda full: naming.model_url(args.host, full))
        self.experiment_id = self.experiment.id
        self.experiment_url = self.experiment.id.apply(
            lambda experiment_id: naming.experiment_url(args.host, experiment_id)
        )
        self.register_outputs(
            {
                "model_name": self.model_name,
                "model_url": self.model_url,
                "experiment_id": self.experiment_id,
                "experiment_url": self.experiment_url,
            }
        )
