"""Pure feature functions: trips in, feature rows out.

Windows are half-open, [window_end - length, window_end), and a feature row is stamped
with its window end: it is knowable from that instant on, which is what the
point-in-time join relies on. A range [start, end) of the feature tables holds the rows
whose window ends in (start, end]; they are computed from trips back to start - length,
so recomputing any split of a range gives the same rows.

Sliding windows are computed on integer epoch seconds: each trip is assigned to the four
window ends that contain it and aggregated once (measured faster than both a two-stage
bucket aggregation and Spark's generic sliding ``window`` group-by).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipelines.common.flags import day_start
from pipelines.common.point_in_time import as_of_join
from pipelines.projects.fare.schemas import (
    DROPOFF_FEATURES,
    DROPOFF_TIME,
    LABEL,
    PICKUP_FEATURES,
    PICKUP_TIME,
)

PICKUP_WINDOW = dt.timedelta(hours=1)
PICKUP_SLIDE = dt.timedelta(minutes=15)
DROPOFF_WINDOW = dt.timedelta(minutes=30)


def _seconds(delta: dt.timedelta) -> int:
    return int(delta.total_seconds())


def _bucket_end(ts_col: str, width: dt.timedelta) -> F.Column:
    """The end of the ``width`` bucket that holds each timestamp (epoch-aligned)."""
    epoch = F.unix_seconds(F.col(ts_col))
    w = _seconds(width)
    return F.timestamp_seconds((F.floor(epoch / w) + 1) * w)


def _window_end_in_range(start: dt.date, end: dt.date) -> F.Column:
    return (F.col("window_end") > F.lit(day_start(start))) & (
        F.col("window_end") <= F.lit(day_start(end))
    )


def trips_needed(
    trips: DataFrame, ts_col: str, start: dt.date, end: dt.date, window: dt.timedelta
) -> DataFrame:
    """The trips that feed the windows ending in (start, end]."""
    lower = day_start(start) - window
    upper = day_start(end)
    return trips.where((F.col(ts_col) >= F.lit(lower)) & (F.col(ts_col) < F.lit(upper)))


def pickup_features(trips: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """Per pickup zip, over 1-hour windows sliding every 15 minutes: mean fare and trip
    count. Only windows holding at least one trip get a row."""
    slides = _seconds(PICKUP_WINDOW) // _seconds(PICKUP_SLIDE)
    slide = _seconds(PICKUP_SLIDE)
    # A trip in the 15-minute bucket ending at b lies in the windows ending at b,
    # b + slide, ..., b + (slides - 1) * slide: one aggregation over those few rows per
    # trip, on integer epoch seconds, with map-side pre-aggregation doing most of the work.
    bucket_end = (F.floor(F.unix_seconds(F.col(PICKUP_TIME)) / slide) + 1) * slide
    per_window = trips_needed(trips, PICKUP_TIME, start, end, PICKUP_WINDOW).select(
        F.col("pickup_zip").alias("zip"),
        F.col(LABEL).alias("fare"),
        F.explode(
            F.sequence(bucket_end, bucket_end + (slides - 1) * slide, F.lit(slide).cast("long"))
        ).alias("window_end_s"),
    )
    lower = int(day_start(start).timestamp())
    upper = int(day_start(end).timestamp())
    return (
        per_window.where((F.col("window_end_s") > lower) & (F.col("window_end_s") <= upper))
        .groupBy("zip", "window_end_s")
        .agg(
            F.avg("fare").alias("mean_fare_window_1h_pickup_zip"),
            F.count(F.lit(1)).cast("long").alias("count_trips_window_1h_pickup_zip"),
        )
        .select(
            "zip",
            F.timestamp_seconds("window_end_s").alias("window_end"),
            "mean_fare_window_1h_pickup_zip",
            "count_trips_window_1h_pickup_zip",
        )
    )


def dropoff_features(trips: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """Per dropoff zip, over tumbling 30-minute windows: trip count and whether the window
    falls on a weekend (1) or not (0)."""
    windows = (
        trips_needed(trips, DROPOFF_TIME, start, end, DROPOFF_WINDOW)
        .groupBy(
            F.col("dropoff_zip").alias("zip"),
            _bucket_end(DROPOFF_TIME, DROPOFF_WINDOW).alias("window_end"),
        )
        .agg(F.count(F.lit(1)).cast("long").alias("count_trips_window_30m_dropoff_zip"))
    )
    window_start = F.col("window_end") - F.expr(f"INTERVAL {_seconds(DROPOFF_WINDOW)} SECONDS")
    # dayofweek: 1 = Sunday, 7 = Saturday.
    is_weekend = F.dayofweek(window_start).isin(1, 7).cast("int")
    return windows.where(_window_end_in_range(start, end)).withColumn(
        "dropoff_is_weekend", is_weekend
    )


# The point-in-time model inputs (features as of pickup time).
PICKUP_FEATURE_COLUMNS = [
    f.name for f in PICKUP_FEATURES.fields if f.name not in ("zip", "window_end")
]
DROPOFF_FEATURE_COLUMNS = [
    f.name for f in DROPOFF_FEATURES.fields if f.name not in ("zip", "window_end")
]
MODEL_INPUTS = [
    "trip_distance",
    "pickup_hour",
    "pickup_weekday",
    *PICKUP_FEATURE_COLUMNS,
    *DROPOFF_FEATURE_COLUMNS,
]


def with_model_inputs(
    trips: DataFrame, pickup_features: DataFrame, dropoff_features: DataFrame
) -> DataFrame:
    """Trips plus every column in ``MODEL_INPUTS``, features as of pickup time."""
    joined = as_of_join(
        trips,
        pickup_features.select("zip", "window_end", *PICKUP_FEATURE_COLUMNS),
        "pickup_zip",
        PICKUP_TIME,
    )
    joined = as_of_join(
        joined,
        dropoff_features.select("zip", "window_end", *DROPOFF_FEATURE_COLUMNS),
        "dropoff_zip",
        PICKUP_TIME,
    )
    return joined.withColumn("pickup_hour", F.hour(PICKUP_TIME)).withColumn(
        # Monday = 0 ... Sunday = 6, as in Python and pandas.
        "pickup_weekday",
        (F.dayofweek(PICKUP_TIME) + 5) % 7,
    )


def model_frame(df: DataFrame, *extra: str) -> DataFrame:
    """The model's inputs, all as double (missing features are NaN to the model), plus
    ``extra`` columns kept as they are. One fixed input schema for training and scoring."""
    kept = [c for c in extra if c not in MODEL_INPUTS]
    return df.select(*kept, *[F.col(c).cast("double").alias(c) for c in MODEL_INPUTS])
