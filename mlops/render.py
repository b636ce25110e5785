"""Offline render of a stack: the program run under Pulumi's mock engine, no CLI, no workspace.

It shows what the program registers for a stack's settings (resource tree, the inputs that
matter, the exports). It is not ``pulumi preview``: nothing is compared with a workspace,
and ids are made up by the mocks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config
from pulumi.runtime.mocks import MockMonitor

from infra import naming
from infra.outputs import validate_outputs
from infra.program import CodePackage, Deployment, cyclic_gc_paused, deploy
from infra.settings import (
    PROJECT,
    StackSettings,
    read_stack_file,
    settings_from_stack_file,
)
from infra.wheel import wheel_source

OFFLINE_NOTICE = (
    "Offline render under Pulumi's mock engine: no Pulumi CLI, workspace or cloud account was"
    " contacted, so this is not a `pulumi preview`; ids and URLs are made up by the mocks."
)


def fake_id(resource_type: str, name: str, inputs: dict[str, Any]) -> str:
    """Ids shaped like the provider's: full names for Unity Catalog objects, the name of an
    S3 bucket, numbers for jobs and experiments, the path for files; stable across runs."""
    kind = resource_type.rsplit(":", 1)[-1]
    if kind == "Catalog":
        return str(inputs["name"])
    if resource_type == "aws:s3/bucket:Bucket" and inputs.get("bucket"):
        return str(inputs["bucket"])  # an S3 bucket's id is its name
    if kind == "Schema":
        return f"{inputs['catalogName']}.{inputs['name']}"
    if kind in ("SqlTable", "RegisteredModel", "Volume"):
        return f"{inputs['catalogName']}.{inputs['schemaName']}.{inputs['name']}"
    if kind == "File":
        return str(inputs["path"])
    digest = int(hashlib.sha256(name.encode()).hexdigest()[:12], 16)
    if kind in ("Job", "MlflowExperiment"):
        return str(digest % 10**15)
    return f"{name}-{digest % 10**6:06d}"


def fake_outputs(resource_type: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """Outputs the provider computes on create, shaped like the real ones, for the
    resources whose computed outputs the program uses (wire names)."""
    kind = resource_type.rsplit(":", 1)[-1]
    if kind == "QualityMonitor":
        table = str(inputs["tableName"])
        profile, drift = naming.metric_tables(table, str(inputs["outputSchemaName"]))
        return {
            "monitorId": table,
            "profileMetricsTableName": profile,
            "driftMetricsTableName": drift,
            "dashboardId": hashlib.sha256(name.encode()).hexdigest()[:32],
            "status": "MONITOR_STATUS_ACTIVE",
        }
    if kind == "StorageCredential" and inputs.get("awsIamRole"):
        # The credential's own external id, which the role's trust policy must present.
        d = hashlib.sha256(name.encode()).hexdigest()
        external_id = f"{d[:8]}-{d[8:12]}-4{d[13:16]}-8{d[17:20]}-{d[20:32]}"
        return {"awsIamRole": {**inputs["awsIamRole"], "externalId": external_id}}
    return {}


@dataclass(frozen=True)
class Registration:
    """What the program asked the engine for one resource, beyond its inputs: the resources
    it waits for (explicit ``depends_on`` and those whose outputs its inputs use) and the
    options the engine acts on."""

    urn: str
    dependencies: tuple[str, ...]
    protect: bool
    delete_before_replace: bool
    retain_on_delete: bool
    replace_on_changes: tuple[str, ...]
    ignore_changes: tuple[str, ...]
    aliases: tuple[str, ...] = ()


class RecordingMonitor(MockMonitor):
    """The mock engine's monitor, also keeping each registration request as the engine
    would receive it (``RegisterResourceRequest``), keyed by (type, name)."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: dict[tuple[str, str], Registration] = {}

    def RegisterResource(self, request: Any) -> Any:
        dependencies = set(request.dependencies)
        for deps in request.propertyDependencies.values():
            dependencies.update(deps.urns)
        self.registrations[(request.type, request.name)] = Registration(
            urn=self.make_urn(request.parent, request.type, request.name),
            dependencies=tuple(sorted(dependencies)),
            protect=bool(request.protect),
            delete_before_replace=bool(request.deleteBeforeReplace),
            retain_on_delete=bool(request.retainOnDelete),
            replace_on_changes=tuple(request.replaceOnChanges),
            ignore_changes=tuple(request.ignoreChanges),
            aliases=tuple(
                alias.spec.name
                for alias in request.aliases
                if alias.HasField("spec") and alias.spec.name
            ),
        )
        return super().RegisterResource(request)


