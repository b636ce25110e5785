"""Late labels: ground truth that arrives after a request was scored."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.schemas import INFERENCE, LABEL, TRIP_ID

# What a labels table must have: the request id and the true fare.
LABELS = T.StructType([T.StructField(TRIP_ID, T.LongType()), T.StructField(LABEL, T.DoubleType())])

_NEW_LABEL = "_arrived_label"


def known_labels(labels: DataFrame) -> DataFrame:
    """One non-null label per request id, with the number of distinct labels it has
    (``n_labels`` above 1 means the labels table contradicts itself)."""
    return (
        labels.where(F.col(LABEL).isNotNull())
        .groupBy(TRIP_ID)
        .agg(
            F.first(LABEL).alias(_NEW_LABEL),
            F.countDistinct(LABEL).alias("n_labels"),
        )
    )


def with_arrived_labels(inference: DataFrame, labels: DataFrame) -> DataFrame:
    """The inference rows with every label that has arrived filled in.

    A label present in ``labels`` wins over the one already stored (a corrected fare
    replaces the old one); a request without a label in ``labels`` keeps what it had, so
    applying the same labels twice changes nothing. ``labels`` comes from
    ``known_labels``. The result has the inference table's columns plus ``_had_label``.
    """
    return inference.join(labels.select(TRIP_ID, _NEW_LABEL), TRIP_ID, "left").select(
        *[
            F.coalesce(F.col(_NEW_LABEL), F.col(LABEL)).alias(LABEL)
            if name == LABEL
            else F.col(name)
            for name in INFERENCE.fieldNames()
        ],
        F.col(LABEL).isNotNull().alias("_had_label"),
    )
