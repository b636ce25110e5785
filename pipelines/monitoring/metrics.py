"""Profile and drift metrics in the shape of Lakehouse Monitoring's InferenceLog tables.

On Databricks the quality monitor writes ``<table>_profile_metrics`` and
``<table>_drift_metrics``; locally ``refresh-metrics`` computes the same columns (DESIGN
contract 3) with the functions here, which take DataFrames, return DataFrames and do no
table I/O. ``compute_metrics`` returns both tables from one set of passes.

Definitions (where Lakehouse Monitoring leaves a choice, the one made here):

- windows are tumbling and aligned like ``F.window(ts, g)``: they start at multiples of the
  granularity since 1970-01-01 00:00 UTC, so weeks start on Thursdays. Rows without a
  timestamp belong to no window. ``model_id`` is the model version, or ``"*"`` for every
  row of the window (rows whose version is NULL count under ``"*"`` only);
- ``count`` is the number of non-null values (NaN and infinities included); NULL, NaN and
  +/-infinity are counted (``num_nulls``, ``num_nan``, ``num_inf``) and left out of every
  other statistic and test; ``percent_null`` = 100 * num_nulls / rows of the window;
- ``stddev`` is the sample standard deviation (ddof 1); ``median`` and ``quantiles`` (at
  ``QUANTILES``) are exact, as Spark's ``percentile()`` computes them (linear
  interpolation between order statistics); ``distinct_count`` counts the distinct finite
  values, plus one each for NaN, +inf and -inf when present;
- ``:table`` rows: ``count`` is the window's rows, and the model-quality columns are
  those of the monitor's problem type (``MonitorSpec.problem_type``), as a real monitor
  writes them: the other type's columns are absent from the table (``profile_schema``);
- regression: scikit-learn's metrics over the rows whose label and prediction are finite,
  NULL when there is none (no labels yet); MAPE skips labels equal to 0 and is a
  fraction, as sklearn returns it; R2 is NULL below two rows and 1.0 or 0.0 for constant
  labels (sklearn's ``force_finite``);
- classification: over the rows whose label and prediction are both non-NULL (compared
  as longs when both columns are integral, as booleans when both are boolean, else as
  strings), every column NULL when there is none: ``accuracy_score``; ``precision``,
  ``recall`` and ``f1_score`` as ``{macro, weighted}`` over the classes seen in the
  labels or the predictions (sklearn's ``average="macro"`` / ``"weighted"``, 0 where a
  class was never predicted or never true, as ``zero_division`` does); the
  ``confusion_matrix`` as one ``{prediction, label, count}`` per pair of those classes,
  zeros included, ordered by prediction then label, the classes as strings;
  ``log_loss`` is sklearn's (natural log, probabilities clipped to [eps, 1 - eps]) over
  those rows whose probability of their true class is known and in [0, 1]: with no
  ``prediction_proba_col`` it is NULL. That column is either a number, the probability
  of class 1 (binary 0/1 or boolean labels: sklearn's 1-D ``y_proba``), or Lakehouse
  Monitoring's map from class to probability (read at the row's label);
- KS: the two-sample statistic exactly as ``scipy.stats.ks_2samp`` computes it, and the
  p-value of ``ks_2samp(method="asymp")``: ``kstwo.sf(D, round(n m / (n + m)))``;
- PSI: 10 bins whose edges are the ceil(j n / 10)-th smallest reference values (j = 1..9),
  bins (e_j-1, e_j] with open outer bins, proportions floored at 1e-4,
  sum (p - q) ln(p / q);
- JS distance: ``scipy.spatial.distance.jensenshannon(base=2)`` of the value counts;
  chi-square: ``scipy.stats.chi2_contingency`` of the 2 x k counts, no continuity
  correction;
- consecutive drift compares a window with the previous one when that one has rows for
  the model id; baseline drift compares every window and model id with the whole baseline
  table (``window_cmp``: its first and last timestamp), when the baseline has rows. A test
  needs values on both sides, else it is NULL.

How, and why this way. Exact quantiles and exact KS statistics need ordered values; on a
small local Spark (2 cores) sorting is what costs: ``percentile()`` and window functions
over a few million values take 5-15 s where hash aggregations take under one. So values
are never sorted in Spark. Four aggregations do the work (five for classification):

1. one pass over the rows, grouped by ``ROLLUP(window, model)``: counts, means, standard
   deviations, min/max, the regression sums and the log-loss sum;
2. one pass over the finite numeric values: their counts per distinct value, then per
   *bin* (an order-preserving bucketing, ``floor(x * scale)``): count, distinct count,
   smallest and largest value, for all models and for each model;
3. one pass over the categorical values: counts per value;
4. a last pass that fetches, for the few bins whose contents decide a result (the bin
   holding a quantile's order statistic or a PSI edge, or one where the KS maximum may
   lie), their distinct values with counts;
5. for classification only, the counts per (window, model, prediction, label): the
   confusion matrices, from which scikit-learn computes every metric but the log loss
   (each pair weighted by its count: the same result as on the rows).

The driver reads every quantile, PSI count and KS statistic from those summaries
exactly: cumulative counts at bin boundaries are exact CDF values, and a bin's values are
only needed when the result can fall inside it. What is collected is bounded by the
number of bins (a few thousand per column and window) and the fetched bins, not by the
number of rows. p-values, JS distances and chi-square tests come from SciPy on the counts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstwo
from sklearn import metrics as skm

from pipelines.common.errors import SchemaMismatch, UsageError
from pipelines.common.project import ModelProject, ProblemType
from pipelines.monitoring.violation import ALL_MODELS, GRANULARITIES
from pipelines.projects import project

TABLE_COLUMN = ":table"
LOG_TYPE = "INPUT"
CONSECUTIVE = "CONSECUTIVE"
BASELINE = "BASELINE"
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
PSI_BINS = 10
PSI_FLOOR = 1e-4

WINDOW = T.StructType(
    [T.StructField("start", T.TimestampType()), T.StructField("end", T.TimestampType())]
)
TEST_RESULT = T.StructType(
    [T.StructField("statistic", T.DoubleType()), T.StructField("pvalue", T.DoubleType())]
)
# precision, recall and f1_score of a classification monitor: the averages over classes
# (the generated dashboard reads ``.macro`` and ``.weighted``).
AVERAGES = T.StructType(
    [T.StructField("macro", T.DoubleType()), T.StructField("weighted", T.DoubleType())]
)
# One cell of the confusion matrix (the dashboard explodes it: x prediction, y label).
CONFUSION_CELL = T.StructType(
    [
        T.StructField("prediction", T.StringType()),
        T.StructField("label", T.StringType()),
        T.StructField("count", T.LongType()),
    ]
)

_KEYS = [
    T.StructField("window", WINDOW),
    T.StructField("granularity", T.StringType()),
    T.StructField("model_id", T.StringType()),
]
_SLICE_AND_COLUMN = [
    T.StructField("slice_key", T.StringType()),
    T.StructField("slice_value", T.StringType()),
    T.StructField("column_name", T.StringType()),
    T.StructField("data_type", T.StringType()),
]
_PROFILE = [
    *_KEYS,
    T.StructField("log_type", T.StringType()),
    *_SLICE_AND_COLUMN,
    T.StructField("count", T.LongType()),
    T.StructField("num_nulls", T.LongType()),
    T.StructField("num_nan", T.LongType()),
    T.StructField("num_inf", T.LongType()),
    T.StructField("percent_null", T.DoubleType()),
    T.StructField("avg", T.DoubleType()),
    T.StructField("stddev", T.DoubleType()),
    T.StructField("min", T.DoubleType()),
    T.StructField("max", T.DoubleType()),
    T.StructField("median", T.DoubleType()),
    T.StructField("quantiles", T.ArrayType(T.DoubleType())),
    T.StructField("distinct_count", T.LongType()),
]
# The model-quality columns of the ``:table`` rows, per problem type (NULL on the other
# rows). Their names are Lakehouse Monitoring's; a rule reads a struct's field after a dot
# (``pipelines.common.project.MONITOR_METRICS``).
QUALITY_COLUMNS: dict[ProblemType, tuple[T.StructField, ...]] = {
    ProblemType.REGRESSION: (
        T.StructField("mean_squared_error", T.DoubleType()),
        T.StructField("root_mean_squared_error", T.DoubleType()),
        T.StructField("mean_absolute_error", T.DoubleType()),
        T.StructField("mean_absolute_percentage_error", T.DoubleType()),
        T.StructField("r2_score", T.DoubleType()),
    ),
    ProblemType.CLASSIFICATION: (
        T.StructField("accuracy_score", T.DoubleType()),
        T.StructField("log_loss", T.DoubleType()),
        T.StructField("confusion_matrix", T.ArrayType(CONFUSION_CELL)),
        T.StructField("precision", AVERAGES),
        T.StructField("recall", AVERAGES),
        T.StructField("f1_score", AVERAGES),
    ),
}
PROFILE_SCHEMAS: dict[ProblemType, T.StructType] = {
    problem: T.StructType([*_PROFILE, *columns]) for problem, columns in QUALITY_COLUMNS.items()
}
# The profile metrics of a regression monitor (the fare project's).
PROFILE_METRICS = PROFILE_SCHEMAS[ProblemType.REGRESSION]
DRIFT_METRICS = T.StructType(
    [
        *_KEYS,
        *_SLICE_AND_COLUMN,
        T.StructField("window_cmp", WINDOW),
        T.StructField("drift_type", T.StringType()),
        T.StructField("count_delta", T.DoubleType()),
        T.StructField("avg_delta", T.DoubleType()),
        T.StructField("percent_null_delta", T.DoubleType()),
        T.StructField("ks_test", TEST_RESULT),
        T.StructField("population_stability_index", T.DoubleType()),
        T.StructField("js_distance", T.DoubleType()),
        T.StructField("chi_squared_test", TEST_RESULT),
    ]
)


def profile_schema(problem_type: ProblemType) -> T.StructType:
    """The profile-metrics table of a monitor of this problem type."""
    return PROFILE_SCHEMAS[problem_type]


def metric_type(problem_type: ProblemType, metric: str) -> T.DataType | None:
    """The type of a rule's metric (``f1_score.macro``: a struct's field) in the profile
    metrics of this problem type; None when there is no such column or field."""
    column, _, field = metric.partition(".")
    schema = profile_schema(problem_type)
    if column not in schema.fieldNames():
        return None
    found = schema[column].dataType
    if not field:
        return found
    if not isinstance(found, T.StructType) or field not in found.fieldNames():
        return None
    return found[field].dataType


def labelled_metric(problem_type: ProblemType) -> str:
    """A ``:table`` column that is NULL exactly in the windows without labelled rows."""
    return {
        ProblemType.REGRESSION: "mean_squared_error",
        ProblemType.CLASSIFICATION: "accuracy_score",
    }[problem_type]


@dataclass(frozen=True)
class MonitorSpec:
    """Which columns of the monitored table play which part, and the problem type (which
    decides the model-quality columns of the ``:table`` rows).

    prediction_proba_col: classification only, optional: the probability of class 1 (a
    number) or a map from class to probability (Lakehouse Monitoring's form); the log
    loss is NULL without it.
    """

    timestamp_col: str
    prediction_col: str
    label_col: str
    model_id_col: str
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    problem_type: ProblemType = ProblemType.REGRESSION
    prediction_proba_col: str | None = None

    def __post_init__(self) -> None:
        both = set(self.numeric_columns) & set(self.categorical_columns)
        if both:
            raise UsageError(
                f"Columns {', '.join(sorted(both))} are listed as numeric and as categorical;"
                " expected each profiled column in one list."
            )
        if self.prediction_proba_col and self.problem_type is not ProblemType.CLASSIFICATION:
            raise UsageError(
                f"prediction_proba_col {self.prediction_proba_col} is for classification"
                f" monitors; this one is {self.problem_type}."
            )

    @property
    def profiled(self) -> tuple[str, ...]:
        return (*self.numeric_columns, *self.categorical_columns)

    @property
    def schema(self) -> T.StructType:
        """Its profile-metrics table's columns."""
        return profile_schema(self.problem_type)


def monitor_spec(project: ModelProject) -> MonitorSpec:
    """How the quality monitor reads ``project``'s predictions table."""
    m = project.monitoring
    return MonitorSpec(
        timestamp_col=m.timestamp_col,
        prediction_col=m.prediction_col,
        label_col=m.label_col,
        model_id_col=m.model_id_col,
        numeric_columns=tuple(m.numeric_columns),
        categorical_columns=tuple(m.categorical_columns),
        problem_type=project.problem_type,
        # Not every project declares one (and Monitoring may not have the field yet).
        prediction_proba_col=getattr(m, "prediction_proba_col", None),
    )


# The fare project's predictions table: zips are categories.
INFERENCE_SPEC = monitor_spec(project("fare"))


class MetricFrames(NamedTuple):
    """Both metric tables for one granularity."""

    profile: DataFrame
    drift: DataFrame


def profile_metrics(
    rows: DataFrame,
    spec: MonitorSpec = INFERENCE_SPEC,
    granularity: str = "1 day",
    since: dt.datetime | None = None,
) -> DataFrame:
    """Profile metrics (``spec.schema``) of ``rows`` for the windows starting at or after
    ``since`` (all windows when None; a naive ``since`` is read as UTC). Runs its Spark
    jobs now and returns a small frame of the results."""
    return _compute(rows, spec, granularity, None, since, want_drift=False).profile


def drift_metrics(
    rows: DataFrame,
    spec: MonitorSpec = INFERENCE_SPEC,
    granularity: str = "1 day",
    baseline: DataFrame | None = None,
    since: dt.datetime | None = None,
) -> DataFrame:
    """Drift metrics (``DRIFT_METRICS``) of the windows starting at or after ``since``.

    ``rows`` may hold the window before ``since``: it is compared with, never emitted.
    ``baseline`` (the monitored table's columns) adds BASELINE rows."""
    return _compute(rows, spec, granularity, baseline, since, want_profile=False).drift


def compute_metrics(
    rows: DataFrame,
    spec: MonitorSpec = INFERENCE_SPEC,
    granularity: str = "1 day",
    baseline: DataFrame | None = None,
    since: dt.datetime | None = None,
) -> MetricFrames:
    """Both tables from one set of passes over ``rows`` (cheaper than calling
    ``profile_metrics`` and ``drift_metrics`` one after the other)."""
    return _compute(rows, spec, granularity, baseline, since)


# ---------------------------------------------------------------------------------------
# Spark side: the aggregations
# ---------------------------------------------------------------------------------------

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROS = dt.timedelta(microseconds=1)
# The window key of the baseline's rows: far before any real window start.
_BASELINE_W = -(2**62)
_INF = float("inf")
# Bin width is the typical per-window standard deviation over this: a bin near the mode of a
# 50,000-row window holds about 20 values, a column and window has a few thousand non-empty
# bins. Finer bins make pass 2's result bigger, coarser ones pass 4's (bench/README.md).
_BINS_PER_STDDEV = 1024
# Bin numbers stay within a long whatever the values.
_BIN_LIMIT = 4.0e18
# KS: bins whose bound comes within this of the running maximum are examined value by value.
_KS_SLACK = 1e-12


def _micros(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // _MICROS


def _moment(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=int(micros))


def _finite(value: Column) -> Column:
    """``value`` when it is a finite number, else NULL."""
    return F.when(~F.isnan(value) & (F.abs(value) != F.lit(_INF)), value)


def _check_input(df: DataFrame, spec: MonitorSpec, source: str, *, inference: bool) -> None:
    fields = {f.name: f.dataType for f in df.schema.fields}
    problems: list[str] = []

    def need(name: str, ok: bool, expected: str) -> None:
        if name not in fields:
            problems.append(f"{name} is missing (expected {expected})")
        elif not ok:
            problems.append(f"{name} is {fields[name].simpleString()}, expected {expected}")

    def numeric(name: str) -> bool:
        return isinstance(fields.get(name), T.NumericType)

    def atomic(name: str) -> bool:
        return isinstance(fields.get(name), T.AtomicType)

    atomic_text = "an atomic type (number, string, boolean, date)"
    need(
        spec.timestamp_col,
        isinstance(fields.get(spec.timestamp_col), T.TimestampType),
        "timestamp",
    )
    if inference and spec.problem_type is ProblemType.REGRESSION:
        need(spec.prediction_col, numeric(spec.prediction_col), "a numeric type")
        need(spec.label_col, numeric(spec.label_col), "a numeric type")
    if inference and spec.problem_type is ProblemType.CLASSIFICATION:
        need(spec.prediction_col, atomic(spec.prediction_col), f"{atomic_text}: the class")
        need(spec.label_col, atomic(spec.label_col), f"{atomic_text}: the class")
        if spec.prediction_proba_col is not None:
            proba = fields.get(spec.prediction_proba_col)
            binary = isinstance(proba, T.NumericType) and isinstance(
                fields.get(spec.label_col), T.NumericType | T.BooleanType
            )
            by_class = isinstance(proba, T.MapType) and isinstance(proba.valueType, T.NumericType)
            need(
                spec.prediction_proba_col,
                binary or by_class,
                "a number, the probability of class 1 (with 0/1 or boolean labels), or a map"
                " from class to probability",
            )
    if inference:
        need(spec.model_id_col, spec.model_id_col in fields, "any type")
    for name in spec.numeric_columns:
        need(name, numeric(name), "a numeric type")
    for name in spec.categorical_columns:
        need(name, atomic(name), atomic_text)
    if problems:
        raise SchemaMismatch(f"{source} cannot be monitored with this spec: {'; '.join(problems)}.")


def _key_type(df: DataFrame, spec: MonitorSpec) -> T.DataType:
    """Categorical values are compared as longs when every categorical column is integral,
    else as strings."""
    types = [df.schema[name].dataType for name in spec.categorical_columns]
    integral = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
    return T.LongType() if all(isinstance(t, integral) for t in types) else T.StringType()


def _class_type(df: DataFrame, spec: MonitorSpec) -> T.DataType:
    """Classes (label and prediction) are compared as longs when both columns are
    integral, as booleans when both are boolean, else as strings."""
    types = [df.schema[spec.label_col].dataType, df.schema[spec.prediction_col].dataType]
    if all(isinstance(t, T.IntegralType) for t in types):
        return T.LongType()
    if all(isinstance(t, T.BooleanType) for t in types):
        return T.BooleanType()
    return T.StringType()


def _true_class_probability(df: DataFrame, spec: MonitorSpec) -> Column:
    """The probability the row gives its label, when known and in [0, 1]; else NULL."""
    if spec.prediction_proba_col is None:
        return F.lit(None).cast("double")
    proba_type = df.schema[spec.prediction_proba_col].dataType
    proba, label = F.col(spec.prediction_proba_col), F.col(spec.label_col)
    if isinstance(proba_type, T.MapType):
        given = F.element_at(proba, label.cast(proba_type.keyType)).cast("double")
    else:
        y, p = label.cast("double"), proba.cast("double")
        given = F.when(y == 1, p).when(y == 0, 1 - p)
    # Spark orders NaN above every number: NaN, like NULL and infinities, is left out.
    return F.when((given >= 0) & (given <= 1), given)


def _prepare(
    rows: DataFrame,
    spec: MonitorSpec,
    step_us: int,
    since_us: int | None,
    key_type: T.DataType,
) -> DataFrame:
    """The columns the aggregations read, under fixed names, with the window start ``_w``
    (microseconds since the epoch) and the model ``_m``. Rows without a timestamp belong to
    no window and are left out; with ``since``, so are windows before the one before it.
    Regression reads the label and prediction as doubles ``_y``, ``_p``; classification as
    classes ``_yc``, ``_pc``, with ``_pt``, the probability of the true class."""
    us = F.unix_micros(F.col(spec.timestamp_col))
    window = us - F.pmod(us, F.lit(step_us))
    kept = rows.where(F.col(spec.timestamp_col).isNotNull())
    if since_us is not None:
        kept = kept.where(window >= F.lit(since_us - step_us))
    if spec.problem_type is ProblemType.CLASSIFICATION:
        classes = _class_type(rows, spec)
        quality = [
            F.col(spec.label_col).cast(classes).alias("_yc"),
            F.col(spec.prediction_col).cast(classes).alias("_pc"),
            _true_class_probability(rows, spec).alias("_pt"),
        ]
    else:
        quality = [
            F.col(spec.label_col).cast("double").alias("_y"),
            F.col(spec.prediction_col).cast("double").alias("_p"),
        ]
    return kept.select(
        window.alias("_w"),
        F.col(spec.model_id_col).cast("string").alias("_m"),
        us.alias("_ts"),
        *quality,
        *[F.col(c).cast("double").alias(f"_n{i}") for i, c in enumerate(spec.numeric_columns)],
        *[F.col(c).cast(key_type).alias(f"_k{j}") for j, c in enumerate(spec.categorical_columns)],
    )


def _prepare_baseline(
    baseline: DataFrame, spec: MonitorSpec, key_type: T.DataType, like: DataFrame
) -> DataFrame:
    """The baseline's rows under the same names (and types as ``like``, the prepared
    rows), in one pseudo-window ``_BASELINE_W``; no model and no model quality."""
    quality = [c for c in ("_y", "_p", "_yc", "_pc", "_pt") if c in like.columns]
    return baseline.select(
        F.lit(_BASELINE_W).cast("long").alias("_w"),
        F.lit(None).cast("string").alias("_m"),
        F.unix_micros(F.col(spec.timestamp_col)).alias("_ts"),
        *[F.lit(None).cast(like.schema[c].dataType).alias(c) for c in quality],
        *[F.col(c).cast("double").alias(f"_n{i}") for i, c in enumerate(spec.numeric_columns)],
        *[F.col(c).cast(key_type).alias(f"_k{j}") for j, c in enumerate(spec.categorical_columns)],
    )


# sklearn's log_loss clips probabilities to [eps, 1 - eps], eps of their dtype (float64).
_EPS = float(np.finfo(np.float64).eps)


def _quality_aggregates(spec: MonitorSpec) -> list[Column]:
    if spec.problem_type is ProblemType.CLASSIFICATION:
        ok = F.col("_yc").isNotNull() & F.col("_pc").isNotNull() & F.col("_pt").isNotNull()
        clipped = F.least(F.greatest(F.col("_pt"), F.lit(_EPS)), F.lit(1 - _EPS))
        return [
            F.count_if(ok).alias("n_proba"),
            F.sum(F.when(ok, -F.log(clipped))).alias("log_loss_sum"),
        ]
    y, p = F.col("_y"), F.col("_p")
    labelled = _finite(y).isNotNull() & _finite(p).isNotNull()
    error = y - p
    return [
        F.count_if(labelled).alias("n_labelled"),
        F.sum(F.when(labelled, error * error)).alias("sse"),
        F.sum(F.when(labelled, F.abs(error))).alias("sae"),
        F.sum(F.when(labelled & (y != 0), F.abs(F.try_divide(error, y)))).alias("ape"),
        F.count_if(labelled & (y != 0)).alias("n_ape"),
        F.var_pop(F.when(labelled, y)).alias("label_var"),
    ]


def _group_stats(data: DataFrame, spec: MonitorSpec) -> pd.DataFrame:
    """Pass 1: one row per (window, model) and per window for all models (``_g`` = 1)."""
    aggs = [
        F.count(F.lit(1)).alias("rows"),
        F.min("_ts").alias("ts_min"),
        F.max("_ts").alias("ts_max"),
        *_quality_aggregates(spec),
    ]
    for i in range(len(spec.numeric_columns)):
        x = F.col(f"_n{i}")
        fx = _finite(x)
        aggs += [
            F.count(x).alias(f"nn{i}"),
            F.count_if(F.isnan(x)).alias(f"nan{i}"),
            F.count_if(x == F.lit(_INF)).alias(f"pinf{i}"),
            F.count_if(x == F.lit(-_INF)).alias(f"ninf{i}"),
            F.avg(fx).alias(f"avg{i}"),
            F.stddev_samp(fx).alias(f"sd{i}"),
            F.min(fx).alias(f"min{i}"),
            F.max(fx).alias(f"max{i}"),
        ]
    for j in range(len(spec.categorical_columns)):
        aggs.append(F.count(F.col(f"_k{j}")).alias(f"kn{j}"))
    grouped = data.rollup("_w", "_m").agg(F.grouping_id().alias("_g"), *aggs)
    # grouping_id: 0 = (window, model), 1 = (window), 3 = grand total (not needed).
    return grouped.where(F.col("_g") < 3).toPandas()


def _confusion_counts(data: DataFrame) -> pd.DataFrame:
    """Pass 5 (classification): rows per (window, model, prediction, label) among those
    with both a label and a prediction."""
    return (
        data.where(F.col("_yc").isNotNull() & F.col("_pc").isNotNull())
        .groupBy("_w", "_m", "_pc", "_yc")
        .agg(F.count(F.lit(1)).alias("n"))
        .toPandas()
    )


def _numeric_values(data: DataFrame, spec: MonitorSpec) -> DataFrame:
    """Finite numeric values in long form: window, model, column index ``c``, value ``x``."""
    entries = F.array(
        *[
            F.struct(F.lit(i).alias("c"), _finite(F.col(f"_n{i}")).alias("x"))
            for i in range(len(spec.numeric_columns))
        ]
    )
    return (
        data.select("_w", "_m", F.explode(entries).alias("e"))
        .select("_w", "_m", "e.c", "e.x")
        .where(F.col("x").isNotNull())
    )


def _bin(scales: Sequence[float]) -> Column:
    """An order-preserving bin number of value ``x`` of column ``c``: floor(x * scale).

    Only order matters for exactness (x <= y implies bin(x) <= bin(y), true of a product by
    a positive constant and floor in IEEE arithmetic); the scale only sets how many values
    share a bin."""
    scale = F.lit(scales[0])
    for i, s in enumerate(scales[1:], start=1):
        scale = F.when(F.col("c") == i, F.lit(s)).otherwise(scale)
    scaled = F.least(F.greatest(F.col("x") * scale, F.lit(-_BIN_LIMIT)), F.lit(_BIN_LIMIT))
    return F.floor(scaled).cast("long")


def _value_counts(versions: Sequence[str]) -> list[Column]:
    """How many rows have each value: in all, and for each model version."""
    return [F.count(F.lit(1)).alias("n")] + [
        F.count_if(F.col("_m") == F.lit(v)).alias(f"n{k}") for k, v in enumerate(versions)
    ]


def _histograms(
    data: DataFrame, spec: MonitorSpec, versions: Sequence[str], scales: Sequence[float]
) -> pd.DataFrame:
    """Pass 2: per (column, window, bin), for all models ("") and each model (k): count,
    distinct count, smallest and largest finite value."""
    per_value = (
        _numeric_values(data, spec)
        .withColumn("b", _bin(scales))
        .groupBy("c", "_w", "b", "x")
        .agg(*_value_counts(versions))
    )
    aggs: list[Column] = []
    for suffix, count in [("", "n"), *[(str(k), f"n{k}") for k in range(len(versions))]]:
        present = F.col(count) > 0
        aggs += [
            F.sum(count).alias(f"cnt{suffix}"),
            F.count_if(present).alias(f"dst{suffix}"),
            F.min(F.when(present, F.col("x"))).alias(f"lo{suffix}"),
            F.max(F.when(present, F.col("x"))).alias(f"hi{suffix}"),
        ]
    return per_value.groupBy("c", "_w", "b").agg(*aggs).toPandas()


def _category_counts(data: DataFrame, spec: MonitorSpec, key_type: T.DataType) -> pd.DataFrame:
    """Pass 3: counts per (column, window, model, value) of the non-null categorical values."""
    entries = F.array(
        *[
            F.struct(F.lit(j).alias("c"), F.col(f"_k{j}").alias("v"))
            for j in range(len(spec.categorical_columns))
        ]
    )
    return (
        data.select("_w", "_m", F.explode(entries).alias("e"))
        .select("_w", "_m", "e.c", "e.v")
        .where(F.col("v").isNotNull())
        .groupBy("c", "_w", "_m", "v")
        .agg(F.count(F.lit(1)).alias("n"))
        .toPandas()
    )


def _runs(keys: np.ndarray) -> Iterator[tuple[tuple[int, ...], int, int]]:
    """(key, start, end) of the runs of equal rows in a sorted 2-D integer key array."""
    if len(keys) == 0:
        return
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)])
    ends = np.r_[starts[1:], len(keys)]
    for s, e in zip(starts, ends, strict=True):
        yield tuple(int(v) for v in keys[s]), int(s), int(e)


