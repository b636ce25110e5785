"""Unity Catalog's ownership and privilege rules, held on every stack's render.

- Registered models: only the owner (or a metastore admin) sets or deletes aliases, updates
  or deletes a model; reading needs ownership or EXECUTE (REST API: set-registered-model-
  alias, registered-models get/update/delete; databricks-sdk-py ``RegisteredModelsAPI``).
- Granting: the object's owner, its parent catalog's or schema's owner, a MANAGE holder or a
  metastore admin may grant, with USE CATALOG/USE SCHEMA on the parents
  (docs.databricks.com/data-governance/unity-catalog/manage-privileges; SQL reference,
  "Privileges and securable objects").
docs/platform.md, "Registered model ownership" and "Who may grant".
"""

from __future__ import annotations

import pytest

from infra.prerequisites import prerequisites
from mlops.render import Render
from tests.infra.conftest import STACKS, render_with
from tests.platform.test_first_deployment import creates

MODEL = "databricks:index/registeredModel:RegisteredModel"
SECURABLES = ("catalog", "schema", "table", "volume", "model", "externalLocation")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_model_is_owned_by_a_group_holding_the_deployer_and_the_runner(
    renders: dict[str, Render], stack: str
) -> None:
    """The runner moves aliases (owner only) and the deployer reads, updates and destroys
    the model (owner, or EXECUTE to read): both must be owners, hence the group."""
    render = renders[stack]
    s = render.settings
    models = render.of_type(MODEL)
    assert len(models) == len(s.projects)  # one per project, all owned by the one group
    for model in models:
        assert model.inputs["owner"] == s.groups.model_owners
    (group,) = [p for p in prerequisites(s) if (p.kind, p.name) == ("GROUP", s.groups.model_owners)]
    assert s.principals.deployer in group.why and s.principals.runner in group.why


def test_a_project_with_its_own_runner_has_its_model_owned_by_its_own_group() -> None:
    """Same rule, per project: only a model's owners move its aliases, so the runner of one
    project must not own another's model. A project with a runner of its own has an owners
    group of its own, holding the deployer and that runner only."""
    churn_runner = "22222222-2222-4222-8222-222222222222"
    render = render_with("prod", churn={"runner": churn_runner, "modelOwners": "churn-owners"})
    s = render.settings
    owners = {m.name: m.inputs["owner"] for m in render.of_type(MODEL)}
    assert owners == {
        "prod-mlops-stack-fare-ml-model": s.groups.model_owners,
        "prod-mlops-stack-churn-ml-model": "churn-owners",
    }
    groups = {p.name: p.why for p in prerequisites(s) if p.kind == "GROUP"}
    assert s.principals.runner in groups[s.groups.model_owners]
    assert churn_runner not in groups[s.groups.model_owners]
    assert (
        churn_runner in groups["churn-owners"] and s.principals.runner not in groups["churn-owners"]
    )
    assert s.principals.deployer in groups["churn-owners"]
    runners = {p.name for p in prerequisites(s) if p.kind == "SERVICE_PRINCIPAL"}
    assert runners == {s.principals.runner, churn_runner}


def test_in_dev_the_deploying_user_owns_the_models(renders: dict[str, Render]) -> None:
    for model in renders["dev"].of_type(MODEL):
        assert "owner" not in model.inputs


@pytest.mark.parametrize("stack", STACKS)
def test_every_grant_is_made_on_what_the_deployer_owns_or_holds_manage_on(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    owned = {entity for resource in render.resources for entity in creates(resource)}
    manage = {
        (p.kind, p.name)
        for p in prerequisites(render.settings)
        if "MANAGE" in p.privileges and p.principal == (render.settings.principals.deployer
                                                         or "the deploying user")
    }  # fmt: skip
    checked = 0
    for resource in render.of_type("databricks:index/grant:Grant") + render.of_type(
        "databricks:index/grants:Grants"
    ):
        (key,) = [k for k in SECURABLES if resource.inputs.get(k)]
        label = {"externalLocation": "EXTERNAL_LOCATION"}.get(key, key.upper())
        securable = (label, resource.inputs[key])
        parents = [(("CATALOG", "SCHEMA")[n], ".".join(securable[1].split(".")[: n + 1]))
                   for n in range(securable[1].count("."))]  # fmt: skip
        assert securable in owned or securable in manage or set(parents) & owned, securable
        checked += 1
    assert checked >= 8


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_runner_may_create_the_quarantine_table_beside_each_table_it_writes(
    renders: dict[str, Render], stack: str
) -> None:
    """Creating a table takes USE_CATALOG on the catalog, and USE_SCHEMA and CREATE_TABLE on
    the schema; the creator then owns it (docs.databricks.com/data-governance/unity-catalog/
    manage-privileges/privileges, "CREATE TABLE"; ownership: "the owner of an object is the
    principal that created it"). As the runner, batch inference creates
    ``<predictions>_quarantine`` and write-features ``<feature table>_quarantine`` for each
    feature table (pipelines/common/expectations.py ``quarantine_table``)."""
    from pipelines.common.expectations import quarantine_table
    from pipelines.common.names import TableName
    from tests.infra.test_program import granted

    render = renders[stack]
    held = granted(render)
    checked = 0
    for project in render.settings.projects:
        assert project.predictions in project.outputs
        for output in project.outputs:
            table = quarantine_table(TableName.parse(output))
            schema = f"{table.catalog}.{table.schema}"
            runner = project.runner
            assert "USE_CATALOG" in held[("CATALOG", table.catalog, runner)], table
            assert {"USE_SCHEMA", "CREATE_TABLE"} <= held[("SCHEMA", schema, runner)], table
            checked += 1
    assert checked >= 4  # fare's two feature tables and predictions, churn's two
