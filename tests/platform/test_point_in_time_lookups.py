"""Rule: a point-in-time feature lookup gives each row the latest feature row of its key
whose timestamp is not later than the row's lookup timestamp (a feature row stamped exactly
at the lookup time is used), and null features when there is none.

Source: docs.databricks.com/machine-learning/feature-store/time-series.html ("the feature
table rows are joined by matching the most recent value for a particular primary key that
is not later than the value of the timestamp_keys column"; "If no values have been
recorded, the feature value is null"). Held on ``as_of_join``, which every project's
labelled and scoring sets use locally (docs/platform.md, "Point-in-time lookups"), with the
churn project's keys: (customer_id, snapshot time).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import types as T

from pipelines.common.point_in_time import as_of_join

UTC = dt.UTC
LOOKUPS = T.StructType(
    [
        T.StructField("customer_id", T.StringType()),
        T.StructField("scored_at", T.TimestampType()),
    ]
)
FEATURES = T.StructType(
    [
        T.StructField("customer_id", T.StringType()),
        T.StructField("snapshot_time", T.TimestampType()),
        T.StructField("support_calls", T.IntegerType()),
    ]
)


def day(d: int) -> dt.datetime:
    return dt.datetime(2024, 3, d, tzinfo=UTC)


def test_the_latest_feature_row_not_later_than_the_lookup_time_else_null(spark) -> None:
    features = spark.createDataFrame(
        [
            ("c1", day(1), 1),
            ("c1", day(10), 2),  # exactly at the first lookup: used
            ("c1", day(20), 3),  # after every lookup of c1: never used
            ("c2", day(15), 7),  # after c2's lookup: c2 gets null
        ],
        FEATURES,
    )
    lookups = spark.createDataFrame(
        [("c1", day(10)), ("c1", day(19)), ("c2", day(14)), ("c3", day(30))], LOOKUPS
    )
    joined = as_of_join(
        lookups,
        features,
        event_key="customer_id",
        event_time="scored_at",
        feature_key="customer_id",
        feature_time="snapshot_time",
    )
    got = {(r.customer_id, r.scored_at.day): r.support_calls for r in joined.collect()}
    assert got == {("c1", 10): 2, ("c1", 19): 2, ("c2", 14): None, ("c3", 30): None}
    assert joined.count() == lookups.count()  # one row per lookup, none dropped or added
