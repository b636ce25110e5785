"""The ``validate`` task and its rules: outcomes recorded on the version and in MLflow,
failures enforced only in enabled mode, and aliases never touched."""

from __future__ import annotations

import time

import mlflow
import pytest

from pipelines.common import quality
from pipelines.common.errors import MissingModelAlias, UsageError, ValidationFailed
from pipelines.common.project import ProblemType
from pipelines.common.registry import CHALLENGER, CHAMPION
from pipelines.projects import project
from pipelines.validation import task as validate
from pipelines.validation import thresholds
from pipelines.validation.params import VALIDATE
from tests.conftest import CHURN_HELD_OUT, Lake, churn_flags, project_tables, run_task

REGRESSION, CLASSIFICATION = ProblemType.REGRESSION, ProblemType.CLASSIFICATION

EXPERIMENT = "/Shared/tests/validation"
WINDOW = ("2016-01-15", "2016-01-22")
LOOSE_ABSOLUTE = ["--max-rmse", "1000", "--max-mae", "1000", "--min-r2", "-1000"]


def train_args(lake: Lake, model_name: str, *extra: str) -> list[str]:
    return [
        *lake.project_flags(),
        "--start-date", "2016-01-01", "--end-date", WINDOW[0],
        "--model-name", model_name, "--experiment", EXPERIMENT, *extra,
    ]  # fmt: skip


def validate_args(lake: Lake, model_name: str, *extra: str) -> list[str]:
    return [
        *lake.project_flags(),
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
    assert run.data.params["max_rmse"] == str(thresholds.LIMITS["max_rmse"].default)
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
    chosen = thresholds.limits(REGRESSION, {"max_rmse": 3, "min_r2": None, "unknown": 1})
    assert chosen["max_rmse"] == 3.0
    assert chosen["min_r2"] == thresholds.LIMITS["min_r2"].default
    rules = thresholds.validation_rules(chosen, {"root_mean_squared_error": 2.0})
    relative = [r for r in rules if r.relative]
    assert [(r.name, r.metric) for r in relative] == [
        ("max_rmse_increase", "root_mean_squared_error")
    ]
    assert relative[0].bound == pytest.approx(2.0 * (1 + chosen["max_rmse_increase"]))
    assert not any(r.relative for r in thresholds.validation_rules(chosen))


def test_every_rule_gets_its_own_outcome():
    rules = thresholds.validation_rules(
        thresholds.limits(REGRESSION), {"root_mean_squared_error": 2.0}
    )
    candidate = {"root_mean_squared_error": 7.0, "mean_absolute_error": 1.0, "r2_score": 0.2}

    outcomes = validate.apply_rules(rules, candidate, {"root_mean_squared_error": 2.0})

    failed = {o.rule for o in outcomes if not o.passed}
    assert failed == {"max_rmse", "min_r2", "max_rmse_increase"}
    assert validate.validation_status(outcomes, "enabled") == "FAILED"
    assert validate.validation_status(outcomes, "dry_run") == "DRY_RUN_FAILED"
    passing = [o for o in outcomes if o.passed]
    assert validate.validation_status(passing, "enabled") == "PASSED"


# --- the rules per problem type -----------------------------------------------------------

FARE_TABLES = project_tables("fare", "spark_catalog.s")
CHURN_TABLES = project_tables("churn", "spark_catalog.s")


def parse(project_name: str, *extra: str):
    """The validate task's params for ``project_name`` (parsing needs no Spark)."""
    tables = FARE_TABLES if project_name == "fare" else CHURN_TABLES
    return VALIDATE.parse([
        "--project", project_name, "--tables", tables,
        "--start-date", WINDOW[0], "--end-date", WINDOW[1],
        "--model-name", f"spark_catalog.s.{project_name}", "--experiment", EXPERIMENT, *extra,
    ])  # fmt: skip


def test_the_limits_are_declared_once_per_problem_type():
    assert [limit.name for limit in thresholds.limits_of(REGRESSION)] == [
        "max_rmse", "max_mae", "min_r2", "max_rmse_increase",
    ]  # fmt: skip
    assert [limit.name for limit in thresholds.limits_of(CLASSIFICATION)] == [
        "min_roc_auc", "min_f1", "max_log_loss", "max_roc_auc_decrease",
    ]  # fmt: skip
    flags = {f.field: f for f in VALIDATE.flags()}
    for limit in thresholds.LIMITS.values():
        # Every rule judges a metric MLflow's evaluator gives and quality reports.
        assert limit.metric in quality.metric_names(limit.problem_type), limit.name
        assert f"{limit.problem_type} projects only" in flags[limit.name].help
        assert flags[limit.name].default is None  # None: the problem type's default


def test_a_classification_project_takes_the_classification_limits():
    params = parse("churn", "--min-roc-auc", "0.7", "--max-roc-auc-decrease", "0.05")
    chosen = params.limits()
    assert chosen.problem_type is CLASSIFICATION
    assert dict(chosen.values) == {
        "min_roc_auc": 0.7,
        "min_f1": thresholds.LIMITS["min_f1"].default,
        "max_log_loss": thresholds.LIMITS["max_log_loss"].default,
        "max_roc_auc_decrease": 0.05,
    }
    assert parse("fare", "--max-rmse", "3").limits()["max_rmse"] == 3.0


@pytest.mark.parametrize(
    ("project_name", "extra", "kind", "own"),
    [
        ("churn", ["--max-rmse", "3"], "regression", "classification"),
        ("fare", ["--min-roc-auc", "0.7"], "classification", "regression"),
        ("fare", ["--run-mode", "disabled", "--max-log-loss", "1"], "classification", "regression"),
    ],
)
def test_a_limit_of_another_problem_type_is_refused_naming_it(project_name, extra, kind, own):
    with pytest.raises(UsageError) as refused:
        parse(project_name, *extra)
    message = str(refused.value)
    assert f"{extra[-2]} (a {kind} limit)" in message
    assert f"project {project_name} is a {own} project" in message
    assert f"whose limits are {thresholds.options_of(project(project_name).problem_type)}" in (
        message
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--min-roc-auc", "1.2"], "--min-roc-auc 1.2 can never be met: roc_auc is at most 1"),
        (["--min-f1", "2"], "--min-f1 2 can never be met"),
        (["--max-log-loss", "0"], "--max-log-loss 0 must be above 0"),
        (["--max-roc-auc-decrease", "-0.1"], "--max-roc-auc-decrease -0.1 must be from 0 to 1"),
    ],
)
def test_bad_classification_limits_are_usage_errors(extra, expected):
    with pytest.raises(UsageError, match=expected):
        parse("churn", *extra)


