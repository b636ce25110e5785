"""`mlops plan --stack <name>`: the offline render a person or a machine reads."""

from __future__ import annotations

import json
from copy import deepcopy
from pathlib import Path

import pytest

from infra.outputs import validate_outputs
from mlops.cli import main as mlops
from mlops.render import as_json
from mlops.replacements import Replacement, format_replacements, replacements


def test_plan_prints_the_tree_the_inputs_that_matter_and_the_exports(capsys) -> None:
    assert mlops(["plan", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "not a `pulumi preview`" in out
    assert "Projects (2):" in out
    assert (
        "  fare: NYC taxi fare, regression; schema prod.nyc_taxi, model prod.nyc_taxi.fare_model"
        in out
    )
    assert "  churn: Telco customer churn, classification; schema prod.telco" in out
    for project in ("fare", "churn"):
        assert f"mlops-stack:jobs:TrainingJob  prod-mlops-stack-{project}-training" in out
    # Fare's components answer to their names from before several projects.
    assert (
        "mlops-stack:jobs:TrainingJob  prod-mlops-stack-fare-training  (was"
        " prod-mlops-stack-training)" in out
    )
    assert "task ModelValidation after Train: mlops-validate" in out
    assert "--model-version={{tasks.Train.values.model_version}}" in out
    assert "schedule '0 0 6 ? * MON' UTC UNPAUSED" in out
    assert "run as 00000000-0000-0000-0000-00000000a002" in out
    assert "TABLE prod.nyc_taxi.predictions: mlops-readers <- SELECT" in out
    assert "TABLE prod.telco.churn_predictions: mlops-readers <- SELECT" in out
    assert "[protected]" in out
    assert "Resources by type:" in out and '"environment": "prod"' in out
    assert "Placeholders left in Pulumi.prod.yaml" in out


def test_plan_json_is_one_document_for_machines(capsys) -> None:
    assert mlops(["plan", "--stack", "staging", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["offline"] is True and document["stack"] == "staging"
    validate_outputs(document["exports"])
    assert [p["name"] for p in document["projects"]] == ["fare", "churn"]
    assert document["projects"][1] == {
        "name": "churn",
        "problemType": "classification",
        "schema": "staging.telco",
        "model": "staging.telco.churn_model",
    }
    by_name = {r["name"]: r for r in document["resources"]}
    for project in ("fare", "churn"):
        job = by_name[f"staging-mlops-stack-{project}-training-job"]
        assert job["parent"] == f"staging-mlops-stack-{project}-training"
        runner = job["inputs"]["runAs"]["servicePrincipalName"]
        assert runner == "00000000-0000-0000-0000-00000000a001"
    # The names a resource had before are in the document, for --baseline.
    assert by_name["staging-mlops-stack-fare-training-job"]["aliases"] == [
        "staging-mlops-stack-training-job"
    ]
    assert "aliases" not in by_name["staging-mlops-stack-churn-training-job"]
    assert document["placeholders"]


def test_plan_names_the_stacks_there_are_when_one_does_not_exist(capsys) -> None:
    assert mlops(["plan", "--stack", "qa"]) == 2
    err = capsys.readouterr().err
    assert "there is no stack 'qa'" in err and "expected one of dev, prod, staging" in err
    assert "Traceback" not in err


def test_plan_without_a_stack_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        mlops(["plan"])
    assert exited.value.code == 2
    assert "the following arguments are required: --stack" in capsys.readouterr().err


# --- --baseline: what the current code and settings would replace or delete -------------

TABLE = "databricks:index/sqlTable:SqlTable"
TRIPS = "dev-mlops-stack-catalog-fare-trips"
EXPECTED = "expected the output of `mlops plan --stack dev --json`"


@pytest.fixture(scope="module")
def dev_plan(renders) -> dict:
    """The dev stack's `mlops plan --json`, as read back from a file."""
    return json.loads(json.dumps(as_json(renders["dev"])))


def _resource(document: dict, resource_type: str, name: str) -> dict:
    return next(
        r for r in document["resources"] if r["type"] == resource_type and r["name"] == name
    )


def _baseline(
    document: dict, resource_type: str = TABLE, resource: str = TRIPS, /, **inputs
) -> dict:
    """A copy of ``document`` whose resource had other inputs (None: not set)."""
    copy = deepcopy(document)
    changed = _resource(copy, resource_type, resource)["inputs"]
    for key, value in inputs.items():
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    return copy


def _write(tmp_path: Path, document: dict) -> str:
    path = tmp_path / "old-plan.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_an_unchanged_baseline_replaces_nothing(dev_plan, renders) -> None:
    assert replacements(dev_plan, as_json(renders["dev"])) == []
    assert format_replacements([]) == ["none"]


def test_plan_against_its_own_json_lists_no_replacement(tmp_path, capsys) -> None:
    old = tmp_path / "old.json"
    assert mlops(["plan", "--stack", "dev", "--json"]) == 0
    old.write_text(capsys.readouterr().out)
    assert mlops(["plan", "--stack", "dev", "--baseline", str(old)]) == 0
    out = capsys.readouterr().out
    assert f"Replacements against {old}:\n  none" in out


@pytest.mark.parametrize(
    ("key", "old", "new"),
    [
        ("schemaName", "nyc_taxi_v0", "nyc_taxi"),
        ("catalogName", "sandbox", "dev"),
        ("tableType", "EXTERNAL", "MANAGED"),
        ("name", "trips_v0", "trips"),  # through the stack's replace_on_changes
        ("storageCredentialName", "old-credential", None),  # no longer sent
        ("options", {"multiLine": "true"}, None),
    ],
)
def test_a_changed_replace_forcing_input_replaces_the_table(dev_plan, renders, key, old, new):
    found = replacements(_baseline(dev_plan, **{key: old}), as_json(renders["dev"]))
    assert found == [
        Replacement(TABLE, TRIPS, "replace", ((key, old, new),), full_name=_full_name(key, old))
    ]


def _full_name(key: str, value: object) -> str:
    parts = {"catalogName": "dev", "schemaName": "nyc_taxi", "name": "trips"}
    if key in parts:
        parts[key] = str(value)
    return ".".join(parts.values())


def test_partitions_left_out_keep_their_value_and_a_data_source_format_left_out_too(
    dev_plan,
) -> None:
    # partitions is computed, and the provider suppresses a data_source_format diff to an
    # empty value (resource_sql_table.go:55 and :80-85): neither replaces the table.
    old = _baseline(dev_plan, dataSourceFormat="DELTA", partitions=["pickup_zip"])
    assert replacements(old, dev_plan) == []
    # The other way round, a format given where there was none is a new table.
    assert replacements(dev_plan, old) == [
        Replacement(
            TABLE,
            TRIPS,
            "replace",
            (("dataSourceFormat", None, "DELTA"), ("partitions", None, ["pickup_zip"])),
            full_name="dev.nyc_taxi.trips",
        )
    ]


def test_what_the_provider_compares_without_case_or_in_place_replaces_nothing(dev_plan):
    old = _baseline(dev_plan, name="TRIPS", schemaName="NYC_Taxi", comment="old comment")
    old = _baseline(
        old, "databricks:index/volume:Volume", "dev-mlops-stack-code-volume", name="wheels"
    )
    assert replacements(old, dev_plan) == []


def test_a_view_whose_comment_changes_is_replaced(dev_plan) -> None:
    old = _baseline(dev_plan, tableType="VIEW", comment="old comment")
    new = _baseline(dev_plan, tableType="VIEW")
    [found] = replacements(old, new)
    assert found.changes[0][0] == "comment" and found.action == "replace"


def test_a_table_the_render_no_longer_has_would_be_deleted_and_left_in_place(
    dev_plan, renders, tmp_path, capsys
) -> None:
    old = deepcopy(dev_plan)
    gone = deepcopy(_resource(old, TABLE, TRIPS))
    gone["name"] = "dev-mlops-stack-catalog-fare-trips_v0"
    gone["inputs"]["name"] = "trips_v0"
    job = deepcopy(_resource(old, "databricks:index/job:Job", "dev-mlops-stack-fare-training-job"))
    job["name"] = "dev-mlops-stack-old-job"  # not something that holds data: not listed
    old["resources"] += [gone, job]
    assert replacements(old, as_json(renders["dev"])) == [
        Replacement(TABLE, gone["name"], "delete", full_name="dev.nyc_taxi.trips_v0")
    ]

    path = _write(tmp_path, old)
    assert mlops(["plan", "--stack", "dev", "--baseline", path, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["replacements"] == [
        {
            "type": TABLE,
            "name": gone["name"],
            "fullName": "dev.nyc_taxi.trips_v0",
            "action": "delete",
            "changes": [],
            "protected": False,
            "retained": True,
        }
    ]
    assert mlops(["plan", "--stack", "dev", "--baseline", path]) == 0
    out = capsys.readouterr().out
    assert f"Replacements against {path}:" in out
    assert (
        "  table dev.nyc_taxi.trips_v0 (dev-mlops-stack-catalog-fare-trips_v0) would be DELETED"
        in out
    )
    assert "the table is left in place with its rows, detached from the stack" in out


def test_plan_prints_each_replacement_with_its_inputs_old_and_new(
    dev_plan, tmp_path, capsys
) -> None:
    old = _baseline(dev_plan, schemaName="nyc_taxi_v0", name="trips_v0")
    assert mlops(["plan", "--stack", "dev", "--baseline", _write(tmp_path, old)]) == 0
    out = capsys.readouterr().out
    assert (
        "table dev.nyc_taxi_v0.trips_v0 (dev-mlops-stack-catalog-fare-trips) would be REPLACED:"
        in out
    )
    assert '      schemaName: "nyc_taxi_v0" -> "nyc_taxi"\n' in out
    assert '      name: "trips_v0" -> "trips" (replace_on_changes of the stack' in out
    assert "a new, empty table is created; the old one is left in place" in out
    assert "expect its creation to fail" not in out  # a new full name


def test_a_protected_table_says_pulumi_up_refuses_the_replacement(renders) -> None:
    current = json.loads(json.dumps(as_json(renders["prod"])))
    name = "prod-mlops-stack-catalog-fare-predictions"
    found = replacements(_baseline(current, TABLE, name, tableType="EXTERNAL"), current)
    assert [(r.name, r.protected) for r in found] == [(name, True)]
    lines = format_replacements(found)
    assert "    it is protected: `pulumi up` refuses this until the protection is lifted" in lines
    # The same full name: the old table keeps it, so the new one cannot be created.
    assert any("expect its creation to fail" in line for line in lines)


def test_a_baseline_from_before_several_projects_matches_the_renamed_resources(
    dev_plan,
) -> None:
    """A plan of the stack when it deployed fare alone named fare's resources without the
    project; the current render's aliases are those names, so nothing is deleted."""
    old = deepcopy(dev_plan)
    renamed = []
    for resource in old["resources"]:
        if resource.get("aliases"):
            resource["name"] = resource.pop("aliases")[0]
            renamed.append(resource["name"])
    old["resources"] = [r for r in old["resources"] if "churn" not in r["name"]]
    assert "dev-mlops-stack-catalog-trips" in renamed
    assert "dev-mlops-stack-ml-model" in renamed
    assert replacements(old, dev_plan) == []
    # Without the aliases, the same baseline would have every fare table deleted.
    unaliased = deepcopy(dev_plan)
    for resource in unaliased["resources"]:
        resource.pop("aliases", None)
    gone = {r.name for r in replacements(old, unaliased)}
    assert "dev-mlops-stack-catalog-trips" in gone and "dev-mlops-stack-ml-model" in gone


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON (line 1"),
        ("[]", "is not a JSON object"),
        (json.dumps({"stack": "prod", "resources": []}), "is a document of stack 'prod'"),
        (json.dumps({"resources": []}), 'is a document with no "stack" field'),
        (json.dumps({"stack": "dev"}), 'has no "resources" list'),
        (
            json.dumps({"stack": "dev", "resources": [{"name": "x"}]}),
            "has resources[0], which is not",
        ),
    ],
)
def test_a_bad_baseline_is_a_usage_error_before_anything_is_rendered(
    tmp_path, capsys, registered, content, reason
) -> None:
    path = tmp_path / "old.json"
    if content is not None:
        path.write_text(content)
    assert mlops(["plan", "--stack", "dev", "--baseline", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert err.startswith(f"error: --baseline {path} ") and reason in err
    assert err.endswith(EXPECTED) and "\n" not in err and "Traceback" not in err
    assert registered == []