class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that keep every registered resource's inputs, keyed by (type, name)."""

    def __init__(self) -> None:
        self.inputs: dict[tuple[str, str], dict[str, Any]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.inputs[(args.typ, args.name)] = args.inputs
        if not args.custom:
            return None, {}
        state = {**args.inputs, **fake_outputs(args.typ, args.name, args.inputs)}
        return fake_id(args.typ, args.name, args.inputs), state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


@dataclass
class RenderedResource:
    """One registered resource. ``aliases``: the names it had before (its own aliases, and
    those it inherits from its parent's, as the engine derives them: a child named
    ``<parent>-<item>`` was ``<parent's old name>-<item>``), which Pulumi matches it with."""

    type: str
    name: str
    protected: bool
    inputs: dict[str, Any]
    children: list[RenderedResource] = field(default_factory=list)
    registration: Registration | None = None
    aliases: tuple[str, ...] = ()

    @property
    def urn(self) -> str:
        return self.registration.urn if self.registration else ""

    def walk(self) -> list[RenderedResource]:
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass
class Render:
    settings: StackSettings
    roots: list[RenderedResource]
    exports: dict[str, Any]

    @property
    def resources(self) -> list[RenderedResource]:
        return [resource for root in self.roots for resource in root.walk()]

    def find(self, resource_type: str, name: str) -> RenderedResource:
        for resource in self.resources:
            if resource.type == resource_type and resource.name == name:
                return resource
        raise KeyError(f"no {resource_type} named {name}")

    def of_type(self, resource_type: str) -> list[RenderedResource]:
        return [r for r in self.resources if r.type == resource_type]

    def counts(self) -> Counter[str]:
        return Counter(resource.type for resource in self.resources)

    def by_urn(self) -> dict[str, RenderedResource]:
        return {r.urn: r for r in self.resources if r.urn}

    def dependencies(self, resource: RenderedResource) -> list[RenderedResource]:
        """What the engine creates before ``resource``: the resources it names as
        dependencies, and theirs, transitively (a component stands for its children)."""
        urns = self.by_urn()
        seen: dict[str, RenderedResource] = {}
        pending = list(resource.registration.dependencies if resource.registration else ())
        while pending:
            urn = pending.pop()
            if urn in seen or urn not in urns:
                continue
            found = urns[urn]
            seen[urn] = found
            pending.extend(found.registration.dependencies if found.registration else ())
            pending.extend(child.urn for child in found.walk()[1:])
        return list(seen.values())


def render_stack(path: Path, code: CodePackage | None = None) -> Render:
    """Validate a stack file's settings, then run the program under the mock engine."""
    settings = settings_from_stack_file(path)
    if code is None:
        from pipelines.common.code_version import code_version

        version = code_version()
        code = CodePackage(version=version, wheel_file=wheel_source(version))
    config = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in read_stack_file(path).items()
        if key.startswith(f"{PROJECT}:")
    }
    return render_settings(settings, code, config)


