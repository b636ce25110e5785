"""The synthetic trips: deterministic, on contract, with the patterns of real NYC trips."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.projects.fare import schemas
from pipelines.projects.fare.generator import Drift, generate_trips
from tests.conftest import REAL_SAMPLE

START = dt.date(2016, 1, 1)

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Relative tolerance per quantile against the real sample. The middle of each
# distribution is matched closely; the tails get more room, since 500 real trips lie
# beyond a 5% tail and the real data has oddities (zero-distance trips, negative fares)
# the generator deliberately leaves out. Measured worst cases: 5%: duration +21%,
# distance -18%; 95%: fare per mile +14%; 25-75%: 6%.
QUANTILE_REL_TOL = {0.05: 0.25, 0.25: 0.10, 0.5: 0.10, 0.75: 0.10, 0.95: 0.20}
# Relative tolerance on the share of pickups in the busiest zip and the ten busiest zips
# (about 590 and 4,600 of the 10,000 real trips; measured gaps 3% and 2%).
ZIP_SHARE_REL_TOL = 0.15

# The pandas dtypes of the TRIPS contract.
SPARK_TO_PANDAS = {
    "bigint": "int64",
    "int": "int32",
    "double": "float64",
    "timestamp": "datetime64[us]",
}


def test_same_arguments_give_identical_trips() -> None:
    first = generate_trips(START, dt.date(2016, 1, 8), 300, seed=11)
    again = generate_trips(START, dt.date(2016, 1, 8), 300, seed=11)
    pd.testing.assert_frame_equal(first, again)
    other_seed = generate_trips(START, dt.date(2016, 1, 8), 300, seed=12)
    assert not other_seed["fare_amount"].equals(first["fare_amount"])


def test_a_range_split_in_two_equals_the_whole_range() -> None:
    whole = generate_trips(START, dt.date(2016, 1, 11), 200)
    split = pd.concat(
        [
            generate_trips(START, dt.date(2016, 1, 4), 200),
            generate_trips(dt.date(2016, 1, 4), dt.date(2016, 1, 11), 200),
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(whole, split)


def test_columns_and_dtypes_follow_the_trips_contract() -> None:
    trips = generate_trips(START, dt.date(2016, 1, 3), 100)
    expected = {f.name: SPARK_TO_PANDAS[f.dataType.simpleString()] for f in schemas.TRIPS}
    assert {c: str(t) for c, t in trips.dtypes.items()} == expected
    assert trips["trip_id"].is_unique
    assert trips[schemas.PICKUP_TIME].min() >= pd.Timestamp(START)
    assert trips[schemas.PICKUP_TIME].max() < pd.Timestamp(dt.date(2016, 1, 3))
    assert (trips[schemas.DROPOFF_TIME] > trips[schemas.PICKUP_TIME]).all()
    assert trips.notna().all().all()


def test_an_empty_range_gives_an_empty_frame_with_the_contract_columns() -> None:
    empty = generate_trips(START, START, 100)
    assert empty.empty
    assert list(empty.columns) == schemas.TRIPS.fieldNames()


def test_hour_and_weekday_patterns() -> None:
    # 2016-01-04 is a Monday: four whole weeks.
    trips = generate_trips(dt.date(2016, 1, 4), dt.date(2016, 2, 1), 1000)
    pickup = trips[schemas.PICKUP_TIME]
    weekend = pickup.dt.weekday >= 5
    hour = pickup.dt.hour
    weekday_hours = hour[~weekend].value_counts()
    weekend_hours = hour[weekend].value_counts(normalize=True)
    # Weekday evenings are several times busier than 4 am.
    assert weekday_hours[19] > 5 * weekday_hours[4]
    # Weekday mornings ramp up: 8 am is busier than 5 am.
    assert weekday_hours[8] > 3 * weekday_hours[5]
    # Weekend nights run late: 1 am holds a larger share of weekend trips than of weekday
    # trips.
    weekday_share = hour[~weekend].value_counts(normalize=True)
    assert weekend_hours[1] > 2 * weekday_share[1]
    # Fridays are busier than Mondays.
    per_weekday = pickup.dt.weekday.value_counts()
    assert per_weekday[4] > 1.15 * per_weekday[0]


def test_drift_raises_fares_from_its_start_date_by_about_the_factor() -> None:
    drift_start = dt.date(2016, 1, 8)
    end = dt.date(2016, 1, 15)
    base = generate_trips(START, end, 500)
    drifted = generate_trips(START, end, 500, drift=Drift(drift_start, fare_factor=1.3))
    before = base[schemas.PICKUP_TIME] < pd.Timestamp(drift_start)
    pd.testing.assert_frame_equal(drifted[before], base[before])
    ratio = drifted.loc[~before, "fare_amount"].mean() / base.loc[~before, "fare_amount"].mean()
    assert ratio == pytest.approx(1.3, rel=0.02)
    # Only fares drifted: distances are untouched.
    assert drifted["trip_distance"].equals(base["trip_distance"])


def test_distance_drift_scales_distances_from_its_start_date() -> None:
    drift_start = dt.date(2016, 1, 3)
    base = generate_trips(START, dt.date(2016, 1, 5), 500)
    drifted = generate_trips(
        START, dt.date(2016, 1, 5), 500, drift=Drift(drift_start, distance_factor=1.5)
    )
    after = base[schemas.PICKUP_TIME] >= pd.Timestamp(drift_start)
    ratio = drifted.loc[after, "trip_distance"].sum() / base.loc[after, "trip_distance"].sum()
    assert ratio == pytest.approx(1.5, rel=0.01)
    assert drifted.loc[~after, "trip_distance"].equals(base.loc[~after, "trip_distance"])


def _shape_figures(trips: pd.DataFrame) -> dict[str, np.ndarray]:
    moved = trips[trips["trip_distance"] > 0]
    minutes = (trips[schemas.DROPOFF_TIME] - trips[schemas.PICKUP_TIME]).dt.total_seconds() / 60
    return {
        "trip_distance": np.quantile(trips["trip_distance"], QUANTILES),
        "fare_amount": np.quantile(trips["fare_amount"], QUANTILES),
        "fare_per_mile": np.quantile(moved["fare_amount"] / moved["trip_distance"], QUANTILES),
        "duration_minutes": np.quantile(minutes, QUANTILES),
    }


def _zip_shares(trips: pd.DataFrame) -> dict[str, float]:
    shares = trips["pickup_zip"].value_counts(normalize=True)
    return {"top_1_zip_share": shares.iloc[0], "top_10_zip_share": shares.iloc[:10].sum()}


@pytest.fixture(scope="module")
def real_and_synthetic() -> tuple[pd.DataFrame, pd.DataFrame]:
    if not REAL_SAMPLE.exists():
        pytest.skip(f"real NYC taxi sample not found at {REAL_SAMPLE}")
    real = pd.read_parquet(REAL_SAMPLE)
    synthetic = generate_trips(START, START + dt.timedelta(days=60), 1000)
    return real, synthetic


def test_quantiles_match_the_real_sample(real_and_synthetic) -> None:
    real, synthetic = real_and_synthetic
    real_q, synthetic_q = _shape_figures(real), _shape_figures(synthetic)
    failures = []
    for column, expected in real_q.items():
        for q, want, got in zip(QUANTILES, expected, synthetic_q[column], strict=True):
            if abs(got / want - 1) > QUANTILE_REL_TOL[q]:
                failures.append(
                    f"{column} q{q:.2f}: synthetic {got:.3f} vs real {want:.3f}"
                    f" (tolerance {QUANTILE_REL_TOL[q]:.0%})"
                )
    assert not failures, "\n".join(failures)


def test_pickup_zip_concentration_matches_the_real_sample(real_and_synthetic) -> None:
    real, synthetic = real_and_synthetic
    real_shares, synthetic_shares = _zip_shares(real), _zip_shares(synthetic)
    for name, want in real_shares.items():
        assert synthetic_shares[name] == pytest.approx(want, rel=ZIP_SHARE_REL_TOL), name
    # The busiest real zips are the busiest synthetic ones too.
    real_top = set(real["pickup_zip"].value_counts().index[:10])
    synthetic_top = set(synthetic["pickup_zip"].value_counts().index[:10])
    assert len(real_top & synthetic_top) >= 7
