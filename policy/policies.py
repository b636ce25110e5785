"""The guardrails of mlops-stack as plain functions, free of the Pulumi policy SDK.

Each resource policy takes ``(resource_type, props, stack, name)`` and returns the
violations it finds as messages (an empty list: compliant). ``props`` are the resource's
inputs with their wire (camelCase) names, nested objects as dicts, as both the policy SDK
and the mock-engine render (``mlops/render.py``) give them. A value Pulumi cannot know
during preview is given as ``UNKNOWN``: no policy reports a value it cannot see.

Which environment a resource belongs to. The Python policy SDK tells a policy neither the
stack nor its config; ``__main__.py`` takes the stack name from the resource's URN
(``urn:pulumi:<stack>::<project>::...``), which the CLI sets (``pulumi preview -s prod``),
not the program. The environments of a resource are every signal among: that stack name,
a job's ``tags.environment``, and the ``<env>-mlops-stack-`` prefix of the resource's
name, each counted only when it is dev, staging or prod. The strict rules (run as a
service principal, no all-purpose clusters) apply when any signal says staging or prod,
and also when there is no signal at all; the dev rule (paused schedules, no monitor
schedule) applies when any signal says dev. Conflicting signals therefore get both sets of
rules, never neither. A quality monitor's schedule carries no pause status anywhere.

The stack policies see every resource at once: ``every_bucket_is_protected`` (one resource
at a time cannot tell whether a bucket has its encryption, versioning and public access
block resources), and two that keep several model projects in one stack from stepping on
each other: ``job_names_are_unique`` (Databricks lets two jobs share a name) and
``one_grant_list_per_securable`` (two grant resources managing the same principal's
privileges on one securable revoke each other's).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PROJECT = "mlops-stack"
ENVIRONMENTS = ("dev", "staging", "prod")
STRICT_ENVIRONMENTS = ("staging", "prod")

JOB = "databricks:index/job:Job"
CLUSTER = "databricks:index/cluster:Cluster"
GRANTS = "databricks:index/grants:Grants"
GRANT = "databricks:index/grant:Grant"
QUALITY_MONITOR = "databricks:index/qualityMonitor:QualityMonitor"
AWS_PROVIDER = "pulumi:providers:aws"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
ENCRYPTIONS = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
VERSIONINGS = (
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketVersioningV2:BucketVersioningV2",
)
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"

# What infra/program.py job_settings() and infra/components/scheduled_job.py set on every
# job: model_project is the model project (pipelines/projects/<name>) the job is of.
REQUIRED_JOB_TAGS = ("project", "environment", "model_project", "code_version")
GRANT_SECURABLES = (
    "catalog",
    "schema",
    "table",
    "volume",
    "model",
    "function",
    "externalLocation",
    "storageCredential",
    "metastore",
)
# What infra/program.py puts in the AWS provider's default tags (no code_version: the AWS
# resources do not change with the code).
REQUIRED_AWS_TAGS = ("project", "environment")
SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
BROAD_PRIVILEGES = ("ALL_PRIVILEGES", "ALL PRIVILEGES")
BROAD_PRINCIPALS = ("account users", "users")


class _Unknown:
    """A value Pulumi cannot know during preview."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()

Props = Mapping[str, Any]
Violations = list[str]


def _known(value: Any) -> bool:
    return value is not UNKNOWN


