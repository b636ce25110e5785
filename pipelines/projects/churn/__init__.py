"""The churn project: telco customers who leave within a month (binary classification),
from monthly feature snapshots looked up point in time by (customer_id, snapshot_time)."""

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
    all_finite,
    measured,
    one_of,
    present,
)

# The contract types a customer may have: the generator draws them, scoring expects them.
CONTRACTS = ("month-to-month", "one-year", "two-year")
# The model's inputs (the feature table's columns besides its key), by kind.
CATEGORICAL_INPUTS = ("contract", "payment_method", "internet_service")
NUMERIC_INPUTS = (
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "num_services",
    "support_calls",
    "support_calls_3m",
    "late_payments_3m",
    "data_usage_gb",
    "months_since_price_rise",
    "charge_change",
    "senior_citizen",
    "partner",
    "dependents",
    "paperless_billing",
    "online_security",
    "tech_support",
)

PROJECT = ModelProject(
    name="churn",
    title="Telco customer churn",
    problem_type=ProblemType.CLASSIFICATION,
    label="churned",
    tables=(
        TableRole(
            "customers",
            "customers",
            "input",
            "Customers and what they signed up for, keyed by customer_id",
            keys=("customer_id",),
        ),
        TableRole(
            "snapshots",
            "customer_snapshots",
            "input",
            "Monthly account snapshots (bill, usage, support calls); key (customer_id,"
            " snapshot_time)",
            keys=("customer_id", "snapshot_time"),
            timeseries_key="snapshot_time",
        ),
        TableRole(
            "labels",
            "churn_labels",
            "input",
            "Whether the customer left within the month after a snapshot, known a month"
            " later; key (customer_id, snapshot_time)",
            keys=("customer_id", "snapshot_time"),
            timeseries_key="snapshot_time",
        ),
        TableRole(
            "scoring_requests",
            "scoring_requests",
            "input",
            "Customers to score and when; key (customer_id, request_time)",
            keys=("customer_id", "request_time"),
        ),
        TableRole(
            "customer_features",
            "customer_features",
            "features",
            "Customer features per monthly snapshot; key (customer_id, snapshot_time),"
            " snapshot_time is the timestamp key.",
            keys=("customer_id", "snapshot_time"),
            timeseries_key="snapshot_time",
            # A snapshot of a customer missing from the customers table has no contract.
            expectations=(
                present("customer_id"),
                present("snapshot_time"),
                present("contract"),
                one_of("contract", CONTRACTS),
                all_finite("numeric_inputs_finite", NUMERIC_INPUTS),
            ),
        ),
        TableRole(
            "predictions",
            "churn_predictions",
            "predictions",
            "Inference table: requests, churn probability and class, model_version,"
            " timestamp, and the label once known.",
        ),
    ),
    monitoring=Monitoring(
        prediction_col="prediction",
        label_col="churned",
        numeric_columns=("probability", "tenure_months", "monthly_charges", "support_calls"),
        categorical_columns=("prediction", "churned", "contract", "payment_method"),
    ),
    lifecycle="pipelines.projects.churn.lifecycle:LIFECYCLE",
    drift_knobs={"price_increase": 0.0, "support_call_factor": 1.0, "competitor_offer": 0.0},
    # Monthly snapshots; the jobs run on the 2nd, when last month's labels have arrived.
    # Round 2: a competitor's offer and a price rise from September.
    demo=DemoScenario(
        start=dt.date(2016, 1, 1),
        size=3000,
        rounds=(
            DemoRound("a first model", dt.date(2016, 8, 2), dt.date(2016, 8, 2), score_days=32),
            DemoRound(
                "a price rise and a competitor's offer; monitoring and retraining",
                dt.date(2016, 11, 2),
                dt.date(2016, 11, 2),
                train=False,
                monitor=True,
                drift_start=dt.date(2016, 9, 1),
                drift={"price_increase": 0.12, "competitor_offer": 1.5},
            ),
        ),
    ),
    default_size=3000,
    size_unit="customers",
    requests_role="scoring_requests",
    scoring_expectations=(
        *measured("monthly_charges"),
        Expectation(
            "tenure_months_non_negative",
            "is_not_less_than",
            {"column": "tenure_months", "limit": 0},
        ),
        one_of("contract", CONTRACTS),
    ),
)
