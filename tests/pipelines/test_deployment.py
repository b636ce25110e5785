"""The ``deploy`` and ``rollback`` tasks: who becomes champion, when deployment refuses,
and the trace every move of the alias leaves on the versions."""

from __future__ import annotations

import datetime as dt

import pytest

from pipelines.common.errors import DeploymentRefused, MissingModelAlias, UsageError
from pipelines.common.project import ProblemType
from pipelines.common.registry import CHALLENGER, CHAMPION
from pipelines.deployment import decision, history
from pipelines.deployment.decision import PrimaryMetric
from tests.conftest import CHURN_HELD_OUT, Lake, churn_flags, run_task

RMSE = PrimaryMetric.of(ProblemType.REGRESSION)
ROC_AUC = PrimaryMetric.of(ProblemType.CLASSIFICATION)

EXPERIMENT = "/Shared/tests/deployment"
# The reference window: two days after the training range, enough rows to compare on.
REFERENCE = ("2016-01-20", "2016-01-22")


def data_args(lake: Lake, start: str, end: str) -> list[str]:
    return [
        *lake.project_flags(),
        "--start-date", start, "--end-date", end,
    ]  # fmt: skip


def deploy_args(lake: Lake, model_name: str, *extra: str) -> list[str]:
    return [*data_args(lake, *REFERENCE), "--model-name", model_name, *extra]


@pytest.fixture(scope="module")
def models(ctx, lake) -> dict[str, str]:
    """URIs of a good model and of a deliberately bad one, trained once for the module.
    Tests register copies under their own model names, so their aliases never mix."""
    source = "spark_catalog.deployment_models.fare"
    common = [*data_args(lake, "2016-01-01", "2016-01-15"), "--model-name", source]
    common += ["--experiment", EXPERIMENT]
    good = run_task("train", [*common, "--max-iter", "20"], ctx)
    bad = run_task("train", [*common, "--max-iter", "1", "--learning-rate", "0.01"], ctx)
    return {
        "good": f"models:/{source}/{good['model_version']}",
        "bad": f"models:/{source}/{bad['model_version']}",
    }


def new_challenger(ctx, lake: Lake, source_uri: str, name: str, validated: bool = True) -> str:
    """Register a copy of ``source_uri`` as the challenger of ``name``; when ``validated``,
    run the validate task on it in disabled mode (status SKIPPED, which deploy accepts)."""
    version = str(ctx.mlflow.copy_model_version(source_uri, name).version)
    ctx.mlflow.set_registered_model_alias(name, CHALLENGER, version)
    if validated:
        flags = ["--model-name", name, "--experiment", EXPERIMENT, "--run-mode", "disabled"]
        run_task("validate", [*data_args(lake, *REFERENCE), *flags], ctx)
    return version


def champion_of(ctx, name: str) -> str | None:
    version = ctx.mlflow.get_registered_model(name).aliases.get(CHAMPION)
    return None if version is None else str(version)


def version_tags(ctx, name: str, version: str) -> dict[str, str]:
    return ctx.mlflow.get_model_version(name, version).tags


def test_first_deploy_promotes_and_leaves_a_trace(ctx, lake, schema, models):
    name = f"{schema}.fare"
    version = new_challenger(ctx, lake, models["good"], name)

    result = run_task("deploy", deploy_args(lake, name, "--reason", "first release"), ctx)

    assert result["decision"] == "promoted"
    assert champion_of(ctx, name) == version
    tags = version_tags(ctx, name, version)
    since = dt.datetime.fromisoformat(tags["champion_since"])
    assert since.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - since) < dt.timedelta(minutes=5)
    assert tags["champion_set_by"] == ctx.runtime.user
    assert "no champion yet" in tags["champion_reason"]
    assert "first release" in tags["champion_reason"]
    assert tags["previous_champion"] == "none"
    # Deployment publishes no task value: nothing after it reads one (its Task declares none).
    assert "deployment_decision" not in ctx.task_values

    again = run_task("deploy", deploy_args(lake, name), ctx)

    assert again["decision"] == "already_champion"
    assert version_tags(ctx, name, version)["champion_since"] == tags["champion_since"]


def test_deploy_refuses_a_version_that_was_never_validated(ctx, lake, schema, models):
    name = f"{schema}.fare"
    version = new_challenger(ctx, lake, models["good"], name, validated=False)

    with pytest.raises(DeploymentRefused, match=f"version {version} has no validation_status"):
        run_task("deploy", deploy_args(lake, name), ctx)

    assert champion_of(ctx, name) is None
    assert "champion_since" not in version_tags(ctx, name, version)