def _get(props: Any, *path: str) -> Any:
    """``props[a][b]...``; None when a level is missing or not a mapping, UNKNOWN when a
    level is unknown."""
    value = props
    for key in path:
        if value is UNKNOWN:
            return UNKNOWN
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _mapping(value: Any) -> Mapping[str, Any] | None:
    """A nested object; the engine gives a provider's nested inputs as JSON strings."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


# --- environment ------------------------------------------------------------------------


def stack_of_urn(urn: str) -> str:
    """The stack of ``urn:pulumi:<stack>::<project>::<type>::<name>`` ('' if not a URN)."""
    parts = urn.split(":", 2)
    if len(parts) < 3 or parts[0] != "urn" or parts[1] != "pulumi":
        return ""
    return parts[2].split("::", 1)[0]


def environments(props: Props, stack: str, name: str = "") -> set[str]:
    """Every environment the stack name, the tags or the resource name point at."""
    found = set()
    if stack in ENVIRONMENTS:
        found.add(stack)
    tag = _get(props, "tags", "environment")
    if tag in ENVIRONMENTS:
        found.add(tag)
    for environment in ENVIRONMENTS:
        if name.startswith(f"{environment}-{PROJECT}-"):
            found.add(environment)
    return found


def is_strict(props: Props, stack: str, name: str = "") -> bool:
    """Staging or prod rules: some signal says staging/prod, or there is no signal."""
    found = environments(props, stack, name)
    return not found or bool(found & set(STRICT_ENVIRONMENTS))


def is_dev(props: Props, stack: str, name: str = "") -> bool:
    return "dev" in environments(props, stack, name)


# --- resource policies ------------------------------------------------------------------


def job_runs_as_service_principal(
    resource_type: str, props: Props, stack: str, name: str = ""
) -> Violations:
    """Policy 1: a staging or prod job runs as a service principal, never as a user."""
    if resource_type != JOB or not is_strict(props, stack, name):
        return []
    run_as = _get(props, "runAs")
    if run_as is UNKNOWN:
        return []
    violations = []
    if not _get(props, "runAs", "servicePrincipalName"):
        violations.append(
            f"job {name or props.get('name')} must run as a service principal in"
            " staging/prod: set run_as.service_principal_name (runAs.servicePrincipalName)."
        )
    user = _get(props, "runAs", "userName")
    if user:
        violations.append(
            f"job {name or props.get('name')} runs as the user {user}: staging/prod jobs run as"
            " a service principal, remove run_as.user_name (runAs.userName)."
        )
    return violations


def _tasks(props: Props) -> list[Mapping[str, Any]]:
    """A job's tasks, with the task of each for-each task."""
    found: list[Mapping[str, Any]] = []
    tasks = props.get("tasks")
    for task in tasks if isinstance(tasks, Sequence) and not isinstance(tasks, str) else []:
        if not isinstance(task, Mapping):
            continue
        found.append(task)
        inner = _get(task, "forEachTask", "task")
        if isinstance(inner, Mapping):
            found.append(inner)
    return found


def no_all_purpose_clusters(
    resource_type: str, props: Props, stack: str, name: str = ""
) -> Violations:
    """Policy 2: staging and prod use job compute (job clusters or serverless), never an
    all-purpose cluster: no task on an existing cluster, no cluster resource."""
    if not is_strict(props, stack, name):
        return []
    if resource_type == CLUSTER:
        return [
            f"cluster {name or props.get('clusterName')}: no all-purpose clusters in"
            " staging/prod; give the job a job cluster (job_clusters/new_cluster) or serverless."
        ]
    if resource_type != JOB:
        return []
    return [
        f"job {name or props.get('name')}, task {task.get('taskKey')}: runs on the existing"
        f" (all-purpose) cluster {task['existingClusterId']}; staging/prod tasks use a job"
        " cluster or serverless compute."
        for task in _tasks(props)
        if task.get("existingClusterId")
    ]


def _missing_tags(tags: Any, required: Sequence[str]) -> list[str]:
    tags = _mapping(tags) if tags is not UNKNOWN else UNKNOWN
    if tags is UNKNOWN:
        return []
    return [key for key in required if not (tags or {}).get(key)]