def _bin_contents(
    data: DataFrame,
    spec: MonitorSpec,
    versions: Sequence[str],
    scales: Sequence[float],
    wanted: set[tuple[int, int, int]],
) -> dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]]:
    """Pass 4: the distinct values of the ``wanted`` (column, window, bin)s with their counts
    (row 0: all models; row k + 1: ``versions[k]``)."""
    if not wanted:
        return {}
    spark: SparkSession = data.sparkSession
    wanted_bins = spark.createDataFrame(
        pd.DataFrame(sorted(wanted), columns=["c", "_w", "b"]),
        T.StructType(
            [
                T.StructField("c", T.IntegerType()),
                T.StructField("_w", T.LongType()),
                T.StructField("b", T.LongType()),
            ]
        ),
    )
    found = (
        _numeric_values(data, spec)
        .withColumn("b", _bin(scales))
        .join(F.broadcast(wanted_bins), ["c", "_w", "b"])
        .groupBy("c", "_w", "b", "x")
        .agg(*_value_counts(versions))
        .toPandas()
        .sort_values(["c", "_w", "b", "x"])
    )
    keys = found[["c", "_w", "b"]].to_numpy(dtype=np.int64)
    xs = found["x"].to_numpy(dtype=float)
    counts = found[["n", *[f"n{k}" for k in range(len(versions))]]].to_numpy(dtype=np.int64).T
    return {key: (xs[s:e], counts[:, s:e]) for key, s, e in _runs(keys)}


