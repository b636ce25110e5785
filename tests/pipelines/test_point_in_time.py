"""The point-in-time join: a trip sees only feature rows whose window ended by its pickup."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.point_in_time import as_of_join
from pipelines.projects.fare import schemas
from pipelines.projects.fare.features import (
    DROPOFF_FEATURE_COLUMNS,
    PICKUP_FEATURE_COLUMNS,
    with_model_inputs,
)

A, B, C = 10001, 10002, 10003
DAY = dt.date(2016, 1, 5)

EVENTS = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("zip", T.IntegerType()),
        T.StructField("at", T.TimestampType()),
    ]
)
FEATURES = T.StructType(
    [
        T.StructField("zip", T.IntegerType()),
        T.StructField("window_end", T.TimestampType()),
        T.StructField("value", T.DoubleType()),
    ]
)


def at(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    # Aware UTC times, so the tests hold on a machine in any time zone.
    return dt.datetime.combine(DAY, dt.time(hh, mm, ss), tzinfo=dt.UTC)


def test_as_of_join_takes_the_latest_row_at_or_before_the_event(spark) -> None:
    features = spark.createDataFrame(
        [
            (A, at(10, 0), 1.0),
            (A, at(10, 15), 2.0),
            (A, at(10, 30), 3.0),
            (B, at(10, 5), 100.0),
            # From the future for event b1: must not be used.
            (B, at(10, 25), 200.0),
        ],
        schema=FEATURES,
    )
    events = spark.createDataFrame(
        [
            ("a-before-any", A, at(9, 59, 59)),
            ("a-exactly-at-10:15", A, at(10, 15)),
            ("a-just-before-10:30", A, at(10, 29, 59)),
            ("a-after-all", A, at(23, 0)),
            ("b1", B, at(10, 20)),
            ("b2", B, at(10, 25)),
            ("c-no-rows-for-zip", C, at(10, 30)),
        ],
        schema=EVENTS,
    )
    joined = as_of_join(events, features, "zip", "at")
    assert joined.columns == ["event_id", "zip", "at", "value"]
    got = {r["event_id"]: r["value"] for r in joined.collect()}
    assert got == {
        "a-before-any": None,
        "a-exactly-at-10:15": 2.0,
        "a-just-before-10:30": 2.0,
        "a-after-all": 3.0,
        "b1": 100.0,
        "b2": 200.0,
        "c-no-rows-for-zip": None,
    }


def test_as_of_join_keeps_every_event_once_whatever_the_input_order(spark) -> None:
    features = spark.createDataFrame(
        [(A, at(11, 0), 5.0), (A, at(9, 0), 4.0), (A, at(10, 0), 6.0)], schema=FEATURES
    ).repartition(3)
    events = spark.createDataFrame(
        [("late", A, at(12, 0)), ("early", A, at(9, 30)), ("same-time", A, at(9, 30))],
        schema=EVENTS,
    ).repartition(2)
    got = sorted(
        (r["event_id"], r["value"]) for r in as_of_join(events, features, "zip", "at").collect()
    )
    assert got == [("early", 4.0), ("late", 5.0), ("same-time", 4.0)]


def test_dropoff_features_are_looked_up_at_pickup_time_not_dropoff_time(spark) -> None:
    trips = spark.createDataFrame(
        [(1, at(10, 20), at(10, 50), 2.0, 11.0, A, B)], schema=schemas.TRIPS
    )
    pickup = spark.createDataFrame(
        [(A, at(10, 15), 9.0, 3), (A, at(10, 30), 99.0, 30)], schema=schemas.PICKUP_FEATURES
    )
    dropoff = spark.createDataFrame(
        # Known at 10:00 and at 10:30 (after pickup, before dropoff): only the first may
        # be used, or the model would learn from the future.
        [(B, at(10, 0), 4, 0), (B, at(10, 30), 40, 1), (A, at(10, 0), 77, 1)],
        schema=schemas.DROPOFF_FEATURES,
    )
    row = with_model_inputs(trips, pickup, dropoff).collect()[0].asDict()
    assert row["mean_fare_window_1h_pickup_zip"] == 9.0
    assert row["count_trips_window_1h_pickup_zip"] == 3
    assert row["count_trips_window_30m_dropoff_zip"] == 4
    assert row["dropoff_is_weekend"] == 0
    # 2016-01-05 is a Tuesday: Monday = 0.
    assert (row["pickup_hour"], row["pickup_weekday"]) == (10, 1)


def _merge_asof(
    trips: pd.DataFrame, features: pd.DataFrame, zip_column: str, columns: list[str]
) -> pd.DataFrame:
    right = features.rename(columns={"zip": zip_column}).sort_values("window_end")
    left = trips[["trip_id", schemas.PICKUP_TIME, zip_column]].sort_values(schemas.PICKUP_TIME)
    return pd.merge_asof(
        left,
        right[[zip_column, "window_end", *columns]],
        left_on=schemas.PICKUP_TIME,
        right_on="window_end",
        by=zip_column,
        direction="backward",
        allow_exact_matches=True,
    ).set_index("trip_id")


def test_lake_training_rows_match_a_brute_force_as_of_join(spark, lake) -> None:
    trips = spark.table(str(lake.trips))
    pickup = spark.table(str(lake.pickup_features))
    dropoff = spark.table(str(lake.dropoff_features))
    trips_pd = trips.toPandas()
    want_pickup = _merge_asof(trips_pd, pickup.toPandas(), "pickup_zip", PICKUP_FEATURE_COLUMNS)
    want_dropoff = _merge_asof(trips_pd, dropoff.toPandas(), "dropoff_zip", DROPOFF_FEATURE_COLUMNS)

    # Carry the window_end of the feature row each trip got through the pipeline's join.
    used = (
        as_of_join(
            trips.select("trip_id", "pickup_zip", schemas.PICKUP_TIME),
            pickup.select("zip", "window_end", F.col("window_end").alias("used_window_end")),
            "pickup_zip",
            schemas.PICKUP_TIME,
        )
        .toPandas()
        .set_index("trip_id")
        .sort_index()
    )
    assert len(used) == len(trips_pd)
    has_row = used["used_window_end"].notna()
    assert (used.loc[has_row, "used_window_end"] <= used.loc[has_row, schemas.PICKUP_TIME]).all()
    # Most trips have an earlier feature row (600 trips a day); the first of a day do not.
    assert 0.5 < has_row.mean() < 1.0
    # It is the latest such row: the one a brute-force as-of join finds.
    pd.testing.assert_series_equal(
        used["used_window_end"],
        want_pickup["window_end"].sort_index(),
        check_names=False,
    )

    # The training inputs hold exactly the values of those rows.
    got = with_model_inputs(trips, pickup, dropoff).toPandas().set_index("trip_id").sort_index()
    assert len(got) == len(trips_pd)
    for want, columns in (
        (want_pickup, PICKUP_FEATURE_COLUMNS),
        (want_dropoff, DROPOFF_FEATURE_COLUMNS),
    ):
        want = want.sort_index()
        for column in columns:
            np.testing.assert_array_equal(
                got[column].astype("float64").to_numpy(),
                want[column].astype("float64").to_numpy(),
                err_msg=column,
            )