def required_tags(resource_type: str, props: Props, stack: str, name: str = "") -> Violations:
    """Policy 3: every job carries project, environment, model_project and code_version
    tags; AWS buckets (when they have tags: the AWS provider's default tags otherwise,
    checked too) carry project and environment. A job's environment tag names the stack's
    environment, and its name is ``<env>-mlops-stack-<model_project>-...``, so that two
    projects' jobs never share a name."""
    if resource_type == JOB:
        violations = []
        missing = _missing_tags(props.get("tags"), REQUIRED_JOB_TAGS)
        if missing:
            violations.append(
                f"job {name or props.get('name')} lacks the tags {', '.join(missing)}"
                f" (every job is tagged {', '.join(REQUIRED_JOB_TAGS)})."
            )
        tag = _get(props, "tags", "environment")
        if stack in ENVIRONMENTS and _known(tag) and tag and tag != stack:
            violations.append(
                f"job {name or props.get('name')} is tagged environment={tag} in the stack"
                f" {stack}: the tag must name the stack's environment."
            )
        model_project, job_name = _get(props, "tags", "model_project"), props.get("name")
        if (
            _known(model_project)
            and model_project
            and isinstance(job_name, str)
            and _known(tag)
            and tag in ENVIRONMENTS
            and not job_name.startswith(f"{tag}-{PROJECT}-{model_project}-")
        ):
            violations.append(
                f"job {name or job_name} is tagged model_project={model_project} but named"
                f" {job_name}: a project's jobs are named {tag}-{PROJECT}-{model_project}-<job>."
            )
        return violations
    if resource_type in BUCKETS:
        # tagsAll: the bucket's tags merged with the provider's default tags, when the
        # engine has computed it; else the tags given to the bucket itself.
        tags = props.get("tagsAll") or props.get("tags")
        if not tags:
            return []
        missing = _missing_tags(tags, REQUIRED_AWS_TAGS)
        if missing:
            return [
                f"S3 bucket {name or props.get('bucket')} lacks the tags {', '.join(missing)}"
                f" (AWS resources are tagged {', '.join(REQUIRED_AWS_TAGS)})."
            ]
        return []
    if resource_type == AWS_PROVIDER:
        default = _mapping(props.get("defaultTags"))
        missing = _missing_tags(_get(default, "tags") if default else None, REQUIRED_AWS_TAGS)
        if missing:
            return [
                f"AWS provider {name}: default tags lack {', '.join(missing)}"
                f" (every AWS resource is tagged {', '.join(REQUIRED_AWS_TAGS)})."
            ]
    return []


def _display_name(props: Props, name: str) -> Any:
    return name or props.get("name") or props.get("tableName")


def dev_schedules_paused(
    resource_type: str, props: Props, stack: str, name: str = ""
) -> Violations:
    """Policy 4: in dev nothing runs by itself. A job's schedule, trigger and continuous
    run are PAUSED (run them by hand). A quality monitor has no schedule at all: the
    provider cannot pause one (``schedule.pause_status`` is read-only and cleared on
    update, terraform-provider-databricks ``catalog/resource_quality_monitor.go``), so
    removing the schedule is the only way to stop it (docs/platform.md, "Quality monitor
    schedules")."""
    if resource_type not in (JOB, QUALITY_MONITOR) or not is_dev(props, stack, name):
        return []
    if resource_type == QUALITY_MONITOR:
        schedule = props.get("schedule")
        if not schedule or schedule is UNKNOWN:
            return []
        return [
            f"quality monitor {_display_name(props, name)}: it has a schedule in dev; the"
            " provider cannot pause a monitor's schedule (pause_status is read-only), so dev"
            " monitors must have none: drop the schedule and refresh the monitor by hand."
        ]
    violations = []
    for block in ("schedule", "trigger", "continuous"):
        value = props.get(block)
        if not value or value is UNKNOWN:
            continue
        status = _get(value, "pauseStatus")
        if _known(status) and status != "PAUSED":
            violations.append(
                f"job {_display_name(props, name)}: its {block} is"
                f" {status or 'UNPAUSED (no pause_status)'} in dev; dev {block}s must be"
                " PAUSED (pause_status='PAUSED')."
            )
    return violations


def monitor_schedule_without_pause_status(
    resource_type: str, props: Props, stack: str, name: str = ""
) -> Violations:
    """Policy 4b, every environment: a quality monitor's schedule sets no pause status.
    The provider makes ``schedule.pause_status`` read-only and sends it blank on update, so
    a value in the program would claim a state the monitor is not in."""
    if resource_type != QUALITY_MONITOR:
        return []
    schedule = props.get("schedule")
    if schedule is UNKNOWN:
        return []
    status = _get(_mapping(schedule), "pauseStatus")
    if not _known(status) or not status:
        return []
    return [
        f"quality monitor {_display_name(props, name)}: its schedule sets pause_status"
        f" {status}, which the provider ignores (it is read-only and cleared on update);"
        " remove pause_status, and to stop the monitor's refreshes remove its schedule."
    ]


