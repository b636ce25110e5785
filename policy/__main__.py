"""Policy pack mlops-stack-guardrails: ``pulumi preview --policy-pack policy``.

Only the wiring lives here: the checks are the plain functions of policies.py (tested in
tests/policy without the policy SDK's server). Do not import this module: the
``PolicyPack(...)`` constructor starts the analyzer server and never returns.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import _DictProxy, _is_unknown, _ListProxy

sys.path.insert(0, str(Path(__file__).resolve().parent))

import policies  # beside this file (sys.path above)

MANDATORY = EnforcementLevel.MANDATORY


def plain(value: Any) -> Any:
    """The SDK's props (proxies raising on unknown values) as plain dicts and lists, with
    ``policies.UNKNOWN`` where preview cannot know a value and secrets unwrapped."""
    if isinstance(value, _DictProxy | _ListProxy):
        value = value["__target"]
    if isinstance(value, Secret):
        return plain(value.value)
    if _is_unknown(value):
        return policies.UNKNOWN
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(item) for item in value]
    return value


def resource_policy(
    name: str, description: str, check: Callable[[str, Any, str, str], list[str]]
) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        stack = policies.stack_of_urn(args.urn)
        for message in check(args.resource_type, plain(args.props), stack, args.name):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=MANDATORY
    )


def stack_policy(
    name: str,
    description: str,
    check: Callable[[list[policies.StackResource]], list[str]],
) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            policies.StackResource(
                type=r.resource_type,
                name=r.name,
                props=plain(r.props),
                urn=r.urn,
                property_dependencies={
                    key: [d.urn for d in deps] for key, deps in r.property_dependencies.items()
                },
            )
            for r in args.resources
        ]
        for message in check(resources):
            report_violation(message, None)

    return StackValidationPolicy(
        name=name, description=description, validate=validate, enforcement_level=MANDATORY
    )


PolicyPack(
    name="mlops-stack-guardrails",
    enforcement_level=MANDATORY,
    policies=[
        resource_policy(
            "job-runs-as-service-principal",
            "Staging and prod jobs run as a service principal, never as a user.",
            policies.job_runs_as_service_principal,
        ),
        resource_policy(
            "no-all-purpose-clusters",
            "Staging and prod use job clusters or serverless: no existing_cluster_id, no"
            " cluster resource.",
            policies.no_all_purpose_clusters,
        ),
        resource_policy(
            "required-tags",
            "Jobs are tagged project, environment, model_project, code_version and named"
            " after their project; AWS buckets and the AWS provider's default tags carry"
            " project and environment.",
            policies.required_tags,
        ),
        resource_policy(
            "dev-schedules-paused",
            "Dev job schedules, triggers and continuous runs are PAUSED; dev quality"
            " monitors have no schedule (the provider cannot pause one).",
            policies.dev_schedules_paused,
        ),
        resource_policy(
            "monitor-schedule-without-pause-status",
            "A quality monitor's schedule sets no pause_status: the provider makes it"
            " read-only and clears it.",
            policies.monitor_schedule_without_pause_status,
        ),
        resource_policy(
            "no-broad-grants",
            "No ALL_PRIVILEGES grant and no grant to 'account users' or 'users'.",
            policies.no_broad_grants,
        ),
        resource_policy(
            "s3-buckets-encrypted-versioned-private",
            "S3 encryption uses a default algorithm, versioning is Enabled, the public access"
            " block blocks all four ways.",
            policies.s3_buckets_encrypted_versioned_private,
        ),
        stack_policy(
            "every-bucket-is-protected",
            "Every S3 bucket has encryption, versioning and a public access block.",
            policies.every_bucket_is_protected,
        ),
        stack_policy(
            "job-names-are-unique",
            "No two jobs of the stack share a workspace name (several projects, one stack).",
            policies.job_names_are_unique,
        ),
        stack_policy(
            "one-grant-list-per-securable",
            "One Grants resource per securable, and one grant resource per principal and"
            " securable: two would revoke or overwrite each other's privileges.",
            policies.one_grant_list_per_securable,
        ),
    ],
)