def test_a_worse_challenger_keeps_the_champion(ctx, lake, schema, models):
    name = f"{schema}.fare"
    champion = new_challenger(ctx, lake, models["good"], name)
    run_task("deploy", deploy_args(lake, name), ctx)
    worse = new_challenger(ctx, lake, models["bad"], name)

    result = run_task("deploy", deploy_args(lake, name), ctx)

    assert result["decision"] == "kept_champion"
    assert champion_of(ctx, name) == champion
    metrics = result["metrics"]
    assert metrics["challenger_rmse"] > metrics["champion_rmse"] > 0
    assert f"{metrics['challenger_rmse']:.4f}" in result["reason"]
    assert f"{metrics['champion_rmse']:.4f}" in result["reason"]
    assert "champion_since" not in version_tags(ctx, name, worse)
    assert "champion_until" not in version_tags(ctx, name, champion)
    assert "deployment_decision" not in ctx.task_values


def test_rollback_walks_back_the_chain_of_champions(ctx, lake, schema, models):
    name = f"{schema}.fare"
    versions = []
    for _ in range(3):
        # Identical models score the same; a tie promotes, so each becomes champion.
        versions.append(new_challenger(ctx, lake, models["good"], name))
        assert run_task("deploy", deploy_args(lake, name), ctx)["decision"] == "promoted"
    first, second, third = versions
    assert version_tags(ctx, name, third)["previous_champion"] == second
    assert version_tags(ctx, name, second)["champion_replaced_by"] == third

    result = run_task("rollback", ["--model-name", name, "--reason", "complaints"], ctx)

    assert (result["demoted_version"], result["champion_version"]) == (third, second)
    assert champion_of(ctx, name) == second
    demoted = version_tags(ctx, name, third)
    assert demoted["rollback_reason"] == "complaints"
    assert demoted["rolled_back_by"] == ctx.runtime.user
    assert demoted["champion_until"] == demoted["rolled_back_at"]
    assert demoted["champion_replaced_by"] == second
    restored = version_tags(ctx, name, second)
    assert restored["champion_reason"] == "rollback: complaints"
    assert restored["champion_since"] == demoted["rolled_back_at"]
    assert restored["previous_champion"] == first
    assert "champion_until" not in restored

    run_task("rollback", ["--model-name", name, "--reason", "still wrong"], ctx)
    assert champion_of(ctx, name) == first

    with pytest.raises(DeploymentRefused, match="nothing to roll back to"):
        run_task("rollback", ["--model-name", name, "--reason", "once more"], ctx)
    assert champion_of(ctx, name) == first

    # The rolled-back version still holds the challenger alias: deploy must not restore it.
    with pytest.raises(DeploymentRefused, match=f"version {third} was rolled back"):
        run_task("deploy", deploy_args(lake, name), ctx)
    assert champion_of(ctx, name) == first


def test_rollback_without_a_champion_errors(ctx, schema):
    with pytest.raises(MissingModelAlias, match="no champion to roll back"):
        run_task("rollback", ["--model-name", f"{schema}.fare", "--reason", "x"], ctx)


@pytest.mark.parametrize(
    ("task", "argv", "expected"),
    [
        ("rollback", ["--model-name", "spark_catalog.s.fare"], "--reason"),
        ("rollback", ["--model-name", "fare", "--reason", "x"], "three-level"),
        ("deploy", ["--start-date", "2016-01-22", "--end-date", "2016-01-20"], "must be after"),
    ],
)
def test_bad_flags_are_usage_errors(ctx, lake, task, argv, expected):
    if task == "deploy":
        argv = [*deploy_args(lake, "spark_catalog.s.fare"), *argv]
    with pytest.raises(UsageError, match=expected):
        run_task(task, argv, ctx)


def test_decide_promotes_on_a_tie_and_keeps_a_better_champion():
    assert decision.decide("2", None).decision == "promoted"
    assert decision.decide("2", "2").decision == "already_champion"
    assert decision.decide("2", "1", 3.0, 3.0, metric=RMSE).decision == "promoted"
    kept = decision.decide("2", "1", 3.5, 3.0, "the window", metric=RMSE)
    assert kept.decision == "kept_champion"
    assert "3.5000 > champion version 1 RMSE 3.0000 on the window" in kept.reason


def test_the_primary_metric_per_problem_type():
    assert (RMSE.name, RMSE.higher_is_better, RMSE.key) == (
        "root_mean_squared_error",
        False,
        "rmse",
    )
    assert (ROC_AUC.name, ROC_AUC.higher_is_better, ROC_AUC.key) == ("roc_auc", True, "roc_auc")


