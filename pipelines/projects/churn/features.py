"""Churn features: one row per (customer_id, snapshot_time), from the snapshot, the
customer's attributes and the two snapshots before it. Pure DataFrame functions."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from pipelines.common.flags import day_start
from pipelines.projects.churn import generator as g
from pipelines.projects.churn.schemas import CATEGORICAL_INPUTS, CUSTOMER_FEATURES, NUMERIC_INPUTS

# Rolling features look back this far: the snapshot and the two before it.
LOOKBACK = dt.timedelta(days=62)


def snapshots_needed(snapshots: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """The snapshots that feed the features of the snapshots taken in [start, end)."""
    time = F.col(g.SNAPSHOT_TIME)
    return snapshots.where(
        (time >= F.lit(day_start(start) - LOOKBACK)) & (time < F.lit(day_start(end)))
    )


def customer_features(
    snapshots: DataFrame, customers: DataFrame, start: dt.date, end: dt.date
) -> DataFrame:
    """Feature rows of the snapshots taken in [start, end), in ``CUSTOMER_FEATURES``'s shape.

    ``support_calls_3m`` sums the calls of the snapshot and the two before it;
    ``charge_change`` is the bill's change since the previous snapshot (0 for the first).
    """
    history = Window.partitionBy(g.CUSTOMER_ID).orderBy(g.SNAPSHOT_TIME)
    recent = history.rowsBetween(-2, Window.currentRow)
    rows = (
        snapshots_needed(snapshots, start, end)
        .withColumn("support_calls_3m", F.sum("support_calls").over(recent))
        .withColumn(
            "charge_change",
            F.col("monthly_charges")
            - F.coalesce(F.lag("monthly_charges").over(history), F.col("monthly_charges")),
        )
        .where(F.col(g.SNAPSHOT_TIME) >= F.lit(day_start(start)))
        .join(customers, g.CUSTOMER_ID, "left")
    )
    return rows.select(
        g.CUSTOMER_ID,
        g.SNAPSHOT_TIME,
        *(F.col(name).cast("string").alias(name) for name in CATEGORICAL_INPUTS),
        *(F.col(name).cast("double").alias(name) for name in NUMERIC_INPUTS),
    ).select(*CUSTOMER_FEATURES.fieldNames())