# ---------------------------------------------------------------------------------------
# Driver side: exact order statistics and CDFs from the bin summaries
# ---------------------------------------------------------------------------------------


@dataclass
class _Dist:
    """The finite values of one column in one window for one model id, as bins."""

    column: int
    window: int
    model: int  # 0: all models; k + 1: versions[k]
    bins: np.ndarray
    counts: np.ndarray
    distinct: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    def __post_init__(self) -> None:
        self.cum = np.cumsum(self.counts)

    @property
    def n(self) -> int:
        return int(self.cum[-1]) if len(self.cum) else 0

    def bin_of_rank(self, k: int) -> int:
        """Index of the bin holding the k-th smallest value (1-based)."""
        return int(np.searchsorted(self.cum, k, side="left"))


def _empty_dist(column: int, window: int, model: int) -> _Dist:
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=float)
    return _Dist(column, window, model, empty_i, empty_i, empty_i, empty_f, empty_f)


class _Exact:
    """Reads exact results from the bins, fetching a bin's values only when needed.

    In the planning round (``contents`` is None) a method that would need a bin's values
    records the bin in ``wanted`` and returns None; in the final round every such bin has
    been fetched."""

    def __init__(self) -> None:
        self.contents: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] | None = None
        self.wanted: set[tuple[int, int, int]] = set()
        self._ks_memo: dict[tuple[int, ...], tuple[float, float, list[tuple[int, int, int]]]] = {}

    def values(self, d: _Dist, bin_id: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Distinct values of ``d`` in bin ``bin_id``, ascending, with their counts."""
        key = (d.column, d.window, int(bin_id))
        if self.contents is None:
            self.wanted.add(key)
            return None
        xs, counts = self.contents[key]
        mine = counts[d.model]
        return xs[mine > 0], mine[mine > 0]

    def order_stat(self, d: _Dist, k: int) -> float | None:
        """The k-th smallest value (1-based) of ``d``."""
        i = d.bin_of_rank(k)
        before = int(d.cum[i] - d.counts[i])
        if d.distinct[i] == 1 or k == before + 1:
            return float(d.lo[i])
        if k == d.cum[i]:
            return float(d.hi[i])
        found = self.values(d, d.bins[i])
        if found is None:
            return None
        xs, counts = found
        return float(xs[np.searchsorted(np.cumsum(counts), k - before, side="left")])

    def count_le(self, d: _Dist, bin_id: int, low: float, high: float) -> int | None:
        """Number of values of ``d`` <= x, for an x known to lie in bin ``bin_id`` and in
        [low, high] (low == high once x is known)."""
        i = int(np.searchsorted(d.bins, bin_id))
        below = int(d.cum[i - 1]) if i > 0 else 0
        if i == len(d.bins) or d.bins[i] != bin_id:
            return below
        if d.hi[i] <= low:
            return below + int(d.counts[i])
        if d.lo[i] > high:
            return below
        found = self.values(d, bin_id)
        if found is None or low != high:
            return None
        xs, counts = found
        return below + int(counts[xs <= low].sum())

    def quantiles(self, d: _Dist, probabilities: Sequence[float]) -> list[float | None]:
        """Spark ``percentile()``: linear interpolation between order statistics."""
        if d.n == 0:
            return [None] * len(probabilities)
        result: list[float | None] = []
        for p in probabilities:
            position = (d.n - 1) * p
            lower, higher = math.floor(position), math.ceil(position)
            low = self.order_stat(d, lower + 1)
            high = low if higher == lower else self.order_stat(d, higher + 1)
            if low is None or high is None:
                result.append(None)
            elif higher == lower or low == high:
                result.append(low)
            else:
                result.append((higher - position) * low + (position - lower) * high)
        return result

    def ks(self, a: _Dist, b: _Dist) -> tuple[float, float | None] | None:
        """Two-sample KS statistic as ``scipy.stats.ks_2samp`` computes it, and its
        asymptotic p-value (``ks_2samp(method="asymp")``)."""
        if a.n == 0 or b.n == 0:
            return None
        top, bottom, inside = self._ks_bins(a, b)
        for bin_id, before_a, before_b in inside:
            got_a, got_b = self.values(a, bin_id), self.values(b, bin_id)
            if got_a is None or got_b is None:
                continue
            xs = np.union1d(got_a[0], got_b[0])
            per_a = np.zeros(len(xs), dtype=np.int64)
            per_b = np.zeros(len(xs), dtype=np.int64)
            per_a[np.searchsorted(xs, got_a[0])] = got_a[1]
            per_b[np.searchsorted(xs, got_b[0])] = got_b[1]
            inner = (before_a + np.cumsum(per_a)) / a.n - (before_b + np.cumsum(per_b)) / b.n
            top, bottom = max(top, float(inner.max())), min(bottom, float(inner.min()))
        if self.contents is None:
            return None
        statistic = max(min(max(-bottom, 0.0), 1.0), top)
        m, n = sorted((float(a.n), float(b.n)), reverse=True)
        effective = np.round(m * n / (m + n))
        # Below one effective observation (1 value against 1) there is no p-value.
        pvalue = (
            float(np.clip(kstwo.sf(statistic, effective), 0.0, 1.0)) if effective >= 1 else None
        )
        return float(statistic), pvalue

    def _ks_bins(self, a: _Dist, b: _Dist) -> tuple[float, float, list[tuple[int, int, int]]]:
        """Extremes of F_a - F_b at the largest value of every bin (exact), and the bins
        inside which the difference could go further: (bin, values of a and of b before
        it). Remembered between the planning and the final round."""
        key = (a.column, a.window, a.model, b.window, b.model)
        if key in self._ks_memo:
            return self._ks_memo[key]
        bins = np.union1d(a.bins, b.bins)
        pos_a, pos_b = np.searchsorted(bins, a.bins), np.searchsorted(bins, b.bins)
        na = np.zeros(len(bins), dtype=np.int64)
        nb = np.zeros(len(bins), dtype=np.int64)
        na[pos_a], nb[pos_b] = a.counts, b.counts
        ca, cb = np.cumsum(na), np.cumsum(nb)
        diffs = ca / a.n - cb / b.n
        top, bottom = float(diffs.max()), float(diffs.min())
        # Inside a bin each CDF stays between its values at the bin's two ends.
        pa, pb = ca - na, cb - nb
        bound = np.maximum(ca / a.n - pb / b.n, cb / b.n - pa / a.n)
        inside = (na > 0) & (nb > 0) & (bound > max(top, -bottom) - _KS_SLACK)
        # A bin holding one and the same value in both samples has no inside.
        lo_a = np.full(len(bins), np.nan)
        lo_b = np.full(len(bins), np.nan)
        one_a = np.zeros(len(bins), dtype=bool)
        one_b = np.zeros(len(bins), dtype=bool)
        lo_a[pos_a], lo_b[pos_b] = a.lo, b.lo
        one_a[pos_a], one_b[pos_b] = a.distinct == 1, b.distinct == 1
        inside &= ~(one_a & one_b & (lo_a == lo_b))
        found = (
            top,
            bottom,
            [(int(bins[t]), int(pa[t]), int(pb[t])) for t in np.flatnonzero(inside)],
        )
        self._ks_memo[key] = found
        return found

    def psi(self, cur: _Dist, ref: _Dist) -> float | None:
        """PSI of ``cur`` against ``ref`` over 10 bins whose edges are the deciles of ``ref``
        (its ceil(j n / 10)-th smallest values, j = 1..9; bins (edge_j-1, edge_j], the
        outer ones open), proportions floored at 1e-4: sum (c - r) ln(c / r)."""
        if cur.n == 0 or ref.n == 0:
            return None
        le_cur, le_ref = [0], [0]
        for j in range(1, PSI_BINS):
            k = (j * ref.n + PSI_BINS - 1) // PSI_BINS
            i = ref.bin_of_rank(k)
            edge = self.order_stat(ref, k)
            low, high = (edge, edge) if edge is not None else (ref.lo[i], ref.hi[i])
            bin_id = int(ref.bins[i])
            le_ref.append(self.count_le(ref, bin_id, low, high))
            le_cur.append(self.count_le(cur, bin_id, low, high))
        if None in le_cur or None in le_ref:
            return None
        c = np.maximum(np.diff([*le_cur, cur.n]) / cur.n, PSI_FLOOR)
        r = np.maximum(np.diff([*le_ref, ref.n]) / ref.n, PSI_FLOOR)
        return float(np.sum((c - r) * np.log(c / r)))


def _dists(hist: pd.DataFrame, n_versions: int) -> dict[tuple[int, int, int], _Dist]:
    dists: dict[tuple[int, int, int], _Dist] = {}
    if hist.empty:
        return dists
    hist = hist.sort_values(["c", "_w", "b"])
    for (c, w), part in hist.groupby(["c", "_w"], sort=False):
        bins = part["b"].to_numpy(dtype=np.int64)
        for model in range(n_versions + 1):
            s = "" if model == 0 else str(model - 1)
            counts = part[f"cnt{s}"].to_numpy(dtype=np.int64)
            keep = counts > 0
            dists[(int(c), int(w), model)] = _Dist(
                int(c),
                int(w),
                model,
                bins[keep],
                counts[keep],
                part[f"dst{s}"].to_numpy(dtype=np.int64)[keep],
                part[f"lo{s}"].to_numpy(dtype=float)[keep],
                part[f"hi{s}"].to_numpy(dtype=float)[keep],
            )
    return dists


# ---------------------------------------------------------------------------------------
# Assembly
# ---------------------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return float(value)


def _int(value: Any) -> int | None:
    f = _float(value)
    return None if f is None else int(f)


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


@dataclass
class _Group:
    """Pass-1 statistics of one (window, model id)."""

    window: int
    model: int
    stats: dict[str, Any]

    @property
    def rows(self) -> int:
        return int(self.stats["rows"])

    def count(self, kind: str, index: int) -> int:
        """Non-null values of numeric (``"n"``) or categorical (``"k"``) column ``index``."""
        return int(self.stats[f"nn{index}" if kind == "n" else f"kn{index}"])

    def nulls(self, kind: str, index: int) -> int:
        return self.rows - self.count(kind, index)

    def percent_null(self, kind: str, index: int) -> float | None:
        return 100.0 * self.nulls(kind, index) / self.rows if self.rows else None

    def avg(self, kind: str, index: int) -> float | None:
        return _float(self.stats[f"avg{index}"]) if kind == "n" else None

    def regression(self) -> dict[str, float | None]:
        """sklearn's definitions over rows with a finite label and prediction; MAPE over
        those whose label is not 0 (a fraction, as sklearn returns it)."""
        n = int(self.stats["n_labelled"])
        if n == 0:
            return dict.fromkeys(_REGRESSION)
        mse = float(self.stats["sse"]) / n
        sst = float(self.stats["label_var"]) * n
        if n < 2:
            r2 = None  # sklearn: not well-defined with fewer than two samples
        elif sst == 0:
            r2 = 1.0 if mse == 0 else 0.0  # sklearn's force_finite
        else:
            r2 = 1.0 - float(self.stats["sse"]) / sst
        n_ape = int(self.stats["n_ape"])
        return {
            "mean_squared_error": mse,
            "root_mean_squared_error": math.sqrt(mse),
            "mean_absolute_error": float(self.stats["sae"]) / n,
            "mean_absolute_percentage_error": (float(self.stats["ape"]) / n_ape if n_ape else None),
            "r2_score": r2,
        }


_REGRESSION = tuple(f.name for f in QUALITY_COLUMNS[ProblemType.REGRESSION])

# A confusion matrix as pass 5 found it: (predictions, labels, counts), native classes.
_Cells = tuple[np.ndarray, np.ndarray, np.ndarray]


def _class_text(value: Any) -> str:
    """A class as the confusion matrix names it: as Spark casts it to a string."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _classification(stats: dict[str, Any], cells: _Cells | None) -> tuple:
    """accuracy_score, log_loss, confusion_matrix, precision, recall and f1_score
    (``QUALITY_COLUMNS``) of one (window, model id): scikit-learn's on the rows with a
    label and a prediction (each (prediction, label) pair once, weighted by its count);
    all NULL without such rows. The log loss is the mean over those of them whose
    probability of the true class is known (pass 1), NULL when none is."""
    if cells is None or int(cells[2].sum()) == 0:
        return (None,) * len(QUALITY_COLUMNS[ProblemType.CLASSIFICATION])
    predicted, true, counts = cells
    classes = sorted(set(predicted.tolist()) | set(true.tolist()))
    at = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)  # [prediction, label]
    for p, y, n in zip(predicted.tolist(), true.tolist(), counts.tolist(), strict=True):
        matrix[at[p], at[y]] += n
    confusion = [
        (_class_text(p), _class_text(y), int(matrix[i, j]))
        for i, p in enumerate(classes)
        for j, y in enumerate(classes)
    ]
    weights = counts.astype(float)
    averages = {
        average: skm.precision_recall_fscore_support(
            true, predicted, average=average, sample_weight=weights, zero_division=0.0
        )[:3]
        for average in ("macro", "weighted")
    }
    n_proba = int(stats["n_proba"])
    return (
        float(skm.accuracy_score(true, predicted, sample_weight=weights)),
        float(stats["log_loss_sum"]) / n_proba if n_proba else None,
        confusion,
        *[
            (float(averages["macro"][k]), float(averages["weighted"][k]))
            for k in range(3)  # precision, recall, f1
        ],
    )


