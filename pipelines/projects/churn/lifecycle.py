"""The churn project's side of the lifecycle (``pipelines.common.project.ProjectLifecycle``).

A scoring request is a customer at a snapshot time (the first instant of a month); its
features are looked up point in time (the latest snapshot at or before the request), and
its label is the churn of that snapshot, which arrives a month later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.flags import day_start, sql_timestamp
from pipelines.common.point_in_time import as_of_join
from pipelines.common.project import FeatureRows, GeneratedData, TableMap
from pipelines.common.tables import read_table
from pipelines.projects.churn import generator as g
from pipelines.projects.churn import schemas
from pipelines.projects.churn.features import customer_features


def _between(column: str, start: dt.date, end: dt.date) -> str:
    return f"{column} >= {sql_timestamp(start)} AND {column} < {sql_timestamp(end)}"


def _in_range(column: str, start: dt.date, end: dt.date) -> Any:
    return (F.col(column) >= F.lit(day_start(start))) & (F.col(column) < F.lit(day_start(end)))


def _month_before(day: dt.date) -> dt.date:
    return (pd.Timestamp(day) - pd.DateOffset(months=1)).date()


class ChurnLifecycle:
    def schemas(self) -> Mapping[str, T.StructType]:
        return {
            "customers": schemas.CUSTOMERS,
            "snapshots": schemas.SNAPSHOTS,
            "labels": schemas.LABELS,
            "scoring_requests": schemas.REQUESTS,
            "customer_features": schemas.CUSTOMER_FEATURES,
            "predictions": schemas.PREDICTIONS,
        }

    def model_inputs(self) -> Sequence[str]:
        return schemas.MODEL_INPUTS

    def label_role(self) -> str:
        return "labels"

    def time_column(self) -> str:
        return g.SNAPSHOT_TIME

    def request_columns(self) -> Sequence[str]:
        return [
            f.name
            for f in schemas.PREDICTIONS.fields
            if f.name in schemas.REQUESTS.fieldNames() or f.name in schemas.MODEL_INPUTS
        ]

    def request_key(self) -> Sequence[str]:
        return (g.CUSTOMER_ID, schemas.REQUEST_TIME)

    def generate(
        self,
        start: dt.date,
        end: dt.date,
        size: int,
        seed: int,
        drift_start: dt.date | None,
        drift: Mapping[str, float],
    ) -> GeneratedData:
        """What arrives in [start, end): the month's snapshots and scoring requests, the
        labels whose month ended then (snapshots of the month before), and the book of
        customers so far."""
        knobs = g.ChurnDrift(drift_start, **dict(drift)) if drift_start else None
        origin = g.ChurnShape().origin
        earliest = max(_month_before(start), origin)
        data = g.simulate(earliest, end, size, seed, knobs)
        snapshots = data.snapshots[data.snapshots[g.SNAPSHOT_TIME] >= pd.Timestamp(start)]
        labels = data.labels
        arrived = labels[
            (labels[g.LABEL_TIME] >= pd.Timestamp(start))
            & (labels[g.LABEL_TIME] < pd.Timestamp(end))
        ]
        customers = g.simulate(origin, end, size, seed, knobs).customers
        requests = snapshots[[g.CUSTOMER_ID, g.SNAPSHOT_TIME]].rename(
            columns={g.SNAPSHOT_TIME: schemas.REQUEST_TIME}
        )
        return GeneratedData(
            frames={
                "customers": customers.reset_index(drop=True),
                "snapshots": snapshots.reset_index(drop=True),
                "labels": arrived.reset_index(drop=True),
                "scoring_requests": requests.reset_index(drop=True),
            },
            replaces={
                # Every customer so far: re-generating gives the same rows.
                "customers": "true",
                "snapshots": _between(g.SNAPSHOT_TIME, start, end),
                "labels": _between(g.LABEL_TIME, start, end),
                "scoring_requests": _between(schemas.REQUEST_TIME, start, end),
            },
        )

    def features(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> Sequence[FeatureRows]:
        rows = customer_features(
            read_table(spark, tables["snapshots"], schemas.SNAPSHOTS),
            read_table(spark, tables["customers"], schemas.CUSTOMERS),
            start,
            end,
        )
        return [FeatureRows("customer_features", rows, _between(g.SNAPSHOT_TIME, start, end))]

    def _features(self, spark: SparkSession, tables: TableMap) -> DataFrame:
        return read_table(spark, tables["customer_features"], schemas.CUSTOMER_FEATURES)

    def labelled_set(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> DataFrame:
        labels = (
            read_table(spark, tables["labels"], schemas.LABELS)
            .where(_in_range(g.SNAPSHOT_TIME, start, end) & F.col(g.LABEL).isNotNull())
            .select(g.CUSTOMER_ID, g.SNAPSHOT_TIME, g.LABEL)
        )
        joined = as_of_join(labels, self._features(spark, tables), g.CUSTOMER_ID, g.SNAPSHOT_TIME,
                            feature_key=g.CUSTOMER_ID, feature_time=g.SNAPSHOT_TIME)  # fmt: skip
        return joined.select(g.SNAPSHOT_TIME, g.LABEL, *schemas.MODEL_INPUTS)

    def scoring_set(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> DataFrame:
        requests = read_table(spark, tables["scoring_requests"], schemas.REQUESTS).where(
            _in_range(schemas.REQUEST_TIME, start, end)
        )
        joined = as_of_join(requests, self._features(spark, tables), g.CUSTOMER_ID,
                            schemas.REQUEST_TIME, feature_key=g.CUSTOMER_ID,
                            feature_time=g.SNAPSHOT_TIME)  # fmt: skip
        return joined.withColumn(schemas.TIMESTAMP, F.col(schemas.REQUEST_TIME))

    def labels(self, spark: SparkSession, tables: TableMap) -> DataFrame:
        """A request's label is its snapshot's: requests are made at snapshot times."""
        return read_table(spark, tables["labels"], schemas.LABELS).select(
            g.CUSTOMER_ID, F.col(g.SNAPSHOT_TIME).alias(schemas.REQUEST_TIME), g.LABEL
        )

    def build_model(self, hyperparameters: Mapping[str, Any]) -> Any:
        from pipelines.projects.churn.model import build_model

        return build_model(hyperparameters)


LIFECYCLE = ChurnLifecycle()
