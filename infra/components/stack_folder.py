"""StackFolder: the workspace folder a stack owns, for what lives in the workspace."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_databricks as databricks

from infra.components.workspace_acl import readers_and_runner

TYPE = "mlops-stack:workspace:StackFolder"


@dataclass(frozen=True)
class StackFolderArgs:
    """What StackFolder needs.

    path: the folder, e.g. ``/Shared/mlops-stack/prod`` (``settings.stack_folder``).
    runner: application id of the service principal the jobs run as (``None`` in dev): it
        reads the task notebooks kept here.
    readers: the group that may look at what the folder holds.
    ml_team: the group that also reads it (and runs the jobs).
    protect: keep the folder from being deleted by Pulumi (prod).
    """

    path: str
    runner: str | None
    readers: str
    ml_team: str
    protect: bool = False


class StackFolder(pulumi.ComponentResource):
    """The stack's own workspace folder and who may read it.

    MLflow creates no missing folder for an experiment, and the provider creates none for
    one either, so the stack creates the folder its experiment, its task notebooks and its
    monitor's dashboard go into (docs/platform.md, "Workspace folders"). The provider makes
    it with ``mkdirs``, which also creates ``/Shared/mlops-stack`` when missing and adopts a
    folder that exists already. The folder is the stack's: destroying the stack removes it
    with what it holds (``delete_recursive``), except in prod, where it is protected.

    Permissions on a folder pass to what it holds: the runner and both groups may read
    (CAN_READ); the deployer, who creates it, manages it. The experiment keeps its own,
    narrower list.
    """

    directory: databricks.Directory
    permissions: databricks.Permissions

    def __init__(
        self, name: str, args: StackFolderArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        self.directory = databricks.Directory(
            f"{name}-directory",
            path=args.path,
            delete_recursive=True,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        access = readers_and_runner(args.runner, "CAN_READ", args.readers, args.ml_team)
        self.permissions = databricks.Permissions(
            f"{name}-permissions",
            directory_path=self.directory.path,
            access_controls=access,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.path = self.directory.path
        self.register_outputs({"path": self.path})
