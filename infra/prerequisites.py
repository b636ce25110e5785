"""What must exist before a stack's first ``pulumi up``: the admin steps, per stack.

Unity Catalog lets a principal grant on a securable only if it owns it, owns its parent
catalog or schema, holds MANAGE on it, or is a metastore admin, and it must also be able to
use the parents (docs/platform.md, "Who may grant"). The stack grants on things it does not
create (its catalog, input tables elsewhere), so its deployer needs MANAGE there. This
module derives the whole list from the settings, for every project the stack deploys, so
that ``mlops preflight``, the setup guide's test and the first-deployment test read one
list.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import StackSettings


@dataclass(frozen=True)
class Prerequisite:
    """One thing an admin provides. ``securable`` is a kind (``CATALOG``, ``SCHEMA``,
    ``TABLE``, ``SQL_WAREHOUSE``, ``SERVICE_PRINCIPAL``, ``GROUP``, ``FOLDER``) and a name;
    ``privileges`` what ``principal`` must hold on it (empty: it must only exist)."""

    kind: str
    name: str
    why: str
    principal: str | None = None
    privileges: tuple[str, ...] = ()

    def describe(self) -> str:
        if not self.privileges:
            return f"{self.kind} {self.name} exists ({self.why})"
        held = ", ".join(self.privileges)
        return f"{self.principal} holds {held} on {self.kind} {self.name} ({self.why})"


def prerequisites(settings: StackSettings) -> list[Prerequisite]:
    """Every admin step the stack relies on, in the order an admin would take them."""
    deployer = settings.principals.deployer or "the deploying user"
    homes = {p.home for p in settings.projects}
    found = [
        Prerequisite("FOLDER", "/Shared", "the workspace's shared folder, always there"),
        Prerequisite("GROUP", settings.groups.readers, "an account group: the readers"),
        Prerequisite("GROUP", settings.groups.ml_team, "an account group: the ML team"),
    ]
    # Each owners group (the stack's, and a project's own) with the runners of its models.
    owners: dict[str, list[str]] = {}
    for p in settings.projects:
        if p.model_owners:
            of_group = owners.setdefault(p.model_owners, [])
            if p.runner and p.runner not in of_group:
                of_group.append(p.runner)
    for group, runners in owners.items():
        members = ", ".join([deployer, *runners])
        found.append(
            Prerequisite(
                "GROUP",
                group,
                f"an account group with {members} as members: it owns the registered models"
                f" of {', '.join(p.name for p in settings.projects if p.model_owners == group)}",
            )
        )
    for runner in settings.runners:
        found.append(
            Prerequisite(
                "SERVICE_PRINCIPAL",
                runner,
                "a runner, added to the workspace; the deployer has the Service Principal"
                " User role on it, to set the jobs' run_as",
                principal=deployer,
                privileges=("SERVICE_PRINCIPAL_USER",),
            )
        )
    if settings.sql_warehouse_id:
        found.append(
            Prerequisite(
                "SQL_WAREHOUSE",
                settings.sql_warehouse_id,
                "runs the tables' DDL and the monitor's queries",
                principal=deployer,
                privileges=("CAN_USE",),
            )
        )
    if settings.storage.owns_catalog:
        found.append(
            Prerequisite(
                "METASTORE",
                "the workspace's metastore",
                "the stack creates its catalog, storage credential and external location",
                principal=deployer,
                privileges=(
                    "CREATE_CATALOG",
                    "CREATE_STORAGE_CREDENTIAL",
                    "CREATE_EXTERNAL_LOCATION",
                ),
            )
        )
    else:
        if settings.storage.enabled:
            found.append(
                Prerequisite(
                    "METASTORE",
                    "the workspace's metastore",
                    "the stack creates its storage credential and external location",
                    principal=deployer,
                    privileges=("CREATE_STORAGE_CREDENTIAL", "CREATE_EXTERNAL_LOCATION"),
                )
            )
        found.append(
            Prerequisite(
                "CATALOG",
                settings.catalog,
                "the stack creates its projects' schemas there and grants USE_CATALOG on it"
                " to the runners and the readers, which takes MANAGE on a catalog it does not"
                " own",
                principal=deployer,
                privileges=("USE_CATALOG", "CREATE_SCHEMA", "MANAGE"),
            )
        )
    # Each project's input tables outside the stack's schemas, each once.
    outside = list(
        dict.fromkeys(
            table
            for project in settings.projects
            for table in project.inputs
            if table.rpartition(".")[0] not in homes
        )
    )
    if settings.runners:
        for schema in sorted({table.rpartition(".")[0] for table in outside}):
            catalog = schema.split(".")[0]
            if catalog != settings.catalog:
                found.append(
                    Prerequisite(
                        "CATALOG",
                        catalog,
                        "holds input tables: the stack grants the runners USE_CATALOG on it",
                        principal=deployer,
                        privileges=("USE_CATALOG", "MANAGE"),
                    )
                )
            found.append(
                Prerequisite(
                    "SCHEMA",
                    schema,
                    "holds input tables: the stack grants the runners USE_SCHEMA on it",
                    principal=deployer,
                    privileges=("USE_SCHEMA", "MANAGE"),
                )
            )
        for table in outside:
            found.append(
                Prerequisite(
                    "TABLE",
                    table,
                    "an input table: it exists, and the stack grants the runners SELECT on it",
                    principal=deployer,
                    privileges=("MANAGE",),
                )
            )
    else:
        found += [
            Prerequisite("TABLE", table, "an input table the jobs read", deployer, ("SELECT",))
            for table in outside
        ]
    return found