def _confusion_tables(counts: pd.DataFrame, versions: Sequence[str]) -> dict[tuple, _Cells]:
    """Pass 5's counts keyed by (window, model index); model 0 sums every row."""
    if counts.empty:
        return {}
    index = {v: k + 1 for k, v in enumerate(versions)}
    tables: dict[tuple, _Cells] = {}
    every = counts.groupby(["_w", "_pc", "_yc"], sort=False, as_index=False)["n"].sum()
    mine = counts.assign(model=counts["_m"].map(index)).dropna(subset=["model"])
    for model, part in [(0, every), *mine.groupby("model", sort=False)]:
        for w, cells in part.groupby("_w", sort=False):
            tables[(int(w), int(model))] = (
                cells["_pc"].to_numpy(),
                cells["_yc"].to_numpy(),
                cells["n"].to_numpy(dtype=np.int64),
            )
    return tables


def _groups(stats: pd.DataFrame) -> tuple[dict[tuple[int, int], _Group], list[str]]:
    """Pass-1 rows keyed by (window, model index), and the model versions seen."""
    versions = sorted(
        {
            str(v)
            for v, g, w in zip(stats["_m"], stats["_g"], stats["_w"], strict=True)
            if g == 0 and w != _BASELINE_W and isinstance(v, str)
        }
    )
    index = {v: k + 1 for k, v in enumerate(versions)}
    groups: dict[tuple[int, int], _Group] = {}
    for record in stats.to_dict("records"):
        w = int(record["_w"])
        if record["_g"] == 1:
            model = 0
        elif isinstance(record["_m"], str) and w != _BASELINE_W:
            model = index[record["_m"]]
        else:
            continue  # rows without a model version count only under "*"
        groups[(w, model)] = _Group(w, model, record)
    return groups, versions


