"""The ``validate`` task and its rules: outcomes recorded on the version and in MLflow,
failures enforced only in enabled mode, and aliases never touched."""

from __future__ import annotations

import time

import mlflow
import pytest

from pipelines.common.errors import MissingModelAlias, UsageError, ValidationFailed
from pipelines.common.registry import CHALLENGER, CHAMPION
from pipelines.validation import task as validate
from pipelines.validation import thresholds
from tests.conftest import Lake, run_task

EXPERIMENT = "/Shared/tests/validation"
WINDOW = ("2016-01-15", "2016-01-22")
LOOSE_ABSOLUTE = ["--max-rmse", "1000", "--max-mae", "1000", "--min-r2", "-1000"]


def train_args(lake: Lake, model_name: str, *extra: str) -> list[str]:
    return [
        "--input-table", str(lake.trips), *lake.feature_flags(),
        "--start-date", "2016-01-01", "--end-date", WINDOW[0],
        "--model-name", model_name, "--experiment", EXPERIMENT, *extra,
    ]  # fmt: skip


def validate_args(lake: Lake, model_name: str, *extra: str) -> list[str]:
    return [
        "--input-table", str(lake.trips), *lake.feature_flags(),
        "--start-date", WINDOW[0], "--end-date", WINDOW[1],
        "--model-name", model_name, "--experiment", EXPERIMENT, *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def models(ctx, lake) -> dict[str, str]:
    """URIs of a good model and of a deliberately bad one, trained once for the module.
    Tests register copies under their own model names, so their tags never mix."""
    source = "spark_catalog.validation_models.fare"
    good = run_task("train", train_args(lake, source, "--max-iter", "20"), ctx)
    bad = run_task(
        "train", train_args(lake, source, "--max-iter", "1", "--learning-rate", "0.01"), ctx
    )
    return {
        "good": f"models:/{source}/{good['model_version']}",
        "bad": f"models:/{source}/{bad['model_version']}",
    }


def register(ctx, source_uri: str, name: str, alias: str) -> str:
    """A new version of ``name`` with the artifacts of ``source_uri``, behind ``alias``."""
    version = ctx.mlflow.copy_model_version(source_uri, name).version
    ctx.mlflow.set_registered_model_alias(name, alias, version)
    return str(version)


def aliases(ctx, name: str) -> dict[str, str]:
    return {a: str(v) for a, v in ctx.mlflow.get_registered_model(name).aliases.items()}


def version_tags(ctx, name: str, version: str) -> dict[str, str]:
    return ctx.mlflow.get_model_version(name, version).tags


def test_a_good_challenger_passes_when_there_is_no_champion(ctx, lake, schema, models):
    name = f"{schema}.fare"
    version = register(ctx, models["good"], name, CHALLENGER)

    started = time.perf_counter()
    result = run_task("validate", validate_args(lake, name), ctx)
    print(f"validate (no champion): {time.perf_counter() - started:.1f} s, {result}")

    assert result["status"] == "PASSED"
    assert set(result["rules"]) == {"max_rmse", "max_mae", "min_r2"}
    assert all(rule["passed"] for rule in result["rules"].values())
    assert result["metrics"]["champion"] is None
    tags = version_tags(ctx, name, version)
    assert tags["validation_status"] == "PASSED"
    assert tags["validation_run_id"] == result["run_id"]
    assert tags["validation_window"] == "2016-01-15..2016-01-22"
    rmse = float(tags["validation_root_mean_squared_error"])
    assert rmse == pytest.approx(result["metrics"]["candidate"]["root_mean_squared_error"], 1e-3)
    # Validation publishes no task value: nothing after it reads one (its tags say it all).
    assert "validation_status" not in ctx.task_values
    run = mlflow.get_run(result["run_id"])
    assert run.data.metrics["root_mean_squared_error"] == pytest.approx(rmse, 1e-4)
    assert run.data.metrics["rule_max_rmse_passed"] == 1.0
    assert run.data.params["max_rmse"] == str(thresholds.DEFAULT_LIMITS.max_rmse)
    assert run.data.tags["validation_status"] == "PASSED"
    assert aliases(ctx, name) == {CHALLENGER: version}


def test_enabled_mode_fails_on_a_broken_rule_and_leaves_aliases_alone(ctx, lake, schema, models):
    name = f"{schema}.fare"
    champion = register(ctx, models["good"], name, CHAMPION)
    version = register(ctx, models["good"], name, CHALLENGER)
    before = aliases(ctx, name)

    with pytest.raises(ValidationFailed) as failure:
        run_task("validate", validate_args(lake, name, "--max-rmse", "0.01"), ctx)

    message = str(failure.value)
    assert f"version {version} failed validation" in message
    assert "max_rmse: root_mean_squared_error" in message
    assert "must be <= 0.01" in message
    assert "min_r2" not in message  # only broken rules are named
    assert aliases(ctx, name) == before == {CHAMPION: champion, CHALLENGER: version}
    tags = version_tags(ctx, name, version)
    assert tags["validation_status"] == "FAILED"
    assert mlflow.get_run(tags["validation_run_id"]).data.tags["validation_status"] == "FAILED"
    assert "validation_status" not in version_tags(ctx, name, champion)
    assert "validation_status" not in ctx.task_values


def test_dry_run_records_a_failure_without_raising(ctx, lake, schema, models):
    name = f"{schema}.fare"
    version = register(ctx, models["good"], name, CHALLENGER)

    result = run_task(
        "validate", validate_args(lake, name, "--run-mode", "dry_run", "--min-r2", "0.999"), ctx
    )

    assert result["status"] == "DRY_RUN_FAILED"
    assert result["rules"]["min_r2"]["passed"] is False
    assert result["rules"]["max_rmse"]["passed"] is True
    assert version_tags(ctx, name, version)["validation_status"] == "DRY_RUN_FAILED"
    assert aliases(ctx, name) == {CHALLENGER: version}


def test_disabled_mode_records_a_skip(ctx, lake, schema, models):
    name = f"{schema}.fare"
    version = register(ctx, models["good"], name, CHALLENGER)

    result = run_task("validate", validate_args(lake, name, "--run-mode", "disabled"), ctx)

    assert result["status"] == "SKIPPED"
    tags = version_tags(ctx, name, version)
    assert tags["validation_status"] == "SKIPPED"
    assert mlflow.get_run(tags["validation_run_id"]).data.tags["validation_status"] == "SKIPPED"
    assert "validation_root_mean_squared_error" not in tags


def test_a_challenger_much_worse_than_the_champion_fails_the_relative_rule(
    ctx, lake, schema, models
):
    name = f"{schema}.fare"
    champion = register(ctx, models["good"], name, CHAMPION)
    version = register(ctx, models["bad"], name, CHALLENGER)

    started = time.perf_counter()
    result = run_task(
        "validate", validate_args(lake, name, "--run-mode", "dry_run", *LOOSE_ABSOLUTE), ctx
    )
    print(f"validate (with champion): {time.perf_counter() - started:.1f} s, {result}")

    assert result["champion_version"] == champion
    assert result["status"] == "DRY_RUN_FAILED"
    rules = result["rules"]
    assert [r for r, outcome in rules.items() if not outcome["passed"]] == ["max_rmse_increase"]
    candidate = result["metrics"]["candidate"]["root_mean_squared_error"]
    baseline = result["metrics"]["champion"]["root_mean_squared_error"]
    assert candidate > baseline * 1.05
    assert rules["max_rmse_increase"]["comparison"] == "<="
    assert rules["max_rmse_increase"]["bound"] == pytest.approx(baseline * 1.05, abs=1e-3)
    run = mlflow.get_run(result["run_id"])
    assert run.data.metrics["champion_root_mean_squared_error"] == pytest.approx(baseline, 1e-3)
    assert version_tags(ctx, name, version)["validation_status"] == "DRY_RUN_FAILED"
    assert aliases(ctx, name) == {CHAMPION: champion, CHALLENGER: version}


def test_validating_without_a_challenger_says_what_to_run(ctx, lake, schema):
    with pytest.raises(MissingModelAlias, match="no version with the alias 'challenger'"):
        run_task("validate", validate_args(lake, f"{schema}.fare", "--run-mode", "disabled"), ctx)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--run-mode", "bogus"], "invalid choice: 'bogus'"),
        (["--max-rmse-increase", "-0.1"], "--max-rmse-increase -0.1 must be 0 or more"),
        (["--min-r2", "1.5"], "can never be met"),
        (["--model-version", "0"], "not a positive whole number"),
    ],
)
def test_bad_flags_are_usage_errors(ctx, lake, schema, extra, expected):
    with pytest.raises(UsageError, match=expected):
        run_task("validate", validate_args(lake, f"{schema}.fare", *extra), ctx)