def test_classification_rules_judge_the_metrics_of_mlflows_classifier_evaluator():
    chosen = thresholds.limits(CLASSIFICATION, {"min_roc_auc": 0.7, "max_log_loss": 0.3})
    champion = {"roc_auc": 0.80, "f1_score": 0.4, "log_loss": 0.20}
    rules = thresholds.validation_rules(chosen, champion)
    assert [(r.name, r.metric, r.comparison, r.relative) for r in rules] == [
        ("min_roc_auc", "roc_auc", ">=", False),
        ("min_f1", "f1_score", ">=", False),
        ("max_log_loss", "log_loss", "<=", False),
        ("max_roc_auc_decrease", "roc_auc", ">=", True),
    ]
    # The champion's ROC AUC, less the tolerated fraction of it.
    assert rules[-1].bound == pytest.approx(0.80 * (1 - 0.02))

    # 0.78 clears 0.7 but falls more than 2 % (to below 0.784) under the champion's 0.80.
    candidate = {"roc_auc": 0.78, "f1_score": 0.0, "log_loss": 0.35, "accuracy_score": 0.97}
    outcomes = validate.apply_rules(rules, candidate, champion)

    assert {o.rule: o.passed for o in outcomes} == {
        "min_roc_auc": True,
        "min_f1": True,  # 0 by default: F1 at the 0.5 cut is not constrained
        "max_log_loss": False,
        "max_roc_auc_decrease": False,
    }
    relative = outcomes[-1]
    assert (relative.value, relative.champion_value) == (0.78, 0.80)
    assert relative.summary() == (
        "max_roc_auc_decrease: roc_auc 0.78 (must be >= 0.784; champion 0.8)"
    )
    assert validate.validation_status(outcomes, "enabled") == "FAILED"
    message = validate.failure_message("c.s.churn", "3", "churn", "w", "r", outcomes)
    assert "project churn" in message and "(e.g. --max-log-loss)" in message

    better = {**candidate, "roc_auc": 0.79, "log_loss": 0.25}
    assert all(o.passed for o in validate.apply_rules(rules, better, champion))
    # Without a champion only the absolute rules apply.
    assert not any(r.relative for r in thresholds.validation_rules(chosen))


