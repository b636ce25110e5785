"""The program under Pulumi's mock engine: what each stack registers, for each of its
projects, and its guarantees."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import jsonschema
import pytest

from infra.outputs import SCHEMA_VERSION, output_schema, validate_outputs
from infra.program import CodePackage
from infra.settings import InvalidStackConfig, ProjectSettings, StackSettings
from mlops.render import Render, RenderedResource, render_settings, render_stack
from tests.infra.conftest import (
    CODE,
    PROJECTS,
    STACKS,
    TOKEN_SENTINEL,
    render_with,
    settings_for,
    stack_path,
)
from tests.platform.test_first_deployment import GRANT_SECURABLES

JOB = "databricks:index/job:Job"
NOTEBOOK = "databricks:index/notebook:Notebook"
GRANT = "databricks:index/grant:Grant"
GRANTS = "databricks:index/grants:Grants"
COMPONENT_TYPES = {
    "mlops-stack:workspace:StackFolder",
    "mlops-stack:catalog:CatalogAccess",
    "mlops-stack:ml:MlArtifacts",
    "mlops-stack:code:PipelineCode",
    "mlops-stack:jobs:FeatureEngineeringJob",
    "mlops-stack:jobs:TrainingJob",
    "mlops-stack:jobs:BatchInferenceJob",
    "mlops-stack:monitoring:MonitoredTable",
}
NESTED_COMPONENT_TYPES = {"mlops-stack:jobs:RetrainingJob"}
JOB_ITEMS = ("feature-engineering", "training", "batch-inference", "monitoring")


def jobs(render: Render) -> dict[str, dict]:
    return {job.inputs["name"]: job.inputs for job in render.of_type(JOB)}


def wheel_tasks(job: dict) -> list[dict]:
    """The tasks that run the wheel (not the notebook, condition and run-job tasks)."""
    return [task for task in job["tasks"] if "pythonWheelTask" in task]


def code_tasks(job: dict) -> list[dict]:
    """The tasks that run our code: wheel tasks and the notebooks around entry points."""
    return [task for task in job["tasks"] if {"pythonWheelTask", "notebookTask"} & set(task)]


# --- structure and naming --------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_builds_every_component_with_its_children(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    components = [root for root in render.roots if not root.type.startswith("pulumi:")]
    assert {c.type for c in components} == COMPONENT_TYPES
    nested = [c for root in components for c in root.children if c.type.startswith("mlops-stack:")]
    assert {c.type for c in nested} == NESTED_COMPONENT_TYPES
    for component in components + nested:
        assert re.fullmatch(r"mlops-stack:[a-z]+:[A-Z][A-Za-z]+", component.type)
        assert component.children, f"{component.type} registered no children"
        for child in component.children:
            assert child.type.startswith("databricks:index/") or child in nested, child.type
            assert child.name.startswith(component.name + "-"), child.name
    projects = render.settings.projects
    assert tuple(p.name for p in projects) == PROJECTS
    counts = render.counts()
    assert counts[JOB] == 4 * len(projects)
    assert counts["databricks:index/qualityMonitor:QualityMonitor"] == len(projects)
    # Each project's output tables, and its input tables that live in its own schema.
    created = sum(
        len(p.outputs) + len([t for t in p.inputs if t.rpartition(".")[0] == p.home])
        for p in projects
    )
    assert counts["databricks:index/sqlTable:SqlTable"] == created
    assert counts["databricks:index/schema:Schema"] == len(projects)
    assert counts["databricks:index/notebook:Notebook"] == 2 * len(projects)
    # The stack's folder and one per project.
    assert counts["databricks:index/directory:Directory"] == 1 + len(projects)
    assert counts["databricks:index/registeredModel:RegisteredModel"] == len(projects)
    assert counts["databricks:index/mlflowExperiment:MlflowExperiment"] == len(projects)
    # One code volume and wheel per stack, whatever the number of projects.
    assert counts["databricks:index/volume:Volume"] == 1
    assert counts["databricks:index/file:File"] == 1


@pytest.mark.parametrize("stack", STACKS)
def test_names_follow_env_project_item(renders: dict[str, Render], stack: str) -> None:
    render = renders[stack]
    for resource in render.resources:
        assert resource.name.startswith(f"{stack}-mlops-stack-"), resource.name
    assert set(jobs(render)) == {
        f"{stack}-mlops-stack-{project}-{item}" for project in PROJECTS for item in JOB_ITEMS
    }
    # What belongs to one project is named after it; nothing is named twice.
    for root in render.roots:
        if root.type in ("mlops-stack:ml:MlArtifacts", "mlops-stack:monitoring:MonitoredTable"):
            assert re.match(rf"{stack}-mlops-stack-({'|'.join(PROJECTS)})-", root.name)
    names = [(r.type, r.name) for r in render.resources]
    assert len(names) == len(set(names))
    paths = [r.inputs.get("path") or r.inputs.get("name") for r in render.of_type(NOTEBOOK)]
    assert len(paths) == len(set(paths))
    for project in render.settings.projects:
        for table in project.outputs:
            (created,) = [
                r
                for r in render.of_type("databricks:index/sqlTable:SqlTable")
                if f"{r.inputs['catalogName']}.{r.inputs['schemaName']}.{r.inputs['name']}" == table
            ]
            assert created.name.startswith(f"{stack}-mlops-stack-catalog-{project.name}-")


@pytest.mark.parametrize("stack", STACKS)
def test_the_first_project_keeps_its_names_from_before_several_projects(
    renders: dict[str, Render], stack: str
) -> None:
    """The stacks deployed fare alone before schemaVersion 2, with no project in its
    resources' names: each now answers to its old name (a Pulumi alias), so `pulumi up`
    renames it in place; churn's resources are new and have none."""
    render = renders[stack]
    for resource in render.resources:
        fare = f"{stack}-mlops-stack-fare-"
        if resource.name.startswith(fare):
            assert resource.aliases == (resource.name.replace("fare-", "", 1),), resource.name
        elif "-catalog-fare-" in resource.name:
            old = resource.name.replace("-catalog-fare-", "-catalog-")
            assert resource.aliases == (old,), resource.name
        else:
            assert resource.aliases == (), resource.name
    monitor = render.find(
        "mlops-stack:monitoring:MonitoredTable", f"{stack}-mlops-stack-fare-monitoring"
    )
    (job,) = [c for c in monitor.children if c.type == "mlops-stack:jobs:RetrainingJob"]
    assert job.aliases == (f"{stack}-mlops-stack-monitoring-retraining",)


