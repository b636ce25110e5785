"""Lakehouse-Monitoring-compatible metrics (``pipelines.monitoring.metrics``) on small real
DataFrames in the shared session, checked against pandas, scikit-learn and SciPy on the
same rows."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn import metrics as skm

from pipelines.common.errors import SchemaMismatch, UsageError
from pipelines.common.project import MONITOR_METRICS, ProblemType
from pipelines.monitoring import metrics as M
from pipelines.projects import project
from pipelines.projects.fare import schemas

DAY0 = dt.datetime(2016, 3, 1, tzinfo=dt.UTC)
SINCE = DAY0 + dt.timedelta(days=1)
# Day 4 has no rows; day 5 has no labels yet; version "2" serves on days 2 and 3 only.
DAYS = (0, 1, 2, 3, 5)
EMITTED_DAYS = (1, 2, 3, 5)
PER_DAY = 120
COLUMNS = schemas.INFERENCE.fieldNames()
NUMERIC = M.INFERENCE_SPEC.numeric_columns
CATEGORICAL = M.INFERENCE_SPEC.categorical_columns


def _special(i: int, every: int, offset: int, value: float | None) -> float | None:
    """Every ``every``-th row (from ``offset``) gets a NULL, NaN, +inf or -inf instead."""
    return {offset: None, offset + 1: math.nan, offset + 2: math.inf, offset + 3: -math.inf}.get(
        i % every, value
    )


def _inference_rows(seed: int = 7) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for day in DAYS:
        for i in range(PER_DAY):
            at = DAY0 + dt.timedelta(days=day, seconds=int(rng.integers(0, 86_400)))
            version = "2" if day in (2, 3) and i % 3 == 0 else "1"
            if day == 1 and i % 40 == 39:
                version = None  # counted under "*" only
            distance = round(float(rng.gamma(2.0, 1.5 + 0.3 * day)), 1)  # ties
            label = round(3.0 + 2.5 * distance + float(rng.normal(0, 1)), 1)
            prediction = 3.1 + 2.4 * distance + float(rng.normal(0, 1))
            if day == 5 or i % 10 == 0:
                label = None
            elif i % 37 == 5:
                label = math.nan
            rows.append(
                (
                    day * 1000 + i, at, at + dt.timedelta(minutes=10),
                    _special(i, 50, 1, distance), int(rng.choice([10001, 10002, 10003, 10004])),
                    int(rng.integers(10001, 10007 + day)), _special(i, 40, 7, prediction),
                    version, at, at + dt.timedelta(hours=1), label,
                )
            )  # fmt: skip
    return rows


def _baseline_rows() -> list[tuple]:
    return [
        (r[0], r[1] - dt.timedelta(days=30), *r[2:8], r[8] - dt.timedelta(days=30), *r[9:])
        for r in _inference_rows(seed=11)[: PER_DAY * 2]
    ]


def _flat(df: DataFrame) -> pd.DataFrame:
    """Struct fields as top-level columns; timestamps as naive UTC (the session's zone)."""
    out = df
    for name in ("window", "window_cmp", "ks_test", "chi_squared_test"):
        if name in df.columns:
            struct = df.schema[name].dataType
            out = out.select(
                "*", *[F.col(f"{name}.{f.name}").alias(f"{name}_{f.name}") for f in struct.fields]
            ).drop(name)
    return out.toPandas()


def _frame(rows: list[tuple]) -> pd.DataFrame:
    """The rows as pandas, keeping NULL (None) apart from NaN."""
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    frame["day"] = [(r[8] - DAY0).days for r in rows]
    return frame


def _select(frame: pd.DataFrame, day: int, model: str) -> pd.DataFrame:
    part = frame[frame["day"] == day]
    return part if model == M.ALL_MODELS else part[part["model_version"] == model]


def _finite(values: pd.Series) -> np.ndarray:
    x = np.array([np.nan if v is None else v for v in values], dtype=float)
    return x[np.isfinite(x)]


def _day(start: pd.Timestamp) -> int:
    return (start.to_pydatetime().replace(tzinfo=dt.UTC) - DAY0).days


@dataclass
class Computed:
    rows: pd.DataFrame
    baseline: pd.DataFrame
    profile: pd.DataFrame
    drift: pd.DataFrame
    profile_df: DataFrame
    drift_df: DataFrame


@pytest.fixture(scope="module")
def computed(spark: SparkSession) -> Computed:
    """Profile and drift (consecutive and baseline) of four days, since day 1."""
    rows, baseline = _inference_rows(), _baseline_rows()
    frames = M.compute_metrics(
        spark.createDataFrame(rows, schemas.INFERENCE),
        M.INFERENCE_SPEC,
        "1 day",
        baseline=spark.createDataFrame(baseline, schemas.INFERENCE),
        since=SINCE,
    )
    profile, drift = _flat(frames.profile), _flat(frames.drift)
    profile["day"] = profile["window_start"].map(_day)
    drift["day"] = drift["window_start"].map(_day)
    return Computed(_frame(rows), _frame(baseline), profile, drift, *frames)


def test_one_row_per_window_model_and_column_with_the_monitoring_schemas(computed) -> None:
    assert computed.profile_df.schema == M.PROFILE_METRICS
    assert computed.drift_df.schema == M.DRIFT_METRICS
    profile = computed.profile
    # Day 0 is only there to be compared with; day 4 has no rows.
    assert sorted(profile["day"].unique()) == list(EMITTED_DAYS)
    models = {day: set(g["model_id"]) for day, g in profile.groupby("day")}
    assert models == {1: {"*", "1"}, 2: {"*", "1", "2"}, 3: {"*", "1", "2"}, 5: {"*", "1"}}
    per_key = profile.groupby(["day", "model_id"])["column_name"].apply(list)
    assert all(cols == [M.TABLE_COLUMN, *NUMERIC, *CATEGORICAL] for cols in per_key)
    assert not profile.duplicated(["day", "model_id", "column_name"]).any()
    assert (profile["window_end"] - profile["window_start"] == pd.Timedelta(days=1)).all()
    assert (profile["window_start"].dt.normalize() == profile["window_start"]).all()
    assert set(profile["granularity"]) == {"1 day"} and set(profile["log_type"]) == {"INPUT"}
    assert profile["slice_key"].isna().all() and profile["slice_value"].isna().all()
    types = profile.drop_duplicates("column_name").set_index("column_name")["data_type"]
    assert types.to_dict() == {
        M.TABLE_COLUMN: None, "trip_distance": "double", "prediction": "double",
        "fare_amount": "double", "pickup_zip": "int", "dropoff_zip": "int",
    }  # fmt: skip
    # "*" counts every row of the window, those without a model version too.
    table = profile[profile["column_name"] == M.TABLE_COLUMN].set_index(["day", "model_id"])
    for day in EMITTED_DAYS:
        assert table.loc[(day, "*"), "count"] == PER_DAY
    assert table.loc[(1, "*"), "count"] == table.loc[(1, "1"), "count"] + 3


def test_counts_nulls_nan_and_inf_are_counted_and_left_out_of_the_statistics(computed) -> None:
    checked = 0
    for r in computed.profile[computed.profile["column_name"] != M.TABLE_COLUMN].itertuples():
        values = _select(computed.rows, r.day, r.model_id)[r.column_name]
        present = [v for v in values if v is not None]
        assert r.count == len(present)
        assert r.num_nulls == len(values) - len(present)
        assert r.percent_null == pytest.approx(100 * r.num_nulls / len(values))
        if r.column_name in CATEGORICAL:
            assert (r.num_nan, r.num_inf, r.distinct_count) == (0, 0, len(set(present)))
            assert r.avg is None or math.isnan(r.avg)
            continue
        x = _finite(values)
        nan = sum(1 for v in present if math.isnan(v))
        inf = sum(1 for v in present if math.isinf(v))
        assert (r.num_nan, r.num_inf) == (nan, inf)
        if len(x) == 0:  # no labels yet on day 5
            assert (r.column_name, r.day, r.count, r.distinct_count) == ("fare_amount", 5, 0, 0)
            assert r.quantiles is None and all(math.isnan(v) for v in (r.avg, r.min, r.median))
            continue
        assert r.avg == pytest.approx(x.mean(), rel=1e-12)
        assert r.stddev == pytest.approx(x.std(ddof=1), rel=1e-9)
        assert (r.min, r.max) == (x.min(), x.max())
        assert list(r.quantiles) == pytest.approx(np.quantile(x, M.QUANTILES), rel=1e-12)
        assert r.median == pytest.approx(np.median(x), rel=1e-12)
        signs = {v for v in present if not math.isfinite(v) and not math.isnan(v)}
        assert r.distinct_count == len(np.unique(x)) + (nan > 0) + len(signs)
        checked += 1
    assert checked == 3 * 10 - 2  # 10 (window, model) pairs, 3 numeric columns; 2 unlabelled
    # The data does hold every kind of value that must be left out.
    day1 = computed.profile[(computed.profile["day"] == 1) & (computed.profile["model_id"] == "*")]
    distance = day1.set_index("column_name").loc["trip_distance"]
    assert distance["num_nulls"] > 0 and distance["num_nan"] > 0 and distance["num_inf"] > 0


def test_regression_metrics_equal_scikit_learn_and_are_null_without_labels(computed) -> None:
    table = computed.profile[computed.profile["column_name"] == M.TABLE_COLUMN]
    for r in table.itertuples():
        part = _select(computed.rows, r.day, r.model_id)
        y = np.array([np.nan if v is None else v for v in part["fare_amount"]], dtype=float)
        p = np.array([np.nan if v is None else v for v in part["prediction"]], dtype=float)
        ok = np.isfinite(y) & np.isfinite(p)
        if r.day == 5:
            assert not ok.any()
            for name in M.PROFILE_METRICS.fieldNames()[-5:]:
                assert getattr(r, name) is None or math.isnan(getattr(r, name))
            continue
        assert ok.sum() >= 20  # NULL and NaN labels, NaN and infinite predictions left out
        y, p = y[ok], p[ok]
        assert r.mean_squared_error == pytest.approx(skm.mean_squared_error(y, p), rel=1e-9)
        assert r.root_mean_squared_error == pytest.approx(
            skm.root_mean_squared_error(y, p), rel=1e-9
        )
        assert r.mean_absolute_error == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-9)
        assert r.mean_absolute_percentage_error == pytest.approx(
            skm.mean_absolute_percentage_error(y, p), rel=1e-9
        )
        assert r.r2_score == pytest.approx(skm.r2_score(y, p), rel=1e-9)
    # Without labels every other metric of the window is still there.
    day5 = computed.profile[(computed.profile["day"] == 5) & (computed.profile["model_id"] == "*")]
    assert day5.set_index("column_name").loc["prediction", "avg"] > 0


