"""Which changes to a stack would make Pulumi replace (or delete) something that holds data.

``mlops plan --stack <s> --baseline OLD.json`` compares an earlier ``mlops plan --json`` of
the stack with the current render, resource by resource (same type and name, or a name the
current resource has as an alias: Pulumi matches a renamed resource by it), for the
resource types in ``FORCE_NEW``: Unity Catalog tables, and the catalog, schema, volume and
registered model that hold data. Replacing a managed table creates a new, empty table: the
rows stay in the old one if the stack retains it on delete, and are dropped with it if not.

Pure functions over the two JSON documents (``mlops.render.as_json``); nothing here imports
Pulumi, so a bad baseline is refused before the program is rendered.

Which inputs force a replacement comes from the provider pulumi-databricks bridges,
databricks/terraform-provider-databricks. Citations are to its files at commit 684f4424
(the catalog/ files cited are the same at tag v1.128.0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQL_TABLE = "databricks:index/sqlTable:SqlTable"
SCHEMA = "databricks:index/schema:Schema"
CATALOG = "databricks:index/catalog:Catalog"
VOLUME = "databricks:index/volume:Volume"
REGISTERED_MODEL = "databricks:index/registeredModel:RegisteredModel"

# The inputs (wire names, as in `mlops plan --json`) whose change the provider plans as a
# replacement, by Pulumi type token; the snake_case Terraform field and where it is marked.
FORCE_NEW: dict[str, tuple[str, ...]] = {
    # catalog/resource_sql_table.go, struct SqlTableInfo, tags `tf:"force_new"`.
    # `name` (line 49) is not force_new, and the provider's update renames no table (its
    # only RENAME, line 414, is of a column): see REPLACE_ON_CHANGES. `comment` is forced
    # new only on a VIEW (lines 679-680), handled in _changed.
    SQL_TABLE: (
        "catalogName",  # catalog_name, resource_sql_table.go:50
        "schemaName",  # schema_name, resource_sql_table.go:51
        "tableType",  # table_type, resource_sql_table.go:52
        "dataSourceFormat",  # data_source_format, resource_sql_table.go:53
        "partitions",  # partitions (force_new,computed), resource_sql_table.go:55
        "storageCredentialName",  # storage_credential_name, resource_sql_table.go:58
        "options",  # options, resource_sql_table.go:62
    ),
    # catalog/resource_schema.go, struct SchemaInfo, tags `tf:"force_new"`.
    SCHEMA: (
        "name",  # name, resource_schema.go:13
        "catalogName",  # catalog_name, resource_schema.go:14
        "storageRoot",  # storage_root, resource_schema.go:15
    ),
    # catalog/resource_catalog.go, SetForceNew() on the schema paths. `name` is not force
    # new (an update addresses the catalog by its id, line 154). `options` is forced new
    # by CustomizeDiff when any key but authorized_paths is added, removed or changed
    # (lines 249-270), handled in _changed.
    CATALOG: (
        "connectionName",  # connection_name, resource_catalog.go:53
        "providerName",  # provider_name, resource_catalog.go:54-55
        "shareName",  # share_name, resource_catalog.go:54-55
        "storageRoot",  # storage_root, resource_catalog.go:57
        "options",  # options (all but authorized_paths), resource_catalog.go:249-270
    ),
    # catalog/resource_volume.go, struct VolumeInfo, tags `tf:"force_new"`. `name` (line 26)
    # is not: the update renames the volume (NewName, line 124).
    VOLUME: (
        "catalogName",  # catalog_name, resource_volume.go:19
        "schemaName",  # schema_name, resource_volume.go:23
        "storageLocation",  # storage_location, resource_volume.go:30
        "volumeType",  # volume_type, resource_volume.go:31
    ),
    # catalog/resource_registered_model.go, ForceNew = true on the schema map.
    REGISTERED_MODEL: (
        "name",  # name, resource_registered_model.go:24
        "catalogName",  # catalog_name, resource_registered_model.go:25
        "schemaName",  # schema_name, resource_registered_model.go:26
        "storageLocation",  # storage_location (also computed), resource_registered_model.go:27-28
    ),
}

# Inputs the stack itself asks Pulumi to replace on (ResourceOptions replace_on_changes),
# beyond the provider's: a table's name, because the provider would otherwise plan an
# in-place update of a table that does not exist under the new name
# (infra/components/catalog_access.py, the SqlTable's opts).
REPLACE_ON_CHANGES: dict[str, tuple[str, ...]] = {SQL_TABLE: ("name",)}

# What the stack keeps when Pulumi deletes it (retain_on_delete in the `holds_data` options
# of infra/components/catalog_access.py): left in place, detached from the stack.
RETAINED_ON_DELETE = frozenset({SQL_TABLE, SCHEMA, CATALOG})

_NOUN = {
    SQL_TABLE: "table",
    SCHEMA: "schema",
    CATALOG: "catalog",
    VOLUME: "volume",
    REGISTERED_MODEL: "registered model",
}
# What each holds, for the messages.
_HOLDS = {
    SQL_TABLE: "rows",
    SCHEMA: "tables",
    CATALOG: "schemas",
    VOLUME: "files",
    REGISTERED_MODEL: "versions",
}
# The inputs that make up a full name: a change to any of them makes a new full name.
_NAMING = frozenset({"catalogName", "schemaName", "name"})


class BaselineError(ValueError):
    """The --baseline file cannot be read as an earlier `mlops plan --json` of the stack."""


@dataclass(frozen=True)
class Replacement:
    """A data-holding resource that the current render would replace or delete.

    ``changes`` are (input, old, new) for each input that forces the replacement (None:
    not set); empty for a deletion. ``protected`` is the baseline's flag: Pulumi refuses
    to replace or delete a protected resource."""

    type: str
    name: str
    action: str  # "replace" | "delete"
    changes: tuple[tuple[str, Any, Any], ...] = ()
    protected: bool = False
    full_name: str = ""

    @property
    def retained(self) -> bool:
        return self.type in RETAINED_ON_DELETE

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "fullName": self.full_name,
            "action": self.action,
            "changes": [{"input": i, "old": old, "new": new} for i, old, new in self.changes],
            "protected": self.protected,
            "retained": self.retained,
        }


def load_baseline(path: Path, stack: str) -> dict[str, Any]:
    """Read an earlier `mlops plan --stack <stack> --json`; BaselineError if it is not one."""
    expected = f"expected the output of `mlops plan --stack {stack} --json`"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"--baseline {path} does not exist: {expected}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BaselineError(f"--baseline {path} cannot be read ({reason}): {expected}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"--baseline {path} is not JSON (line {exc.lineno}: {exc.msg}): {expected}"
        ) from None
    if not isinstance(document, dict):
        raise BaselineError(f"--baseline {path} is not a JSON object: {expected}")
    if document.get("stack") != stack:
        found = document.get("stack")
        of = f"of stack {found!r}" if isinstance(found, str) else 'with no "stack" field'
        raise BaselineError(f"--baseline {path} is a document {of}: {expected}")
    resources = document.get("resources")
    if not isinstance(resources, list):
        raise BaselineError(f'--baseline {path} has no "resources" list: {expected}')
    for index, resource in enumerate(resources):
        if not (
            isinstance(resource, dict)
            and isinstance(resource.get("type"), str)
            and isinstance(resource.get("name"), str)
            and isinstance(resource.get("inputs", {}), dict)
        ):
            raise BaselineError(
                f"--baseline {path} has resources[{index}], which is not a resource with a"
                f" type, a name and inputs: {expected}"
            )
    return document


def replacements(baseline: dict[str, Any], current: dict[str, Any]) -> list[Replacement]:
    """The data-holding resources of ``baseline`` that ``current`` deletes or replaces, in
    the baseline's order. Both are `mlops plan --json` documents of the same stack."""
    now = {(r["type"], r["name"]): r for r in current.get("resources", [])}
    # A renamed resource answers to its old names (its aliases), as Pulumi matches it.
    for resource in current.get("resources", []):
        for alias in resource.get("aliases") or []:
            now.setdefault((resource["type"], alias), resource)
    found: list[Replacement] = []
    for old in baseline.get("resources", []):
        kind = old["type"]
        if kind not in FORCE_NEW:
            continue
        old_inputs = old.get("inputs") or {}
        protected, full_name = bool(old.get("protected")), _full_name(old_inputs)
        new = now.get((kind, old["name"]))
        if new is None:
            found.append(
                Replacement(kind, old["name"], "delete", protected=protected, full_name=full_name)
            )
            continue
        changes = _changed(kind, old_inputs, new.get("inputs") or {})
        if changes:
            found.append(Replacement(kind, old["name"], "replace", changes, protected, full_name))
    return found


