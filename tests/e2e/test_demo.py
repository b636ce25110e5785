"""The local lifecycle end to end, through the same code path as `mlops demo`: every
project of the dev stack, its jobs as the stack deploys them."""

from __future__ import annotations

import pytest

from mlops import demo
from mlops.cli import main as mlops
from mlops.local_jobs import JobRun
from pipelines.common.registry import CHAMPION, version_for_alias

SCALE = 0.2  # fare: 300 trips a day; churn: 600 customers


def _counts(spark, project: demo.LocalProject) -> dict[str, int]:
    names = [demo.local_name(str(n)) for n in project.settings.table_map().names.values()]
    return {n: spark.table(n).count() for n in names}


def _monitoring(project: demo.LocalProject) -> list[JobRun]:
    return [run for _, run in project.runs if run.job == "monitoring"]


def test_the_demo_runs_the_dev_stacks_jobs_for_every_project(runtime, ctx, spark) -> None:
    projects = {p.name: p for p in demo.run_demo(runtime, scale=SCALE)}
    settings = demo.settings_from_stack_file(demo.DEV_STACK)
    assert list(projects) == [p.name for p in settings.projects] == ["fare", "churn"]
    counts = {name: _counts(spark, project) for name, project in projects.items()}
    for name, project in projects.items():
        assert all(n > 0 for n in counts[name].values()), counts[name]
        assert version_for_alias(ctx.mlflow, project.model, CHAMPION) is not None, name
        # The jobs ran the dev stack's own task flags, e.g. its validation run mode.
        validate = project.specs["training"].task("ModelValidation")
        assert validate.parameters["run-mode"] == settings.project(name).validation.run_mode
        for _, run in project.runs:
            assert run.succeeded, (name, run.job, [(t.key, t.error) for t in run.tasks])
            # Each run's wall time is its tasks', a task that ran taking some.
            ran = [t for t in run.tasks if t.state == "succeeded" and "outcome" not in t.result]
            assert all(t.seconds > 0 for t in ran), (name, run.job)
            assert run.seconds == sum(t.seconds for t in run.tasks)

    # The fare story: quiet before the drift, violated after it; the retraining job then
    # ran the training job, whose new version became champion.
    fare = projects["fare"]
    quiet, drifted = _monitoring(fare)
    assert quiet.task("CheckViolation").result["is_metric_violated"] is False
    assert quiet.task("Retrain").state == "skipped"
    assert drifted.task("CheckViolation").result["is_metric_violated"] is True
    retrained = drifted.task("Retrain").result["run"]
    deployed = retrained.task("ModelDeployment").result
    assert deployed["decision"] == "promoted"
    assert version_for_alias(ctx.mlflow, fare.model, CHAMPION) == deployed["champion_after"]
    profile = spark.sql(
        f"SELECT count(*) AS n, count(DISTINCT window.start) AS k"
        f" FROM {fare.predictions}_profile_metrics"
        " WHERE column_name = ':table' AND model_id = '*'"
    ).first()
    assert profile.n == profile.k == 42  # Jan 22 .. Mar 03, one row per day
    keys = spark.sql(f"SELECT count(*) AS n, count(DISTINCT trip_id) AS k FROM {fare.predictions}")
    assert keys.first().n == keys.first().k

    # The churn story: a classification monitor with its own metric columns.
    churn = projects["churn"]
    (checked,) = _monitoring(churn)
    assert checked.task("CheckViolation").state == "succeeded"
    columns = spark.table(f"{churn.predictions}_profile_metrics").columns
    assert "accuracy_score" in columns and "root_mean_squared_error" not in columns
    report = runtime.home / "reports" / "churn" / demo.REPORT_NAME
    assert 'data-chart="metric"' in report.read_text()

    # Again, for one project: its writes replace what they wrote, nothing is duplicated,
    # and the other project's tables are left as they were.
    demo.run_demo(runtime, projects=["churn"], scale=SCALE)
    assert {name: _counts(spark, project) for name, project in projects.items()} == counts


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "train", "--no-such-flag"],
        ["run", "batch-inference", "--start-date", "2016-02-30"],
        ["run", "write-features", "--tables", "trips"],
        ["demo", "--scale", "0"],
    ],
)
def test_bad_flags_are_usage_errors(argv, capsys):
    assert mlops(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err or "--scale 0.0" in err
    assert "Traceback" not in err
