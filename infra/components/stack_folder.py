"""StackFolder: the workspace folder a stack owns, for what lives in the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_databricks as databricks

from infra.components.workspace_acl import readers_and_runners

TYPE = "mlops-stack:workspace:StackFolder"


@dataclass(frozen=True)
class StackFolderArgs:
    """What StackFolder needs.

    path: the folder, e.g. ``/Shared/mlops-stack/prod`` (``settings.stack_folder``).
    runners: application ids of the service principals the jobs run as (none in dev): they
        read the task notebooks kept here.
    readers: the group that may look at what the folder holds.
    ml_team: the group that also reads it (and runs the jobs).
    projects: a folder is created in it for each (``settings.project_folder``), for the
        project's experiment and monitoring assets.
    protect: keep the folders from being deleted by Pulumi (prod).
    """

    path: str
    runners: Sequence[str]
    readers: str
    ml_team: str
    projects: Sequence[str] = ()
    protect: bool = False


class StackFolder(pulumi.ComponentResource):
    """The stack's own workspace folder, a folder in it per project, and who may read them.

    MLflow creates no missing folder for an experiment, and the provider creates none for
    one either, so the stack creates the folders its experiments, its task notebooks and
    its monitors' dashboards go into (docs/platform.md, "Workspace folders"): the task
    notebooks in its own, each project's experiment and dashboard in the project's. The
    provider makes them with ``mkdirs``, which also creates ``/Shared/mlops-stack`` when
    missing and adopts a folder that exists already. The folders are the stack's:
    destroying the stack removes them with what they hold (``delete_recursive``), except in
    prod, where they are protected.

    Permissions on a folder pass to what it holds: the runners and both groups may read
    (CAN_READ); the deployer, who creates it, manages it. The experiments keep their own,
    narrower lists.
    """

    directory: databricks.Directory
    permissions: databricks.Permissions
    project_directories: dict[str, databricks.Directory]

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
        self.project_directories = {
            project: databricks.Directory(
                f"{name}-{project}-directory",
                path=f"{args.path}/{project}",
                delete_recursive=True,
                opts=pulumi.ResourceOptions(
                    parent=self, protect=args.protect, depends_on=[self.directory]
                ),
            )
            for project in args.projects
        }
        access = readers_and_runners(args.runners, "CAN_READ", args.readers, args.ml_team)
        self.permissions = databricks.Permissions(
            f"{name}-permissions",
            directory_path=self.directory.path,
            access_controls=access,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.path = self.directory.path
        self.register_outputs({"path": self.path})

    def used_by(self, project: str) -> list[pulumi.Resource]:
        """What ``project``'s jobs wait for: the stack's folder (where the task notebooks
        go), who may read it, and the project's own folder. Not the whole component: a
        dependency on a component is one on each of its children, so with it every job
        would wait on every project's folder, and the program's evaluation would grow
        with the square of the number of projects (``bench/plan_projects.py``)."""
        return [self.directory, self.permissions, self.project_directories[project]]