def test_an_unknown_version_is_a_usage_error(ctx, lake, schema, models):
    name = f"{schema}.fare"
    register(ctx, models["good"], name, CHALLENGER)
    with pytest.raises(UsageError, match=f"model {name} has no version 7"):
        run_task("validate", validate_args(lake, name, "--model-version", "7"), ctx)


def test_limits_are_the_defaults_with_overrides():
    chosen = thresholds.limits({"max_rmse": 3, "min_r2": None, "unknown": 1})
    assert chosen.max_rmse == 3.0
    assert chosen.min_r2 == thresholds.DEFAULT_LIMITS.min_r2
    rules = thresholds.validation_rules(chosen, {"root_mean_squared_error": 2.0})
    relative = [r for r in rules if r.relative]
    assert [(r.name, r.metric) for r in relative] == [
        ("max_rmse_increase", "root_mean_squared_error")
    ]
    assert relative[0].bound == pytest.approx(2.0 * (1 + chosen.max_rmse_increase))
    assert not any(r.relative for r in thresholds.validation_rules(chosen))


def test_every_rule_gets_its_own_outcome():
    rules = thresholds.validation_rules(thresholds.limits(), {"root_mean_squared_error": 2.0})
    candidate = {"root_mean_squared_error": 7.0, "mean_absolute_error": 1.0, "r2_score": 0.2}

    outcomes = validate.apply_rules(rules, candidate, {"root_mean_squared_error": 2.0})

    failed = {o.rule for o in outcomes if not o.passed}
    assert failed == {"max_rmse", "min_r2", "max_rmse_increase"}
    assert validate.validation_status(outcomes, "enabled") == "FAILED"
    assert validate.validation_status(outcomes, "dry_run") == "DRY_RUN_FAILED"
    passing = [o for o in outcomes if o.passed]
    assert validate.validation_status(passing, "enabled") == "PASSED"
