"""Replacing a Unity Catalog table: which inputs force it, and that the stack never asks.

Pulumi replaces a ``databricks.SqlTable`` when an input the provider marks ``force_new``
changes: catalog/resource_sql_table.go of databricks/terraform-provider-databricks (the
provider pulumi-databricks bridges), struct ``SqlTableInfo``, lines 50-62. A replaced
managed table is a new, empty table. The table's ``name`` is not ``force_new`` there (line
49) and the provider renames nothing, so the stack asks Pulumi to replace on it
(``replace_on_changes``). ``mlops plan --baseline`` (mlops/replacements.py) reports each.
"""

from __future__ import annotations

from infra.program import CodePackage
from mlops.render import as_json
from mlops.replacements import (
    FORCE_NEW,
    REPLACE_ON_CHANGES,
    SQL_TABLE,
    Replacement,
    replacements,
)
from tests.infra.conftest import STACKS, render_with


def test_these_sql_table_inputs_force_a_new_table() -> None:
    # resource_sql_table.go: catalog_name :50, schema_name :51, table_type :52,
    # data_source_format :53, partitions :55, storage_credential_name :58, options :62.
    assert FORCE_NEW[SQL_TABLE] == (
        "catalogName",
        "schemaName",
        "tableType",
        "dataSourceFormat",
        "partitions",
        "storageCredentialName",
        "options",
    )
    assert "name" not in FORCE_NEW[SQL_TABLE]
    assert REPLACE_ON_CHANGES[SQL_TABLE] == ("name",)


def test_the_stack_asks_pulumi_to_replace_a_table_whose_name_changes() -> None:
    render = render_with("dev")
    tables = render.of_type(SQL_TABLE)
    assert tables
    for table in tables:
        assert table.registration is not None
        assert table.registration.replace_on_changes == REPLACE_ON_CHANGES[SQL_TABLE]


def test_rendered_tables_send_no_replace_forcing_input_on_a_setting_free_change() -> None:
    other = CodePackage(
        version="fedcba987654", wheel_file="../dist/fedcba987654/mlops_stack-0.1.0-py3-none-any.whl"
    )
    for stack in STACKS:
        before, after = as_json(render_with(stack)), as_json(render_with(stack, code=other))
        assert before["resources"] != after["resources"]  # the code version is everywhere
        assert replacements(before, after) == [], stack
        # Nothing that holds data depends on the code version at all.
        tables = [r for r in after["resources"] if r["type"] == SQL_TABLE]
        assert tables and not any(other.version in str(t["inputs"]) for t in tables)


def test_the_tables_leave_out_the_inputs_the_provider_would_replace_them_on() -> None:
    # Only what names the table and its kind is sent; a format, partitions, options or a
    # storage credential added later would replace every table.
    for stack in STACKS:
        for table in as_json(render_with(stack))["resources"]:
            if table["type"] == SQL_TABLE:
                sent = set(table["inputs"]) & set(FORCE_NEW[SQL_TABLE])
                assert sent == {"catalogName", "schemaName", "tableType"}, table["name"]
                assert table["inputs"]["tableType"] == "MANAGED"


def test_a_new_schema_setting_replaces_the_schema_and_every_table_in_it() -> None:
    before = as_json(render_with("dev"))
    after = as_json(render_with("dev", fare={"schema": "nyc_taxi_v2"}))
    found = replacements(before, after)
    tables = [r for r in found if r.type == SQL_TABLE]
    fare_tables = [
        r
        for r in before["resources"]
        if r["type"] == SQL_TABLE and r["inputs"]["schemaName"] == "nyc_taxi"
    ]
    # Every table of fare's schema, and none of churn's.
    assert tables and len(tables) == len(fare_tables)
    for table in tables:
        assert table.action == "replace"
        assert table.changes == (("schemaName", "nyc_taxi", "nyc_taxi_v2"),)
    assert (
        Replacement(
            "databricks:index/schema:Schema",
            "dev-mlops-stack-catalog-fare-schema",
            "replace",
            (("name", "nyc_taxi", "nyc_taxi_v2"),),
            full_name="dev.nyc_taxi",
        )
        in found
    )
