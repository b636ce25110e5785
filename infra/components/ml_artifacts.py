"""MlArtifacts: the Unity Catalog registered model, the MLflow experiment, and who may use them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_databricks as databricks

from infra import naming
from infra.components.workspace_acl import readers_and_runner

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
    owners: the account group that owns the model, holding the deployer and the runner
        (``None`` in dev: whoever deploys owns it).
    readers: the group that may load the model and read the runs.
    ml_team: the group that reads the runs.
    experiment_folder: the resource that creates the experiment's folder, if the stack
        creates it (``StackFolder``); the experiment waits for it.
    protect: keep the model from being deleted by Pulumi (prod).
    title: what the model predicts, for its comment (a project's title).
    """

    host: str
    catalog: str
    schema: pulumi.Input[str]
    model_name: str
    experiment_path: str
    runner: str | None
    readers: str
    ml_team: str
    owners: str | None = None
    experiment_folder: pulumi.Resource | None = None
    protect: bool = False
    title: str = "The"


class MlArtifacts(pulumi.ComponentResource):
    """The registered model and the experiment the training job logs to.

    Only the owner of a Unity Catalog registered model (or a metastore admin) may move its
    aliases, update or delete it; reading it needs ownership or EXECUTE (docs/platform.md,
    "Registered model ownership"). The training and deployment tasks move the aliases as
    the runner, and Pulumi reads, updates and deletes the model as the deployer, so in
    staging and prod the model is owned by an account group holding exactly those two
    (``owners``). Readers get EXECUTE; nobody else gets anything. The model's grants are
    authoritative, so a privilege granted by hand is revoked on the next ``pulumi up``.
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
            owner=args.owners,
            comment=f"{args.title} model. Versions come from the training job; the deployment"
            " task moves the 'champion' and 'challenger' aliases.",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        # The owners hold every privilege on the model already; readers may load it.
        self.model_grants = databricks.Grants(
            f"{name}-model-grants",
            model=self.registered_model.id,
            grants=[databricks.GrantsGrantArgs(principal=args.readers, privileges=["EXECUTE"])],
            opts=child,
        )

        # No description: the provider deprecates it and never sends it (docs/platform.md,
        # "Experiments and job timeouts").
        folder = [args.experiment_folder] if args.experiment_folder is not None else []
        self.experiment = databricks.MlflowExperiment(
            f"{name}-experiment",
            name=args.experiment_path,
            opts=pulumi.ResourceOptions(parent=self, depends_on=folder),
        )
        access = readers_and_runner(args.runner, "CAN_EDIT", args.readers, args.ml_team)
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