def _compared(computed: Computed, r) -> pd.DataFrame:
    if r.drift_type == M.BASELINE:
        return computed.baseline
    return _select(computed.rows, r.day - 1, r.model_id)


def test_consecutive_drift_only_after_a_window_with_rows_and_baseline_drift_always(
    computed,
) -> None:
    drift = computed.drift
    consecutive = drift[drift["drift_type"] == M.CONSECUTIVE]
    # Version 2 has no rows on day 1, and day 4 (before day 5) has none at all.
    assert set(zip(consecutive["day"], consecutive["model_id"], strict=True)) == {
        (1, "*"), (1, "1"), (2, "*"), (2, "1"), (3, "*"), (3, "1"), (3, "2"),
    }  # fmt: skip
    assert (consecutive["window_cmp_end"] == consecutive["window_start"]).all()
    assert (
        consecutive["window_cmp_start"] == consecutive["window_start"] - pd.Timedelta(days=1)
    ).all()
    baseline = drift[drift["drift_type"] == M.BASELINE]
    keys = computed.profile[computed.profile["column_name"] != M.TABLE_COLUMN]
    assert len(baseline) == len(keys)
    assert set(
        zip(baseline["day"], baseline["model_id"], baseline["column_name"], strict=True)
    ) == (set(zip(keys["day"], keys["model_id"], keys["column_name"], strict=True)))
    times = [r[8] for r in _baseline_rows()]
    assert set(baseline["window_cmp_start"]) == {pd.Timestamp(min(times)).tz_localize(None)}
    assert set(baseline["window_cmp_end"]) == {pd.Timestamp(max(times)).tz_localize(None)}
    assert set(drift["column_name"]) == {*NUMERIC, *CATEGORICAL}
    # Deltas: this window minus the compared one.
    for r in drift.itertuples():
        cur, ref = _select(computed.rows, r.day, r.model_id), _compared(computed, r)
        count = sum(v is not None for v in cur[r.column_name])
        ref_count = sum(v is not None for v in ref[r.column_name])
        assert r.count_delta == count - ref_count
        null_delta = 100 * (1 - count / len(cur)) - 100 * (1 - ref_count / len(ref))
        assert r.percent_null_delta == pytest.approx(null_delta, abs=1e-9)
        if r.column_name in NUMERIC:
            x, x_ref = _finite(cur[r.column_name]), _finite(ref[r.column_name])
            if len(x) and len(x_ref):
                assert r.avg_delta == pytest.approx(x.mean() - x_ref.mean(), abs=1e-9)
            else:  # day 5 has no labels: no mean to compare
                assert math.isnan(r.avg_delta) and math.isnan(r.ks_test_statistic)