def test_decide_picks_by_roc_auc_higher_is_better():
    promoted = decision.decide("2", "1", 0.81, 0.80, "the window", metric=ROC_AUC)
    assert promoted.decision == "promoted"
    assert promoted.reason == (
        "challenger version 2 ROC AUC 0.8100 >= champion version 1 ROC AUC 0.8000 on the"
        " window (higher is better)"
    )
    assert decision.decide("2", "1", 0.80, 0.80, metric=ROC_AUC).decision == "promoted"  # tie
    kept = decision.decide("2", "1", 0.79, 0.80, "the window", metric=ROC_AUC)
    assert kept.decision == "kept_champion"
    assert "ROC AUC 0.7900 < champion version 1 ROC AUC 0.8000" in kept.reason
    assert kept.reason.endswith("(higher is better); the champion stays")
    # The same numbers as RMSE judge the other way.
    assert decision.decide("2", "1", 0.79, 0.80, metric=RMSE).decision == "promoted"
    assert decision.decide("2", "1", 0.81, 0.80, metric=RMSE).decision == "kept_champion"


def test_comparing_with_a_champion_needs_the_metric_and_both_values():
    with pytest.raises(ValueError, match="needs the metric and both its values"):
        decision.decide("2", "1", 0.8, 0.7)
    with pytest.raises(ValueError, match="needs the metric and both its values"):
        decision.decide("2", "1", None, 0.7, metric=ROC_AUC)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({}, "never validated"),
        ({"validation_status": "FAILED", "validation_run_id": "r1"}, "FAILED from MLflow run r1"),
        ({"validation_status": "PASSED", "rolled_back_at": "t"}, "was rolled back at t"),
        ({"validation_status": "PASSED"}, None),
        ({"validation_status": "DRY_RUN_FAILED"}, None),
        ({"validation_status": "SKIPPED"}, None),
    ],
)
def test_refusal_reasons(tags, expected):
    problem = decision.refusal("4", tags)
    if expected is None:
        assert problem is None
    else:
        assert expected in problem


def test_history_tags_of_a_promotion_and_a_rollback():
    at = dt.datetime(2016, 1, 22, 6, 0, tzinfo=dt.UTC)
    promoted = history.promotion("3", "2", at, "ana", "better")
    assert promoted.new_champion == "3"
    assert promoted.set_tags["3"]["previous_champion"] == "2"
    assert promoted.set_tags["3"]["champion_since"] == "2016-01-22T06:00:00+00:00"
    assert promoted.set_tags["2"] == {
        "champion_until": "2016-01-22T06:00:00+00:00",
        "champion_replaced_by": "3",
    }
    assert history.promotion("1", None, at, "ana", "first").set_tags["1"]["previous_champion"] == (
        "none"
    )
    back = history.rollback("3", "2", at, "bo", "slow")
    assert back.new_champion == "2"
    assert "previous_champion" not in back.set_tags["2"]
    assert back.delete_tags["2"] == ("champion_until", "champion_replaced_by")
    assert back.set_tags["3"]["rollback_reason"] == "slow"


# --- end to end on a churn lake (classification: ROC AUC, higher is better) --------------


def churn_challenger(ctx, source_uri: str, name: str) -> str:
    """A copy of ``source_uri`` as the challenger of ``name``, validated in disabled mode."""
    version = str(ctx.mlflow.copy_model_version(source_uri, name).version)
    ctx.mlflow.set_registered_model_alias(name, CHALLENGER, version)
    flags = ["--model-name", name, "--experiment", EXPERIMENT, "--run-mode", "disabled"]
    run_task("validate", [*churn_flags(*CHURN_HELD_OUT), *flags], ctx)
    return version


def churn_deploy(ctx, name: str) -> dict:
    return run_task("deploy", [*churn_flags(*CHURN_HELD_OUT), "--model-name", name], ctx)


def test_a_churn_challenger_replaces_the_champion_only_with_a_roc_auc_no_lower(
    ctx, schema, churn_lake
):
    name = f"{schema}.churn"
    poor = churn_challenger(ctx, churn_lake.poor, name)
    assert churn_deploy(ctx, name)["decision"] == "promoted"  # the first champion
    good = churn_challenger(ctx, churn_lake.good, name)

    better = churn_deploy(ctx, name)

    assert better["decision"] == "promoted"
    assert (better["metric"], better["higher_is_better"]) == ("roc_auc", True)
    metrics = better["metrics"]
    assert 1 >= metrics["challenger_roc_auc"] > metrics["champion_roc_auc"] > 0.5
    assert metrics["reference_rows"] > 1000
    assert f"ROC AUC {metrics['challenger_roc_auc']:.4f} >= champion" in better["reason"]
    assert champion_of(ctx, name) == good
    assert version_tags(ctx, name, good)["previous_champion"] == poor

    worse = churn_challenger(ctx, churn_lake.poor, name)
    kept = churn_deploy(ctx, name)

    assert kept["decision"] == "kept_champion"
    assert kept["metrics"]["challenger_roc_auc"] < kept["metrics"]["champion_roc_auc"]
    assert kept["metrics"]["champion_roc_auc"] == metrics["challenger_roc_auc"]
    assert champion_of(ctx, name) == good
    assert "champion_since" not in version_tags(ctx, name, worse)
