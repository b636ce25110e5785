"""The local lifecycle end to end, through the same code path as `mlops demo`."""

from __future__ import annotations

import pytest

from mlops import demo
from mlops.cli import main as mlops
from pipelines.common.registry import CHAMPION, version_for_alias


def _table_counts(spark) -> dict[str, int]:
    return {t: spark.table(t).count() for t in demo.TABLES}


def test_demo_runs_twice_without_duplicating_rows(runtime, ctx, spark, capsys):
    assert demo.run_demo(runtime, trips_per_day=300) == 0
    first = capsys.readouterr().out
    counts = _table_counts(spark)
    champion = version_for_alias(ctx.mlflow, demo.MODEL, CHAMPION)

    assert "round 2" in first
    assert "Tables" in first and "mlops ui" in first
    assert "The dev stack (offline render" in first and "mlops plan --stack dev" in first
    assert "jobs (paused): dev-mlops-stack-batch-inference" in first
    assert champion is not None
    assert all(n > 0 for n in counts.values()), counts
    # Monitoring: quiet before the drift, violated after it, and the retraining job ran.
    assert "round 2: not violated" in first
    assert "round 3: violated: " in first
    assert "window(s) without labels yet" in first
    assert "retrain: train" in first and "retraining: " in first
    assert "retraining: not needed" not in first
    report = runtime.home / "reports" / demo.REPORT_NAME
    assert f"report: {report}" in first
    assert 'data-chart="metric"' in report.read_text()
    windows = spark.sql(
        f"SELECT count(*) AS n, count(DISTINCT window.start) AS k FROM {demo.PROFILE_METRICS}"
        " WHERE column_name = ':table' AND model_id = '*'"
    ).first()
    assert windows.n == windows.k == 42  # Jan 22 .. Mar 03, one row per day
    keys = spark.sql(
        f"SELECT count(*) AS n, count(DISTINCT trip_id) AS k FROM {demo.INFERENCE}"
    ).first()
    assert keys.n == keys.k

    assert demo.run_demo(runtime, trips_per_day=300) == 0
    second = capsys.readouterr().out
    assert _table_counts(spark) == counts
    # Round 2's check judges the windows up to its own date, not round 3's left over.
    assert "round 2: not violated" in second and "round 3: violated: " in second
    versions = ctx.mlflow.search_model_versions(f"name = '{demo.MODEL}'")
    # Two rounds train once each, and the drift round retrains once: three per run.
    assert len(versions) == 6


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "train", "--no-such-flag"],
        ["run", "batch-inference", "--start-date", "2016-02-30"],
        ["run", "write-features", "--input-table", "trips"],
    ],
)
def test_bad_flags_are_usage_errors(argv, capsys):
    assert mlops(argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err
    assert "Traceback" not in err
