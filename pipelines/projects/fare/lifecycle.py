"""The fare project's side of the lifecycle (``pipelines.common.project.ProjectLifecycle``).

Trips carry their fare, so the trips table is also where labels come from; requests are
trips without the fare. Features are two zip tables looked up at pickup time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from pipelines.common.flags import day_start, sql_timestamp
from pipelines.common.project import FeatureRows, GeneratedData, TableMap
from pipelines.common.tables import read_table
from pipelines.projects.fare import schemas
from pipelines.projects.fare.features import (
    MODEL_INPUTS,
    dropoff_features,
    model_frame,
    pickup_features,
    with_model_inputs,
)
from pipelines.projects.fare.generator import Drift, generate_trips


def _window_end_range(start: dt.date, end: dt.date) -> str:
    return f"window_end > {sql_timestamp(start)} AND window_end <= {sql_timestamp(end)}"


def _picked_up(start: dt.date, end: dt.date) -> Any:
    return (F.col(schemas.PICKUP_TIME) >= F.lit(day_start(start))) & (
        F.col(schemas.PICKUP_TIME) < F.lit(day_start(end))
    )


class FareLifecycle:
    def schemas(self) -> Mapping[str, T.StructType]:
        return {
            "trips": schemas.TRIPS,
            "inference_requests": schemas.REQUESTS,
            "pickup_features": schemas.PICKUP_FEATURES,
            "dropoff_features": schemas.DROPOFF_FEATURES,
            "predictions": schemas.INFERENCE,
        }

    def model_inputs(self) -> Sequence[str]:
        return MODEL_INPUTS

    def label_role(self) -> str:
        return "trips"

    def time_column(self) -> str:
        return schemas.PICKUP_TIME

    def request_columns(self) -> Sequence[str]:
        return schemas.REQUESTS.fieldNames()

    def request_key(self) -> Sequence[str]:
        return (schemas.TRIP_ID,)

    def generate(
        self,
        start: dt.date,
        end: dt.date,
        size: int,
        seed: int,
        drift_start: dt.date | None,
        drift: Mapping[str, float],
    ) -> GeneratedData:
        trips = generate_trips(
            start,
            end,
            size,
            seed,
            Drift(drift_start, drift.get("fare", 1.0), drift.get("distance", 1.0)),
        )
        replaces = (
            f"{schemas.PICKUP_TIME} >= {sql_timestamp(start)}"
            f" AND {schemas.PICKUP_TIME} < {sql_timestamp(end)}"
        )
        # The requests of the same trips arrive without their fare: the scoring input.
        requests = trips[list(schemas.REQUESTS.fieldNames())]
        return GeneratedData(
            frames={"trips": trips, "inference_requests": requests},
            replaces={"trips": replaces, "inference_requests": replaces},
        )

    def features(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> Sequence[FeatureRows]:
        trips = read_table(spark, tables["trips"], schemas.TRIPS)
        condition = _window_end_range(start, end)
        return [
            FeatureRows(role, compute(trips, start, end).select(*contract.fieldNames()), condition)
            for role, compute, contract in (
                ("pickup_features", pickup_features, schemas.PICKUP_FEATURES),
                ("dropoff_features", dropoff_features, schemas.DROPOFF_FEATURES),
            )
        ]

    def _with_inputs(self, spark: SparkSession, tables: TableMap, rows: DataFrame) -> DataFrame:
        return with_model_inputs(
            rows,
            read_table(spark, tables["pickup_features"], schemas.PICKUP_FEATURES),
            read_table(spark, tables["dropoff_features"], schemas.DROPOFF_FEATURES),
        )

    def labelled_set(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> DataFrame:
        trips = read_table(spark, tables["trips"], schemas.TRIPS).where(
            _picked_up(start, end) & F.col(schemas.LABEL).isNotNull()
        )
        joined = self._with_inputs(spark, tables, trips)
        return model_frame(joined, schemas.PICKUP_TIME, schemas.LABEL)

    def scoring_set(
        self, spark: SparkSession, tables: TableMap, start: dt.date, end: dt.date
    ) -> DataFrame:
        requests = (
            read_table(spark, tables["inference_requests"], schemas.REQUESTS)
            .where(_picked_up(start, end))
            .select(*schemas.REQUESTS.fieldNames())
        )
        joined = self._with_inputs(spark, tables, requests)
        return model_frame(joined, *schemas.REQUESTS.fieldNames()).withColumn(
            schemas.TIMESTAMP, F.col(schemas.PICKUP_TIME)
        )

    def labels(self, spark: SparkSession, tables: TableMap) -> DataFrame:
        return read_table(spark, tables["trips"], schemas.TRIPS).select(
            schemas.TRIP_ID, schemas.LABEL
        )

    def build_model(self, hyperparameters: Mapping[str, Any]) -> Any:
        from pipelines.projects.fare.model import build_model, from_flags

        return build_model(from_flags(hyperparameters))


LIFECYCLE = FareLifecycle()