def test_ks_statistic_equals_scipy_and_psi_uses_the_reference_deciles(computed) -> None:
    numeric = computed.drift[computed.drift["column_name"].isin(NUMERIC)]
    assert (
        numeric["js_distance"].isna().all() and numeric["chi_squared_test_statistic"].isna().all()
    )
    for r in numeric.itertuples():
        cur = _finite(_select(computed.rows, r.day, r.model_id)[r.column_name])
        ref = _finite(_compared(computed, r)[r.column_name])
        if len(cur) == 0:  # no labels on day 5: no test
            assert math.isnan(r.ks_test_statistic) and math.isnan(r.population_stability_index)
            continue
        asymptotic = stats.ks_2samp(cur, ref, method="asymp")
        assert r.ks_test_statistic == asymptotic.statistic  # exact, not approximately
        assert r.ks_test_pvalue == pytest.approx(asymptotic.pvalue, rel=1e-9)
        # SciPy's default is the exact p-value at these sizes (a few dozen values): the
        # asymptotic one stays near it.
        assert r.ks_test_pvalue == pytest.approx(stats.ks_2samp(cur, ref).pvalue, abs=0.1)
        edges = np.sort(ref)[[math.ceil(j * len(ref) / 10) - 1 for j in range(1, 10)]]
        shares = [
            np.maximum(np.bincount(np.searchsorted(edges, x), minlength=10) / len(x), 1e-4)
            for x in (cur, ref)
        ]
        expected = np.sum((shares[0] - shares[1]) * np.log(shares[0] / shares[1]))
        assert r.population_stability_index == pytest.approx(expected, rel=1e-9)
    # The drift in the data shows: distances grow day by day.
    far = numeric[(numeric["drift_type"] == M.BASELINE) & (numeric["model_id"] == "*")]
    assert far.set_index(["column_name", "day"]).loc[("trip_distance", 5), "ks_test_pvalue"] < 0.01