def _scales(groups: dict[tuple[int, int], _Group], n_numeric: int) -> list[float]:
    """Per numeric column: bins per unit, from the median per-window standard deviation."""
    scales = []
    for i in range(n_numeric):
        sds = [
            s
            for g in groups.values()
            if g.model == 0 and (s := _float(g.stats[f"sd{i}"])) is not None and s > 0
        ]
        scales.append(_BINS_PER_STDDEV / float(np.median(sds)) if sds else 1.0)
    return scales


# Categorical value counts: (values ascending, their counts).
_Counts = tuple[np.ndarray, np.ndarray]


def _category_tables(counts: pd.DataFrame, versions: Sequence[str]) -> dict[tuple, _Counts]:
    """Value counts keyed by (column, window, model index); model 0 sums every row."""
    if counts.empty:
        return {}
    index = {v: k + 1 for k, v in enumerate(versions)}
    every = counts.groupby(["c", "_w", "v"], sort=True, as_index=False)["n"].sum()
    every["model"] = 0
    mine = counts.assign(model=counts["_m"].map(index)).dropna(subset=["model"])
    both = pd.concat([every, mine[["c", "_w", "v", "n", "model"]]], ignore_index=True)
    both = both.astype({"model": np.int64}).sort_values(["c", "_w", "model", "v"])
    keys = both[["c", "_w", "model"]].to_numpy(dtype=np.int64)
    values, n = both["v"].to_numpy(), both["n"].to_numpy(dtype=np.int64)
    return {key: (values[s:e], n[s:e]) for key, s, e in _runs(keys)}


