"""Rule: a ``depends_on`` on a local component resource is a dependency on each of the
custom resources under it; a ``depends_on`` on a custom resource is on that resource only.

Source: pulumi/pulumi ``sdk/python/lib/pulumi/runtime/rpc.py``, ``_add_dependency`` ("Local
component resources act as aggregations of their descendents. Rather than adding the
component resource itself, each child resource is added as a dependency"). Held here on
Pulumi's real SDK, whose registration requests the mock monitor records as the engine would
receive them. docs/platform.md, "Dependencies on components".
"""

from __future__ import annotations

import pulumi
import pulumi_databricks as databricks

from mlops.render import RecordingMocks, RecordingMonitor
from tests.infra.conftest import render_with

DIRECTORY = "databricks:index/directory:Directory"


class _Folders(pulumi.ComponentResource):
    def __init__(self, name: str, count: int) -> None:
        super().__init__("test:index:Folders", name, None, None)
        self.folders = [
            databricks.Directory(
                f"{name}-{i}", path=f"/Shared/{name}/{i}", opts=pulumi.ResourceOptions(parent=self)
            )
            for i in range(count)
        ]
        self.register_outputs({})


def _registered_dependencies() -> dict[str, set[str]]:
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False, monitor=monitor)

    @pulumi.runtime.test
    def program() -> pulumi.Output[int]:
        folders = _Folders("folders", 3)
        databricks.Directory(
            "on-component", path="/Shared/a", opts=pulumi.ResourceOptions(depends_on=[folders])
        )
        databricks.Directory(
            "on-one-child",
            path="/Shared/b",
            opts=pulumi.ResourceOptions(depends_on=[folders.folders[1]]),
        )
        return pulumi.Output.from_input(0)

    program()
    urns = {r.urn: name for (_, name), r in monitor.registrations.items()}
    return {
        name: {urns[urn] for urn in r.dependencies}
        for (kind, name), r in monitor.registrations.items()
        if kind == DIRECTORY
    }


def test_a_dependency_on_a_component_is_one_on_each_of_its_children() -> None:
    dependencies = _registered_dependencies()
    assert dependencies["on-component"] == {"folders-0", "folders-1", "folders-2"}
    assert dependencies["on-one-child"] == {"folders-1"}


def test_a_projects_jobs_wait_on_resources_not_on_the_shared_components() -> None:
    """What the program relies on: its jobs name the resources they need (the project's
    folders, tables and grants), so what a job waits for does not grow with the number of
    projects in the stack (bench/plan_projects.py)."""
    render = render_with("prod")
    by_urn = render.by_urn()
    for job in render.of_type("databricks:index/job:Job"):
        assert job.registration is not None
        names = {by_urn[urn].name for urn in job.registration.dependencies}
        project = job.inputs["tags"]["model_project"]
        other = "churn" if project == "fare" else "fare"
        # Its own project's schema, and nothing of the other project's: not its folder,
        # schema, tables or grants (the code volume, in the first project's schema, is
        # the one shared resource).
        assert f"prod-mlops-stack-catalog-{project}-schema" in names, job.inputs["name"]
        assert not {n for n in names if f"-{other}-" in n}, job.inputs["name"]