def test_categorical_drift_equals_scipy_jensen_shannon_and_chi_square(computed) -> None:
    categorical = computed.drift[computed.drift["column_name"].isin(CATEGORICAL)]
    assert categorical["ks_test_statistic"].isna().all()
    assert categorical["population_stability_index"].isna().all()
    for r in categorical.itertuples():
        cur = _select(computed.rows, r.day, r.model_id)[r.column_name].dropna().value_counts()
        ref = _compared(computed, r)[r.column_name].dropna().value_counts()
        table = pd.concat([cur, ref], axis=1).fillna(0).to_numpy(dtype=float)
        assert r.js_distance == pytest.approx(
            jensenshannon(table[:, 0], table[:, 1], base=2), rel=1e-9
        )
        test = stats.chi2_contingency(table.T, correction=False)
        assert r.chi_squared_test_statistic == pytest.approx(test.statistic, rel=1e-9)
        assert r.chi_squared_test_pvalue == pytest.approx(test.pvalue, rel=1e-9)


def test_psi_by_hand_and_without_since_every_window_is_emitted(spark) -> None:
    # Reference window (day 0): 1..10, so the deciles are 1..9 and every bin holds 10%.
    # Current window (day 1): five 1s, then 2, 3, 4, 5 and 10: bins (-inf, 1] 50%,
    # (1, 2] .. (4, 5] 10% each, (5, 6] .. (8, 9] empty (floored to 1e-4), (9, inf) 10%.
    ref, cur = [float(v) for v in range(1, 11)], [1.0] * 5 + [2.0, 3.0, 4.0, 5.0, 10.0]
    rows = [
        (i, at, at, x, 10001, 10001, x, "1", at, at, x)
        for day, values in enumerate((ref, cur))
        for i, x in enumerate(values)
        for at in [DAY0 + dt.timedelta(days=day, minutes=i)]
    ]
    profile, drift = M.compute_metrics(spark.createDataFrame(rows, schemas.INFERENCE))
    psi = {
        r["model_id"]: r["population_stability_index"]
        for r in drift.where(F.col("column_name") == "prediction").collect()
    }
    expected = 0.4 * math.log(0.5 / 0.1) + 4 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)
    assert psi == {"*": pytest.approx(expected, rel=1e-12), "1": pytest.approx(expected)}
    # Without since nothing is dropped, but the first window has nothing to compare with.
    assert profile.select("window").distinct().count() == 2
    assert drift.select("window").distinct().count() == 1


