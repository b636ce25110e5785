"""Scoring: pure DataFrame functions around a prediction UDF."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from pipelines.common.schemas import INFERENCE, LABEL, PICKUP_TIME, REQUESTS, TRIP_ID
from pipelines.features.join import MODEL_INPUTS, model_frame

REQUEST_COLUMNS = REQUESTS.fieldNames()


def score_requests(
    requests_with_features: DataFrame,
    predict: callable,
    model_version: str,
    scored_at: dt.datetime,
) -> DataFrame:
    """Rows of the inference table (label still unknown) for requests that already carry
    their point-in-time features. ``predict`` maps the model-input columns to a Column."""
    inputs = model_frame(requests_with_features, *REQUEST_COLUMNS)
    prediction: Column = predict(*[F.col(c) for c in MODEL_INPUTS])
    return inputs.select(
        *REQUEST_COLUMNS,
        prediction.cast("double").alias("prediction"),
        F.lit(model_version).alias("model_version"),
        F.col(PICKUP_TIME).alias("timestamp"),
        F.lit(scored_at).cast("timestamp").alias("scored_at"),
        F.lit(None).cast("double").alias(LABEL),
    )


def keep_known_labels(scored: DataFrame, previous: DataFrame | None) -> DataFrame:
    """Carry labels that already arrived for re-scored requests, so re-scoring a batch
    never loses ground truth."""
    if previous is None:
        return scored
    labels = previous.where(F.col(LABEL).isNotNull()).select(
        TRIP_ID, F.col(LABEL).alias("_known_label")
    )
    return (
        scored.join(labels, TRIP_ID, "left")
        .withColumn(LABEL, F.coalesce(F.col("_known_label"), F.col(LABEL)))
        .select(*INFERENCE.fieldNames())
    )
