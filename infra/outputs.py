"""The stack-output contract: what every stack exports, and its JSON Schema.

Dashboards and CI read ``pulumi stack output --json``; ``stack_outputs.schema.json`` beside
this file is the published shape, and every stack's exports are checked against it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pulumi

from infra.settings import StackSettings

SCHEMA_FILE = Path(__file__).with_name("stack_outputs.schema.json")


@cache
def output_schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def stack_outputs(
    settings: StackSettings,
    model_url: pulumi.Input[str],
    experiment_id: pulumi.Input[str],
    experiment_url: pulumi.Input[str],
    jobs: dict[str, Any],
    wheel_path: pulumi.Input[str],
    code_version: str,
    monitor: Any | None = None,
    storage: Any | None = None,
) -> dict[str, Any]:
    """The exports, keyed as in the schema (``jobs`` maps schema key -> job component;
    ``monitor`` is the ``MonitoredTable``, or None when the stack monitors nothing;
    ``storage`` is the ``LakehouseStorage``, or None when the stack has no storage of its
    own)."""
    tables = settings.tables
    return {
        "environment": settings.environment,
        "workspace": {"host": settings.workspace_host},
        "catalog": settings.catalog,
        "schema": settings.schema,
        "model": {
            "name": settings.model_full_name,
            "url": model_url,
            "championAlias": "champion",
            "challengerAlias": "challenger",
        },
        "experiment": {
            "id": experiment_id,
            "path": settings.experiment_path,
            "url": experiment_url,
        },
        "jobs": {
            key: {"id": job.job_id, "name": job.job_name, "url": job.job_url}
            for key, job in jobs.items()
        },
        "tables": {
            "trips": tables.trips,
            "inferenceRequests": tables.inference_requests,
            "pickupFeatures": tables.pickup_features,
            "dropoffFeatures": tables.dropoff_features,
            "predictions": tables.predictions,
        },
        "monitor": None if monitor is None else monitor_outputs(settings, monitor),
        "storage": None if storage is None else storage_outputs(settings, storage),
        "code": {"version": code_version, "wheel": wheel_path},
    }


def storage_outputs(settings: StackSettings, storage: Any) -> dict[str, Any]:
    """The stack's own storage: the bucket, the role Unity Catalog assumes, the storage
    credential and external location over it, and the storage root of the stack's schema or
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


def monitor_outputs(settings: StackSettings, monitor: Any) -> dict[str, Any]:
    """The quality monitor's exports: where its dashboard and tables are, and the rule the
    retraining job applies to them."""
    rule = settings.monitoring
    return {
        "table": settings.tables.predictions,
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