def _changed(
    kind: str, old: dict[str, Any], new: dict[str, Any]
) -> tuple[tuple[str, Any, Any], ...]:
    names = FORCE_NEW[kind] + REPLACE_ON_CHANGES.get(kind, ())
    changes = [
        (name, old.get(name), new.get(name))
        for name in dict.fromkeys(names)
        if not _same(kind, name, old.get(name), new.get(name))
    ]
    # resource_sql_table.go:679-680: a view's comment cannot be altered.
    view = kind == SQL_TABLE and new.get("tableType") == "VIEW"
    if view and not _same(kind, "comment", old.get("comment"), new.get("comment")):
        changes.append(("comment", old.get("comment"), new.get("comment")))
    return tuple(changes)


def _unset(value: Any) -> bool:
    # An input left out and Terraform's zero value are the same to the provider.
    return value is None or value == "" or value == [] or value == {}


def _equal_fold(old: Any, new: Any) -> bool:
    # common.EqualFoldDiffSuppress (common/resource.go:373)
    if isinstance(old, str) and isinstance(new, str):
        return old.casefold() == new.casefold()
    return old == new


def _slash_only(old: Any, new: Any) -> bool:
    # ucDirectoryPathSlashOnlySuppressDiff (resource_catalog.go:15-21)
    return old == new or (
        isinstance(old, str) and isinstance(new, str) and (new == old + "/" or old == new + "/")
    )