@pytest.mark.parametrize("granularity", ["1 hour", "1 week"])
def test_windows_are_tumbling_and_aligned_like_spark_window(spark, granularity) -> None:
    rng = np.random.default_rng(3)
    start = dt.datetime(2016, 2, 27, 13, 17, tzinfo=dt.UTC)  # a Saturday afternoon
    seconds = sorted(int(s) for s in rng.integers(0, 20 * 86_400, 150))
    rows = [
        (i, at, at, 1.0 + i % 7, 10001, 10002, 2.0 + i % 5, "1", at, at, 3.0)
        for i, s in enumerate(seconds)
        for at in [start + dt.timedelta(seconds=s)]
    ]
    df = spark.createDataFrame(rows, schemas.INFERENCE)
    profile = M.profile_metrics(df, granularity=granularity).where(
        (F.col("column_name") == M.TABLE_COLUMN) & (F.col("model_id") == M.ALL_MODELS)
    )
    ours = {
        (r["start"], r["end"]): r["count"] for r in profile.select("window.*", "count").collect()
    }
    spark_windows = (
        df.groupBy(F.window("timestamp", granularity).alias("w")).count().select("w.*", "count")
    )
    assert ours == {(r["start"], r["end"]): r["count"] for r in spark_windows.collect()}
    assert set(profile.select("granularity").distinct().toPandas()["granularity"]) == {granularity}
    if granularity == "1 week":  # Thursdays (1 = Sunday) in UTC, like F.window
        assert {r[0] for r in profile.select(F.dayofweek("window.start")).collect()} == {5}


