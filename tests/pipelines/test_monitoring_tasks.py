"""The monitoring tasks around the metrics: late labels (``join-labels``) and the
retraining trigger (``check-violation``), on real tables in the local lake."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from pyspark.sql import types as T
from sklearn import metrics as skm

from pipelines.common.errors import ConflictingLabels, SchemaMismatch, UsageError
from pipelines.common.project import TableMap
from pipelines.common.tables import TableName, overwrite_table
from pipelines.common.task_values import (
    IS_METRIC_VIOLATED,
    TaskValueRef,
    condition_holds,
    resolve,
)
from pipelines.monitoring import metrics, refresh_task, violation_task
from pipelines.monitoring.violation import ViolationRule, violation_query
from pipelines.notebook import CELL, notebook_source
from pipelines.projects import project
from pipelines.projects.churn import schemas as churn_schemas
from pipelines.projects.fare import schemas
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


def fare_tables(inference: TableName, trips: TableName) -> str:
    """The fare project's ``--tables``: join-labels reads only the trips (the labels)."""
    other = {role: inference.sibling(role) for role in project("fare").roles()}
    return str(TableMap({**other, "trips": trips, "predictions": inference}))


def _join(ctx, inference: TableName, labels: TableName, start: str, end: str) -> dict:
    return run_task(
        "join-labels",
        ["--project", "fare", "--tables", fare_tables(inference, labels),
         "--inference-table", str(inference), "--start-date", start, "--end-date", end],
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
    at = DAY + dt.timedelta(days=1)
    trips = [
        (10, at, at, 1.0, 5.0, 1, 2),
        (10, at, at, 1.0, 6.0, 1, 2),
        (11, at, at, 1.0, 7.0, 1, 2),
    ]
    overwrite_table(spark, ctx.runtime, spark.createDataFrame(trips, schemas.TRIPS), labels)
    before = _labels(ctx, inference)
    with pytest.raises(ConflictingLabels, match=r"trip_id 10"):
        _join(ctx, inference, labels, "2016-03-01", "2016-03-04")
    assert _labels(ctx, inference) == before


def test_a_labels_table_without_a_label_column_is_refused(ctx, tables, schema: str) -> None:
    inference, _ = tables
    spark = ctx.spark
    wrong = TableName.parse(f"{schema}.fares")
    at = DAY + dt.timedelta(days=1)
    fares = spark.createDataFrame([(10, at, at, 1.0, 5.0, 1, 2)], schemas.TRIPS)
    overwrite_table(spark, ctx.runtime, fares.withColumnRenamed("fare_amount", "fare"), wrong)
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


def _check(ctx, table: TableName, *rule: str, project: str = "fare") -> dict:
    argv = ["--project", project, "--profile-metrics-table", str(table), *rule]
    return run_task("check-violation", argv, ctx)


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


# --- refresh-metrics -------------------------------------------------------------------


def _scored(trip_id: int, day: int, prediction: float, label: float | None) -> tuple:
    row = list(_inference_row(trip_id, day, label))
    row[6] = prediction
    return tuple(row)


@pytest.fixture
def monitored(ctx, schema: str) -> tuple[TableName, TableName]:
    """Four days of 6 scored requests: labels on the first three days only, one NaN and
    one infinite prediction on day 1; and a baseline table."""
    spark = ctx.spark
    inference = TableName.parse(f"{schema}.scored")
    baseline = TableName.parse(f"{schema}.scored_baseline")
    rows = []
    for day in range(4):
        for i in range(6):
            trip = day * 10 + i
            prediction = 10.0 + i
            if (day, i) == (1, 0):
                prediction = float("nan")
            if (day, i) == (1, 1):
                prediction = float("inf")
            rows.append(_scored(trip, day, prediction, 11.0 + i if day < 3 else None))
    frame = spark.createDataFrame(rows, schemas.INFERENCE)
    overwrite_table(spark, ctx.runtime, frame, inference)
    base = [_scored(100 + i, -5, 10.0 + i, 10.0 + i) for i in range(10)]
    overwrite_table(spark, ctx.runtime, spark.createDataFrame(base, schemas.INFERENCE), baseline)
    return inference, baseline


def _refresh(ctx, inference: TableName, *extra: str, project: str = "fare") -> dict:
    return run_task(
        "refresh-metrics",
        ["--project", project, "--inference-table", str(inference), "--start-date", "2016-03-01",
         "--end-date", "2016-03-05", *extra],
        ctx,
    )  # fmt: skip


def test_refresh_writes_both_tables_and_a_rerun_replaces_its_windows(ctx, monitored) -> None:
    inference, baseline = monitored
    spark = ctx.spark
    first = _refresh(ctx, inference, "--baseline-table", str(baseline))
    profile_table, drift_table = refresh_task.metric_tables(inference)
    assert first["profile_metrics_table"] == f"{inference}_profile_metrics"
    assert (first["windows"], first["windows_without_labels"]) == (4, 1)
    assert (first["nan_predictions"], first["infinite_predictions"]) == (1, 1)
    table_rows = {
        r.start.day: r
        for r in spark.sql(
            f"SELECT window.start AS start, count, root_mean_squared_error AS rmse"
            f" FROM {profile_table} WHERE column_name = ':table' AND model_id = '*'"
        ).collect()
    }
    assert sorted(table_rows) == [1, 2, 3, 4]
    assert all(r["count"] == 6 for r in table_rows.values())
    assert table_rows[1].rmse == pytest.approx(1.0)  # every prediction 1 below its label
    assert table_rows[2].rmse == pytest.approx(1.0)  # NaN and inf left out, not NaN
    assert table_rows[4].rmse is None  # no labels yet
    kinds = {r.drift_type for r in spark.table(str(drift_table)).collect()}
    assert kinds == {"CONSECUTIVE", "BASELINE"}

    counts = (spark.table(str(profile_table)).count(), spark.table(str(drift_table)).count())
    second = _refresh(ctx, inference, "--baseline-table", str(baseline))
    assert second["profile_rows"] == first["profile_rows"]
    assert (spark.table(str(profile_table)).count(), spark.table(str(drift_table)).count()) == (
        counts
    )


def test_refreshing_one_day_keeps_the_other_windows(ctx, monitored) -> None:
    inference, _ = monitored
    spark = ctx.spark
    _refresh(ctx, inference)
    profile_table, _ = refresh_task.metric_tables(inference)
    before = spark.table(str(profile_table)).count()
    result = run_task(
        "refresh-metrics",
        ["--project", "fare", "--inference-table", str(inference), "--start-date", "2016-03-02",
         "--end-date", "2016-03-03"],
        ctx,
    )  # fmt: skip
    assert result["windows"] == 1
    assert spark.table(str(profile_table)).count() == before


def test_refresh_refuses_a_bad_baseline_before_writing(ctx, monitored, schema: str) -> None:
    inference, _ = monitored
    spark = ctx.spark
    wrong = TableName.parse(f"{schema}.not_a_baseline")
    overwrite_table(
        spark, ctx.runtime, spark.createDataFrame([(1, 2.0)], "trip_id long, x double"), wrong
    )
    with pytest.raises(SchemaMismatch, match="missing columns: tpep_pickup_datetime"):
        _refresh(ctx, inference, "--baseline-table", str(wrong))
    assert not spark.catalog.tableExists(f"{inference}_profile_metrics")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--granularities", "1 fortnight"], "'1 fortnight' is not a comma-separated list"),
        (["--baseline-table", "spark_catalog.x.scored"], "is the monitored table itself"),
    ],
)
def test_refresh_bad_flags_are_usage_errors(ctx, flags: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        _refresh(ctx, TableName.parse("spark_catalog.x.scored"), *flags)


def test_end_date_judges_the_windows_as_they_were_then(ctx, schema: str) -> None:
    # Quiet for a week, then three bad days: a re-run for Mar 08 must not see them.
    table = _profile(ctx, schema, [4.0] * 7 + [6.0] * 3)
    now = _check(ctx, table, *RMSE_RULE)
    then = _check(ctx, table, *RMSE_RULE, "--end-date", "2016-03-08")
    assert now["is_metric_violated"] is True
    assert then["is_metric_violated"] is False
    assert "0 of the last 7 windows above 5" in then["reason"]
    assert then["latest_window_start"] == dt.datetime(2016, 3, 7)
    assert "window.start < TIMESTAMP '2016-03-08 00:00:00'" in then["query"]


def test_a_report_path_that_cannot_be_written_is_a_usage_error(ctx, schema: str, tmp_path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the report's folder should be")
    argv = ["--project", "fare", "--inference-table", f"{schema}.never_scored", *RMSE_RULE,
            "--output", str(blocker / "report.html")]  # fmt: skip
    with pytest.raises(UsageError, match=r"--output .*not-a-folder/report.html cannot be written"):
        run_task("monitoring-report", argv, ctx)
    assert blocker.read_text().startswith("a file")


class StandInDbutils:
    """The two things of Databricks' ``dbutils`` a task notebook uses: the widgets holding
    the task's parameters, and ``jobs.taskValues.set``, which takes JSON values only."""

    def __init__(self, widgets: dict[str, str]) -> None:
        self.published: dict[str, object] = {}
        self.widgets = SimpleNamespace(get=lambda name: widgets[name])
        self.jobs = SimpleNamespace(taskValues=SimpleNamespace(set=self._set))

    def _set(self, key: str, value: object) -> None:
        json.dumps(value)
        self.published[key] = value


def test_the_check_runs_as_its_notebook_and_publishes_what_the_condition_reads(
    ctx, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notebook the stack uploads for CheckViolation, its code cell run with a
    ``dbutils``: the flags come from the widgets, the verdict goes to the task values, and
    the retraining job's condition resolves it to true."""
    table = _profile(ctx, schema, [4.0] * 5 + [6.0] * 3)
    widgets = dict(zip(RMSE_RULE[::2], RMSE_RULE[1::2], strict=True))
    widgets = {flag.removeprefix("--"): value for flag, value in widgets.items()}
    widgets["profile-metrics-table"] = str(table)
    widgets["project"] = "fare"
    source = notebook_source("check-violation", list(widgets), "/Volumes/x/y/code/v/w.whl", "v")
    code_cell = source.split(CELL)[-1]
    dbutils = StandInDbutils(widgets)
    monkeypatch.setenv("MLOPS_HOME", str(ctx.runtime.home))

    exec(compile(code_cell, "CheckViolation", "exec"), {"dbutils": dbutils})

    assert dbutils.published == {IS_METRIC_VIOLATED: True}
    published = {"CheckViolation": dbutils.published}
    left = resolve(TaskValueRef("CheckViolation", IS_METRIC_VIOLATED).reference, published)
    assert condition_holds(left, "EQUAL_TO", "true")


# --- a classification project (churn) ---------------------------------------------------

CHURN = project("churn")
CHURN_DAY = dt.datetime(2024, 1, 1)


def _churn_prediction(customer: int, at: dt.datetime, p: float, churned: int | None) -> dict:
    """A row of churn's predictions table (its lifecycle's contract): the request, the
    inputs (filler values), the class and its probability, and the label."""
    row: dict = {f.name: None for f in churn_schemas.PREDICTIONS.fields}
    row.update({name: "month-to-month" for name in churn_schemas.CATEGORICAL_INPUTS})
    row.update({name: float(customer % 7) for name in churn_schemas.NUMERIC_INPUTS})
    row.update(
        customer_id=f"c{customer}", request_time=at, timestamp=at, scored_at=at,
        prediction=int(p >= 0.5), probability=p, model_version="3", churned=churned,
    )  # fmt: skip
    return row


def _churn_table(ctx, name: TableName, rows: list[dict]) -> TableName:
    frame = ctx.spark.createDataFrame(
        [tuple(r[f.name] for f in churn_schemas.PREDICTIONS.fields) for r in rows],
        churn_schemas.PREDICTIONS,
    )
    overwrite_table(ctx.spark, ctx.runtime, frame, name)
    return name


def churn_tables(predictions: TableName, labels: TableName) -> str:
    other = {role: predictions.sibling(role) for role in CHURN.roles()}
    return str(TableMap({**other, "labels": labels, "predictions": predictions}))


def test_churn_labels_join_by_customer_and_request_time(ctx, schema: str) -> None:
    spark = ctx.spark
    jan, feb = CHURN_DAY, dt.datetime(2024, 2, 1)
    predictions = _churn_table(
        ctx,
        TableName.parse(f"{schema}.churn_predictions"),
        [_churn_prediction(c, at, 0.2 + 0.2 * c, None) for c in range(3) for at in (jan, feb)],
    )
    labels = TableName.parse(f"{schema}.churn_labels")
    # Customers 0 and 1 labelled for January's snapshot; customer 2 only for December's,
    # which was not scored.
    rows = [("c0", jan, 1, feb), ("c1", jan, 0, feb), ("c2", dt.datetime(2023, 12, 1), 1, jan)]
    overwrite_table(spark, ctx.runtime, spark.createDataFrame(rows, churn_schemas.LABELS), labels)
    argv = ["--project", "churn", "--tables", churn_tables(predictions, labels),
            "--inference-table", str(predictions), "--start-date", "2024-01-01",
            "--end-date", "2024-03-01"]  # fmt: skip
    result = run_task("join-labels", argv, ctx)
    assert (result["rows"], result["newly_labelled"], result["still_unlabelled"]) == (6, 2, 4)
    joined = {
        (r.customer_id, r.request_time): r.churned for r in spark.table(str(predictions)).collect()
    }
    assert joined == {
        # The table keeps the class as a string (docs/platform.md, "Classification monitors").
        ("c0", jan): "1", ("c1", jan): "0", ("c2", jan): None,
        ("c0", feb): None, ("c1", feb): None, ("c2", feb): None,
    }  # fmt: skip
    assert spark.table(str(predictions)).schema == churn_schemas.PREDICTIONS
    assert run_task("join-labels", argv, ctx)["newly_labelled"] == 0


def test_refresh_metrics_of_a_churn_table_writes_classification_metrics(ctx, schema: str) -> None:
    """Two days labelled, one not: sklearn's metrics on the labelled days, NULL after."""
    day1 = dt.datetime(2016, 3, 1)
    rows = []
    for day in range(3):
        for c in range(8):
            at = day1 + dt.timedelta(days=day, hours=c)
            label = None if day == 2 else int(c % 3 == 0)
            rows.append(_churn_prediction(c, at, (c + 0.5) / 8, label))
    predictions = _churn_table(ctx, TableName.parse(f"{schema}.churn_scored"), rows)
    result = _refresh(ctx, predictions, project="churn")
    assert (result["windows"], result["windows_without_labels"]) == (3, 1)  # Mar 04: no rows
    profile_table, drift_table = refresh_task.metric_tables(predictions)
    table = {
        r["window"]["start"].day: r
        for r in ctx.spark.table(str(profile_table))
        .where("column_name = ':table' AND model_id = '*'")
        .collect()
    }
    assert sorted(table) == [1, 2, 3]
    y = [int(c % 3 == 0) for c in range(8)]
    p = [int((c + 0.5) / 8 >= 0.5) for c in range(8)]
    assert table[1]["f1_score"]["macro"] == pytest.approx(skm.f1_score(y, p, average="macro"))
    assert table[1]["accuracy_score"] == pytest.approx(skm.accuracy_score(y, p))
    # The log loss needs the project to name its probability column (Monitoring's
    # prediction_proba_col); without one it is NULL, as on a monitor without it.
    if metrics.monitor_spec(CHURN).prediction_proba_col:
        proba = [(c + 0.5) / 8 for c in range(8)]
        assert table[1]["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    else:
        assert table[1]["log_loss"] is None
    assert table[3]["f1_score"] is None and table[3]["confusion_matrix"] is None
    assert "root_mean_squared_error" not in ctx.spark.table(str(profile_table)).columns
    drifted = {
        r.column_name
        for r in ctx.spark.table(str(drift_table)).where("js_distance IS NOT NULL").collect()
    }
    assert {"prediction", "churned"} <= drifted


def _f1_profile(ctx, schema: str, f1: list[float | None]) -> TableName:
    """A classification profile-metrics table: one daily ':table' row per F1 (macro)."""
    averages = "struct<macro: double, weighted: double>"
    rows = []
    for i, value in enumerate(f1):
        start = DAY + dt.timedelta(days=i)
        window = (start, start + dt.timedelta(days=1))
        scores = None if value is None else (value, value + 0.05)
        rows.append((window, "1 day", "*", "INPUT", None, ":table", 100, scores, scores))
        rows.append((window, "1 day", "3", "INPUT", None, ":table", 100, (0.1, 0.1), None))
    table = TableName.parse(f"{schema}.churn_predictions_profile_metrics")
    frame = ctx.spark.createDataFrame(
        rows,
        "window struct<start: timestamp, end: timestamp>, granularity string,"
        " model_id string, log_type string, slice_key string, column_name string,"
        f" count bigint, f1_score {averages}, precision {averages}",
    )
    overwrite_table(ctx.spark, ctx.runtime, frame, table)
    return table


F1_RULE = ["--metric", "f1_score.macro", "--threshold", "0.6",
           "--evaluation-windows", "4", "--violation-windows", "2"]  # fmt: skip


def test_the_check_reads_a_struct_field_and_a_score_is_violated_below(ctx, schema: str) -> None:
    table = _f1_profile(ctx, schema, [0.8, 0.75, 0.55, 0.7, 0.5, None])
    # --violated-when defaults to the metric's usual side: a score below its threshold.
    result = _check(ctx, table, *F1_RULE, project="churn")
    assert result["is_metric_violated"] is True
    assert result["rule"].startswith("f1_score.macro below 0.6")
    assert "violated: 2 of the last 4 windows below 0.6, the latest 0.500" in result["reason"]
    assert [w["value"] for w in result["windows"]] == [0.5, 0.7, 0.55, 0.75]
    assert "`f1_score`.`macro` AS metric_value" in result["query"]
    weighted = _check(ctx, table, *F1_RULE[2:], "--metric", "precision.weighted",
                      project="churn")  # fmt: skip
    assert weighted["is_metric_violated"] is False  # 0.55 and 0.6: only one below 0.6


def test_a_metric_the_projects_problem_type_lacks_is_refused(ctx, schema: str) -> None:
    table = _f1_profile(ctx, schema, [0.8])
    with pytest.raises(
        UsageError,
        match=r"root_mean_squared_error is not a metric of project churn: its monitor is"
        r" classification, whose metrics are accuracy_score, log_loss, f1_score.macro",
    ):
        _check(ctx, table, *RMSE_RULE, project="churn")
    with pytest.raises(UsageError, match=r"f1_score.macro is not a metric of project fare"):
        _check(ctx, table, *F1_RULE, project="fare")
    with pytest.raises(UsageError, match=r"f1_score.macro is not a metric of project fare"):
        run_task("monitoring-report", ["--project", "fare", "--inference-table", str(table),
                                       *F1_RULE, "--output", "/tmp/x.html"], ctx)  # fmt: skip


def test_a_profile_without_the_struct_field_is_a_schema_mismatch(ctx, schema: str) -> None:
    table = TableName.parse(f"{schema}.old_profile_metrics")
    frame = ctx.spark.createDataFrame(
        [((DAY, DAY + dt.timedelta(days=1)), "1 day", "*", "INPUT", None, ":table", (0.5,))],
        "window struct<start: timestamp, end: timestamp>, granularity string,"
        " model_id string, log_type string, slice_key string, column_name string,"
        " f1_score struct<weighted: double>",
    )
    overwrite_table(ctx.spark, ctx.runtime, frame, table)
    with pytest.raises(SchemaMismatch, match=r"no f1_score.macro to judge: f1_score is struct"):
        _check(ctx, table, *F1_RULE, project="churn")