# --- jobs --------------------------------------------------------------------------------


def test_dev_schedules_are_paused_and_staging_and_prod_run(renders: dict[str, Render]) -> None:
    for stack, expected in (("dev", "PAUSED"), ("staging", "UNPAUSED"), ("prod", "UNPAUSED")):
        for name, job in jobs(renders[stack]).items():
            assert job["schedule"]["pauseStatus"] == expected, name
            assert job["schedule"]["timezoneId"] == "UTC"


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_jobs_run_as_the_running_service_principal(
    renders: dict[str, Render], stack: str
) -> None:
    runner = renders[stack].settings.principals.runner
    assert runner
    for name, job in jobs(renders[stack]).items():
        assert job["runAs"] == {"servicePrincipalName": runner}, name


def test_dev_jobs_run_as_whoever_deploys_them(renders: dict[str, Render]) -> None:
    assert all("runAs" not in job for job in jobs(renders["dev"]).values())


@pytest.mark.parametrize("stack", STACKS)
def test_jobs_carry_retries_timeouts_notifications_tags_and_permissions(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    settings = render.settings
    for name, job in jobs(render).items():
        project = job["tags"]["model_project"]
        assert name.startswith(f"{stack}-mlops-stack-{project}-")
        assert job["maxConcurrentRuns"] == 1
        assert job["tags"]["project"] == "mlops-stack"
        assert job["tags"]["environment"] == stack
        assert job["tags"]["code_version"] == CODE.version
        assert job["tags"]["team"] == "ml-platform"
        emails = list(settings.notification_emails)
        assert (job.get("emailNotifications") or {}).get("onFailures", []) == emails, name
        assert {p["name"] for p in job["parameters"]} >= {"run_date"}
        for task in code_tasks(job):
            assert task["maxRetries"] == settings.jobs.max_retries
            assert task["timeoutSeconds"] == settings.jobs.timeout_minutes * 60
            assert (
                task["minRetryIntervalMillis"] == settings.jobs.min_retry_interval_minutes * 60_000
            )
        for task in wheel_tasks(job):
            assert task["pythonWheelTask"]["packageName"] == "mlops_stack"
    permissions = [
        r for r in render.of_type("databricks:index/permissions:Permissions") if "jobId" in r.inputs
    ]
    assert len(permissions) == 4 * len(PROJECTS)
    everyone = [
        {"groupName": settings.groups.readers, "permissionLevel": "CAN_VIEW"},
        {"groupName": settings.groups.ml_team, "permissionLevel": "CAN_MANAGE_RUN"},
    ]
    runner = settings.principals.runner
    training = {f"{stack}-mlops-stack-{p}-training-permissions" for p in PROJECTS}
    for permission in permissions:
        expected = everyone
        # The retraining job starts the training job as the runner (test_monitoring.py).
        if permission.name in training and runner:
            expected = [{"servicePrincipalName": runner, "permissionLevel": "CAN_MANAGE_RUN"}]
            expected += everyone
        assert permission.inputs["accessControls"] == expected, permission.name


@pytest.mark.parametrize("project", PROJECTS)
def test_training_job_chains_train_validation_deployment(
    renders: dict[str, Render], project: str
) -> None:
    job = jobs(renders["prod"])[f"prod-mlops-stack-{project}-training"]
    order = {t["taskKey"]: [d["taskKey"] for d in t.get("dependsOns") or []] for t in job["tasks"]}
    assert order == {
        "Train": [],
        "ModelValidation": ["Train"],
        "ModelDeployment": ["ModelValidation"],
    }


def test_job_clusters_use_the_ml_runtime_in_dedicated_mode(renders: dict[str, Render]) -> None:
    for stack in STACKS:
        settings = renders[stack].settings
        for name, job in jobs(renders[stack]).items():
            compute = settings.project(job["tags"]["model_project"]).compute
            (cluster,) = job["jobClusters"]
            new_cluster = cluster["newCluster"]
            assert new_cluster["sparkVersion"] == compute.spark_version
            assert "-ml-" in new_cluster["sparkVersion"]
            assert new_cluster["dataSecurityMode"] == "SINGLE_USER"
            assert new_cluster["numWorkers"] == compute.num_workers
            for task in code_tasks(job):
                assert task["jobClusterKey"] == cluster["jobClusterKey"], name
    single_node = jobs(renders["dev"])["dev-mlops-stack-fare-training"]["jobClusters"][0]
    assert single_node["newCluster"]["customTags"] == {"ResourceClass": "SingleNode"}


def test_a_project_may_override_the_stacks_compute() -> None:
    render = render_with("staging", churn={"compute": {"numWorkers": 4, "nodeType": "m5.large"}})
    for name, job in jobs(render).items():
        cluster = job["jobClusters"][0]["newCluster"]
        if job["tags"]["model_project"] == "churn":
            assert (cluster["numWorkers"], cluster["nodeTypeId"]) == (4, "m5.large"), name
        else:
            assert (cluster["numWorkers"], cluster["nodeTypeId"]) == (1, "i3.xlarge"), name
        # What the override leaves out is the stack's.
        assert cluster["sparkVersion"] == "17.3.x-cpu-ml-scala2.13"


def test_serverless_compute_installs_the_wheel_through_the_job_environment() -> None:
    render = render_with("staging", compute={"kind": "serverless"})
    for name, job in jobs(render).items():
        assert "jobClusters" not in job, name
        (environment,) = job["environments"]
        assert environment["spec"]["dependencies"] == [render.exports["code"]["wheel"]]
        assert environment["spec"]["environmentVersion"] == "3"
        for task in wheel_tasks(job):
            assert task["environmentKey"] == environment["environmentKey"]
            assert "libraries" not in task
        # A serverless notebook task takes no job environment: the notebook installs the
        # wheel itself (docs/platform.md, "Task values").
        for task in code_tasks(job):
            if "notebookTask" in task:
                assert "environmentKey" not in task and "jobClusterKey" not in task


# --- code upload -------------------------------------------------------------------------


def test_every_task_pins_the_uploaded_wheel_of_this_code_version(
    renders: dict[str, Render],
) -> None:
    render = renders["prod"]
    (wheel,) = render.of_type("databricks:index/file:File")
    path = wheel.inputs["path"]
    assert path == f"/Volumes/prod/nyc_taxi/code/{CODE.version}/mlops_stack-0.1.0-py3-none-any.whl"
    assert wheel.inputs["source"] == CODE.wheel_file
    assert render.exports["code"] == {"version": CODE.version, "wheel": path}
    for job in jobs(render).values():
        for task in wheel_tasks(job):
            assert task["libraries"] == [{"whl": path}]


def test_a_code_change_changes_the_wheel_path_and_every_job() -> None:
    before = render_with("staging")
    changed = CodePackage(version="fedcba987654", wheel_file=CODE.wheel_file)
    after = render_with("staging", code=changed)
    assert before.exports["code"]["wheel"] != after.exports["code"]["wheel"]
    assert "fedcba987654" in after.exports["code"]["wheel"]
    old, new = jobs(before), jobs(after)
    for name in old:
        assert old[name]["tasks"] != new[name]["tasks"], name
        assert new[name]["tags"]["code_version"] == "fedcba987654"
    notebooks = {n.name: n.inputs["path"] for n in after.of_type(NOTEBOOK)}
    assert notebooks and all("/code/fedcba987654/" in path for path in notebooks.values())


# --- grants: the least-privilege audit ------------------------------------------------------

ALLOWED = {
    "CATALOG": {"USE_CATALOG"},
    "SCHEMA": {"USE_SCHEMA", "CREATE_TABLE"},
    "TABLE": {"SELECT", "MODIFY"},
    "MODEL": {"EXECUTE"},
    "VOLUME": {"READ_VOLUME"},
}
# The one exception: the runner refreshes the predictions table's quality monitor, which
# takes MANAGE on that table (see MonitoredTable); on no other table, for nobody else.
REFRESH_MONITOR = {"MANAGE"}


def allowed(render: Render, kind: str, name: str, principal: str) -> set[str]:
    predictions = {p.predictions: p.runner for p in render.settings.projects}
    refreshes = kind == "TABLE" and predictions.get(name, "") == principal
    return ALLOWED[kind] | (REFRESH_MONITOR if refreshes else set())


def granted(render: Render) -> dict[tuple[str, str, str], set[str]]:
    """(securable kind, securable name, principal) -> privileges, over every grant."""
    found: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for resource in render.of_type(GRANT) + render.of_type(GRANTS):
        inputs = resource.inputs
        (kind,) = [k for k in ("catalog", "schema", "table", "model", "volume") if k in inputs]
        entries = inputs.get("grants") or [inputs]
        for entry in entries:
            found[(kind.upper(), inputs[kind], entry["principal"])] |= set(entry["privileges"])
    return dict(found)


def expected_grants(render: Render) -> dict[tuple[str, str, str], set[str]]:
    """The least-privilege set, project by project: what each project's runner needs on
    its own securables (and SELECT on the tables of the projects it reaches), what the
    readers read and the ML team loads; the stack-level catalog and code volume once."""
    s = render.settings
    readers, team = s.groups.readers, s.groups.ml_team
    homes = {p.home for p in s.projects}
    expected: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    expected[("CATALOG", s.catalog, readers)] |= {"USE_CATALOG"}
    for p in s.projects:
        expected[("SCHEMA", p.home, readers)] |= {"USE_SCHEMA"}
        expected[("TABLE", p.predictions, readers)] |= {"SELECT"}
        expected[("MODEL", p.model_full_name, readers)] |= {"EXECUTE"}
        if p.monitoring.enabled:
            for suffix in ("_profile_metrics", "_drift_metrics"):
                expected[("TABLE", f"{p.predictions}{suffix}", readers)] |= {"SELECT"}
        # The input tables the stack creates in a project's schema: the ML team loads them.
        for table in p.inputs:
            if table.rpartition(".")[0] == p.home:
                expected[("TABLE", table, team)] |= {"SELECT", "MODIFY"}
        runner = p.runner
        if not runner:
            continue
        # The runner holds the model through the owners group; no grant names it there.
        expected[("CATALOG", s.catalog, runner)] |= {"USE_CATALOG"}
        expected[("VOLUME", f"{s.catalog}.{s.code_schema}.code", runner)] |= {"READ_VOLUME"}
        expected[("SCHEMA", p.home, runner)] |= {"USE_SCHEMA", "CREATE_TABLE"}
        for table in p.outputs:
            expected[("TABLE", table, runner)] |= {"SELECT", "MODIFY"}
        if p.monitoring.enabled:
            expected[("TABLE", p.predictions, runner)] |= {"MANAGE"}
            expected[("TABLE", f"{p.predictions}_profile_metrics", runner)] |= {"SELECT"}
        for table in p.inputs:
            expected[("TABLE", table, runner)] |= {"SELECT"}
            schema = table.rpartition(".")[0]
            if schema != p.home:
                expected[("SCHEMA", schema, runner)] |= {"USE_SCHEMA"}
                if schema.split(".")[0] != s.catalog:
                    expected[("CATALOG", schema.split(".")[0], runner)] |= {"USE_CATALOG"}
        for other in p.runner_reaches:
            for table in s.project(other).tables.values():
                expected[("TABLE", table, runner)] |= {"SELECT"}
                schema = table.rpartition(".")[0]
                expected[("SCHEMA", schema, runner)] |= {"USE_SCHEMA"}
                if schema.split(".")[0] != s.catalog:
                    expected[("CATALOG", schema.split(".")[0], runner)] |= {"USE_CATALOG"}
        assert all(t.rpartition(".")[0] in homes or t in p.inputs for t in p.tables.values())
    return dict(expected)


@pytest.mark.parametrize("stack", STACKS)
def test_grants_are_exactly_the_least_privilege_set(renders: dict[str, Render], stack: str) -> None:
    render = renders[stack]
    assert granted(render) == expected_grants(render)


@pytest.mark.parametrize("stack", STACKS)
def test_no_grant_is_broader_than_its_securable_needs(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    for (kind, name, principal), privileges in granted(render).items():
        assert privileges <= allowed(render, kind, name, principal), (kind, name, principal)
        assert "ALL_PRIVILEGES" not in privileges
        assert principal.lower() not in {"account users", "users", "all users"}


def test_the_readers_never_modify_and_the_runner_modifies_only_the_outputs(
    renders: dict[str, Render],
) -> None:
    render = renders["prod"]
    s = render.settings
    outputs = {t for p in s.projects for t in p.outputs}
    inputs = {t for p in s.projects for t in p.inputs}
    predictions = {p.predictions for p in s.projects}
    for (kind, name, principal), privileges in granted(render).items():
        if "MODIFY" in privileges:
            runner_writes = principal == s.principals.runner and name in outputs
            team_loads = principal == s.groups.ml_team and name in inputs
            assert runner_writes or team_loads, name
        if principal == s.groups.readers:
            assert privileges <= {"USE_CATALOG", "USE_SCHEMA", "SELECT", "EXECUTE"}
            if kind == "TABLE":
                # The predictions, and the monitors' metric tables for the dashboards.
                assert (
                    name.removesuffix("_profile_metrics").removesuffix("_drift_metrics")
                    in predictions
                ), name
        if "MANAGE" in privileges:
            assert principal == s.principals.runner and name in predictions, name


def _with_runners(stack: str, runners: dict[str, str], **overrides: Any) -> StackSettings:
    """The settings of ``stack`` with each project of ``runners`` run by its own service
    principal (``<project>.runner``), its model owned by a group of its own
    (``<project>.modelOwners``), and the other ``overrides``."""
    for name, runner in runners.items():
        block = dict(overrides.get(name) or {})  # type: ignore[call-overload]
        block.update(runner=runner, modelOwners=f"{stack}-{name}-model-owners")
        overrides[name] = block
    return settings_for(stack, **overrides)


FARE_RUNNER = "11111111-1111-4111-8111-111111111111"
CHURN_RUNNER = "22222222-2222-4222-8222-222222222222"


def _reach(render: Render, runner: str) -> dict[tuple[str, str], set[str]]:
    return {
        (kind, name): privileges
        for (kind, name, principal), privileges in granted(render).items()
        if principal == runner
    }


def _securables_of(project: ProjectSettings, settings) -> set[tuple[str, str]]:
    tables = {("TABLE", t) for t in project.tables.values()}
    tables.add(("TABLE", f"{project.predictions}_profile_metrics"))
    schemas = {("SCHEMA", project.home)} | {
        ("SCHEMA", t.rpartition(".")[0]) for t in project.inputs
    }
    shared = {
        ("CATALOG", settings.catalog),
        ("VOLUME", f"{settings.catalog}.{settings.code_schema}.code"),
    }
    return tables | schemas | shared


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_a_projects_runner_reaches_only_its_own_tables_and_model(stack: str) -> None:
    settings = _with_runners(stack, {"fare": FARE_RUNNER, "churn": CHURN_RUNNER})
    render = render_settings(settings, CODE)
    assert granted(render) == expected_grants(render)
    for project, runner in (("fare", FARE_RUNNER), ("churn", CHURN_RUNNER)):
        own = settings.project(project)
        reach = _reach(render, runner)
        assert set(reach) <= _securables_of(own, settings), project
        # Its model is held through its own owners group; no grant names the runner there.
        assert not [key for key in reach if key[0] == "MODEL"]
        model = render.find(
            "databricks:index/registeredModel:RegisteredModel",
            f"{stack}-mlops-stack-{project}-ml-model",
        )
        assert model.inputs["owner"] == f"{stack}-{project}-model-owners"
        other = settings.project("churn" if project == "fare" else "fare")
        assert not set(reach) & {("TABLE", t) for t in other.tables.values()}, project
        assert ("SCHEMA", other.home) not in reach, project
        # Its jobs, its experiment and its monitor's profile table name it; the other's don't.
        for job in jobs(render).values():
            mine = job["tags"]["model_project"] == project
            assert (job.get("runAs") == {"servicePrincipalName": runner}) is mine, job["name"]
        experiment = render.find(
            "databricks:index/permissions:Permissions",
            f"{stack}-mlops-stack-{project}-ml-experiment-permissions",
        )
        assert {"servicePrincipalName": runner, "permissionLevel": "CAN_EDIT"} in experiment.inputs[
            "accessControls"
        ]


def _grants_waited_for(render: Render, job: RenderedResource) -> set[tuple[str, str, str]]:
    """(securable kind, securable, principal) of every grant the engine makes before ``job``."""
    found = set()
    for dep in render.dependencies(job):
        if dep.type.rsplit(":", 1)[-1] not in ("Grant", "Grants"):
            continue
        securable = next(k for k in GRANT_SECURABLES if dep.inputs.get(k))
        for entry in dep.inputs.get("grants") or [dep.inputs]:
            found.add((securable.upper(), str(dep.inputs[securable]), entry["principal"]))
    return found


@pytest.mark.parametrize("reaches", [False, True])
def test_a_projects_jobs_wait_for_their_own_grants_and_no_other_projects(reaches: bool) -> None:
    """A job's first run finds its runner's privileges granted: the job waits for every
    grant to its runner on what the project uses, and for nothing of the other project's
    (what it does not read), which keeps the program's evaluation linear in the number
    of projects (bench/plan_projects.py)."""
    churn = {"runnerReaches": ["fare"]} if reaches else {}
    settings = _with_runners("prod", {"fare": FARE_RUNNER, "churn": CHURN_RUNNER}, churn=churn)
    render = render_settings(settings, CODE)
    runners = {"fare": FARE_RUNNER, "churn": CHURN_RUNNER}
    for project, runner in runners.items():
        own = {
            (kind, name, runner)
            for (kind, name, principal) in granted(render)
            if principal == runner and kind != "MODEL"
        }
        for job in render.of_type("databricks:index/job:Job"):
            if job.inputs["tags"]["model_project"] != project:
                continue
            waited = _grants_waited_for(render, job)
            missing = {g for g in own - waited if g[0] != "VOLUME"}  # the wheel: PipelineCode
            # The monitor's metric tables are created by the monitor, granted with it.
            missing = {g for g in missing if "_metrics" not in g[1]}
            assert not missing, (job.inputs["name"], missing)
            # Nothing else: only what the project uses (and the shared catalog and code).
            mine = settings.project(project)
            uses = {name for _, name in _securables_of(mine, settings)} | {
                mine.model_full_name,
                f"{mine.predictions}_drift_metrics",
            }
            if project == "churn" and reaches:
                fare = settings.project("fare")
                uses |= {
                    *fare.tables.values(),
                    *(t.rpartition(".")[0] for t in fare.tables.values()),
                }
            assert {g[1] for g in waited} <= uses, job.inputs["name"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_runner_reaches_adds_select_on_the_reached_projects_tables_only(stack: str) -> None:
    settings = _with_runners(
        stack, {"fare": FARE_RUNNER, "churn": CHURN_RUNNER}, churn={"runnerReaches": ["fare"]}
    )
    render = render_settings(settings, CODE)
    assert granted(render) == expected_grants(render)
    fare, churn = settings.project("fare"), settings.project("churn")
    reach = _reach(render, CHURN_RUNNER)
    for table in fare.tables.values():
        assert reach[("TABLE", table)] == {"SELECT"}, table
    assert reach[("SCHEMA", fare.home)] == {"USE_SCHEMA"}
    # Fare's runner gains nothing on churn's securables, and churn's runner nothing on
    # fare's metric tables or model.
    assert not set(_reach(render, FARE_RUNNER)) & _securables_of(churn, settings) - {
        ("CATALOG", settings.catalog),
        ("VOLUME", f"{settings.catalog}.{settings.code_schema}.code"),
    }
    assert ("TABLE", f"{fare.predictions}_profile_metrics") not in reach
    # With one runner (as the settings make it) the same reach adds no privilege.
    one_runner = render_with(stack, churn={"runnerReaches": ["fare"]})
    assert granted(one_runner) == granted(render_with(stack))


def test_the_model_owners_group_owns_the_models_in_staging_and_prod(
    renders: dict[str, Render],
) -> None:
    for stack in ("staging", "prod"):
        models = renders[stack].of_type("databricks:index/registeredModel:RegisteredModel")
        assert len(models) == len(PROJECTS)
        for model in models:
            assert model.inputs["owner"] == renders[stack].settings.groups.model_owners
    for dev_model in renders["dev"].of_type("databricks:index/registeredModel:RegisteredModel"):
        assert "owner" not in dev_model.inputs


# --- protection ----------------------------------------------------------------------------

KEPT_TYPES = {
    "databricks:index/registeredModel:RegisteredModel",
    "databricks:index/sqlTable:SqlTable",
    "databricks:index/schema:Schema",
    "databricks:index/directory:Directory",
}


@pytest.mark.parametrize("stack", STACKS)
def test_prod_model_schema_tables_and_folder_are_protected_from_deletion(
    renders: dict[str, Render], stack: str
) -> None:
    protected = {(r.type, r.name) for r in renders[stack].resources if r.protected}
    kept = {(r.type, r.name) for r in renders[stack].resources if r.type in KEPT_TYPES}
    assert protected == (kept if stack == "prod" else set())


@pytest.mark.parametrize("project", PROJECTS)
def test_output_tables_have_the_projects_columns(renders: dict[str, Render], project: str) -> None:
    settings = renders["prod"].settings.project(project)
    contracts = settings.declaration.implementation().schemas()
    tables = {
        f"{r.inputs['catalogName']}.{r.inputs['schemaName']}.{r.inputs['name']}": r.inputs
        for r in renders["prod"].of_type("databricks:index/sqlTable:SqlTable")
    }
    for role in settings.declaration.tables:
        name = settings.tables[role.role]
        if name not in tables:
            assert role.kind == "input" and name.rpartition(".")[0] != settings.home
            continue
        inputs = tables[name]
        assert [c["name"] for c in inputs["columns"]] == contracts[role.role].fieldNames()
        keys = {c["name"]: c.get("nullable") for c in inputs["columns"]}
        assert all(keys[key] is False for key in role.keys), name
        assert inputs["tableType"] == "MANAGED"
        # Unity Catalog's default, Delta, without the provider's CREATE OR REPLACE.
        assert "dataSourceFormat" not in inputs
    predictions = tables[settings.predictions]
    assert predictions["properties"] == {"delta.enableChangeDataFeed": "true"}


# --- outputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_exports_follow_the_published_schema(renders: dict[str, Render], stack: str) -> None:
    render = renders[stack]
    exports = render.exports
    validate_outputs(exports)
    assert exports["schemaVersion"] == SCHEMA_VERSION == 2
    assert output_schema()["properties"]["schemaVersion"] == {
        "const": SCHEMA_VERSION,
        "description": output_schema()["properties"]["schemaVersion"]["description"],
    }
    assert exports["environment"] == stack
    assert list(exports["projects"]) == list(PROJECTS)
    for name, project in exports["projects"].items():
        settings = render.settings.project(name)
        assert project["model"]["name"] == settings.model_full_name
        assert project["problemType"] == settings.problem_type.value
        assert project["schema"] == settings.schema
        assert project["tables"] == dict(settings.tables)
        assert set(project["jobs"]) == {
            "featureEngineering",
            "training",
            "batchInference",
            "monitoring",
        }
        for job in project["jobs"].values():
            assert job["name"].startswith(f"{stack}-mlops-stack-{name}-")
        assert project["monitor"]["table"] == settings.predictions
    assert exports["code"]["wheel"].startswith(f"/Volumes/{stack}/nyc_taxi/code/")


def test_the_schema_rejects_a_broken_export(renders: dict[str, Render]) -> None:
    def broken(change) -> dict:
        copied = json.loads(json.dumps(renders["prod"].exports))
        change(copied)
        return copied

    for change in (
        lambda e: e["projects"]["fare"]["jobs"]["training"].update(id="not-a-number"),
        lambda e: e.update(token="x"),
        lambda e: e.update(schemaVersion=1),
        lambda e: e.pop("schemaVersion"),
        lambda e: e.update(projects={}),
        lambda e: e["projects"]["churn"].update(extra=1),
        lambda e: e["projects"]["churn"]["tables"].pop("predictions"),
        # The old shape: jobs at the top.
        lambda e: e.update(jobs=e["projects"]["fare"]["jobs"]),
    ):
        with pytest.raises(jsonschema.ValidationError):
            validate_outputs(broken(change))
    assert output_schema()["additionalProperties"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_no_secret_reaches_an_export_or_a_resource_input(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    exported = json.dumps(render.exports)
    inputs = json.dumps([r.inputs for r in render.resources])
    for text in (exported, inputs):
        assert TOKEN_SENTINEL not in text
        assert not re.search(r"dapi[0-9a-f]{8,}", text)
    assert not re.search(r"(?i)token|secret|password", exported)
    (provider,) = [r for r in render.resources if r.type == "pulumi:providers:databricks"]
    assert set(provider.inputs) == {"host"}


# --- one project, or several -------------------------------------------------------------


def test_a_stack_may_deploy_one_project_alone() -> None:
    render = render_with("staging", projects=["churn"], fare=None)
    assert [p.name for p in render.settings.projects] == ["churn"]
    assert list(render.exports["projects"]) == ["churn"]
    assert set(jobs(render)) == {f"staging-mlops-stack-churn-{item}" for item in JOB_ITEMS}
    # The code volume is in the first (here the only) project's schema.
    assert render.exports["code"]["wheel"].startswith("/Volumes/staging/telco/code/")
    validate_outputs(render.exports)


def test_the_projects_order_is_the_settings() -> None:
    render = render_with("dev", projects=["churn", "fare"])
    assert list(render.exports["projects"]) == ["churn", "fare"]


# --- bad settings stop everything ----------------------------------------------------------


def test_bad_settings_fail_before_any_resource_is_registered(
    tmp_path, registered: list[str]
) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    source = stack_path("prod").read_text().replace('"0 0 6 ? * MON"', '"0 6 * * 1"')
    path.write_text(source)
    with pytest.raises(
        InvalidStackConfig, match=r"Pulumi.prod.yaml.*mlops-stack:fare.schedules.training.cron"
    ):
        render_stack(path, CODE)
    assert registered == []


def test_a_bad_project_block_fails_before_any_resource_is_registered(
    tmp_path, registered: list[str]
) -> None:
    path = tmp_path / "Pulumi.staging.yaml"
    source = (
        stack_path("staging")
        .read_text()
        .replace("metric: accuracy_score", "metric: root_mean_squared_error")
    )
    path.write_text(source)
    with pytest.raises(InvalidStackConfig, match=r"mlops-stack:churn.monitoring.metric"):
        render_stack(path, CODE)
    assert registered == []