def test_the_classifier_is_evaluated_as_binary_with_positive_class_1():
    config = validate.evaluator_config(CLASSIFICATION, "champion_")
    assert (config["pos_label"], config["label_list"]) == (1, [0, 1])
    assert config["metric_prefix"] == "champion_"
    assert "pos_label" not in validate.evaluator_config(REGRESSION)
    assert project("churn").problem_type.mlflow_model_type == "classifier"


# --- end to end on a churn lake (classification) -----------------------------------------


def churn_validate_args(model_name: str, *extra: str) -> list[str]:
    return [
        *churn_flags(*CHURN_HELD_OUT),
        "--model-name",
        model_name,
        "--experiment",
        EXPERIMENT,
        *extra,
    ]


def test_a_churn_challenger_is_validated_on_the_classifier_metrics(ctx, schema, churn_lake):
    name = f"{schema}.churn"
    version = register(ctx, churn_lake.good, name, CHALLENGER)

    started = time.perf_counter()
    result = run_task("validate", churn_validate_args(name), ctx)
    print(f"validate churn (no champion): {time.perf_counter() - started:.1f} s, {result}")

    assert result["status"] == "PASSED"
    assert set(result["rules"]) == {"min_roc_auc", "min_f1", "max_log_loss"}
    assert result["rules"]["min_roc_auc"]["comparison"] == ">="
    assert result["rules"]["max_log_loss"]["comparison"] == "<="
    candidate = result["metrics"]["candidate"]
    assert list(candidate) == list(quality.metric_names(CLASSIFICATION))
    assert 0.6 < candidate["roc_auc"] <= 1
    assert result["metrics"]["champion"] is None
    tags = version_tags(ctx, name, version)
    assert tags["validation_status"] == "PASSED"
    assert float(tags["validation_roc_auc"]) == pytest.approx(candidate["roc_auc"], abs=1e-4)
    assert "validation_root_mean_squared_error" not in tags
    run = mlflow.get_run(result["run_id"])
    assert run.data.tags["problem_type"] == "classification"
    assert run.data.params["min_roc_auc"] == str(thresholds.LIMITS["min_roc_auc"].default)
    assert "max_rmse" not in run.data.params

    # MLflow's classifier evaluator and pipelines.common.quality agree on the same rows.
    params = VALIDATE.parse(churn_validate_args(name))
    frame = validate.validation_frame(ctx, params)
    assert result["rows"] == len(frame)
    model = mlflow.sklearn.load_model(churn_lake.good)
    inputs = frame.drop(columns="churned")
    ours = quality.model_quality(
        CLASSIFICATION, frame["churned"], model.predict(inputs), model.predict_proba(inputs)
    )
    assert candidate == {m: pytest.approx(v, abs=1e-4) for m, v in ours.items()}
    assert aliases(ctx, name) == {CHALLENGER: version}


def test_a_churn_challenger_is_held_to_the_champions_roc_auc(ctx, schema, churn_lake):
    name = f"{schema}.churn"
    champion = register(ctx, churn_lake.good, name, CHAMPION)
    version = register(ctx, churn_lake.poor, name, CHALLENGER)

    result = run_task("validate", churn_validate_args(name, "--run-mode", "dry_run"), ctx)
    print(f"validate churn (with champion): {result}")

    assert result["champion_version"] == champion
    rule = result["rules"]["max_roc_auc_decrease"]
    candidate = result["metrics"]["candidate"]["roc_auc"]
    baseline = result["metrics"]["champion"]["roc_auc"]
    assert rule["comparison"] == ">="
    assert rule["bound"] == pytest.approx(baseline * (1 - 0.02), abs=1e-3)
    assert candidate < baseline * (1 - 0.02)  # one shallow step learns far less
    assert rule["passed"] is False
    assert result["status"] == "DRY_RUN_FAILED"
    run = mlflow.get_run(result["run_id"])
    assert run.data.metrics["champion_roc_auc"] == pytest.approx(baseline, abs=1e-4)
    assert version_tags(ctx, name, version)["validation_status"] == "DRY_RUN_FAILED"
    assert aliases(ctx, name) == {CHAMPION: champion, CHALLENGER: version}