def test_bad_granularity_missing_columns_and_no_windows_in_range(spark) -> None:
    df = spark.createDataFrame(_inference_rows()[:5], schemas.INFERENCE)
    with pytest.raises(UsageError, match="'1 month' is not supported"):
        M.profile_metrics(df, granularity="1 month")
    with pytest.raises(SchemaMismatch, match="prediction is missing"):
        M.profile_metrics(df.drop("prediction"))
    later = M.compute_metrics(df, since=DAY0 + dt.timedelta(days=60))
    assert later.profile.count() == 0 and later.drift.count() == 0
    assert later.profile.schema == M.PROFILE_METRICS


# --- classification ----------------------------------------------------------------------

CHURN_COLUMNS = (
    "customer_id string, timestamp timestamp, contract string, tenure_months int,"
    " probability double, prediction bigint, model_version string, churned bigint"
)
CHURN_SPEC = M.MonitorSpec(
    timestamp_col="timestamp",
    prediction_col="prediction",
    label_col="churned",
    model_id_col="model_version",
    numeric_columns=("probability", "tenure_months"),
    categorical_columns=("prediction", "churned", "contract"),
    problem_type=ProblemType.CLASSIFICATION,
    prediction_proba_col="probability",
)
CLASSIFICATION_COLUMNS = [f.name for f in M.QUALITY_COLUMNS[ProblemType.CLASSIFICATION]]


