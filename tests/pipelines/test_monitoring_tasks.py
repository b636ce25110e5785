"""The monitoring tasks around the metrics: late labels (``join-labels``) and the
retraining trigger (``check-violation``), on real tables in the local lake."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import types as T

from pipelines.common import schemas
from pipelines.common.errors import ConflictingLabels, SchemaMismatch, UsageError
from pipelines.common.tables import TableName, overwrite_table
from pipelines.monitoring import labels_task, violation_task
from pipelines.monitoring.violation import ViolationRule, violation_query
from tests.conftest import run_task

DAY = dt.datetime(2016, 3, 1)


def _inference_row(trip_id: int, day: int, label: float | None = None) -> tuple:
    at = DAY + dt.timedelta(days=day, hours=trip_id % 20)
    return (
        trip_id, at, at + dt.timedelta(minutes=12), 2.5, 10001, 10002,
        11.0 + trip_id % 3, "4", at, at + dt.timedelta(hours=1), label,
    )  # fmt: skip


@pytest.fixture
def tables(ctx, schema: str) -> tuple[TableName, TableName]:
    """An inference table with 3 days x 4 requests (day 0 partly labelled already) and a
    labels table (the trips) that has labels for days 0 and 1 only."""
    spark = ctx.spark
    inference = TableName.parse(f"{schema}.inference")
    trips = TableName.parse(f"{schema}.trips")
    rows = [_inference_row(day * 10 + i, day, 9.0 if day == 0 and i < 2 else None)
            for day in range(3) for i in range(4)]  # fmt: skip
    overwrite_table(spark, ctx.runtime, spark.createDataFrame(rows, schemas.INFERENCE), inference)
    trip_rows = [
        (r[0], r[1], r[2], r[3], 20.0 + r[0], r[4], r[5]) for r in rows if r[1].day - 1 < 2
    ]
    overwrite_table(spark, ctx.runtime, spark.createDataFrame(trip_rows, schemas.TRIPS), trips)
    return inference, trips


def _labels(ctx, table: TableName) -> dict[int, float | None]:
    return {r.trip_id: r.fare_amount for r in ctx.spark.table(str(table)).collect()}


def _join(ctx, inference: TableName, labels: TableName, start: str, end: str) -> dict:
    return run_task(
        labels_task,
        ["--inference-table", str(inference), "--labels-table", str(labels),
         "--start-date", start, "--end-date", end],
        ctx,
    )  # fmt: skip


def test_labels_arrive_for_the_range_only_and_a_rerun_changes_nothing(ctx, tables) -> None:
    inference, trips = tables
    first = _join(ctx, inference, trips, "2016-03-01", "2016-03-03")
    after_first = _labels(ctx, inference)
    assert first["rows"] == 8
    assert first["newly_labelled"] == 6  # two of day 0 were labelled already
    assert first["still_unlabelled"] == 0
    # Arrived labels replace older ones; day 2 (outside the range, no labels) untouched.
    assert after_first == {
        **{tid: 20.0 + tid for tid in (0, 1, 2, 3, 10, 11, 12, 13)},
        **{tid: None for tid in (20, 21, 22, 23)},
    }
    second = _join(ctx, inference, trips, "2016-03-01", "2016-03-03")
    assert second["newly_labelled"] == 0
    assert _labels(ctx, inference) == after_first
    assert ctx.spark.table(str(inference)).count() == 12


def test_days_without_labels_keep_null_labels(ctx, tables) -> None:
    inference, trips = tables
    result = _join(ctx, inference, trips, "2016-03-03", "2016-03-04")
    assert result == {**result, "rows": 4, "newly_labelled": 0, "still_unlabelled": 4}


def test_contradicting_labels_change_nothing(ctx, tables, schema: str) -> None:
    inference, _ = tables
    spark = ctx.spark
    labels = TableName.parse(f"{schema}.fares")
    pairs = spark.createDataFrame(
        [(10, 5.0), (10, 6.0), (11, 7.0)], "trip_id long, fare_amount double"
    )
    overwrite_table(spark, ctx.runtime, pairs, labels)
    before = _labels(ctx, inference)
    with pytest.raises(ConflictingLabels, match=r"trip_id 10"):
        _join(ctx, inference, labels, "2016-03-01", "2016-03-04")
    assert _labels(ctx, inference) == before


def test_a_labels_table_without_a_label_column_is_refused(ctx, tables, schema: str) -> None:
    inference, _ = tables
    spark = ctx.spark
    wrong = TableName.parse(f"{schema}.fares")
    overwrite_table(
        spark, ctx.runtime, spark.createDataFrame([(10, 5.0)], "trip_id long, fare double"), wrong
    )
    with pytest.raises(SchemaMismatch, match=r"missing columns: fare_amount \(double\)"):
        _join(ctx, inference, wrong, "2016-03-01", "2016-03-04")


# --- check-violation -------------------------------------------------------------------

PROFILE_COLUMNS = (
    "window struct<start: timestamp, end: timestamp>, granularity string, model_id string,"
    " log_type string, slice_key string, slice_value string, column_name string,"
    " count bigint, root_mean_squared_error double, r2_score double"
)


def _profile(ctx, schema: str, rmse: list[float | None], extra: list[tuple] = ()) -> TableName:
    """A profile-metrics table with one daily ':table' row per value (oldest first)."""
    rows = []
    for i, value in enumerate(rmse):
        start = DAY + dt.timedelta(days=i)
        window = (start, start + dt.timedelta(days=1))
        r2 = None if value is None else 1.0 - value / 10
        rows.append((window, "1 day", "*", "INPUT", None, None, ":table", 100, value, r2))
        # Rows the decision must ignore: one model version, a slice, another granularity.
        rows.append((window, "1 day", "7", "INPUT", None, None, ":table", 50, 99.0, -5.0))
        rows.append((window, "1 day", "*", "INPUT", "pickup_zip", "10001", ":table", 9, 99.0, -5.0))
        rows.append((window, "1 day", "*", "INPUT", None, None, "prediction", 100, None, None))
        rows.append((window, "1 hour", "*", "INPUT", None, None, ":table", 4, 99.0, -5.0))
    rows.extend(extra)
    table = TableName.parse(f"{schema}.fare_inference_profile_metrics")
    frame = ctx.spark.createDataFrame(rows, PROFILE_COLUMNS)
    overwrite_table(ctx.spark, ctx.runtime, frame, table)
    return table


def _check(ctx, table: TableName, *rule: str) -> dict:
    return run_task(violation_task, ["--profile-metrics-table", str(table), *rule], ctx)


RMSE_RULE = ["--metric", "root_mean_squared_error", "--threshold", "5",
             "--evaluation-windows", "7", "--violation-windows", "3"]  # fmt: skip


@pytest.mark.parametrize(
    ("rmse", "violated", "reason"),
    [
        ([4.0] * 5, False, "only 5 1 day window(s)"),
        ([4.0] * 5 + [6.0] * 3, True, "violated: 3 of the last 7 windows above 5"),
        ([6.0] * 5 + [4.0] * 5 + [6.0] * 2, False, "2 of the last 7 windows above 5, fewer than 3"),
        ([4.0] * 4 + [6.0] * 3 + [4.0], False, "but the latest (4.000) is not"),
        # Windows without labels are not evaluation windows: the latest evaluated is 6.0.
        ([4.0] * 5 + [6.0] * 3 + [None, None], True, "the latest 6.000"),
    ],
)
def test_violation_needs_m_of_the_last_n_windows_and_the_latest(
    ctx, schema: str, rmse: list, violated: bool, reason: str
) -> None:
    table = _profile(ctx, schema, rmse)
    result = _check(ctx, table, *RMSE_RULE)
    assert result["is_metric_violated"] is violated
    assert reason in result["reason"]
    assert ctx.task_values["is_metric_violated"] is violated
    assert len(result["windows"]) == min(7, len([v for v in rmse if v is not None]))


def test_a_metric_where_lower_is_worse_uses_below(ctx, schema: str) -> None:
    table = _profile(ctx, schema, [2.0] * 4 + [6.0] * 3)  # r2 = 0.8 then 0.4
    rule = ["--metric", "r2_score", "--threshold", "0.5", "--violated-when", "below",
            "--evaluation-windows", "7", "--violation-windows", "3"]  # fmt: skip
    result = _check(ctx, table, *rule)
    assert result["is_metric_violated"] is True
    assert result["latest_value"] == pytest.approx(0.4)


def test_the_query_is_plain_sql_over_lakehouse_monitoring_columns() -> None:
    rule = ViolationRule("mean_absolute_error", 3.5, "above", 7, 3)
    query = violation_query(TableName.parse("prod.nyc_taxi.predictions_profile_metrics"), rule)
    assert "FROM prod.nyc_taxi.predictions_profile_metrics" in query
    for needed in ("column_name = ':table'", "slice_key IS NULL", "model_id = '*'",
                   "log_type = 'INPUT'", "granularity = '1 day'", "LIMIT 7", "> 3.5"):  # fmt: skip
        assert needed in query


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--metric", "accuracy"], "invalid choice: 'accuracy'"),
        (["--violation-windows", "9"], "violation windows 9 is not between 1 and the evaluation"),
        (["--threshold", "nan"], "threshold nan is not a finite number"),
        (["--granularity", "daily"], "granularity 'daily' is not like '1 day'"),
    ],
)
def test_a_bad_rule_is_a_usage_error(ctx, flags: list[str], message: str) -> None:
    argv = [*RMSE_RULE, *flags]
    with pytest.raises(UsageError, match=message):
        _check(ctx, TableName.parse("spark_catalog.nowhere.t_profile_metrics"), *argv)


def test_a_missing_profile_table_is_named(ctx, schema: str) -> None:
    missing = TableName.parse(f"{schema}.never_refreshed_profile_metrics")
    with pytest.raises(SchemaMismatch, match="never_refreshed_profile_metrics does not exist"):
        _check(ctx, missing, *RMSE_RULE)


def test_window_struct_type_is_checked(ctx, schema: str) -> None:
    table = TableName.parse(f"{schema}.x_profile_metrics")
    frame = ctx.spark.createDataFrame(
        [("2016-03-01", "1 day", "*", "INPUT", None, ":table", 1.0)],
        "window string, granularity string, model_id string, log_type string,"
        " slice_key string, column_name string, root_mean_squared_error double",
    )
    overwrite_table(ctx.spark, ctx.runtime, frame, table)
    with pytest.raises(SchemaMismatch, match="window is string"):
        _check(ctx, table, *RMSE_RULE)


def test_profile_columns_match_the_lakehouse_monitoring_types() -> None:
    needed = violation_task._needed_columns("r2_score")
    assert needed["window"].dataType == T.StructType(
        [T.StructField("start", T.TimestampType()), T.StructField("end", T.TimestampType())]
    )