def render_settings(
    settings: StackSettings, code: CodePackage, config: dict[str, str] | None = None
) -> Render:
    mocks = RecordingMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project=PROJECT, stack=settings.stack, preview=False, monitor=monitor
    )
    runtime_config.set_all_config(config or {})
    built: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        deployment = deploy(settings, code)
        built["deployment"] = deployment
        return pulumi.Output.from_input(deployment.exports).apply(
            lambda exports: built.update(exports=exports)
        )

    with warnings.catch_warnings(), cyclic_gc_paused():
        # pulumi_aws.s3 and friends warn about deprecations on first use; not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        run()
    deployment: Deployment = built["deployment"]
    exports = built["exports"]
    validate_outputs(exports)

    def rendered(resource: pulumi.Resource, inherited: tuple[str, ...] = ()) -> RenderedResource:
        key = (resource._type, resource._name)
        children = sorted(resource._childResources, key=lambda r: (r._type, r._name))
        registration = monitor.registrations.get(key)
        aliases = tuple(
            dict.fromkeys([*(registration.aliases if registration else ()), *inherited])
        )
        return RenderedResource(
            type=resource._type,
            name=resource._name,
            protected=bool(resource._protect),
            inputs=mocks.inputs.get(key, {}),
            children=[
                rendered(child, _inherited_aliases(resource._name, aliases, child._name))
                for child in children
            ],
            registration=registration,
            aliases=aliases,
        )

    providers = [deployment.provider, deployment.aws_provider]
    roots = [rendered(p) for p in providers if p is not None]
    roots += [rendered(c) for c in deployment.components]
    return Render(settings=settings, roots=roots, exports=exports)


def _inherited_aliases(parent: str, aliases: tuple[str, ...], child: str) -> tuple[str, ...]:
    """The old names of a child of a renamed parent, as Pulumi derives them (its inherited
    child aliases, pulumi/pulumi ``tests/integration/aliases/python/rename_component``): a
    child whose name starts with its parent's had its parent's old name in its place."""
    if not child.startswith(parent):
        return ()
    return tuple(alias + child[len(parent) :] for alias in aliases)


# --- what a person reads ----------------------------------------------------------------


def summary(resource: RenderedResource) -> list[str]:
    """The inputs that matter for a resource, one line each."""
    kind = resource.type.rsplit(":", 1)[-1]
    inputs = resource.inputs
    if kind == "Job":
        schedule = inputs.get("schedule") or {}
        run_as = (inputs.get("runAs") or {}).get("servicePrincipalName", "the deploying user")
        lines = [
            f"name {inputs.get('name')}; run as {run_as}",
            f"schedule '{schedule.get('quartzCronExpression')}' {schedule.get('timezoneId')}"
            f" {schedule.get('pauseStatus')}",
        ]
        for task in inputs.get("tasks", []):
            after = [
                d["taskKey"] + (f" is {d['outcome']}" if d.get("outcome") else "")
                for d in task.get("dependsOns") or []
            ]
            head = f"task {task['taskKey']}{' after ' + ', '.join(after) if after else ''}:"
            lines.append(f"{head} {_task_action(task)}")
        return lines
    if kind == "Grants":
        securable = _securable(inputs)
        return [
            f"{securable}: {g['principal']} <- {', '.join(g['privileges'])}"
            for g in inputs.get("grants", [])
        ]
    if kind == "Grant":
        return [f"{_securable(inputs)}: {inputs['principal']} <- {', '.join(inputs['privileges'])}"]
    if kind == "Permissions":
        return [
            f"{acl.get('groupName') or acl.get('servicePrincipalName') or acl.get('userName')}"
            f" <- {acl['permissionLevel']}"
            for acl in inputs.get("accessControls", [])
        ]
    if kind == "SqlTable":
        columns = ", ".join(f"{c['name']} {c['type']}" for c in inputs.get("columns", []))
        return [f"{inputs['catalogName']}.{inputs['schemaName']}.{inputs['name']} ({columns})"]
    if kind == "RegisteredModel":
        owner = inputs.get("owner") or "the deployer"
        return [f"{inputs['catalogName']}.{inputs['schemaName']}.{inputs['name']}; owner {owner}"]
    if kind in ("Catalog", "Schema", "Volume"):
        parts = (inputs.get("catalogName"), inputs.get("schemaName"), inputs["name"])
        line = ".".join(p for p in parts if p)
        root = inputs.get("storageRoot")
        return [f"{line}; storage root {root}" if root else line]
    if kind == "File":
        return [f"{inputs['path']} <- {inputs.get('source')}"]
    if kind == "Notebook":
        source = base64.b64decode(inputs.get("contentBase64") or "").decode()
        runs = [line for line in source.splitlines() if line.startswith("run_in_notebook(")]
        return [f"{inputs['path']} ({inputs.get('language')}): {' '.join(runs)}"]
    if kind == "Directory":
        return [str(inputs["path"])]
    if kind == "MlflowExperiment":
        return [str(inputs["name"])]
    if resource.type == "pulumi:providers:aws":
        return [f"region {inputs.get('region')} (credentials from the environment)"]
    if kind == "Provider":
        return [f"host {inputs.get('host')} (credentials from the environment)"]
    if kind in ("Role", "RolePolicy"):
        document = inputs.get("assumeRolePolicy" if kind == "Role" else "policy")
        statements = json.loads(document)["Statement"] if document else []
        return [_statement_summary(kind, statement) for statement in statements]
    if kind == "StorageCredential":
        return [f"{inputs.get('name')}: IAM role {(inputs.get('awsIamRole') or {}).get('roleArn')}"]
    if kind == "ExternalLocation":
        return [f"{inputs.get('name')}: {inputs.get('url')} with {inputs.get('credentialName')}"]
    if kind == "Bucket":
        return [f"{inputs.get('bucket')}; force destroy {inputs.get('forceDestroy', False)}"]
    if kind == "QualityMonitor":
        return _monitor_summary(inputs)
    return []


