"""The JSON Schema of a stack file (infra/stack_config.schema.json): generated from the
settings' models and committed as generated, met by every committed stack file, named by
their first line for editors, and refusing what the settings refuse."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from infra.settings import (
    PROJECT,
    SCHEMA_PATH,
    SCHEMA_VERSION,
    TOP_LEVEL_KEYS,
    InvalidStackConfig,
    main,
    project_block_model,
    render_schema,
    settings_from_stack_file,
    stack_file_schema,
    write_schema,
)
from pipelines.projects import projects

ROOT = Path(__file__).resolve().parents[2]
STACKS = ("dev", "staging", "prod")
MODELINE = "# yaml-language-server: $schema=./infra/stack_config.schema.json"
DELETE = object()
K = f"{PROJECT}:"  # the settings' namespace, before each key
STORAGE = {
    "enabled": True,
    "bucketName": "acme-mlops-lakehouse",
    "awsRegion": "eu-west-1",
    "awsAccountId": "123456789012",
}


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema)


def document(stack: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A committed stack file as YAML reads it, some config keys changed: a dotted key
    reaches into an object (``mlops-stack:compute.nodeType``); DELETE removes the key."""
    doc = copy.deepcopy(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()))
    for dotted, value in (changes or {}).items():
        top, *path = dotted.split(".")
        node = doc["config"]
        if path:
            node = node.setdefault(top, {})
            for name in path[:-1]:
                node = node.setdefault(name, {})
            top = path[-1]
        if value is DELETE:
            node.pop(top, None)
        else:
            node[top] = value
    return doc


def schema_errors(doc: dict[str, Any]) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator().iter_errors(doc)]


def settings_error(doc: dict[str, Any], stack: str, folder: Path) -> str | None:
    """What the settings say of the same document, read from a stack file (None: fine)."""
    path = folder / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        settings_from_stack_file(path)
    except InvalidStackConfig as exc:
        return str(exc)
    return None


# --- generated and committed ----------------------------------------------------------


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_PATH == ROOT / "infra" / "stack_config.schema.json"
    assert SCHEMA_PATH.read_text() == render_schema(), (
        "infra/stack_config.schema.json is stale: run python -m infra.settings --write-schema"
    )
    assert main(["--check-schema"]) == 0


def test_the_schema_writer_writes_what_is_committed(tmp_path: Path) -> None:
    written = write_schema(tmp_path / "stack_config.schema.json")
    assert written.read_text() == SCHEMA_PATH.read_text()


def test_the_schema_is_a_valid_draft_2020_12_schema_with_an_id_and_a_version() -> None:
    schema = stack_file_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/infra/stack_config.schema.json")
    assert schema["title"]
    assert SCHEMA_VERSION == 2
    assert f"schemaVersion {SCHEMA_VERSION}" in schema["$comment"]
    assert f"schemaVersion {SCHEMA_VERSION}" in schema["description"]
    assert set(schema["properties"]) == {
        "config",
        "secretsprovider",
        "encryptedkey",
        "encryptionsalt",
        "environment",
    }


