"""Late labels: ground truth that arrives after a request was scored, joined into the
predictions table by the request's key (a project's ``request_key()``)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

_NEW_LABEL = "_arrived_label"


def known_labels(labels: DataFrame, key: Sequence[str], label: str) -> DataFrame:
    """One non-null label per request key, with the number of distinct labels it has
    (``n_labels`` above 1 means the labels table contradicts itself)."""
    return (
        labels.where(F.col(label).isNotNull())
        .groupBy(*key)
        .agg(
            F.first(label).alias(_NEW_LABEL),
            F.countDistinct(label).alias("n_labels"),
        )
    )


def with_arrived_labels(
    inference: DataFrame, labels: DataFrame, key: Sequence[str], label: str
) -> DataFrame:
    """The inference rows with every label that has arrived filled in.

    A label present in ``labels`` wins over the one already stored (a corrected label
    replaces the old one); a request without a label in ``labels`` keeps what it had, so
    applying the same labels twice changes nothing. ``labels`` comes from
    ``known_labels``. The result has the inference table's columns, in its order and
    types, plus ``_had_label``.
    """
    label_type = inference.schema[label].dataType
    arrived = labels.select(*key, _NEW_LABEL)
    return inference.join(arrived, list(key), "left").select(
        *[
            F.coalesce(F.col(_NEW_LABEL).cast(label_type), F.col(label)).alias(label)
            if name == label
            else F.col(name)
            for name in inference.columns
        ],
        F.col(label).isNotNull().alias("_had_label"),
    )