def _task_action(task: dict[str, Any]) -> str:
    """What a job task does, in one line."""
    if "conditionTask" in task:
        condition = task["conditionTask"]
        return f"if {condition['left']} {condition['op']} {condition['right']}"
    if "runJobTask" in task:
        run = task["runJobTask"]
        # The mock engine hands numbers over as floats.
        job_id = run.get("jobId")
        shown = int(job_id) if isinstance(job_id, float) else job_id
        given = " ".join(f"{k}={v}" for k, v in sorted((run.get("jobParameters") or {}).items()))
        return f"run job {shown} and wait{' with ' + given if given else ''}"
    if "notebookTask" in task:
        notebook = task["notebookTask"]
        return f"notebook {notebook['notebookPath']}: {_flags(notebook.get('baseParameters'))}"
    wheel = task.get("pythonWheelTask", {})
    return f"{wheel.get('entryPoint')} {_flags(wheel.get('namedParameters'))}"


def _flags(parameters: dict[str, str] | None) -> str:
    # Each flag is one argument; quote a value with spaces so that it reads as one.
    named = sorted((parameters or {}).items())
    return " ".join(f"--{k}='{v}'" if " " in v else f"--{k}={v}" for k, v in named)


def _monitor_summary(inputs: dict[str, Any]) -> list[str]:
    log = inputs.get("inferenceLog") or {}
    schedule = inputs.get("schedule")
    refresh = (
        f"'{schedule['quartzCronExpression']}' {schedule['timezoneId']}"
        if schedule
        else "none of its own (the retraining job refreshes it)"
    )
    emails = ((inputs.get("notifications") or {}).get("onFailure") or {}).get("emailAddresses")
    return [
        f"inference log on {inputs.get('tableName')}, {log.get('problemType')}",
        f"prediction {log.get('predictionCol')}, label {log.get('labelCol')}, model id"
        f" {log.get('modelIdCol')}, timestamp {log.get('timestampCol')}",
        f"granularities {', '.join(log.get('granularities', []))}; metric tables in"
        f" {inputs.get('outputSchemaName')}; assets {inputs.get('assetsDir')}",
        f"baseline {inputs.get('baselineTableName') or 'none'}; slices"
        f" {', '.join(inputs.get('slicingExprs') or []) or 'none'}",
        f"refresh schedule {refresh}",
        f"on failure tell {', '.join(emails) if emails else 'nobody'}; warehouse"
        f" {inputs.get('warehouseId') or 'the first running one'}",
    ]


