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
    at_least,
    measured,
    not_before,
    present,
)

# What a trip's request must carry to be scored, and a trip to be imported: the request's
# rules, then the times and the fare. A trip breaking one is quarantined at import.
REQUEST_RULES: tuple[Expectation, ...] = (
    *measured("trip_distance"),
    present("pickup_zip"),
    present("dropoff_zip"),
)
TRIP_RULES: tuple[Expectation, ...] = (
    present("tpep_pickup_datetime"),
    present("tpep_dropoff_datetime"),
    not_before("tpep_dropoff_datetime", "tpep_pickup_datetime"),
    *REQUEST_RULES,
    *measured("fare_amount"),
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
            expectations=TRIP_RULES,
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
            expectations=(
                present("zip"),
                present("window_end"),
                *measured("mean_fare_window_1h_pickup_zip"),
                at_least("count_trips_window_1h_pickup_zip", 1),
            ),
        ),
        TableRole(
            "dropoff_features",
            "dropoff_features",
            "features",
            "Dropoff-zip features per 30 min window; key (zip, window_end), window_end is the"
            " timestamp key.",
            keys=("zip", "window_end"),
            timeseries_key="window_end",
            expectations=(
                present("zip"),
                present("window_end"),
                at_least("count_trips_window_30m_dropoff_zip", 1),
                Expectation(
                    "dropoff_is_weekend_0_or_1",
                    "is_in_range",
                    {"column": "dropoff_is_weekend", "min_limit": 0, "max_limit": 1},
                ),
            ),
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
    scoring_expectations=REQUEST_RULES,
)
