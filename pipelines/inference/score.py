"""Scoring: pure DataFrame functions around a model, for any project's requests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

PREDICTION = "prediction"
PROBABILITY = "probability"
TIMESTAMP = "timestamp"


def score_requests(
    scoring: DataFrame,
    predict: Callable[..., Column],
    model_inputs: Sequence[str],
    request_columns: Sequence[str],
    label: str,
    contract: T.StructType,
    model_version: str,
    scored_at: dt.datetime,
) -> DataFrame:
    """Rows of the inference table (label still unknown) for requests that already carry
    their point-in-time model inputs and ``timestamp``. ``predict`` maps the model-input
    columns to a Column (a regression's prediction)."""
    prediction: Column = predict(*[F.col(c) for c in model_inputs])
    return _inference_rows(
        scoring.withColumn(PREDICTION, prediction),
        request_columns,
        label,
        contract,
        model_version,
        scored_at,
    )


def classify_requests(
    scoring: DataFrame,
    model: Any,
    model_inputs: Sequence[str],
    request_columns: Sequence[str],
    label: str,
    contract: T.StructType,
    model_version: str,
    scored_at: dt.datetime,
) -> DataFrame:
    """As ``score_requests`` for a binary classifier: the class (``prediction``) and the
    probability of class 1 (``probability``), from the scikit-learn model's
    ``predict_proba`` applied per partition (a pyfunc UDF returns only ``predict``)."""
    inputs = list(model_inputs)

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            proba = model.predict_proba(batch[inputs])[:, 1] if len(batch) else []
            batch[PROBABILITY] = proba
            batch[PREDICTION] = (batch[PROBABILITY] >= 0.5).astype("int64")
            yield batch

    schema = T.StructType(
        [
            *scoring.schema.fields,
            T.StructField(PROBABILITY, T.DoubleType()),
            T.StructField(PREDICTION, T.LongType()),
        ]
    )
    return _inference_rows(
        scoring.mapInPandas(predict, schema),
        request_columns,
        label,
        contract,
        model_version,
        scored_at,
    )


def _inference_rows(
    scored: DataFrame,
    request_columns: Sequence[str],
    label: str,
    contract: T.StructType,
    model_version: str,
    scored_at: dt.datetime,
) -> DataFrame:
    values = {
        **{c: F.col(c) for c in request_columns},
        PREDICTION: F.col(PREDICTION),
        PROBABILITY: F.col(PROBABILITY) if PROBABILITY in scored.columns else None,
        "model_version": F.lit(model_version),
        TIMESTAMP: F.col(TIMESTAMP),
        "scored_at": F.lit(scored_at),
        label: F.lit(None),
    }
    return scored.select(
        *[
            (values.get(f.name) if values.get(f.name) is not None else F.lit(None))
            .cast(f.dataType)
            .alias(f.name)
            for f in contract.fields
        ]
    )


def keep_known_labels(
    scored: DataFrame, previous: DataFrame | None, key: Sequence[str], label: str
) -> DataFrame:
    """Carry labels that already arrived for re-scored requests, so re-scoring a batch
    never loses ground truth."""
    if previous is None:
        return scored
    labels = previous.where(F.col(label).isNotNull()).select(
        *key, F.col(label).alias("_known_label")
    )
    return (
        scored.join(labels, list(key), "left")
        .withColumn(label, F.coalesce(F.col("_known_label"), F.col(label)))
        .select(*scored.columns)
    )
