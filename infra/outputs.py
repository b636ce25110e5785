"""The stack-output contract: what every stack exports, and its JSON Schema.

Dashboards and CI read ``pulumi stack output --json``; ``stack_outputs.schema.json`` beside
this file is the published shape, and every stack's exports are checked against it. What
the projects share is at the top (workspace, catalog, storage, code); each project's
model, experiment, jobs, tables and monitor are under ``projects.<name>``. ``schemaVersion``
says which shape a document has.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pulumi

from infra.settings import ProjectSettings, StackSettings

SCHEMA_FILE = Path(__file__).with_name("stack_outputs.schema.json")
# Raised when the shape of the outputs changes incompatibly, so that a dashboard can tell
# which shape it reads; ``stack_outputs.schema.json`` holds it as a const. 2: the model,
# experiment, jobs, tables and monitor of each project under ``projects.<name>``.
SCHEMA_VERSION = 2


@cache
def output_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def stack_outputs(
    settings: StackSettings,
    projects: Mapping[str, Any],
    wheel_path: pulumi.Input[str],
    code_version: str,
    storage: Any | None = None,
) -> dict[str, Any]:
    """The exports, keyed as in the schema: what the projects share, and each project's
    own (``projects`` maps a project's name to its ``infra.program.ProjectDeployment``);
    ``storage`` is the ``LakehouseStorage``, or None when the stack has no storage of its
    own."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "environment": settings.environment,
        "workspace": {"host": settings.workspace_host},
        "catalog": settings.catalog,
        "projects": {
            name: project_outputs(settings.project(name), built) for name, built in projects.items()
        },
        "storage": None if storage is None else storage_outputs(settings, storage),
        "code": {"version": code_version, "wheel": wheel_path},
    }


def project_outputs(project: ProjectSettings, built: Any) -> dict[str, Any]:
    """One project's exports: its model, experiment, jobs (schema key -> job component),
    tables by role, and its monitor (None when its settings disable monitoring)."""
    artifacts = built.artifacts
    return {
        "problemType": project.problem_type.value,
        "schema": project.schema,
        "model": {
            "name": project.model_full_name,
            "url": artifacts.model_url,
            "championAlias": "champion",
            "challengerAlias": "challenger",
        },
        "experiment": {
            "id": artifacts.experiment_id,
            "path": project.experiment_path,
            "url": artifacts.experiment_url,
        },
        "jobs": {
            key: {"id": job.job_id, "name": job.job_name, "url": job.job_url}
            for key, job in built.jobs.items()
        },
        "tables": dict(project.tables),
        "monitor": None if built.monitor is None else monitor_outputs(project, built.monitor),
    }


def storage_outputs(settings: StackSettings, storage: Any) -> dict[str, Any]:
    """The stack's own storage: the bucket, the role Unity Catalog assumes, the storage
    credential and external location over it, and the storage root of the stack's schemas or
    catalog on it."""
    return {
        "bucket": storage.bucket_name,
        "region": settings.storage.aws_region,
        "roleArn": storage.role_arn,
        "storageCredential": storage.credential_name,
        "externalLocation": storage.location_name,
        "url": storage.url,
        "storageRoot": storage.storage_root,
        "managedLocation": settings.storage.managed_location,
    }


def monitor_outputs(project: ProjectSettings, monitor: Any) -> dict[str, Any]:
    """A project's quality monitor: where its dashboard and tables are, and the rule the
    retraining job applies to them."""
    rule = project.monitoring
    return {
        "table": project.predictions,
        "dashboardId": monitor.dashboard_id,
        "profileMetricsTable": monitor.profile_metrics_table,
        "driftMetricsTable": monitor.drift_metrics_table,
        "assetsDir": monitor.assets_dir,
        "granularities": list(rule.granularities),
        "retrainWhen": {
            "metric": rule.metric,
            "violatedWhen": rule.violated_when,
            "threshold": rule.threshold,
            "granularity": rule.granularity,
            "evaluationWindows": rule.evaluation_windows,
            "violationWindows": rule.violation_windows,
        },
    }


def validate_outputs(values: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if resolved exports break the contract."""
    import jsonschema

    jsonschema.validate(values, output_schema())