def _statement_summary(kind: str, statement: dict[str, Any]) -> str:
    """One IAM policy statement in a line: who may assume the role, or what it may do."""
    actions = statement["Action"]
    actions = ", ".join(actions) if isinstance(actions, list) else actions
    condition = json.dumps(statement["Condition"]) if statement.get("Condition") else ""
    if kind == "Role":
        return f"{statement['Principal']['AWS']} may {actions} {condition}".rstrip()
    return f"{actions} on {', '.join(statement['Resource'])}"


def _securable(inputs: dict[str, Any]) -> str:
    for kind in ("catalog", "schema", "table", "volume", "model"):
        if inputs.get(kind):
            return f"{kind.upper()} {inputs[kind]}"
    if inputs.get("externalLocation"):
        return f"EXTERNAL LOCATION {inputs['externalLocation']}"
    return "?"


def format_text(render: Render) -> str:
    settings = render.settings
    lines = [
        f"Stack '{settings.stack}' ({settings.source}), environment {settings.environment}.",
        OFFLINE_NOTICE,
        "",
        f"Projects ({len(settings.projects)}):",
        *(
            f"  {p.name}: {p.declaration.title}, {p.problem_type.value}; schema {p.home},"
            f" model {p.model_full_name}; monitor {'on' if p.monitoring.enabled else 'off'}"
            f"{'; reads ' + ', '.join(p.runner_reaches) if p.runner_reaches else ''}"
            for p in settings.projects
        ),
        "",
    ]

    def show(resource: RenderedResource, depth: int) -> None:
        pad = "  " * depth
        flag = "  [protected]" if resource.protected else ""
        own = resource.registration.aliases if resource.registration else ()
        if own:
            flag += f"  (was {', '.join(own)})"
        lines.append(f"{pad}{resource.type}  {resource.name}{flag}")
        lines.extend(f"{pad}    {line}" for line in summary(resource))
        for child in resource.children:
            show(child, depth + 1)

    for root in render.roots:
        show(root, 0)
    lines += ["", "Resources by type:"]
    lines += [f"  {count:3d}  {kind}" for kind, count in sorted(render.counts().items())]
    lines += ["", "Exports (pulumi stack output --json):", json.dumps(render.exports, indent=2)]
    for warning in settings.plan_warnings():
        lines += ["", f"Warning: {warning}"]
    placeholders = settings.placeholders()
    if placeholders:
        lines += [
            "",
            f"Placeholders left in {settings.source}: {', '.join(placeholders)}."
            " `pulumi up` refuses them; fill them in before deploying.",
        ]
    return "\n".join(lines)


def as_json(render: Render) -> dict[str, Any]:
    return {
        "stack": render.settings.stack,
        "offline": True,
        "notice": OFFLINE_NOTICE,
        "projects": [
            {
                "name": p.name,
                "problemType": p.problem_type.value,
                "schema": p.home,
                "model": p.model_full_name,
            }
            for p in render.settings.projects
        ],
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "protected": r.protected,
                "parent": parent,
                "inputs": r.inputs,
                **({"aliases": list(r.aliases)} if r.aliases else {}),
            }
            for root in render.roots
            for r, parent in _with_parents(root, None)
        ],
        "exports": render.exports,
        "placeholders": render.settings.placeholders(),
        "warnings": render.settings.plan_warnings(),
    }


def _with_parents(
    resource: RenderedResource, parent: str | None
) -> list[tuple[RenderedResource, str | None]]:
    found = [(resource, parent)]
    for child in resource.children:
        found.extend(_with_parents(child, resource.name))
    return found
