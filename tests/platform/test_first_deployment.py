"""Rule: on a workspace where the stack has never run, every resource can only use what an
admin provided beforehand or what the stack creates before it.

The first ``pulumi up`` of each stack is walked as the engine would order it: a resource is
created after the resources it depends on (its ``depends_on`` and the resources whose
outputs its inputs use, as the program registers them). For every resource, each thing it
names (the schema of a table, the securable and principal of a grant, the folder of an
experiment, the notebook of a task, ...) must be an admin prerequisite
(``infra.prerequisites``, the list docs/setup.md and ``mlops preflight`` give) or be created
by a resource it waits for. Sources of the prerequisite rules: Unity Catalog's "Manage
privileges" (who may grant), MLflow's refusal of a missing experiment folder,
databricks_directory's mkdirs, databricks_notebook creating missing parents
(docs/platform.md, "First deployment on an empty workspace").
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator

import pytest

from infra import naming
from infra.prerequisites import prerequisites
from mlops.render import Render, RenderedResource
from tests.infra.conftest import STACKS

Entity = tuple[str, str]  # (kind, name)
GRANT_SECURABLES = ("catalog", "schema", "table", "volume", "model", "externalLocation")


def kind(resource: RenderedResource) -> str:
    return resource.type.rsplit(":", 1)[-1]


def creates(resource: RenderedResource) -> Iterator[Entity]:
    """What exists once ``resource`` is created."""
    i, k = resource.inputs, kind(resource)
    if k == "Catalog":
        yield ("CATALOG", i["name"])
    elif k == "Schema":
        yield ("SCHEMA", f"{i['catalogName']}.{i['name']}")
    elif k in ("SqlTable", "Volume", "RegisteredModel"):
        label = {"SqlTable": "TABLE", "Volume": "VOLUME", "RegisteredModel": "MODEL"}[k]
        yield (label, f"{i['catalogName']}.{i['schemaName']}.{i['name']}")
    elif k == "QualityMonitor":
        for table in naming.metric_tables(i["tableName"], i["outputSchemaName"]):
            yield ("TABLE", table)
        yield ("DASHBOARD", i["tableName"])
    elif k == "Directory":
        yield ("FOLDER", i["path"])
    elif k in ("Notebook", "File"):
        yield (k.upper(), i["path"])
    elif k == "MlflowExperiment":
        yield ("EXPERIMENT", i["name"])
    elif k == "Job":
        yield ("JOB", i["name"])
    elif k == "ExternalLocation":
        yield ("EXTERNAL_LOCATION", i["name"])


def _principal(name: str) -> Entity:
    return ("SERVICE_PRINCIPAL" if name.count("-") == 4 else "GROUP", name)


def _folder(path: str) -> str:
    return path.removeprefix("/Workspace").rpartition("/")[0]


def uses(resource: RenderedResource) -> Iterator[Entity]:
    """What must exist before ``resource`` can be created."""
    i, k = resource.inputs, kind(resource)
    if k == "Schema" and "catalogName" in i:
        yield ("CATALOG", i["catalogName"])
    elif k in ("SqlTable", "Volume", "RegisteredModel"):
        yield ("SCHEMA", f"{i['catalogName']}.{i['schemaName']}")
        if i.get("owner"):
            yield _principal(i["owner"])
        if i.get("warehouseId"):
            yield ("SQL_WAREHOUSE", i["warehouseId"])
    elif k in ("Grant", "Grants"):
        (securable,) = [key for key in GRANT_SECURABLES if i.get(key)]
        label = {"externalLocation": "EXTERNAL_LOCATION"}.get(securable, securable.upper())
        yield (label, i[securable])
        for entry in i.get("grants") or [i]:
            yield _principal(entry["principal"])
    elif k == "File":
        catalog, schema, volume = i["path"].split("/")[2:5]
        yield ("VOLUME", f"{catalog}.{schema}.{volume}")
    elif k in ("Directory", "MlflowExperiment"):
        # mkdirs creates missing parents of a folder; an experiment's folder must exist.
        path = i["path"] if k == "Directory" else i["name"]
        yield ("FOLDER", "/Shared" if k == "Directory" else _folder(path))
    elif k == "Notebook":
        # The provider creates a notebook's missing parents, inside a folder that exists.
        yield ("FOLDER", naming.stack_folder(resource.name.split("-", 1)[0]))
    elif k == "QualityMonitor":
        yield ("TABLE", i["tableName"])
        yield ("FOLDER", i["assetsDir"].removeprefix("/Workspace").rsplit("/", 1)[0])
        if i.get("warehouseId"):
            yield ("SQL_WAREHOUSE", i["warehouseId"])
    elif k == "Job":
        run_as = (i.get("runAs") or {}).get("servicePrincipalName")
        if run_as:
            yield ("SERVICE_PRINCIPAL", run_as)
        for task in i["tasks"]:
            if "notebookTask" in task:
                yield ("NOTEBOOK", task["notebookTask"]["notebookPath"])
            for library in task.get("libraries") or []:
                yield ("FILE", library["whl"])
        for environment in i.get("environments") or []:
            for dependency in environment["spec"]["dependencies"]:
                yield ("FILE", dependency)
    elif k == "Permissions":
        for acl in i["accessControls"]:
            for key in ("groupName", "servicePrincipalName"):
                if acl.get(key):
                    yield _principal(acl[key])


def given_beforehand(render: Render) -> set[Entity]:
    found = set()
    for step in prerequisites(render.settings):
        label = "FOLDER" if step.kind == "FOLDER" else step.kind
        found.add((label, step.name))
    return found


def missing(render: Render) -> list[str]:
    """Each use that neither an admin provides nor an earlier resource creates."""
    beforehand = given_beforehand(render)
    problems = []
    for resource in render.resources:
        if not resource.registration or resource.type.startswith("pulumi:providers:"):
            continue
        earlier = {entity for dep in render.dependencies(resource) for entity in creates(dep)}
        for entity in uses(resource):
            if entity not in beforehand and entity not in earlier:
                problems.append(f"{resource.name} uses {entity[0]} {entity[1]}")
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_the_first_pulumi_up_uses_only_what_exists_or_comes_earlier(
    renders: dict[str, Render], stack: str
) -> None:
    assert missing(renders[stack]) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_stage_of_the_first_deployment_is_checked(
    renders: dict[str, Render], stack: str
) -> None:
    """The walk sees the resources it must order: every kind that uses something."""
    kinds = {kind(r) for r in renders[stack].resources if any(uses(r))}
    assert kinds >= {
        "Schema", "SqlTable", "Volume", "RegisteredModel", "Grant", "Grants", "File",
        "Directory", "MlflowExperiment", "Notebook", "QualityMonitor", "Job", "Permissions",
    }  # fmt: skip


def test_a_resource_that_does_not_wait_for_what_it_uses_is_found(
    renders: dict[str, Render],
) -> None:
    """The check can fail: an experiment without its wait on the stack folder, and a grant
    on an input table that nothing creates and no admin provides."""
    render = copy.deepcopy(renders["prod"])
    experiment = render.find(
        "databricks:index/mlflowExperiment:MlflowExperiment", "prod-mlops-stack-fare-ml-experiment"
    )
    folder = render.find(
        "databricks:index/directory:Directory", "prod-mlops-stack-folder-directory"
    )
    registration = experiment.registration
    assert registration is not None
    kept = tuple(
        urn
        for urn in registration.dependencies
        if urn != folder.urn and "StackFolder" not in urn.split("::")[2]
    )
    experiment.registration = dataclasses.replace(registration, dependencies=kept)
    (grant,) = [r for r in render.of_type("databricks:index/grant:Grant") if "table" in r.inputs]
    grant.inputs = {**grant.inputs, "table": "prod.bronze.somebody_elses_table"}
    assert sorted(missing(render)) == sorted(
        [
            f"{grant.name} uses TABLE prod.bronze.somebody_elses_table",
            "prod-mlops-stack-fare-ml-experiment uses FOLDER /Shared/mlops-stack/prod",
        ]
    )