def no_broad_grants(resource_type: str, props: Props, stack: str, name: str = "") -> Violations:
    """Policy 5: no ALL_PRIVILEGES, and nothing granted to everyone (``account users``,
    ``users``): least privilege to named groups and service principals only."""
    if resource_type == GRANTS:
        grants = props.get("grants")
        entries = [
            g
            for g in (
                grants if isinstance(grants, Sequence) and not isinstance(grants, str) else []
            )
            if isinstance(g, Mapping)
        ]
    elif resource_type == GRANT:
        entries = [props]
    else:
        return []
    violations = []
    for entry in entries:
        principal = entry.get("principal")
        privileges = entry.get("privileges")
        if not isinstance(privileges, Sequence) or isinstance(privileges, str):
            privileges = []
        broad = [p for p in privileges if _known(p) and str(p).upper() in BROAD_PRIVILEGES]
        if broad:
            violations.append(
                f"{name}: grants ALL_PRIVILEGES to {principal}; grant the specific"
                " privileges it needs (USE_CATALOG, USE_SCHEMA, SELECT, MODIFY, EXECUTE, ...)."
            )
        if _known(principal) and str(principal).strip().lower() in BROAD_PRINCIPALS:
            violations.append(
                f"{name}: grants {', '.join(map(str, privileges))} to '{principal}', i.e. to"
                " everyone; grant to a named group or service principal."
            )
    return violations


