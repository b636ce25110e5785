"""The fare project: NYC taxi fares (regression) from trip distance, time and zip features."""

from __future__ import annotations

import datetime as dt

from pipelines.common.project import (
    DemoRound,
    DemoScenario,
    Expectation,
    ModelProject,
    Monitoring,
    ProblemType,
    TableRole,
    measured,
)

PROJECT = ModelProject(
    name="fare",
    title="NYC taxi fare",
    problem_type=ProblemType.REGRESSION,
    label="fare_amount",
    tables=(
        TableRole(
            "trips",
            "trips",
            "input",
            "Raw trips with their fares, keyed by trip_id",
            keys=("trip_id",),
            timeseries_key="tpep_pickup_datetime",
        ),
        TableRole(
            "inference_requests",
            "inference_requests",
            "input",
            "Scoring requests (trips without their fare), keyed by trip_id",
            keys=("trip_id",),
        ),
        TableRole(
            "pickup_features",
            "pickup_features",
            "features",
            "Pickup-zip features per 1 h window sliding by 15 min; key (zip, window_end),"
            " window_end is the timestamp key.",
            keys=("zip", "window_end"),
            timeseries_key="window_end",
        ),
        TableRole(
            "dropoff_features",
            "dropoff_features",
            "features",
            "Dropoff-zip features per 30 min window; key (zip, window_end), window_end is the"
            " timestamp key.",
            keys=("zip", "window_end"),
            timeseries_key="window_end",
        ),
        TableRole(
            "predictions",
            "predictions",
            "predictions",
            "Inference table: requests, prediction, model_version, timestamp, and the fare"
            " once known.",
        ),
    ),
    monitoring=Monitoring(
        prediction_col="prediction",
        label_col="fare_amount",
        numeric_columns=("trip_distance", "prediction", "fare_amount"),
        categorical_columns=("pickup_zip", "dropoff_zip"),
    ),
    lifecycle="pipelines.projects.fare.lifecycle:LIFECYCLE",
    drift_knobs={"fare": 1.0, "distance": 1.0},
    # Three rounds: a first champion; newer data and a challenger, monitoring starts; then
    # fares and distances drift, monitoring finds it and the retraining job retrains.
    demo=DemoScenario(
        start=dt.date(2016, 1, 1),
        size=1500,
        rounds=(
            DemoRound("a first model", dt.date(2016, 1, 29), dt.date(2016, 1, 29), score_days=7),
            DemoRound(
                "newer data, a challenger meets the champion; monitoring starts",
                dt.date(2016, 2, 12),
                dt.date(2016, 2, 12),
                monitor=True,
            ),
            DemoRound(
                "drift begins; monitoring finds it and the retraining job runs",
                dt.date(2016, 3, 4),
                dt.date(2016, 3, 4),
                train=False,
                monitor=True,
                drift_start=dt.date(2016, 2, 19),
                drift={"fare": 1.4, "distance": 1.25},
            ),
        ),
    ),
    default_size=2000,
    size_unit="trips per day",
    requests_role="inference_requests",
    scoring_expectations=(
        *measured("trip_distance"),
        Expectation("pickup_zip_not_null", "is_not_null", {"column": "pickup_zip"}),
        Expectation("dropoff_zip_not_null", "is_not_null", {"column": "dropoff_zip"}),
    ),
)