def _churn_rows(seed: int = 5) -> list[tuple]:
    """Days 0-2 of 60 scored customers, version "2" on every third; labels on days 0 and 1
    only (a few NULL labels and predictions there); probabilities with ties, 0 and 1 on
    wrong labels (clipped), NaN and NULL (left out of the log loss)."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(3):
        for i in range(60):
            at = DAY0 + dt.timedelta(days=day, seconds=int(rng.integers(0, 86_400)))
            churned = int(rng.random() < 0.3)
            probability = round(float(np.clip(0.3 + 0.4 * churned + rng.normal(0, 0.25), 0, 1)), 2)
            prediction = int(probability >= 0.5)
            if i == 7:
                probability, prediction, churned = 0.0, 0, 1
            if i == 8:
                probability, prediction, churned = 1.0, 1, 0
            if i == 9:
                probability = math.nan
            if i == 10:
                probability = None
            label = None if day == 2 or i % 17 == 3 else churned
            if i == 11:
                prediction = None
            rows.append(
                (
                    f"c{i}", at, ["month-to-month", "one-year", "two-year"][i % 3], i % 40,
                    probability, prediction, "2" if i % 3 == 0 else "1", label,
                )
            )  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def classified(spark: SparkSession) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, DataFrame]:
    rows = _churn_rows()
    frames = M.compute_metrics(spark.createDataFrame(rows, CHURN_COLUMNS), CHURN_SPEC)
    raw = pd.DataFrame(rows, columns=[c.split()[0] for c in CHURN_COLUMNS.split(", ")])
    raw["day"] = [(r[1] - DAY0).days for r in rows]
    profile = frames.profile.select("*", "window.start").toPandas()
    profile["day"] = profile["start"].map(_day)
    drift = frames.drift.select("*", "window.start").toPandas()
    drift["day"] = drift["start"].map(_day)
    return raw, profile, drift, frames.profile


def test_a_classification_profile_has_its_model_quality_columns_not_the_regression_ones(
    classified,
) -> None:
    *_, profile_df = classified
    assert profile_df.schema == M.profile_schema(ProblemType.CLASSIFICATION)
    names = profile_df.schema.fieldNames()
    assert not set(names) & {f.name for f in M.QUALITY_COLUMNS[ProblemType.REGRESSION]}
    assert names[-len(CLASSIFICATION_COLUMNS) :] == CLASSIFICATION_COLUMNS
    types = {f.name: f.dataType.simpleString() for f in profile_df.schema.fields}
    assert types["accuracy_score"] == types["log_loss"] == "double"
    for name in ("precision", "recall", "f1_score"):
        assert types[name] == "struct<macro:double,weighted:double>"
    assert types["confusion_matrix"] == "array<struct<prediction:string,label:string,count:bigint>>"


def test_every_rule_metric_is_a_double_of_its_problem_types_profile() -> None:
    for problem_type, metrics in MONITOR_METRICS.items():
        for metric in metrics:
            assert M.metric_type(problem_type, metric) == T.DoubleType(), (problem_type, metric)
    assert M.metric_type(ProblemType.CLASSIFICATION, "r2_score") is None
    assert M.metric_type(ProblemType.CLASSIFICATION, "f1_score.micro") is None


def test_classification_metrics_equal_scikit_learn_and_are_null_without_labels(
    classified,
) -> None:
    raw, profile, _, _ = classified
    table = profile[profile["column_name"] == M.TABLE_COLUMN]
    assert set(zip(table["day"], table["model_id"], strict=True)) == {
        (d, m) for d in range(3) for m in ("*", "1", "2")
    }
    for r in table.itertuples():
        part = raw[raw["day"] == r.day]
        part = part if r.model_id == M.ALL_MODELS else part[part["model_version"] == r.model_id]
        assert r.count == len(part)
        ok = part["churned"].notna() & part["prediction"].notna()
        if r.day == 2:  # no labels yet: every model-quality column is NULL
            assert not ok.any()
            for name in CLASSIFICATION_COLUMNS:
                value = getattr(r, name)
                assert value is None or (isinstance(value, float) and math.isnan(value)), name
            continue
        y = part.loc[ok, "churned"].astype(int).to_numpy()
        p = part.loc[ok, "prediction"].astype(int).to_numpy()
        assert 10 <= len(y) < len(part)  # the NULL labels and the NULL prediction left out
        assert r.accuracy_score == pytest.approx(skm.accuracy_score(y, p), rel=1e-12)
        for average in ("macro", "weighted"):
            expected = skm.precision_recall_fscore_support(y, p, average=average)[:3]
            got = [r.precision[average], r.recall[average], r.f1_score[average]]
            assert got == pytest.approx(list(expected), rel=1e-12), average
        cm = skm.confusion_matrix(y, p, labels=[0, 1])  # rows: label, columns: prediction
        assert [(c["prediction"], c["label"], c["count"]) for c in r.confusion_matrix] == [
            (str(pred), str(label), int(cm[label, pred])) for pred in (0, 1) for label in (0, 1)
        ]
        proba = part.loc[ok, "probability"].to_numpy(dtype=float)
        known = np.isfinite(proba)
        if r.model_id == M.ALL_MODELS:  # the NaN and the NULL probability left out
            assert (~known).sum() == 2
        expected_loss = skm.log_loss(y[known], proba[known], labels=[0, 1])
        assert r.log_loss == pytest.approx(expected_loss, rel=1e-12)
    # The crafted 0 and 1 on wrong labels are clipped, not infinite.
    assert table["log_loss"].dropna().max() < 40


def test_prediction_and_label_drift_are_categorical_rows(classified) -> None:
    raw, _, drift, _ = classified
    for column in ("prediction", "churned"):
        rows = drift[(drift["column_name"] == column) & (drift["model_id"] == M.ALL_MODELS)]
        assert list(rows["day"]) == [1, 2] and set(rows["drift_type"]) == {M.CONSECUTIVE}
        assert rows["ks_test"].isna().all() and rows["population_stability_index"].isna().all()
    day1 = drift[
        (drift["column_name"] == "prediction")
        & (drift["model_id"] == M.ALL_MODELS)
        & (drift["day"] == 1)
    ].iloc[0]
    counts = [
        raw[raw["day"] == d]["prediction"].dropna().astype(int).value_counts().sort_index()
        for d in (1, 0)
    ]
    table = pd.concat(counts, axis=1).fillna(0).to_numpy(dtype=float)
    assert day1.js_distance == pytest.approx(jensenshannon(table[:, 0], table[:, 1], base=2))
    # No labels on day 2: the label column's drift has nothing to compare.
    day2 = drift[(drift["column_name"] == "churned") & (drift["day"] == 2)]
    assert day2["js_distance"].isna().all()


def test_string_classes_with_a_probability_map_and_without_probabilities(spark) -> None:
    classes = ["bronze", "gold", "silver"]
    rng = np.random.default_rng(2)
    rows = []
    for i in range(90):
        label = classes[i % 3]
        prediction = classes[int(rng.integers(0, 3))] if i % 4 else label
        weights = rng.dirichlet([1, 1, 1]).round(3)
        weights[-1] = round(1 - weights[:-1].sum(), 3)
        proba = dict(zip(classes, map(float, weights), strict=True))
        at = DAY0 + dt.timedelta(minutes=i)
        rows.append((at, "1", prediction, label if i != 5 else None, proba))
    df = spark.createDataFrame(
        rows, "ts timestamp, v string, tier string, true_tier string, p map<string, double>"
    )
    spec = M.MonitorSpec("ts", "tier", "true_tier", "v", (), ("tier", "true_tier"),
                         ProblemType.CLASSIFICATION, "p")  # fmt: skip
    r = (
        M.profile_metrics(df, spec)
        .where((F.col("column_name") == M.TABLE_COLUMN) & (F.col("model_id") == M.ALL_MODELS))
        .first()
    )
    kept = [row for row in rows if row[3] is not None]
    y, p = [row[3] for row in kept], [row[2] for row in kept]
    assert r["accuracy_score"] == pytest.approx(skm.accuracy_score(y, p))
    for average in ("macro", "weighted"):
        assert r["f1_score"][average] == pytest.approx(skm.f1_score(y, p, average=average))
        assert r["recall"][average] == pytest.approx(skm.recall_score(y, p, average=average))
    proba = np.array([[row[4][c] for c in classes] for row in kept])
    assert r["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes), rel=1e-9)
    cm = skm.confusion_matrix(y, p, labels=classes)
    assert [tuple(c) for c in r["confusion_matrix"]] == [
        (pc, yc, int(cm[j, i])) for i, pc in enumerate(classes) for j, yc in enumerate(classes)
    ]
    # Without a probability column there is no log loss; the rest is the same.
    no_proba = (
        M.profile_metrics(df, replace(spec, prediction_proba_col=None))
        .where((F.col("column_name") == M.TABLE_COLUMN) & (F.col("model_id") == M.ALL_MODELS))
        .first()
    )
    assert no_proba["log_loss"] is None
    assert no_proba["f1_score"] == r["f1_score"]


def test_the_spec_comes_from_the_project_and_its_inputs_are_checked(spark) -> None:
    churn = M.monitor_spec(project("churn"))
    assert churn.problem_type is ProblemType.CLASSIFICATION
    assert (churn.prediction_col, churn.label_col) == ("prediction", "churned")
    assert churn.schema == M.profile_schema(ProblemType.CLASSIFICATION)
    assert M.monitor_spec(project("fare")) == M.INFERENCE_SPEC
    assert M.INFERENCE_SPEC.problem_type is ProblemType.REGRESSION
    rows = _churn_rows()[:3]
    text = spark.createDataFrame(rows, CHURN_COLUMNS).withColumn(
        "probability", F.col("probability").cast("string")
    )
    with pytest.raises(SchemaMismatch, match="probability is string, expected a number"):
        M.profile_metrics(text, CHURN_SPEC)
    with pytest.raises(UsageError, match="prediction_proba_col probability is for classif"):
        replace(CHURN_SPEC, problem_type=ProblemType.REGRESSION)