def s3_buckets_encrypted_versioned_private(
    resource_type: str, props: Props, stack: str, name: str = ""
) -> Violations:
    """Policy 6 (one resource): a bucket's encryption configuration encrypts by default,
    its versioning is Enabled, and its public access block blocks all four ways."""
    if resource_type in ENCRYPTIONS:
        rules = props.get("rules")
        if rules is UNKNOWN:
            return []
        rules = rules if isinstance(rules, Sequence) and not isinstance(rules, str) else []
        algorithms = [
            _get(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm") for rule in rules
        ]
        if not algorithms or not all(a is UNKNOWN or a in SSE_ALGORITHMS for a in algorithms):
            return [
                f"{name}: S3 default encryption needs a rule with"
                f" apply_server_side_encryption_by_default.sse_algorithm in"
                f" {', '.join(SSE_ALGORITHMS)}; got {algorithms or 'no rule'}."
            ]
        return []
    if resource_type in VERSIONINGS:
        status = _get(props, "versioningConfiguration", "status")
        if _known(status) and status != "Enabled":
            return [
                f"{name}: S3 versioning is {status or 'not set'}; it must be Enabled"
                " (versioning_configuration.status='Enabled')."
            ]
        return []
    if resource_type == PUBLIC_ACCESS_BLOCK:
        open_ = [
            flag
            for flag in PUBLIC_ACCESS_FLAGS
            if _known(props.get(flag)) and props.get(flag) is not True
        ]
        if open_:
            return [
                f"{name}: the public access block leaves {', '.join(open_)} off; all of"
                f" {', '.join(PUBLIC_ACCESS_FLAGS)} must be true."
            ]
    return []


RESOURCE_POLICIES: tuple[Callable[[str, Props, str, str], Violations], ...] = (
    job_runs_as_service_principal,
    no_all_purpose_clusters,
    required_tags,
    dev_schedules_paused,
    monitor_schedule_without_pause_status,
    no_broad_grants,
    s3_buckets_encrypted_versioned_private,
)


# --- stack policy -----------------------------------------------------------------------


@dataclass
class StackResource:
    """One resource of the stack as the stack policy sees it: ``property_dependencies``
    maps an input to the URNs of the resources its value comes from (how an attachment's
    ``bucket`` is tied to its bucket during preview, when the bucket's id is unknown)."""

    type: str
    name: str
    props: Props
    urn: str = ""
    property_dependencies: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _points_at(attachment: StackResource, bucket: StackResource) -> bool:
    if bucket.urn and bucket.urn in attachment.property_dependencies.get("bucket", ()):
        return True
    target = attachment.props.get("bucket")
    if not _known(target) or not target:
        return False
    names = {bucket.props.get("id"), bucket.props.get("bucket")} - {None, UNKNOWN, ""}
    return target in names


def every_bucket_is_protected(resources: Sequence[StackResource]) -> Violations:
    """Policy 6 (the stack): every S3 bucket has a server-side encryption configuration,
    a versioning resource and a public access block pointing at it."""
    needs = (
        (
            ENCRYPTIONS,
            "a server-side encryption configuration (BucketServerSideEncryptionConfiguration)",
        ),
        (VERSIONINGS, "versioning (BucketVersioning, status Enabled)"),
        ((PUBLIC_ACCESS_BLOCK,), "a public access block (BucketPublicAccessBlock)"),
    )
    violations = []
    for bucket in (r for r in resources if r.type in BUCKETS):
        for types, what in needs:
            attached = [r for r in resources if r.type in types and _points_at(r, bucket)]
            if not attached:
                violations.append(f"S3 bucket {bucket.name} has no {what} pointing at it.")
    return violations


def job_names_are_unique(resources: Sequence[StackResource]) -> Violations:
    """Stack policy 7: no two jobs share a workspace name. Databricks allows it, and then
    a person, CI (which finds jobs by name) or an alert cannot tell two projects' jobs
    apart."""
    by_name: dict[str, list[str]] = {}
    for job in (r for r in resources if r.type == JOB):
        name = job.props.get("name")
        if _known(name) and isinstance(name, str) and name:
            by_name.setdefault(name, []).append(job.name)
    return [
        f"jobs {', '.join(found)} share the name {name}: every job of the stack needs a name"
        " of its own (<env>-mlops-stack-<project>-<job>)."
        for name, found in by_name.items()
        if len(found) > 1
    ]


def _securable(props: Props) -> tuple[str, str] | None:
    for key in GRANT_SECURABLES:
        value = props.get(key)
        if value is UNKNOWN:
            return None  # not known during preview: nothing to compare
        if value:
            return key, str(value)
    return None


def one_grant_list_per_securable(resources: Sequence[StackResource]) -> Violations:
    """Stack policy 8: each principal's privileges on a securable are managed by one grant
    resource. Two ``Grants`` on one securable (each authoritative) revoke each other's
    principals on every apply; a ``Grant`` and a ``Grants`` naming one principal, or two
    ``Grant`` for the same principal, overwrite each other's privileges. With several model
    projects in a stack, what they share (the catalog, an input table two projects read)
    must be granted once."""
    authoritative: dict[tuple[str, str], list[str]] = {}
    per_principal: dict[tuple[str, str, str], list[str]] = {}
    for resource in resources:
        if resource.type not in (GRANTS, GRANT):
            continue
        securable = _securable(resource.props)
        if securable is None:
            continue
        if resource.type == GRANTS:
            authoritative.setdefault(securable, []).append(resource.name)
            entries = resource.props.get("grants")
            entries = (
                entries if isinstance(entries, Sequence) and not isinstance(entries, str) else []
            )
        else:
            entries = [resource.props]
        for entry in entries:
            principal = entry.get("principal") if isinstance(entry, Mapping) else None
            if _known(principal) and principal:
                key = (*securable, str(principal))
                per_principal.setdefault(key, []).append(resource.name)
    violations = [
        f"{', '.join(names)} all grant on {kind.upper()} {name}: one Grants resource per"
        " securable, or each revokes the others' principals."
        for (kind, name), names in authoritative.items()
        if len(names) > 1
    ]
    violations += [
        f"{', '.join(names)} all manage the privileges of {principal} on {kind.upper()} {name}:"
        " one grant resource per principal and securable, or they overwrite each other."
        for (kind, name, principal), names in per_principal.items()
        if len(set(names)) > 1 and len(authoritative.get((kind, name), [])) <= 1
    ]
    return violations


STACK_POLICIES: tuple[Callable[[Sequence[StackResource]], Violations], ...] = (
    every_bucket_is_protected,
    job_names_are_unique,
    one_grant_list_per_securable,
)
