"""CatalogAccess: the projects' schemas, the tables their jobs write, and least-privilege grants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi_databricks as databricks

TYPE = "mlops-stack:catalog:CatalogAccess"
_R = TypeVar("_R", bound=pulumi.Resource)


@dataclass(frozen=True)
class Column:
    """A column of a table the stack creates."""

    name: str
    type: str
    nullable: bool = True
    comment: str | None = None


@dataclass(frozen=True)
class OutputTable:
    """A table in the stack's schema, created (empty, with its contract's columns) by the
    stack, so that grants can name it on the first ``pulumi up``.

    written_by_runner: the jobs write it (SELECT and MODIFY for the runner); otherwise it
        is an input the jobs only read (SELECT), loaded by ``loaders``.
    readable_by_readers: the readers group may SELECT it.
    monitor_refreshed_by_runner: a quality monitor watches the table and a job refreshes
        it as the runner, who then also needs MANAGE on this table (see MonitoredTable).
    """

    full_name: str
    columns: Sequence[Column]
    comment: str
    readable_by_readers: bool = False
    properties: Mapping[str, str] = field(default_factory=dict)
    monitor_refreshed_by_runner: bool = False
    written_by_runner: bool = True


@dataclass(frozen=True)
class ProjectSchema:
    """One model project's place in the catalog: its schema and tables, and whose.

    project: the project's name; the names of its resources include it.
    schema: the schema this stack creates and owns for it inside ``catalog``.
    runner: application id of the service principal its jobs run as; ``None`` in dev,
        where jobs run as the person who deployed them and owns every object already.
    input_tables: tables its jobs only read. Those in its own schema must be in
        ``output_tables`` with ``written_by_runner=False``, since nothing else would create
        them; those in another project's schema must be that project's tables (and in
        ``reads``); the others exist already (someone else owns them).
    output_tables: the tables created here, in its schema.
    reads: tables of the stack's other projects its runner may read too (the settings'
        ``runnerReaches``): SELECT on each, and USE_SCHEMA on their schema.
    previous_names: the project's resources were named without it, when a stack deployed
        only this project (before schemaVersion 2 of the settings): each carries an alias
        to its old name, so that Pulumi updates it in place instead of replacing it.
    storage_root: the schema's own managed storage, if any (not when ``owns_catalog``: the
        schema then uses the catalog's). Unity Catalog refuses managed storage locations
        that overlap, so each schema has its own.
    """

    project: str
    schema: str
    runner: str | None
    input_tables: Sequence[str]
    output_tables: Sequence[OutputTable]
    reads: Sequence[str] = ()
    previous_names: bool = False
    storage_root: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class CatalogAccessArgs:
    """What CatalogAccess needs.

    catalog: the catalog the stack lives in: one that exists already (the platform team
        owns it), unless ``owns_catalog``.
    readers: the group that reads predictions.
    schemas: each project's schema and tables (``ProjectSchema``), in the stack's order.
    loaders: the group that loads the input tables the stack creates (SELECT, MODIFY).
    protect: keep the schemas and tables from being deleted by Pulumi (prod).
    sql_warehouse_id: the SQL warehouse that runs the table DDL, if any.
    storage_root: the catalog's storage root (``LakehouseStorage.storage_root``), when
        ``owns_catalog``; each schema's is its ``ProjectSchema.storage_root``.
    owns_catalog: create the catalog too, with ``storage_root`` as its storage root.
    """

    catalog: str
    readers: str
    schemas: Sequence[ProjectSchema]
    loaders: str | None = None
    protect: bool = False
    sql_warehouse_id: str | None = None
    storage_root: pulumi.Input[str] | None = None
    owns_catalog: bool = False

    @property
    def runners(self) -> list[str]:
        """The projects' runners, each once, in the projects' order."""
        return list(dict.fromkeys(s.runner for s in self.schemas if s.runner))


Privileges = dict[str, list[str]]  # principal -> privileges, in the order first granted


def _add(entries: Privileges, principal: str, privileges: Sequence[str]) -> None:
    held = entries.setdefault(principal, [])
    held.extend(p for p in privileges if p not in held)


class CatalogAccess(pulumi.ComponentResource):
    """The projects' schemas, the tables their jobs write, and every Unity Catalog grant
    the stack makes, for all projects of the stack at once.

    One component for every project, because some securables are shared: the catalog, and
    input tables (and their schemas) outside the stack that two projects read. Unity
    Catalog keeps one list of privileges per principal and securable, so each of those
    gets one grant per principal, whatever the number of projects reading it.

    Least privilege per project: each project's runner gets USE_SCHEMA and CREATE_TABLE
    on its own schema, SELECT and MODIFY on the tables its jobs write there, SELECT on its
    inputs, and SELECT (with USE_SCHEMA) on another project's tables only when the
    settings' ``runnerReaches`` names that project (``ProjectSchema.reads``). When all
    projects run as one runner, as the settings make them, its privileges are the union.

    Which grants are authoritative, and why:
    - On what this stack owns (its schemas, the tables it creates, and the catalog when it
      creates that too) grants are authoritative (``databricks.Grants``): the stack's list
      is the whole list, so a privilege granted by hand is revoked on the next
      ``pulumi up`` and drift shows in ``pulumi preview``.
    - On what others own (the catalog, input tables and their schemas) grants are
      additive (``databricks.Grant``, one principal each): an authoritative list there would
      revoke every other team's access to shared objects.
    """

    catalog: databricks.Catalog | None
    schemas: dict[str, databricks.Schema]
    tables: dict[str, databricks.SqlTable]
    grants: list[pulumi.CustomResource]
    _used_by: dict[str, list[pulumi.Resource]]  # project -> what its jobs wait for

    def __init__(
        self, name: str, args: CatalogAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        # What holds data is never dropped by Pulumi, in any environment: a replaced or
        # destroyed table (and the schema holding it) stays where it is, rows and all,
        # detached from the stack; prod also refuses the replacement (docs/platform.md,
        # "Replacing a table").
        self._holds_data = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=True
        )
        self._prefix = name
        self._granted: set[str] = set()
        self.grants = []
        self._used_by = {s.project: [] for s in args.schemas}
        homes = {f"{args.catalog}.{s.schema}": s for s in args.schemas}
        self._check(args, homes)
        every = [s.project for s in args.schemas]

        # What each project's runner reads in the other projects' schemas.
        reads: dict[str, list[ProjectSchema]] = {}  # table -> the projects reading it
        for s in args.schemas:
            home = f"{args.catalog}.{s.schema}"
            theirs = [t for t in s.input_tables if t.rpartition(".")[0] in homes.keys() - {home}]
            for name_read in dict.fromkeys([*s.reads, *theirs]):
                reads.setdefault(name_read, []).append(s)

        # A managed location is fixed when a catalog or schema is created (changing it
        # replaces the object), so the storage root is given at creation, never patched on.
        self.catalog = None
        catalog_name: pulumi.Input[str] = args.catalog
        if args.owns_catalog:
            self.catalog = databricks.Catalog(
                f"{name}-catalog",
                name=args.catalog,
                storage_root=args.storage_root,
                comment="The catalog of mlops-stack. Managed by Pulumi.",
                force_destroy=False,
                opts=self._holds_data,
            )
            self._use(every, self.catalog)
            catalog_name = self.catalog.name

        def readers_of(s: ProjectSchema) -> list[str]:
            """The projects that wait for ``s``'s schema: itself and those reading it."""
            home = f"{args.catalog}.{s.schema}"
            theirs = (r.project for t, rs in reads.items() if t.startswith(f"{home}.") for r in rs)
            return list(dict.fromkeys([s.project, *theirs]))

        self.schemas = {}
        for s in args.schemas:
            self.schemas[s.project] = self._use(
                readers_of(s),
                databricks.Schema(
                    self._child(s, "schema"),
                    catalog_name=catalog_name,
                    name=s.schema,
                    comment=f"Features, predictions and model of the {s.project} project of"
                    " mlops-stack. Managed by Pulumi.",
                    storage_root=None if args.owns_catalog else s.storage_root,
                    force_destroy=False,
                    opts=pulumi.ResourceOptions.merge(self._holds_data, self._was(s, "schema")),
                ),
            )
        first_schema = next(iter(self.schemas.values()))

        def runs_as(runner: str | None) -> list[str]:
            """The projects whose jobs run as ``runner``."""
            return [s.project for s in args.schemas if runner and s.runner == runner]

        principals = self._catalog_principals(args)
        if self.catalog is not None:
            # Ours: authoritative.
            self._grants(
                f"{name}-catalog",
                {p: ["USE_CATALOG"] for _, p in principals},
                every,
                catalog=self.catalog.name,
            )
        else:
            # Not ours: additive.
            for role, principal in principals:
                self._grant(
                    f"{name}-catalog-{role}",
                    principal,
                    ["USE_CATALOG"],
                    [first_schema],
                    runs_as(principal),
                    catalog=args.catalog,
                )

        self.tables = {}
        for s in args.schemas:
            home = f"{args.catalog}.{s.schema}"
            # Schema: ours, authoritative. The runner creates tables (e.g. monitoring
            # metrics); runners of projects reading its tables may use it.
            schema_grants: Privileges = {}
            if s.runner:
                _add(schema_grants, s.runner, ["USE_SCHEMA", "CREATE_TABLE"])
            _add(schema_grants, args.readers, ["USE_SCHEMA"])
            for read, readers in reads.items():
                if read.rpartition(".")[0] == home:
                    for reader in readers:
                        if reader.runner:
                            _add(schema_grants, reader.runner, ["USE_SCHEMA"])
            self._grants(
                self._child(s, "schema"),
                schema_grants,
                readers_of(s),
                self._was(s, "schema-grants"),
                schema=self.schemas[s.project].id,
            )

            # Output tables: ours, authoritative. The runner rewrites them (and refreshes
            # the monitor of a monitored one); readers read predictions only.
            for table in s.output_tables:
                short = table.full_name.split(".")[2]
                created = databricks.SqlTable(
                    self._child(s, short),
                    catalog_name=args.catalog,
                    schema_name=self.schemas[s.project].name,
                    name=short,
                    table_type="MANAGED",
                    # No data_source_format: with DELTA the provider creates the table with
                    # CREATE OR REPLACE, which empties a table of the same name; without
                    # it, a plain CREATE TABLE (Delta, Unity Catalog's default) fails
                    # instead.
                    comment=table.comment,
                    columns=[
                        databricks.SqlTableColumnArgs(
                            name=column.name,
                            type=column.type,
                            nullable=column.nullable,
                            comment=column.comment,
                        )
                        for column in table.columns
                    ],
                    properties=dict(table.properties) or None,
                    warehouse_id=args.sql_warehouse_id,
                    # The provider renames nothing: a new name is a new table.
                    opts=pulumi.ResourceOptions.merge(
                        self._holds_data,
                        pulumi.ResourceOptions(
                            replace_on_changes=["name"], aliases=self._was(s, short).aliases
                        ),
                    ),
                )
                self.tables[table.full_name] = created
                waiting = [s.project, *(r.project for r in reads.get(table.full_name, []))]
                self._use(waiting, created)
                table_grants: Privileges = {}
                if s.runner:
                    privileges = ["SELECT", "MODIFY"] if table.written_by_runner else ["SELECT"]
                    if table.monitor_refreshed_by_runner:
                        privileges.append("MANAGE")
                    _add(table_grants, s.runner, privileges)
                if not table.written_by_runner and args.loaders:
                    _add(table_grants, args.loaders, ["SELECT", "MODIFY"])
                if table.readable_by_readers:
                    _add(table_grants, args.readers, ["SELECT"])
                for reader in reads.get(table.full_name, []):
                    if reader.runner:
                        _add(table_grants, reader.runner, ["SELECT"])
                if table_grants:
                    self._grants(
                        self._child(s, short),
                        table_grants,
                        waiting,
                        self._was(s, f"{short}-grants"),
                        table=created.id,
                    )

        # Input tables outside the stack's schemas (a project's own, or those of a project
        # it reaches): not ours, additive, one grant per principal and securable however
        # many projects read it; the runner may need a way into their schema and catalog.
        outside: dict[str, list[str]] = {}  # input_table -> the runners reading it
        for s in args.schemas:
            for input_table in dict.fromkeys([*s.input_tables, *s.reads]):
                if input_table.rpartition(".")[0] not in homes and s.runner:
                    runners = outside.setdefault(input_table, [])
                    if s.runner not in runners:
                        runners.append(s.runner)
        runners = args.runners

        def suffix(runner: str) -> str:
            # The first runner is the runner; another (a project's own) is numbered.
            index = runners.index(runner)
            return "runner" if index == 0 else f"runner-{index + 1}"

        by_schema: dict[str, list[str]] = {}
        for input_table, table_runners in outside.items():
            held = by_schema.setdefault(input_table.rpartition(".")[0], [])
            held.extend(r for r in table_runners if r not in held)
        for schema_name, schema_runners in sorted(by_schema.items()):
            catalog = schema_name.split(".")[0]
            for runner in schema_runners:
                if catalog != args.catalog:
                    self._grant_once(
                        f"{name}-catalog-{catalog}-{suffix(runner)}",
                        runner,
                        ["USE_CATALOG"],
                        runs_as(runner),
                        catalog=catalog,
                    )
                self._grant(
                    f"{name}-schema-{schema_name.replace('.', '-')}-{suffix(runner)}",
                    runner,
                    ["USE_SCHEMA"],
                    [first_schema],
                    runs_as(runner),
                    schema=schema_name,
                )
        for input_table, table_runners in outside.items():
            for runner in table_runners:
                self._grant(
                    f"{name}-input-{input_table.replace('.', '-')}-{suffix(runner)}",
                    runner,
                    ["SELECT"],
                    [first_schema],
                    runs_as(runner),
                    table=input_table,
                )

        self.schema_names = {
            project: pulumi.Output.from_input(home_of)
            for project, home_of in (
                (s.project, f"{args.catalog}.{s.schema}") for s in args.schemas
            )
        }
        self.register_outputs(
            {
                "schemas": self.schema_names,
                "tables": {full: table.id for full, table in self.tables.items()},
            }
        )

    def used_by(self, project: str) -> list[pulumi.Resource]:
        """What ``project``'s jobs wait for: the catalog (when the stack creates it), the
        schemas and tables they use, and the grants that let its runner use them. Not the
        whole component: Pulumi expands a dependency on a local component into one on each
        of its children (``_add_dependency`` in pulumi/pulumi
        sdk/python/lib/pulumi/runtime/rpc.py), so with it every job would wait on every
        project's grants, and the program's evaluation would grow with the square of the
        number of projects (``bench/plan_projects.py``)."""
        return list(self._used_by[project])

    def _use(self, projects: Sequence[str], resource: _R) -> _R:
        """Note that ``projects``' jobs wait for ``resource``; returns it."""
        for project in dict.fromkeys(projects):
            self._used_by[project].append(resource)
        return resource

    @staticmethod
    def _check(args: CatalogAccessArgs, homes: Mapping[str, ProjectSchema]) -> None:
        if not args.schemas:
            raise ValueError("no project: CatalogAccess needs at least one ProjectSchema")
        if len(homes) < len(args.schemas):
            raise ValueError(
                f"two projects share a schema: {', '.join(s.schema for s in args.schemas)}"
            )
        created = {t.full_name for s in args.schemas for t in s.output_tables}
        for s in args.schemas:
            home = f"{args.catalog}.{s.schema}"
            for table in s.output_tables:
                if table.full_name.rpartition(".")[0] != home:
                    raise ValueError(
                        f"output table {table.full_name} of {s.project} is outside its"
                        f" schema {home}"
                    )
            missing = [t for t in [*s.input_tables, *s.reads] if t.rpartition(".")[0] in homes]
            missing = [t for t in missing if t not in created]
            if missing:
                raise ValueError(
                    f"input tables {', '.join(missing)} of {s.project} are in the stack's"
                    " schemas, which the stack creates, but are not among any project's"
                    " output_tables: nothing would create them"
                )

    def _child(self, schema: ProjectSchema, item: str) -> str:
        return f"{self._prefix}-{schema.project}-{item}"

    def _was(self, schema: ProjectSchema, item: str) -> pulumi.ResourceOptions:
        """The alias of a project's resource to its name from before schemaVersion 2."""
        if not schema.previous_names:
            return pulumi.ResourceOptions()
        return pulumi.ResourceOptions(aliases=[pulumi.Alias(name=f"{self._prefix}-{item}")])

    @staticmethod
    def _catalog_principals(args: CatalogAccessArgs) -> list[tuple[str, str]]:
        runners = args.runners
        named = [
            ("runner" if i == 0 else f"runner-{i + 1}", runner) for i, runner in enumerate(runners)
        ]
        return [*named, ("readers", args.readers)]

    def _grant(
        self,
        name: str,
        principal: str,
        privileges: list[str],
        depends_on: list[pulumi.Resource],
        used_by: Sequence[str],
        **securable: Any,  # the securable: catalog=, schema=, table=, volume=, ...
    ) -> None:
        grant = databricks.Grant(
            name,
            principal=principal,
            privileges=privileges,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
            **securable,
        )
        self.grants.append(self._use(used_by, grant))

    def _grant_once(
        self,
        name: str,
        principal: str,
        privileges: list[str],
        used_by: Sequence[str],
        **securable: Any,
    ) -> None:
        """An additive grant several schemas' inputs may need: made the first time only."""
        if name in self._granted:
            return
        self._granted.add(name)
        first_schema = next(iter(self.schemas.values()))
        self._grant(name, principal, privileges, [first_schema], used_by, **securable)

    def _grants(
        self,
        name: str,
        entries: Privileges,
        used_by: Sequence[str],
        was: pulumi.ResourceOptions | None = None,
        **securable: Any,  # the securable: catalog=, schema=, table=, volume=, ...
    ) -> None:
        grants = databricks.Grants(
            f"{name}-grants",
            grants=[
                databricks.GrantsGrantArgs(principal=principal, privileges=privileges)
                for principal, privileges in entries.items()
            ],
            opts=pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(parent=self), was or pulumi.ResourceOptions()
            ),
            **securable,
        )
        self.grants.append(self._use(used_by, grants))
