"""Rule: each securable takes only its own privileges, and each workspace object only its own
permission levels; a value outside the list is refused by the platform, not by the mocks.

Sources, databricks/terraform-provider-databricks at 684f4424 (the resources pulumi-databricks
bridges): ``docs/resources/grants.md`` ("You can grant ... privileges to" catalog, schema,
table, volume, registered model, external location) and ``docs/resources/permissions.md``
(job: CAN_VIEW, CAN_MANAGE_RUN, IS_OWNER, CAN_MANAGE; folder and notebook: CAN_READ,
CAN_RUN, CAN_EDIT, CAN_MANAGE; MLflow experiment: CAN_READ, CAN_EDIT, CAN_MANAGE; dashboard:
CAN_READ, CAN_RUN, CAN_EDIT, CAN_MANAGE). The folder page also says notebooks and experiments
in a folder inherit its permissions, which is how the runner reads the task notebooks.
"""

from __future__ import annotations

import pytest

from mlops.render import Render
from tests.infra.conftest import STACKS, render_with

PRIVILEGES = {
    "catalog": {"ALL_PRIVILEGES", "APPLY_TAG", "CREATE_CONNECTION", "CREATE_SCHEMA", "MANAGE",
                "USE_CATALOG"},
    "schema": {"ALL_PRIVILEGES", "APPLY_TAG", "CREATE_FUNCTION", "CREATE_TABLE", "CREATE_VOLUME",
               "MANAGE", "USE_SCHEMA"},
    "table": {"ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "SELECT", "MODIFY"},
    "volume": {"ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "READ_VOLUME", "WRITE_VOLUME"},
    "model": {"ALL_PRIVILEGES", "APPLY_TAG", "EXECUTE", "MANAGE"},
    "externalLocation": {"ALL_PRIVILEGES", "CREATE_EXTERNAL_TABLE", "CREATE_MANAGED_STORAGE",
                         "CREATE_EXTERNAL_VOLUME", "MANAGE", "READ_FILES", "WRITE_FILES"},
}  # fmt: skip
WORKSPACE = {"CAN_READ", "CAN_RUN", "CAN_EDIT", "CAN_MANAGE"}
LEVELS = {
    "jobId": {"CAN_VIEW", "CAN_MANAGE_RUN", "IS_OWNER", "CAN_MANAGE"},
    "directoryPath": WORKSPACE,
    "notebookPath": WORKSPACE,
    "experimentId": {"CAN_READ", "CAN_EDIT", "CAN_MANAGE"},
    "dashboardId": WORKSPACE,
}


def every_render(renders: dict[str, Render]) -> list[Render]:
    return [*renders.values(), render_with("staging", storage={
        "enabled": True, "bucketName": "acme-mlops-lakehouse", "awsRegion": "eu-west-1",
        "awsAccountId": "123456789012"})]  # fmt: skip


def test_every_privilege_granted_is_one_its_securable_takes(renders: dict[str, Render]) -> None:
    seen = set()
    for render in every_render(renders):
        for resource in render.of_type("databricks:index/grant:Grant") + render.of_type(
            "databricks:index/grants:Grants"
        ):
            (securable,) = [key for key in PRIVILEGES if resource.inputs.get(key)]
            seen.add(securable)
            for entry in resource.inputs.get("grants") or [resource.inputs]:
                wrong = set(entry["privileges"]) - PRIVILEGES[securable]
                assert not wrong, f"{resource.name}: {sorted(wrong)} on a {securable}"
    assert seen == set(PRIVILEGES)


@pytest.mark.parametrize("stack", STACKS)
def test_every_permission_level_is_one_its_object_takes(
    renders: dict[str, Render], stack: str
) -> None:
    seen = set()
    for resource in renders[stack].of_type("databricks:index/permissions:Permissions"):
        (key,) = [k for k in LEVELS if resource.inputs.get(k)]
        seen.add(key)
        for acl in resource.inputs["accessControls"]:
            assert acl["permissionLevel"] in LEVELS[key], (resource.name, acl)
    assert seen == {"jobId", "directoryPath", "experimentId", "dashboardId"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_runner_reads_the_task_notebooks_through_the_stack_folder(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    runner = render.settings.principals.runner
    (folder,) = [
        p for p in render.of_type("databricks:index/permissions:Permissions")
        if p.inputs.get("directoryPath")
    ]  # fmt: skip
    assert {"servicePrincipalName": runner, "permissionLevel": "CAN_READ"} in folder.inputs[
        "accessControls"
    ]
    root = folder.inputs["directoryPath"]
    notebooks = render.of_type("databricks:index/notebook:Notebook")
    assert notebooks and all(n.inputs["path"].startswith(root + "/") for n in notebooks)
