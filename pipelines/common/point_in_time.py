"""The point-in-time lookup every project's features use.

Each event gets the latest feature row of its key whose timestamp is at or before the
event's time: never a row from the future, whatever the order or gaps of the tables
(Databricks Feature Engineering's point-in-time lookup does the same, docs/platform.md,
"Point-in-time lookups").
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F


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
