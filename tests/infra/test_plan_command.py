"""`mlops plan --stack <name>`: the offline render a person or a machine reads."""

from __future__ import annotations

import json

import pytest

from infra.outputs import validate_outputs
from pipelines.cli import main as mlops


def test_plan_prints_the_tree_the_inputs_that_matter_and_the_exports(capsys) -> None:
    assert mlops(["plan", "--stack", "prod"]) == 0
    out = capsys.readouterr().out
    assert "not a `pulumi preview`" in out
    assert "mlops-stack:jobs:TrainingJob  prod-mlops-stack-training" in out
    assert "task ModelValidation after Train: mlops-validate" in out
    assert "--model-version={{tasks.Train.values.model_version}}" in out
    assert "schedule '0 0 6 ? * MON' UTC UNPAUSED" in out
    assert "run as 00000000-0000-0000-0000-00000000a002" in out
    assert "TABLE prod.nyc_taxi.predictions: mlops-readers <- SELECT" in out
    assert "[protected]" in out
    assert "Resources by type:" in out and '"environment": "prod"' in out
    assert "Placeholders left in Pulumi.prod.yaml" in out


def test_plan_json_is_one_document_for_machines(capsys) -> None:
    assert mlops(["plan", "--stack", "staging", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["offline"] is True and document["stack"] == "staging"
    validate_outputs(document["exports"])
    by_name = {r["name"]: r for r in document["resources"]}
    job = by_name["staging-mlops-stack-training-job"]
    assert job["parent"] == "staging-mlops-stack-training"
    assert job["inputs"]["runAs"]["servicePrincipalName"] == "00000000-0000-0000-0000-00000000a001"
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