def _categorical_drift(
    cur: _Counts | None, ref: _Counts | None
) -> tuple[float | None, tuple[float, float] | None]:
    """Jensen-Shannon distance (base 2) and chi-square test of homogeneity (no continuity
    correction) of two value-count tables."""
    if cur is None or ref is None:
        return None, None
    values = np.union1d(cur[0], ref[0])
    table = np.zeros((2, len(values)))
    table[0, np.searchsorted(values, cur[0])] = cur[1]
    table[1, np.searchsorted(values, ref[0])] = ref[1]
    js = float(jensenshannon(table[0], table[1], base=2))
    test = chi2_contingency(table, correction=False)
    return js, (float(test.statistic), float(test.pvalue))


@dataclass
class _Context:
    spec: MonitorSpec
    granularity: str
    step: int
    data_types: dict[str, str]
    groups: dict[tuple[int, int], _Group]
    versions: list[str]
    dists: dict[tuple[int, int, int], _Dist]
    categories: dict[tuple, _Counts]
    exact: _Exact
    confusion: dict[tuple, _Cells]

    def quality(self, group: _Group) -> tuple:
        """The ``:table`` row's model-quality columns (``QUALITY_COLUMNS``)."""
        if self.spec.problem_type is ProblemType.CLASSIFICATION:
            return _classification(group.stats, self.confusion.get((group.window, group.model)))
        regression = group.regression()
        return tuple(regression[name] for name in _REGRESSION)

    @property
    def no_quality(self) -> list[None]:
        """The same columns of the other rows."""
        return [None] * len(QUALITY_COLUMNS[self.spec.problem_type])

    def model_id(self, model: int) -> str:
        return ALL_MODELS if model == 0 else self.versions[model - 1]

    def dist(self, column: int, window: int, model: int) -> _Dist:
        return self.dists.get((column, window, model)) or _empty_dist(column, window, model)

    def window(self, start: int) -> tuple[dt.datetime, dt.datetime]:
        return (_moment(start), _moment(start + self.step))