def test_the_schema_has_every_setting_and_documents_it() -> None:
    config = stack_file_schema()["properties"]["config"]
    blocks = [f"{PROJECT}:{name}" for name in projects()]
    assert list(config["properties"]) == [f"{PROJECT}:{key}" for key in TOP_LEVEL_KEYS] + blocks
    definitions = stack_file_schema()["$defs"]
    sections = (
        "Compute",
        "Storage",
        "Schedule",
        "Schedules",
        "Training",
        "RegressionMonitoring",
        "ClassificationMonitoring",
        "RegressionValidation",
        "ClassificationValidation",
        "FareProject",
        "FareTables",
        "ChurnProject",
        "ChurnTables",
    )
    for name in sections:
        section = definitions[name]
        assert section["additionalProperties"] is False, name
        for key, field in section["properties"].items():
            assert field.get("description"), f"{name}.{key} has no description"
            assert "\n" not in field["description"] and "``" not in field["description"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_file_names_the_schema_on_its_first_line(stack: str) -> None:
    first = (ROOT / f"Pulumi.{stack}.yaml").read_text().splitlines()[0]
    assert first == MODELINE
    # The path is relative to the stack file, as the YAML language server reads it.
    assert (ROOT / MODELINE.partition("$schema=")[2]).resolve() == SCHEMA_PATH


# --- the committed stack files ---------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_committed_stack_file_validates(stack: str) -> None:
    assert schema_errors(document(stack)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_pulumi_keys_and_secure_values_validate(stack: str, tmp_path: Path) -> None:
    doc = document(
        stack,
        {
            "databricks:token": {"secure": "v1:AAAABBBBCCCC"},
            "databricks:clientSecret": {"secure": "v1:DDDDEEEE"},
            "aws:secretKey": {"secure": "v1:FFFF"},
            "databricks:host": "https://acme.cloud.databricks.com",
            "aws:region": "eu-west-1",
            "aws:assumeRole": {"roleArn": "arn:aws:iam::123456789012:role/x"},
        },
    )
    doc |= {
        "secretsprovider": "awskms://alias/pulumi",
        "encryptedkey": "AQICAHh...",
        "encryptionsalt": "v1:abc:def",
        "environment": ["mlops-stack/common"],
    }
    assert schema_errors(doc) == []
    assert settings_error(doc, stack, tmp_path) is None


# --- what the schema refuses, as the settings do -----------------------------------------

# id -> (changes to the staging stack file's config, where the schema says what is wrong)
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "misspelt-setting": ({f"{K}shedules": {"training": {"cron": "0 0 6 ? * MON"}}}, "$.config"),
    "misspelt-nested-key": ({f"{K}compute.nodetype": "i3.xlarge"}, f"['{K}compute']"),
    "field-name-not-key": ({f"{K}compute.num_workers": 2}, f"['{K}compute']"),
    "run-mode-enum": ({f"{K}fare.validation.runMode": "on"}, "runMode"),
    "environment-enum": ({f"{K}environment": "production"}, "environment"),
    "compute-kind-program-name": ({f"{K}compute.kind": "job_cluster"}, "kind"),
    "metric-enum": ({f"{K}fare.monitoring.metric": "rmse"}, "metric"),
    "granularity-enum": ({f"{K}fare.monitoring.granularities": ["5 minutes"]}, "granularities"),
    "managed-location-enum": ({f"{K}storage.managedLocation": "volume"}, "managedLocation"),
    "range": ({f"{K}compute.numWorkers": 101}, "numWorkers"),
    "whole-number": ({f"{K}compute.numWorkers": 2.5}, "numWorkers"),
    "identifier": ({f"{K}catalog": "Staging"}, "catalog"),
    "two-level-table": ({f"{K}fare.tables.trips": "bronze.trips"}, "trips"),
    "threshold-required": ({f"{K}fare.monitoring.threshold": DELETE}, "monitoring"),
    "r2-threshold-range": ({f"{K}fare.monitoring.metric": "r2_score"}, "threshold"),
    "storage-needs-its-keys": ({f"{K}storage": {"enabled": True}}, "storage"),
    "ci-needs-a-warehouse": ({f"{K}sqlWarehouseId": DELETE}, "sqlWarehouseId"),
    "ci-needs-a-runner": ({f"{K}principals.runner": DELETE}, "principals"),
    "ci-needs-model-owners": ({f"{K}groups.modelOwners": DELETE}, "groups"),
    "reserved-tag": ({f"{K}tags.project": "taxi"}, "tags"),
    "reserved-project-tag": ({f"{K}tags.model_project": "fare"}, "tags"),
    "secret-setting": ({f"{K}catalog": {"secure": "v1:abc"}}, "catalog"),
    "plain-credential": ({"databricks:token": "dapi-plain-text"}, "databricks:token"),
    "monitoring-required": ({f"{K}fare.monitoring": DELETE}, "monitoring"),
    # The projects: a list of known ones, each with its block, and a block only for those.
    "projects-required": ({f"{K}projects": DELETE}, "$.config"),
    "project-unknown": ({f"{K}projects": ["fare", "churn", "taxi"]}, "projects"),
    "project-twice": ({f"{K}projects": ["fare", "fare", "churn"]}, "projects"),
    "no-project": ({f"{K}projects": []}, "projects"),
    "listed-without-block": ({f"{K}churn": DELETE}, "$.config"),
    "block-not-listed": ({f"{K}projects": ["fare"]}, "$.config"),
    "unknown-role": ({f"{K}churn.tables.trips": "staging.telco.trips"}, ".tables"),
    "role-in-camel-case": ({f"{K}fare.tables.inferenceRequests": "a.b.c"}, f"['{K}fare']"),
    "regression-limit-on-a-classifier": ({f"{K}churn.validation.maxRmse": 5}, f"['{K}churn']"),
    "classification-metric-on-a-regression": (
        {f"{K}fare.monitoring.metric": "f1_score.macro"},
        "metric",
    ),
    "score-threshold-range": ({f"{K}churn.monitoring.threshold": 1.5}, "threshold"),
    "score-violated-above": ({f"{K}churn.monitoring.violatedWhen": "above"}, "violatedWhen"),
    "unknown-block-key": ({f"{K}churn.shedules": {}}, f"['{K}churn']"),
}


@pytest.mark.parametrize(("changes", "where"), list(REFUSED.values()), ids=list(REFUSED))
def test_the_schema_refuses_what_the_settings_refuse(
    changes: dict[str, Any], where: str, tmp_path: Path
) -> None:
    doc = document("staging", changes)
    errors = schema_errors(doc)

    assert errors, f"the schema accepts {changes}"
    assert any(where in error for error in errors), errors
    assert settings_error(doc, "staging", tmp_path), f"the settings accept {changes}"


def test_a_document_without_config_or_with_unknown_top_level_keys_is_refused() -> None:
    assert schema_errors({"secretsprovider": "passphrase"})
    doc = document("dev") | {"confg": {}}
    assert any("confg" in error for error in schema_errors(doc))


@pytest.mark.parametrize(
    "changes",
    [
        {f"{K}compute": {"kind": "serverless"}},
        {f"{K}fare.monitoring": {"enabled": False}},
        {f"{K}fare.monitoring.metric": "r2_score", f"{K}fare.monitoring.threshold": 0.4},
        {f"{K}storage": STORAGE | {"managedLocation": "schema", "forceDestroy": True}},
        {f"{K}fare.schedules.training": {"cron": "0 30 6 ? * MON-FRI"}},
        {f"{K}tags": {"team": "ml", "cost.center": "42"}},
        {f"{K}principals.runner": "8e7d6c5b-4a39-4281-9f0e-d1c2b3a49586"},
        {f"{K}churn.monitoring": {"metric": "log_loss", "threshold": 0.3}},
        {f"{K}churn.monitoring": {"threshold": 0.6}},
        {f"{K}churn.compute": {"numWorkers": 4}},
        {f"{K}churn.runnerReaches": ["fare"]},
        {f"{K}projects": ["churn"], f"{K}fare": DELETE},
    ],
    ids=[
        "serverless",
        "no-monitor",
        "r2",
        "storage",
        "weekdays",
        "tags",
        "runner",
        "log-loss",
        "default-classification-metric",
        "project-compute",
        "reaches",
        "one-project",
    ],
)
def test_the_schema_accepts_what_the_settings_accept(
    changes: dict[str, Any], tmp_path: Path
) -> None:
    doc = document("staging", changes)
    assert schema_errors(doc) == []
    assert settings_error(doc, "staging", tmp_path) is None


def test_each_projects_block_is_described_by_its_own_model() -> None:
    schema = stack_file_schema()
    config = schema["properties"]["config"]
    definitions = schema["$defs"]
    assert config["properties"][f"{K}projects"]["items"]["enum"] == list(projects())
    for name, declared in projects().items():
        reference = config["properties"][f"{K}{name}"]["$ref"]
        block = definitions[reference.rsplit("/", 1)[-1]]
        assert block["additionalProperties"] is False
        assert list(block["properties"]) == [
            field.alias or key for key, field in project_block_model(name).model_fields.items()
        ]
        assert "monitoring" in block["required"]
        tables = definitions[block["properties"]["tables"]["$ref"].rsplit("/", 1)[-1]]
        assert list(tables["properties"]) == list(declared.roles())
        kind = declared.problem_type.value.title()
        assert block["properties"]["validation"]["$ref"].endswith(f"{kind}Validation")
        assert block["properties"]["monitoring"]["$ref"].endswith(f"{kind}Monitoring")