def _slash_and_empty(old: Any, new: Any) -> bool:
    # ucDirectoryPathSlashAndEmptySuppressDiff (resource_catalog.go:23-29)
    return _unset(new) or _slash_only(old, new)


def _new_unset_or_equal_fold(old: Any, new: Any) -> bool:
    # data_source_format's suppress function (resource_sql_table.go:80-85): no new value
    # keeps the old one.
    return _unset(new) or _equal_fold(old, new)


def _computed(old: Any, new: Any) -> bool:
    # An optional, computed input left out keeps the value in the state.
    return _unset(new) or old == new


def _catalog_options(old: Any, new: Any) -> bool:
    # resource_catalog.go:249-270: only authorized_paths may change in place.
    def rest(options: Any) -> dict[str, Any]:
        return {k: v for k, v in (options or {}).items() if k != "authorized_paths"}

    return rest(old) == rest(new)


_SAME: dict[tuple[str, str], Callable[[Any, Any], bool]] = {
    # The case-insensitive fields of each resource.
    **{(SQL_TABLE, f): _equal_fold for f in ("name", "catalogName", "schemaName")},  # :76-79
    **{(SCHEMA, f): _equal_fold for f in ("name", "catalogName")},  # resource_schema.go:37-38
    **{(CATALOG, f): _equal_fold for f in ("connectionName", "providerName", "shareName")},
    **{(VOLUME, f): _equal_fold for f in ("catalogName", "schemaName")},  # :46-49
    **{(REGISTERED_MODEL, f): _equal_fold for f in ("name", "catalogName", "schemaName")},
    (SQL_TABLE, "dataSourceFormat"): _new_unset_or_equal_fold,
    (SQL_TABLE, "partitions"): _computed,
    (SCHEMA, "storageRoot"): _slash_only,  # resource_schema.go:35-36
    (CATALOG, "storageRoot"): _slash_only,  # resource_catalog.go:57
    (CATALOG, "options"): _catalog_options,
    (VOLUME, "storageLocation"): _slash_and_empty,  # resource_volume.go:50
    (REGISTERED_MODEL, "storageLocation"): _computed,  # resource_registered_model.go:28
}


def _same(kind: str, name: str, old: Any, new: Any) -> bool:
    if _unset(old) and _unset(new):
        return True
    same = _SAME.get((kind, name))
    if same is not None:
        return same(old, new)
    return old == new


def _full_name(inputs: dict[str, Any]) -> str:
    parts = (inputs.get("catalogName"), inputs.get("schemaName"), inputs.get("name"))
    return ".".join(str(p) for p in parts if p)


def _shown(value: Any) -> str:
    return "(not set)" if _unset(value) else json.dumps(value, sort_keys=True)


def format_replacements(found: list[Replacement]) -> list[str]:
    """Lines for a person: one headline per resource, the changed inputs and what becomes
    of the data indented below it; ["none"] when there is nothing."""
    if not found:
        return ["none"]
    lines: list[str] = []
    for item in found:
        noun = _NOUN.get(item.type, item.type)
        held = _HOLDS.get(item.type, "contents")
        what = f"{noun} {item.full_name} ({item.name})" if item.full_name else f"{noun} {item.name}"
        if item.action == "delete":
            lines.append(f"{what} would be DELETED: the current render no longer has it")
            if item.retained:
                lines.append(
                    f"    the {noun} is left in place with its {held}, detached from the stack"
                    " (retain_on_delete): Pulumi no longer manages it"
                )
            else:
                lines.append(f"    the {noun} is deleted, with its {held}")
        else:
            lines.append(f"{what} would be REPLACED:")
            for name, old, new in item.changes:
                why = ""
                if name not in FORCE_NEW.get(item.type, ()):
                    why = " (replace_on_changes of the stack: the provider cannot rename it)"
                lines.append(f"    {name}: {_shown(old)} -> {_shown(new)}{why}")
            if item.retained:
                lines.append(
                    f"    a new, empty {noun} is created; the old one is left in place with its"
                    f" {held}, detached from the stack (retain_on_delete)"
                )
                if all(name not in _NAMING for name, _, _ in item.changes):
                    lines.append(
                        f"    the new {noun} has the old one's full name, which the old one keeps:"
                        " expect its creation to fail"
                    )
            else:
                lines.append(
                    f"    a new, empty {noun} is created and the old one is deleted, with its"
                    f" {held}"
                )
        if item.protected:
            lines.append(
                "    it is protected: `pulumi up` refuses this until the protection is lifted"
            )
    return lines