def _emitted(ctx: _Context, since_us: int | None) -> list[_Group]:
    return sorted(
        (
            g
            for g in ctx.groups.values()
            if g.window != _BASELINE_W and (since_us is None or g.window >= since_us)
        ),
        key=lambda g: (g.window, g.model),
    )


def _comparisons(
    ctx: _Context, group: _Group, has_baseline: bool
) -> Iterator[tuple[str, int, tuple[dt.datetime | None, dt.datetime | None]]]:
    """(drift type, compared window key, window_cmp) for one emitted group."""
    previous = group.window - ctx.step
    if (previous, group.model) in ctx.groups:
        yield CONSECUTIVE, previous, ctx.window(previous)
    if has_baseline and (_BASELINE_W, 0) in ctx.groups:
        base = ctx.groups[(_BASELINE_W, 0)].stats
        ts_min, ts_max = _int(base["ts_min"]), _int(base["ts_max"])
        yield (
            BASELINE,
            _BASELINE_W,
            (
                None if ts_min is None else _moment(ts_min),
                None if ts_max is None else _moment(ts_max),
            ),
        )


def _plan(ctx: _Context, emitted: list[_Group], has_baseline: bool, want: tuple[bool, bool]):
    """Run every exact computation once without bin contents, to learn which bins to fetch."""
    want_profile, want_drift = want
    for g in emitted:
        for i in range(len(ctx.spec.numeric_columns)):
            d = ctx.dist(i, g.window, g.model)
            if want_profile:
                ctx.exact.quantiles(d, QUANTILES)
            if want_drift:
                for _, cmp_window, _ in _comparisons(ctx, g, has_baseline):
                    ref_model = g.model if cmp_window != _BASELINE_W else 0
                    ref = ctx.dist(i, cmp_window, ref_model)
                    ctx.exact.ks(d, ref)
                    ctx.exact.psi(d, ref)


