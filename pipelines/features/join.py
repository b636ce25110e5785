"""The point-in-time feature join shared by training and batch inference.

Each trip gets, per feature table, the latest feature row of its zip whose window ended
at or before the trip's pickup time: never a row from the future, whatever the order or
gaps of the tables. Dropoff features are looked up at pickup time too, since that is when
a fare is predicted.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipelines.common.schemas import DROPOFF_FEATURES, PICKUP_FEATURES, PICKUP_TIME

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


def as_of_join(
    events: DataFrame,
    features: DataFrame,
    event_key: str,
    event_time: str,
    feature_key: str = "zip",
    feature_time: str = "window_end",
) -> DataFrame:
    """Add to each event the feature columns of the latest feature row with the same key
    and ``feature_time <= event_time`` (nulls when there is none).

    One sort per key instead of a range join: events and feature rows are merged into one
    stream per key, ordered by time with feature rows first on ties, and each event takes
    the last feature row seen before it.
    """
    feature_cols = [c for c in features.columns if c not in (feature_key, feature_time)]
    event_cols = events.columns
    from_events = events.select(
        F.col(event_key).alias("_key"),
        F.col(event_time).cast("timestamp").alias("_time"),
        F.lit(1).alias("_order"),
        F.struct(*[F.col(c) for c in event_cols]).alias("_event"),
        F.lit(None)
        .cast(features.select(F.struct(*feature_cols)).schema[0].dataType)
        .alias("_features"),
    )
    from_features = features.select(
        F.col(feature_key).alias("_key"),
        F.col(feature_time).cast("timestamp").alias("_time"),
        F.lit(0).alias("_order"),
        F.lit(None).cast(from_events.schema["_event"].dataType).alias("_event"),
        F.struct(*[F.col(c) for c in feature_cols]).alias("_features"),
    )
    timeline = (
        Window.partitionBy("_key")
        .orderBy("_time", "_order")
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    merged = from_events.unionByName(from_features).withColumn(
        "_latest", F.last("_features", ignorenulls=True).over(timeline)
    )
    return merged.where(F.col("_order") == 1).select(
        *[F.col(f"_event.{c}").alias(c) for c in event_cols],
        *[F.col(f"_latest.{c}").alias(c) for c in feature_cols],
    )


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
