"""PipelineCode: the `pipelines` package as a wheel on a Unity Catalog volume, content-addressed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_databricks as databricks

TYPE = "mlops-stack:code:PipelineCode"


@dataclass(frozen=True)
class PipelineCodeArgs:
    """What PipelineCode needs.

    catalog, schema: where the code volume is created (``schema`` may be an output of the
        schema resource, so the volume waits for it).
    volume: the volume's name.
    code_version: content hash of ``pipelines/`` (``pipelines.common.code_version``); it
        names the folder the wheel goes to, so any code change is a new path that every job
        pins, and ``pulumi preview`` shows it.
    wheel_file: the local wheel to upload (built by ``infra.wheel`` before the program runs).
    runners: application ids of the service principals the jobs run as (none in dev):
        every project's jobs install the one wheel.
    """

    catalog: str
    schema: pulumi.Input[str]
    volume: str
    code_version: str
    wheel_file: str
    runners: Sequence[str] = ()


class PipelineCode(pulumi.ComponentResource):
    """A managed volume holding one folder per code version, with the wheel in it.

    The runners may read the volume (to install the wheel) and nothing more; grants on it
    are authoritative, since the stack owns the volume.
    """

    volume: databricks.Volume
    wheel: databricks.File

    def __init__(
        self, name: str, args: PipelineCodeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.volume = databricks.Volume(
            f"{name}-volume",
            catalog_name=args.catalog,
            schema_name=args.schema,
            name=args.volume,
            volume_type="MANAGED",
            comment="Wheels of mlops-stack's pipelines, one folder per code version.",
            opts=child,
        )
        if args.runners:
            self.volume_grants = databricks.Grants(
                f"{name}-volume-grants",
                volume=self.volume.id,
                grants=[
                    databricks.GrantsGrantArgs(principal=runner, privileges=["READ_VOLUME"])
                    for runner in args.runners
                ],
                opts=child,
            )
        wheel_name = args.wheel_file.replace("\\", "/").rsplit("/", 1)[-1]
        self.wheel_path = pulumi.Output.concat(
            "/Volumes/",
            args.catalog,
            "/",
            self.volume.schema_name,
            "/",
            self.volume.name,
            f"/{args.code_version}/{wheel_name}",
        )
        self.wheel = databricks.File(
            f"{name}-wheel",
            path=self.wheel_path,
            source=args.wheel_file,
            opts=child,
        )
        self.code_version = args.code_version
        self.register_outputs({"wheel_path": self.wheel_path, "code_version": self.code_version})
