"""The Databricks provider's tables (databricks/terraform-provider-databricks
``catalog/resource_sql_table.go``), held on every stack's render.

- Without ``warehouse_id`` the provider gets or creates a ``terraform-sql-table`` cluster to
  run the DDL, on create, update and delete (``initCluster``, ``getOrCreateCluster``).
- A managed table with ``data_source_format = DELTA`` is created with ``CREATE OR REPLACE
  TABLE`` (``buildTableCreateStatement``), which empties a table of the same name; without a
  format it is a plain ``CREATE TABLE``.
- Pulumi replaces create-before-delete unless told otherwise; ``retain_on_delete`` skips the
  delete of the old resource; ``protect`` makes a replacement fail (pulumi/pulumi
  ``pkg/resource/deploy/step_generator.go``).
docs/platform.md, "Tables without a SQL warehouse", "Replacing a table" and "Tables the
stack creates".
"""

from __future__ import annotations

import pytest

from infra.settings import InvalidStackConfig
from mlops.render import Render, format_text
from tests.infra.conftest import STACKS, render_with, settings_for

TABLE = "databricks:index/sqlTable:SqlTable"
SCHEMA = "databricks:index/schema:Schema"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_tables_name_a_sql_warehouse(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    tables = render.of_type(TABLE)
    assert tables
    for table in tables:
        assert table.inputs["warehouseId"] == render.settings.sql_warehouse_id, table.name


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_staging_or_prod_stack_without_a_warehouse_is_refused(stack: str) -> None:
    with pytest.raises(InvalidStackConfig) as refused:
        settings_for(stack, sqlWarehouseId=None)
    message = str(refused.value)
    assert "(1) mlops-stack:sqlWarehouseId is missing: expected a SQL warehouse id" in message
    assert "\n" not in message


def test_dev_without_a_warehouse_renders_and_the_plan_warns(renders: dict[str, Render]) -> None:
    render = renders["dev"]
    assert all("warehouseId" not in t.inputs for t in render.of_type(TABLE))
    (warning,) = render.settings.plan_warnings()
    assert "terraform-sql-table" in warning
    assert f"Warning: {warning}" in format_text(render)
    assert render_with("dev", sqlWarehouseId="0123456789abcdef").settings.plan_warnings() == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_table_is_created_with_create_or_replace(renders: dict[str, Render], stack: str) -> None:
    for table in renders[stack].of_type(TABLE):
        assert table.inputs["tableType"] == "MANAGED"
        assert "dataSourceFormat" not in table.inputs, table.name


@pytest.mark.parametrize("stack", STACKS)
def test_what_holds_data_is_never_deleted_by_a_replacement_or_a_destroy(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    for resource in render.of_type(TABLE) + render.of_type(SCHEMA):
        registration = resource.registration
        assert registration is not None
        assert registration.retain_on_delete, resource.name
        assert not registration.delete_before_replace, resource.name
        assert registration.protect == (stack == "prod"), resource.name


@pytest.mark.parametrize("stack", STACKS)
def test_input_tables_in_the_stacks_schema_are_created_with_their_contract(
    renders: dict[str, Render], stack: str
) -> None:
    """A grant needs its table to exist: an input table in a schema the stack creates
    exists only if the stack creates it, for every project."""
    render = renders[stack]
    created = {
        f"{t.inputs['catalogName']}.{t.inputs['schemaName']}.{t.inputs['name']}": t.inputs
        for t in render.of_type(TABLE)
    }
    checked = 0
    for project in render.settings.projects:
        contracts = project.declaration.implementation().schemas()
        for role in project.roles("input"):
            table = project.tables[role]
            if table.rpartition(".")[0] == project.home:
                columns = [c["name"] for c in created[table]["columns"]]
                assert columns == contracts[role].fieldNames(), table
                checked += 1
            else:
                assert table not in created
    assert checked >= 4  # fare's requests and churn's four inputs live in their schemas
