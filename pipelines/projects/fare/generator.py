"""A deterministic generator of realistic NYC yellow-taxi trips.

Shapes follow the 2016 trips (checked against a real sample in the tests): log-normal
city trips plus a tail of airport runs, speeds that fall in rush hours, fares built like
the meter (flag drop + distance + slow-traffic time, JFK flat rate), skewed pickup zips,
and hour-of-day and weekday patterns. A drift knob changes fares and distances from a
date on, for monitoring to detect.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Busy Manhattan zips first, then the rest of the city; each zip is a fixed fraction as
# popular as the one before it (a geometric fall-off matches the real head and tail).
_CITY_ZIPS = (
    10001,
    10003,
    10011,
    10021,
    10018,
    10023,
    10028,
    10012,
    10110,
    10017,
    10016,
    10019,
    10022,
    10036,
    10024,
    10013,
    10014,
    10010,
    10065,
    10075,
    10025,
    10128,
    10002,
    10009,
    10020,
    10119,
    10199,
    10111,
    10103,
    10069,
    10007,
    10006,
    10004,
    10005,
    10038,
    10280,
    10282,
    10029,
    10026,
    10027,
    10030,
    10031,
    10032,
    10033,
    10034,
    10035,
    10037,
    10039,
    10040,
    10044,
    10162,
    10105,
    10106,
    10107,
    10153,
    10154,
    10155,
    10152,
    10167,
    10168,
    10169,
    10170,
    10171,
    10172,
    10173,
    10174,
    10177,
    10178,
    11201,
    11211,
    11215,
    11217,
    11222,
    11231,
    11238,
    11101,
    11102,
    11103,
    11104,
    11106,
    11109,
    11377,
    11354,
    11206,
    11205,
    11216,
    11221,
    11225,
    11226,
    11237,
    7002,
    7030,
    7310,
    10451,
    10452,
    10454,
    10455,
    10456,
    10461,
    10463,
)
LGA, JFK = 11371, 11430
AIRPORTS = (LGA, JFK)

# Share of pickups per hour of day (weekdays, weekends), from the 2016 pattern: a quiet
# early morning, a morning ramp, an evening peak; weekends shift late into the night.
_HOURS_WEEKDAY = np.array(
    [
        2.4,
        1.4,
        1.0,
        0.7,
        0.7,
        0.9,
        2.6,
        4.4,
        5.6,
        5.3,
        4.8,
        4.6,
        4.8,
        4.8,
        5.0,
        5.2,
        4.6,
        5.4,
        6.6,
        6.5,
        5.8,
        5.6,
        5.4,
        4.2,
    ]
)
_HOURS_WEEKEND = np.array(
    [
        5.8,
        5.0,
        4.2,
        3.0,
        2.2,
        1.4,
        1.0,
        1.4,
        2.2,
        3.2,
        4.2,
        4.8,
        5.3,
        5.3,
        5.1,
        5.1,
        4.8,
        5.0,
        5.6,
        5.3,
        5.0,
        5.2,
        5.6,
        5.4,
    ]
)
# Relative trip volume Monday..Sunday.
_WEEKDAY_VOLUME = np.array([0.88, 0.92, 0.97, 1.03, 1.12, 1.12, 0.96])


@dataclass(frozen=True)
class TripShape:
    """Parameters of the trip model; the defaults reproduce the 2016 marginals."""

    zip_popularity_decay: float = 0.94
    same_zip_share: float = 0.07
    airport_share: float = 0.06
    city_median_miles: float = 1.6
    city_log_sigma: float = 0.84
    flag_drop: float = 2.5
    per_mile: float = 2.25
    per_minute: float = 0.24
    fare_noise: float = 0.9
    jfk_flat_fare: float = 52.0


@dataclass(frozen=True)
class Drift:
    """From ``start`` on, fares are multiplied by ``fare_factor`` and distances by
    ``distance_factor`` (1.0 means no drift)."""

    start: dt.date | None = None
    fare_factor: float = 1.0
    distance_factor: float = 1.0

    def applies(self, day: dt.date) -> bool:
        return self.start is not None and day >= self.start


def _zip_weights(shape: TripShape) -> np.ndarray:
    weights = shape.zip_popularity_decay ** np.arange(len(_CITY_ZIPS))
    return weights / weights.sum()


def _day_trip_count(day: dt.date, trips_per_day: int) -> int:
    return round(trips_per_day * _WEEKDAY_VOLUME[day.weekday()] / _WEEKDAY_VOLUME.mean())


def _speed_mph(hours: np.ndarray, weekend: bool, rng: np.random.Generator) -> np.ndarray:
    rush = ((hours >= 8) & (hours <= 10)) | ((hours >= 15) & (hours <= 19))
    night = (hours <= 5) | (hours >= 22)
    base = np.where(night, 15.0, np.where(rush & (not weekend), 8.5, 10.5))
    return base * rng.lognormal(0.0, 0.28, size=hours.size)


def generate_day(
    day: dt.date,
    trips_per_day: int,
    seed: int = 7,
    drift: Drift | None = None,
    shape: TripShape | None = None,
) -> pd.DataFrame:
    """Trips picked up on ``day``; the same arguments always give the same rows."""
    shape = shape or TripShape()
    drift = drift or Drift()
    rng = np.random.default_rng([seed, day.toordinal()])
    n = _day_trip_count(day, trips_per_day)
    weekend = day.weekday() >= 5

    hour_profile = _HOURS_WEEKEND if weekend else _HOURS_WEEKDAY
    hours = rng.choice(24, size=n, p=hour_profile / hour_profile.sum())
    seconds = hours * 3600 + rng.integers(0, 3600, size=n)

    zip_weights = _zip_weights(shape)
    pickup = np.asarray(_CITY_ZIPS)[rng.choice(len(_CITY_ZIPS), size=n, p=zip_weights)]
    dropoff = np.asarray(_CITY_ZIPS)[rng.choice(len(_CITY_ZIPS), size=n, p=zip_weights)]
    same = rng.random(n) < shape.same_zip_share
    dropoff = np.where(same, pickup, dropoff)

    airport_trip = rng.random(n) < shape.airport_share
    to_airport = rng.random(n) < 0.5
    airport = np.where(rng.random(n) < 0.55, LGA, JFK)
    pickup = np.where(airport_trip & ~to_airport, airport, pickup)
    dropoff = np.where(airport_trip & to_airport, airport, dropoff)

    city_miles = rng.lognormal(np.log(shape.city_median_miles), shape.city_log_sigma, size=n)
    airport_miles = np.where(airport == JFK, 17.0, 9.5) * rng.lognormal(0.0, 0.15, size=n)
    miles = np.clip(np.where(airport_trip, airport_miles, city_miles), 0.1, 60.0)
    if drift.applies(day):
        miles = miles * drift.distance_factor
    miles = np.round(miles, 2)

    # Long trips use avenues and highways: speed grows with distance; airport runs
    # are mostly highway.
    speed = _speed_mph(hours, weekend, rng) * (miles / shape.city_median_miles) ** 0.25
    speed = speed * np.where(airport_trip, 1.5, 1.0)
    minutes = miles / speed * 60.0 + rng.exponential(1.0, size=n)
    fare = (
        shape.flag_drop
        + shape.per_mile * miles
        + shape.per_minute * minutes
        + rng.normal(0.0, shape.fare_noise, size=n)
    )
    jfk_flat = airport_trip & (airport == JFK)
    fare = np.where(jfk_flat, shape.jfk_flat_fare, fare)
    if drift.applies(day):
        fare = fare * drift.fare_factor
    fare = np.maximum(np.round(fare * 2) / 2, shape.flag_drop)

    midnight = pd.Timestamp(day)
    pickup_time = midnight + pd.to_timedelta(seconds, unit="s")
    dropoff_time = pickup_time + pd.to_timedelta(np.round(minutes * 60), unit="s")
    order = np.argsort(seconds, kind="stable")
    day_key = int(day.strftime("%Y%m%d")) * 1_000_000
    return pd.DataFrame(
        {
            "trip_id": (day_key + np.arange(n)).astype("int64"),
            "tpep_pickup_datetime": pickup_time[order].astype("datetime64[us]"),
            "tpep_dropoff_datetime": dropoff_time[order].astype("datetime64[us]"),
            "trip_distance": miles[order].astype("float64"),
            "fare_amount": fare[order].astype("float64"),
            "pickup_zip": pickup[order].astype("int32"),
            "dropoff_zip": dropoff[order].astype("int32"),
        }
    )


def generate_trips(
    start: dt.date,
    end: dt.date,
    trips_per_day: int,
    seed: int = 7,
    drift: Drift | None = None,
    shape: TripShape | None = None,
) -> pd.DataFrame:
    """Trips picked up in [start, end); each day is generated independently of the others,
    so any split of a range into sub-ranges gives the same rows."""
    days = [start + dt.timedelta(days=i) for i in range((end - start).days)]
    frames = [generate_day(d, trips_per_day, seed, drift, shape) for d in days]
    if not frames:
        return generate_day(start, 0, seed, drift, shape).iloc[0:0]
    return pd.concat(frames, ignore_index=True)
