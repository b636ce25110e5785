"""CatalogAccess: the stack's schema, the tables its jobs write, and least-privilege grants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_databricks as databricks

TYPE = "mlops-stack:catalog:CatalogAccess"


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
class CatalogAccessArgs:
    """What CatalogAccess needs.

    catalog: the catalog the stack lives in: one that exists already (the platform team
        owns it), unless ``owns_catalog``.
    schema: the schema this stack creates and owns inside ``catalog``.
    runner: application id of the service principal the jobs run as; ``None`` in dev,
        where jobs run as the person who deployed them and owns every object already.
    readers: the group that reads predictions.
    input_tables: tables the jobs only read. Those outside ``catalog.schema`` exist
        already (someone else owns them); those inside it must be in ``output_tables``
        with ``written_by_runner=False``, since nothing else would create them.
    output_tables: the tables created here, in ``catalog.schema``.
    loaders: the group that loads the input tables the stack creates (SELECT, MODIFY).
    protect: keep the schema and tables from being deleted by Pulumi (prod).
    sql_warehouse_id: the SQL warehouse that runs the table DDL, if any.
    storage_root: the stack's own managed storage (``LakehouseStorage.storage_root``), if
        any: the schema's storage root, or the catalog's when ``owns_catalog``.
    owns_catalog: create the catalog too, with ``storage_root`` as its storage root.
    """

    catalog: str
    schema: str
    runner: str | None
    readers: str
    input_tables: Sequence[str]
    output_tables: Sequence[OutputTable]
    loaders: str | None = None
    protect: bool = False
    sql_warehouse_id: str | None = None
    storage_root: pulumi.Input[str] | None = None
    owns_catalog: bool = False


class CatalogAccess(pulumi.ComponentResource):
    """The schema, the output tables and every Unity Catalog grant the stack makes.

    Which grants are authoritative, and why:
    - On what this stack owns (its schema, the tables it creates, and the catalog when it
      creates that too) grants are authoritative (``databricks.Grants``): the stack's list
      is the whole list, so a privilege granted by hand is revoked on the next
      ``pulumi up`` and drift shows in ``pulumi preview``.
    - On what others own (the catalog, input tables and their schemas) grants are
      additive (``databricks.Grant``, one principal each): an authoritative list there would
      revoke every other team's access to shared objects.
    """

    catalog: databricks.Catalog | None
    schema: databricks.Schema
    tables: dict[str, databricks.SqlTable]
    grants: list[pulumi.CustomResource]

    def __init__(
        self, name: str, args: CatalogAccessArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        # What holds data is never dropped by Pulumi, in any environment: a replaced or
        # destroyed table (and the schema holding it) stays where it is, rows and all,
        # detached from the stack; prod also refuses the replacement (docs/platform.md,
        # "Replacing a table").
        holds_data = pulumi.ResourceOptions(
            parent=self, protect=args.protect, retain_on_delete=True
        )
        home = f"{args.catalog}.{args.schema}"
        self.grants = []

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
                opts=holds_data,
            )
            catalog_name = self.catalog.name

        self.schema = databricks.Schema(
            f"{name}-schema",
            catalog_name=catalog_name,
            name=args.schema,
            comment="Features, predictions and models of mlops-stack. Managed by Pulumi.",
            storage_root=None if args.owns_catalog else args.storage_root,
            force_destroy=False,
            opts=holds_data,
        )

        if self.catalog is not None:
            # Ours: authoritative.
            self._grants(
                f"{name}-catalog",
                [(role, p, ["USE_CATALOG"]) for role, p in self._principals(args)],
                catalog=self.catalog.name,
            )
        else:
            # Not ours: additive.
            for role, principal in self._principals(args):
                self._grant(
                    f"{name}-catalog-{role}", principal, ["USE_CATALOG"], catalog=args.catalog
                )

        # Schema: ours, authoritative. The runner creates tables (e.g. monitoring metrics).
        schema_grants = []
        if args.runner:
            schema_grants.append(("runner", args.runner, ["USE_SCHEMA", "CREATE_TABLE"]))
        schema_grants.append(("readers", args.readers, ["USE_SCHEMA"]))
        self._grants(f"{name}-schema", schema_grants, schema=self.schema.id)

        # Output tables: ours, authoritative. The runner rewrites them (and refreshes the
        # monitor of a monitored one); readers read predictions only.
        self.tables = {}
        created_names = {table.full_name for table in args.output_tables}
        missing = [t for t in args.input_tables if t.startswith(f"{home}.")]
        missing = [t for t in missing if t not in created_names]
        if missing:
            raise ValueError(
                f"input tables {', '.join(missing)} are in the stack's schema {home}, which the"
                " stack creates, but are not among output_tables: nothing would create them"
            )
        for table in args.output_tables:
            catalog, schema, short = table.full_name.split(".")
            if f"{catalog}.{schema}" != home:
                raise ValueError(f"output table {table.full_name} is outside the schema {home}")
            created = databricks.SqlTable(
                f"{name}-{short}",
                catalog_name=args.catalog,
                schema_name=self.schema.name,
                name=short,
                table_type="MANAGED",
                # No data_source_format: with DELTA the provider creates the table with
                # CREATE OR REPLACE, which empties a table of the same name; without it, a
                # plain CREATE TABLE (Delta, Unity Catalog's default) fails instead.
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
                    holds_data, pulumi.ResourceOptions(replace_on_changes=["name"])
                ),
            )
            self.tables[table.full_name] = created
            table_grants = []
            if args.runner:
                privileges = ["SELECT", "MODIFY"] if table.written_by_runner else ["SELECT"]
                if table.monitor_refreshed_by_runner:
                    privileges.append("MANAGE")
                table_grants.append(("runner", args.runner, privileges))
            if not table.written_by_runner and args.loaders:
                table_grants.append(("loaders", args.loaders, ["SELECT", "MODIFY"]))
            if table.readable_by_readers:
                table_grants.append(("readers", args.readers, ["SELECT"]))
            if table_grants:
                self._grants(f"{name}-{short}", table_grants, table=created.id)

        # Input tables: not ours, additive; the runner may need a way into their schema.
        if args.runner:
            outside_schemas = sorted({t.rpartition(".")[0] for t in args.input_tables} - {home})
            for schema_name in outside_schemas:
                catalog = schema_name.split(".")[0]
                if catalog != args.catalog:
                    self._grant(
                        f"{name}-catalog-{catalog}-runner",
                        args.runner,
                        ["USE_CATALOG"],
                        catalog=catalog,
                    )
                self._grant(
                    f"{name}-schema-{schema_name.replace('.', '-')}-runner",
                    args.runner,
                    ["USE_SCHEMA"],
                    schema=schema_name,
                )
            for table_name in args.input_tables:
                if table_name in self.tables:
                    continue  # created above, with its grants
                self._grant(
                    f"{name}-input-{table_name.replace('.', '-')}-runner",
                    args.runner,
                    ["SELECT"],
                    table=table_name,
                    depends_on=[self.schema],
                )

        self.schema_name = pulumi.Output.from_input(home)
        self.register_outputs(
            {
                "schema": self.schema_name,
                "tables": {full: table.id for full, table in self.tables.items()},
            }
        )

    @staticmethod
    def _principals(args: CatalogAccessArgs) -> list[tuple[str, str]]:
        principals = [("runner", args.runner)] if args.runner else []
        return [*principals, ("readers", args.readers)]

    def _grant(
        self,
        name: str,
        principal: str,
        privileges: list[str],
        depends_on: list[pulumi.Resource] | None = None,
        **securable: Any,  # the securable: catalog=, schema=, table=, volume=, ...
    ) -> None:
        self.grants.append(
            databricks.Grant(
                name,
                principal=principal,
                privileges=privileges,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on or [self.schema]),
                **securable,
            )
        )

    def _grants(
        self,
        name: str,
        entries: list[tuple[str, str, list[str]]],
        **securable: Any,  # the securable: catalog=, schema=, table=, volume=, ...
    ) -> None:
        self.grants.append(
            databricks.Grants(
                f"{name}-grants",
                grants=[
                    databricks.GrantsGrantArgs(principal=principal, privileges=privileges)
                    for _, principal, privileges in entries
                ],
                opts=pulumi.ResourceOptions(parent=self),
                **securable,
            )
        )