def _profile_rows(ctx: _Context, emitted: list[_Group]) -> list[tuple]:
    rows = []
    for g in emitted:
        keys = (ctx.window(g.window), ctx.granularity, ctx.model_id(g.model), LOG_TYPE, None, None)
        rows.append(
            (
                *keys, TABLE_COLUMN, None, g.rows, None, None, None, None,
                None, None, None, None, None, None, None,
                *ctx.quality(g),
            )
        )  # fmt: skip
        for i, name in enumerate(ctx.spec.numeric_columns):
            s = g.stats
            d = ctx.dist(i, g.window, g.model)
            quantiles = ctx.exact.quantiles(d, QUANTILES)
            nan, pinf, ninf = int(s[f"nan{i}"]), int(s[f"pinf{i}"]), int(s[f"ninf{i}"])
            distinct = int(d.distinct.sum()) + (nan > 0) + (pinf > 0) + (ninf > 0)
            rows.append(
                (
                    *keys, name, ctx.data_types[name], g.count("n", i), g.nulls("n", i),
                    nan, pinf + ninf, g.percent_null("n", i), _float(s[f"avg{i}"]),
                    _float(s[f"sd{i}"]), _float(s[f"min{i}"]), _float(s[f"max{i}"]),
                    quantiles[QUANTILES.index(0.5)],
                    None if d.n == 0 else quantiles, distinct,
                    *ctx.no_quality,
                )
            )  # fmt: skip
        for j, name in enumerate(ctx.spec.categorical_columns):
            table = ctx.categories.get((j, g.window, g.model))
            rows.append(
                (
                    *keys, name, ctx.data_types[name], g.count("k", j), g.nulls("k", j),
                    0, 0, g.percent_null("k", j), None, None, None, None, None, None,
                    0 if table is None else len(table[0]),
                    *ctx.no_quality,
                )
            )  # fmt: skip
    return rows


def _drift_rows(ctx: _Context, emitted: list[_Group], has_baseline: bool) -> list[tuple]:
    rows = []
    for g in emitted:
        keys = (ctx.window(g.window), ctx.granularity, ctx.model_id(g.model), None, None)
        for drift_type, cmp_window, window_cmp in _comparisons(ctx, g, has_baseline):
            ref_model = g.model if drift_type == CONSECUTIVE else 0
            ref = ctx.groups[(cmp_window, ref_model)]
            for kind, names in (
                ("n", ctx.spec.numeric_columns),
                ("k", ctx.spec.categorical_columns),
            ):
                for i, name in enumerate(names):
                    ks = psi = js = chi2 = None
                    if kind == "n":
                        cur_d = ctx.dist(i, g.window, g.model)
                        ref_d = ctx.dist(i, cmp_window, ref_model)
                        ks, psi = ctx.exact.ks(cur_d, ref_d), ctx.exact.psi(cur_d, ref_d)
                    else:
                        js, chi2 = _categorical_drift(
                            ctx.categories.get((i, g.window, g.model)),
                            ctx.categories.get((i, cmp_window, ref_model)),
                        )
                    rows.append(
                        (
                            *keys, name, ctx.data_types[name], window_cmp, drift_type,
                            float(g.count(kind, i) - ref.count(kind, i)),
                            _delta(g.avg(kind, i), ref.avg(kind, i)),
                            _delta(g.percent_null(kind, i), ref.percent_null(kind, i)),
                            ks, psi, js, chi2,
                        )
                    )  # fmt: skip
    return rows


def _compute(
    rows: DataFrame,
    spec: MonitorSpec,
    granularity: str,
    baseline: DataFrame | None,
    since: dt.datetime | None,
    *,
    want_profile: bool = True,
    want_drift: bool = True,
) -> MetricFrames:
    if granularity not in GRANULARITIES:
        raise UsageError(
            f"Granularity '{granularity}' is not supported: expected one of"
            f" {', '.join(repr(g) for g in GRANULARITIES)}."
        )
    _check_input(rows, spec, "The monitored rows", inference=True)
    if baseline is not None:
        _check_input(baseline, spec, "The baseline table", inference=False)
    spark = rows.sparkSession
    step = GRANULARITIES[granularity] // _MICROS
    since_us = None if since is None else _micros(since)
    key_type = _key_type(rows, spec)
    data = _prepare(rows, spec, step, since_us, key_type)
    if baseline is not None and want_drift:
        data = data.unionByName(_prepare_baseline(baseline, spec, key_type, data))
    else:
        baseline = None

    groups, versions = _groups(_group_stats(data, spec))
    scales = _scales(groups, len(spec.numeric_columns))
    hist = _histograms(data, spec, versions, scales) if spec.numeric_columns else pd.DataFrame()
    categories = (
        _category_counts(data, spec, key_type) if spec.categorical_columns else pd.DataFrame()
    )
    ctx = _Context(
        spec=spec,
        granularity=granularity,
        step=step,
        data_types={name: rows.schema[name].dataType.simpleString() for name in spec.profiled},
        groups=groups,
        versions=versions,
        dists=_dists(hist, len(versions)),
        categories=_category_tables(categories, versions),
        exact=_Exact(),
        confusion=(
            _confusion_tables(_confusion_counts(data), versions)
            if want_profile and spec.problem_type is ProblemType.CLASSIFICATION
            else {}
        ),
    )
    emitted = _emitted(ctx, since_us)
    has_baseline = baseline is not None
    _plan(ctx, emitted, has_baseline, (want_profile, want_drift))
    ctx.exact.contents = _bin_contents(data, spec, versions, scales, ctx.exact.wanted)
    profile = _profile_rows(ctx, emitted) if want_profile else []
    drift = _drift_rows(ctx, emitted, has_baseline) if want_drift else []
    return MetricFrames(
        spark.createDataFrame(profile, spec.schema),
        spark.createDataFrame(drift, DRIFT_METRICS),
    )
