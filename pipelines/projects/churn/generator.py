"""A deterministic generator of telco customers, their monthly snapshots and churn labels.

Three tables, all pure pandas (no I/O):

- customers: one row per customer, static attributes (contract, payment method, internet
  service, household flags and the services subscribed to).
- snapshots: one row per (customer_id, snapshot_time) for every customer active at the
  first instant of a month: tenure, the bill issued that day, charges to date, the number
  of services, and last month's support calls, late payments and data usage.
- labels: ``churned`` = 1 if the customer leaves in the month after ``snapshot_time``,
  known at ``label_time`` = ``snapshot_time`` + 1 month.

Conventions. ``customer_id`` is a string "C" + 7 digits ("C0000123"), numbered in order of
signup: a string cannot slip into a model's numeric features, where an increasing integer
would leak tenure. Times are naive UTC ``datetime64[us]`` (as the fare project's trips) and
every snapshot, label and signup time is the first instant of a month. Flags are ``bool``;
``churned`` is ``int64`` 0/1, the type a classifier's predicted class has, so a monitor can
compare the two.

Timeline of one month m (starting at the instant M): at M the bill for m is issued (with
any price rise) and the snapshot is taken; its support calls, late payment and data usage
are those of the month that just ended. The customer then leaves during m or not, with a
probability that depends on the snapshot (plus an unobserved dissatisfaction); customers
who signed up during m appear from the next snapshot on with tenure 1. Signups arrive at
about the base churn rate, plus a share of any gap to ``customers``, so the population stays
near ``customers`` (a drift that raises churn shrinks it, but only by so much).

Churn drivers (terms of the logit of the monthly churn probability; about 3% a month
overall). Most of the signal lies in thresholds and interactions rather than in any one
column, so a gradient-boosted tree model ranks customers far better than a linear one:

- month-to-month x bill above 70 x tenure up to 12 months: the strongest term; a high
  bill otherwise slightly lowers risk (those customers chose many services).
- contract x tenure: one- and two-year customers rarely leave except in the month their
  term ends (tenure a multiple of 12 or 24), when they are the riskiest of all;
  month-to-month customers are at risk in their first three months (onboarding) and again
  at months 12-14 (when signup promotions end, with their own price rise). Loyalty then
  lowers risk slowly: not monotonic, and different per contract.
- support calls in the last month: nothing up to 2, a step at 3, a sharp rise at 4 or more.
- fiber x electronic check: risky together; each alone slightly lowers risk.
- a price rise on this or last month's bill (random rises, a promotion ending, or drift),
  for month-to-month customers only.
- DSL customers using more than 150 GB a month (throttled lines).
- two or more late payments in the last three months; senior citizens living alone and
  paperless billing raise risk a little; partners, dependents, online security, tech
  support and more services lower it.
- an unobserved per-customer dissatisfaction that also raises support calls and late
  payments and lowers data usage, so those are partly proxies for it.

Drift (``ChurnDrift``): from ``start`` on, every active customer's price rises once by
``price_increase`` (and list prices for later signups) and support calls are multiplied by
``support_call_factor``: both shift the features, and churn rises through the drivers,
which a model trained before ``start`` has learned. ``competitor_offer`` is added to the
churn logit of every DSL customer (a rival's fiber launch, buying out contracts too): a
change no feature shows, so such a model's ROC AUC falls and it underestimates churn.

Determinism and pieces: every call simulates month by month from a fixed origin
(``ChurnShape.origin``, preceded by ``ChurnShape.warmup_months`` unreported months so that
tenures and price histories are settled) and returns the slice asked for. Each month draws
from its own generator seeded by (seed, month), so rows depend only on (seed, customers,
shape, drift) and the month, never on the range asked for: Jan..Jun at once equals Jan..Mar
then Apr..Jun. Re-simulating from the origin costs milliseconds at the demo's size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipelines.projects.churn import CONTRACTS

CUSTOMER_ID = "customer_id"
SNAPSHOT_TIME = "snapshot_time"
LABEL = "churned"
LABEL_TIME = "label_time"
KEY = (CUSTOMER_ID, SNAPSHOT_TIME)

PAYMENT_METHODS = ("electronic check", "mailed check", "bank transfer", "credit card")
INTERNET_SERVICES = ("fiber", "dsl", "none")
# Add-ons that need an internet service; phone lines do not.
INTERNET_ADD_ONS = (
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
)

# Column -> pandas dtype of each table, in column order, for declaring table schemas.
CUSTOMER_DTYPES: dict[str, str] = {
    CUSTOMER_ID: "string",
    "signup_month": "datetime64[us]",
    "contract": "string",
    "payment_method": "string",
    "internet_service": "string",
    "senior_citizen": "bool",
    "partner": "bool",
    "dependents": "bool",
    "paperless_billing": "bool",
    "phone_service": "bool",
    "multiple_lines": "bool",
    **dict.fromkeys(INTERNET_ADD_ONS, "bool"),
}
SNAPSHOT_DTYPES: dict[str, str] = {
    CUSTOMER_ID: "string",
    SNAPSHOT_TIME: "datetime64[us]",
    "tenure_months": "int32",
    "monthly_charges": "float64",
    "total_charges": "float64",
    "num_services": "int32",
    "support_calls": "int32",
    "late_payments_3m": "int32",
    "data_usage_gb": "float64",
    "months_since_price_rise": "int32",
}
LABEL_DTYPES: dict[str, str] = {
    CUSTOMER_ID: "string",
    SNAPSHOT_TIME: "datetime64[us]",
    LABEL: "int64",
    LABEL_TIME: "datetime64[us]",
}
CUSTOMER_COLUMNS = tuple(CUSTOMER_DTYPES)
SNAPSHOT_COLUMNS = tuple(SNAPSHOT_DTYPES)
LABEL_COLUMNS = tuple(LABEL_DTYPES)

_M2M, _ONE_YEAR, _TWO_YEAR = 0, 1, 2
_E_CHECK = 0  # the first of PAYMENT_METHODS
_NEVER = -(10**6)  # month index of a price rise that never happened
_FIBER, _DSL, _NO_INTERNET = 0, 1, 2


@dataclass(frozen=True)
class ChurnShape:
    """Parameters of the customer model; the defaults give about 3% monthly churn, a
    population that stays near its size, and drivers a tree model learns far better than a
    linear one."""

    # Snapshots exist from the month of ``origin`` on; the simulation starts
    # ``warmup_months`` earlier.
    origin: dt.date = dt.date(2016, 1, 1)
    warmup_months: int = 12
    # New customers a month, as a share of ``customers``; matches the churn rate.
    signup_rate: float = 0.03
    # Extra signups a month, as a share of the gap between ``customers`` and the book.
    refill_rate: float = 0.1
    # Logit of the monthly churn of a customer with no risk factor at all.
    base_churn_logit: float = -3.6
    # Spread of the unobserved dissatisfaction (a normal on the logit scale).
    dissatisfaction_sigma: float = 0.5
    # Monthly chance of a price rise for month-to-month customers; contracts lock prices,
    # so a third of it for them.
    price_rise_rate: float = 0.03
    # Share of signups on a promotion, its discount, and the tenure at which it ends.
    promo_share: float = 0.5
    promo_discount: float = 0.15
    promo_months: int = 12
    # Mean support calls a month for an average customer.
    support_call_rate: float = 0.6


@dataclass(frozen=True)
class ChurnDrift:
    """From the first snapshot at or after ``start``: prices rise once by
    ``price_increase`` (0.1 = 10%), support calls are multiplied by
    ``support_call_factor``, and ``competitor_offer`` is added to the churn logit of DSL
    customers (concept drift). The defaults mean no drift."""

    start: dt.date | None = None
    price_increase: float = 0.0
    support_call_factor: float = 1.0
    competitor_offer: float = 0.0

    def applies(self, day: dt.date) -> bool:
        return self.start is not None and day >= self.start


@dataclass(frozen=True)
class ChurnData:
    """The three tables for the snapshots in a range: ``customers`` holds every customer
    with a snapshot in it (once each), ``labels`` one row per snapshot, known or not."""

    customers: pd.DataFrame
    snapshots: pd.DataFrame
    labels: pd.DataFrame


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """First days of the months that begin in [start, end), in order."""
    first = _month_index(start) + (start.day != 1)
    last = _month_index(end) + (end.day != 1)  # exclusive
    return [_month_date(m) for m in range(first, last)]


def simulate(
    start: dt.date,
    end: dt.date,
    customers: int,
    seed: int = 7,
    drift: ChurnDrift | None = None,
    shape: ChurnShape | None = None,
) -> ChurnData:
    """Customers, snapshots and all labels for the snapshots taken in [start, end).

    The same arguments always give the same rows, and the rows of a month do not depend
    on ``start`` or ``end``: any split of a range gives the same snapshots and labels.
    ``seed`` is a non-negative int; ``customers`` the size the book hovers around. Raises
    ValueError for a range beginning before ``shape.origin``'s month or a
    non-positive ``customers``.
    """
    shape = shape or ChurnShape()
    drift = drift or ChurnDrift()
    if customers <= 0:
        raise ValueError(f"customers must be positive, got {customers}")
    if start < _month_date(_month_index(shape.origin)):
        raise ValueError(f"start {start} is before the origin month of {shape.origin}")
    months = [_month_index(d) for d in month_starts(start, end)]
    sim = _Simulation(customers, seed, drift, shape)
    snapshots: list[dict[str, np.ndarray]] = []
    outcomes: list[np.ndarray] = []
    if months:
        for month in range(sim.begin, months[-1] + 1):
            snapshot, churned = sim.step(month)
            if month >= months[0]:
                snapshots.append(snapshot)
                outcomes.append(churned)
    return _frames(sim, snapshots, outcomes)


def generate_customers(
    start: dt.date,
    end: dt.date,
    customers: int,
    seed: int = 7,
    drift: ChurnDrift | None = None,
    shape: ChurnShape | None = None,
) -> pd.DataFrame:
    """The customers with a snapshot in [start, end), once each, ordered by id."""
    return simulate(start, end, customers, seed, drift, shape).customers


def generate_snapshots(
    start: dt.date,
    end: dt.date,
    customers: int,
    seed: int = 7,
    drift: ChurnDrift | None = None,
    shape: ChurnShape | None = None,
) -> pd.DataFrame:
    """Snapshots taken in [start, end), ordered by (snapshot_time, customer_id); every
    customer active at a month's first instant has one that month."""
    return simulate(start, end, customers, seed, drift, shape).snapshots


def generate_labels(
    start: dt.date,
    end: dt.date,
    customers: int,
    known_by: dt.date | dt.datetime | pd.Timestamp,
    seed: int = 7,
    drift: ChurnDrift | None = None,
    shape: ChurnShape | None = None,
) -> pd.DataFrame:
    """Labels of the snapshots taken in [start, end) that are known by ``known_by``
    (label_time <= known_by)."""
    labels = simulate(start, end, customers, seed, drift, shape).labels
    return known_labels(labels, known_by)


def known_labels(
    labels: pd.DataFrame, known_by: dt.date | dt.datetime | pd.Timestamp
) -> pd.DataFrame:
    """The rows of a labels table whose label_time is at or before ``known_by`` (a date
    means its first instant; an aware time is converted to UTC)."""
    cutoff = pd.Timestamp(known_by)
    if cutoff.tzinfo is not None:
        cutoff = cutoff.tz_convert("UTC").tz_localize(None)
    return labels[labels[LABEL_TIME] <= cutoff].reset_index(drop=True)


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _month_date(month: int) -> dt.date:
    return dt.date(month // 12, month % 12 + 1, 1)


def _month_times(months: np.ndarray) -> np.ndarray:
    return (months - 1970 * 12).astype("datetime64[M]").astype("datetime64[us]")


# Monthly list prices: internet by type, phone, each add-on; streaming costs more.
_INTERNET_PRICE = np.array([50.0, 25.0, 0.0])
_PHONE_PRICE, _EXTRA_LINE_PRICE = 20.0, 5.0
_ADD_ON_PRICE = np.array([5.0, 5.0, 5.0, 5.0, 10.0, 10.0])
# Chance of a late payment a month by payment method; automatic payments are rarely late.
_LATE_RATE = np.array([0.12, 0.09, 0.03, 0.025])


@dataclass
class _Customers:
    """Everyone who ever signed up, indexed by position (id - 1): static attributes and
    the state the simulation carries from month to month."""

    signup: np.ndarray  # month index of signup
    contract: np.ndarray
    payment: np.ndarray
    internet: np.ndarray
    senior: np.ndarray
    partner: np.ndarray
    dependents: np.ndarray
    paperless: np.ndarray
    phone: np.ndarray
    lines: np.ndarray
    add_ons: np.ndarray  # (n, 6) bool, INTERNET_ADD_ONS order
    dissatisfaction: np.ndarray
    call_propensity: np.ndarray
    base_price: np.ndarray
    promo: np.ndarray
    last_rise: np.ndarray  # month index of the last price rise, _NEVER if none
    total: np.ndarray
    late_history: np.ndarray  # (n, 3): late payments in the last three months
    active: np.ndarray

    def extend(self, other: _Customers) -> None:
        for name in self.__dataclass_fields__:
            merged = np.concatenate([getattr(self, name), getattr(other, name)])
            setattr(self, name, merged)


@dataclass
class _Simulation:
    customers: int
    seed: int
    drift: ChurnDrift
    shape: ChurnShape
    book: _Customers = field(init=False)
    begin: int = field(init=False)
    price_factor: float = field(init=False, default=1.0)
    drifted: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.begin = _month_index(self.shape.origin) - self.shape.warmup_months
        rng = np.random.default_rng([self.seed, 0])
        # Tenures of the starting book: a loyal tail beside many recent customers, as in
        # a steady state where recent customers churn most; capped at six years.
        tenure = np.minimum(rng.geometric(1 / 28, size=self.customers), 72)
        tenure = np.sort(tenure)[::-1]  # oldest first, so ids follow signup order
        self.book = self._new_customers(rng, self.begin - tenure)
        # The promotions of older customers have ended, and their prices have crept up
        # since signup; their charges to date are roughly tenure times today's price.
        book = self.book
        ended = book.promo & (tenure >= self.shape.promo_months)
        book.promo[ended] = False
        book.base_price[ended] /= 1 - self.shape.promo_discount
        book.base_price *= 1 + 0.003 * tenure
        book.total = book.base_price * (tenure - 1) * 0.97

    def _new_customers(self, rng: np.random.Generator, signup: np.ndarray) -> _Customers:
        n = signup.size
        tenure = np.maximum(self.begin - signup, 0)  # 0 for a signup during the simulation
        # Long-standing customers are more often on contracts (month-to-month ones left).
        two_year = 0.12 + 0.35 * np.minimum(tenure, 72) / 72
        one_year = 0.22
        u = rng.random(n)
        contract = np.select([u < two_year, u < two_year + one_year], [_TWO_YEAR, _ONE_YEAR], _M2M)
        internet = rng.choice(3, size=n, p=[0.44, 0.34, 0.22])
        # Electronic check goes with month-to-month customers; the rest are spread evenly.
        e_check = np.where(contract == _M2M, 0.45, 0.18)
        u = rng.random(n)
        rest = (u - e_check) / (1 - e_check)
        payment = np.where(u < e_check, _E_CHECK, 1 + np.minimum((rest * 3).astype(int), 2))
        senior = rng.random(n) < 0.16
        partner = rng.random(n) < 0.48
        dependents = rng.random(n) < np.where(partner, 0.5, 0.08)
        paperless = rng.random(n) < np.where(internet == _FIBER, 0.72, 0.5)
        phone = (rng.random(n) < 0.9) | (internet == _NO_INTERNET)
        lines = phone & (rng.random(n) < 0.42)
        has_internet = internet != _NO_INTERNET
        take = np.array([0.33, 0.38, 0.38, 0.33, 0.4, 0.4])
        fiber_streams = np.array([1.0, 1.0, 1.0, 1.0, 1.35, 1.35])
        odds = take * np.where((internet == _FIBER)[:, None], fiber_streams, 1.0)
        add_ons = has_internet[:, None] & (rng.random((n, 6)) < odds)
        dissatisfaction = rng.normal(0.0, self.shape.dissatisfaction_sigma, size=n)
        # Some customers call far more than others (gamma: overdispersed counts); the
        # dissatisfied call more.
        call_propensity = rng.gamma(2.0, 0.5, size=n) * np.exp(0.5 * dissatisfaction)
        price = (
            _INTERNET_PRICE[internet]
            + _PHONE_PRICE * phone
            + _EXTRA_LINE_PRICE * lines
            + (add_ons * _ADD_ON_PRICE).sum(axis=1)
        )
        promo = rng.random(n) < self.shape.promo_share
        price = price * self.price_factor * rng.lognormal(0.0, 0.04, size=n)
        price = price * np.where(promo, 1 - self.shape.promo_discount, 1.0)
        return _Customers(
            signup=signup.astype(np.int64),
            contract=contract,
            payment=payment,
            internet=internet,
            senior=senior,
            partner=partner,
            dependents=dependents,
            paperless=paperless,
            phone=phone,
            lines=lines,
            add_ons=add_ons,
            dissatisfaction=dissatisfaction,
            call_propensity=call_propensity,
            base_price=price,
            promo=promo,
            last_rise=np.full(n, _NEVER),
            total=np.zeros(n),
            late_history=np.zeros((n, 3), dtype=np.int64),
            active=np.ones(n, dtype=bool),
        )

    def step(self, month: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Bill and snapshot at the first instant of ``month``, then draw who leaves
        during it and who signs up; returns the snapshot arrays and the churn outcomes."""
        shape, book = self.shape, self.book
        rng = np.random.default_rng([self.seed, 1, month])
        drifting = self.drift.applies(_month_date(month))
        idx = np.flatnonzero(book.active)
        n = idx.size
        tenure = month - book.signup[idx]
        contract, internet = book.contract[idx], book.internet[idx]
        m2m = contract == _M2M

        # Price events, on this month's bill (customers were told the month before).
        promo_ends = book.promo[idx] & (tenure >= shape.promo_months)
        book.promo[idx[promo_ends]] = False
        book.base_price[idx[promo_ends]] /= 1 - shape.promo_discount
        rise_rate = shape.price_rise_rate * np.where(m2m, 1.0, 1 / 3)
        rises = rng.random(n) < rise_rate
        book.base_price[idx] *= np.where(rises, 1 + rng.uniform(0.04, 0.12, size=n), 1.0)
        risen = promo_ends | rises
        if drifting and not self.drifted:
            self.drifted = True
            self.price_factor = 1 + self.drift.price_increase
            book.base_price[idx] *= self.price_factor
            risen |= self.drift.price_increase > 0
        book.last_rise[idx[risen]] = month
        since_rise = month - book.last_rise[idx]  # huge if never risen

        # Last month's activity.
        add_ons = book.add_ons[idx]
        tech_support = add_ons[:, 3]
        dissatisfaction = book.dissatisfaction[idx]
        calls_rate = (
            shape.support_call_rate
            * book.call_propensity[idx]
            * np.where(internet == _FIBER, 1.25, 1.0)
            * np.where((internet != _NO_INTERNET) & ~tech_support, 1.2, 1.0)
            * np.where(tenure <= 1, 1.8, 1.0)  # onboarding
            * np.where(since_rise == 0, 1.4, 1.0)  # rises are announced: "why?"
        )
        if drifting:
            calls_rate = calls_rate * self.drift.support_call_factor
        calls = rng.poisson(calls_rate)
        late_rate = _LATE_RATE[book.payment[idx]] * np.where(book.senior[idx], 1.3, 1.0)
        late_rate = np.minimum(late_rate * np.exp(0.4 * dissatisfaction), 0.5)
        late = rng.random(n) < late_rate
        book.late_history[idx] = np.column_stack([book.late_history[idx, 1:], late])
        late_3m = book.late_history[idx].sum(axis=1)
        streams = add_ons[:, 4:].sum(axis=1)
        usage_median = np.array([220.0, 70.0, 0.0])[internet] * (1 + 0.5 * streams)
        usage = usage_median * np.exp(-0.3 * dissatisfaction) * rng.lognormal(0, 0.35, n)

        # This month's bill: the plan price plus small extras (calls abroad, pay-per-view).
        charges = np.round(book.base_price[idx] * (1 + rng.gamma(1.0, 0.015, size=n)), 2)
        book.total[idx] += charges
        services = (
            book.phone[idx].astype(int)
            + book.lines[idx]
            + (internet != _NO_INTERNET)
            + add_ons.sum(axis=1)
        )
        snapshot = {
            "index": idx,
            "month": np.full(n, month),
            "tenure_months": tenure,
            "monthly_charges": charges,
            "total_charges": np.round(book.total[idx], 2),
            "num_services": services,
            "support_calls": calls,
            "late_payments_3m": late_3m,
            "data_usage_gb": np.round(usage, 1),
            # Since signup if the price never rose.
            "months_since_price_rise": np.minimum(since_rise, tenure),
            "_since_rise": since_rise,  # for the churn model only, not a column
        }

        logit = self._churn_logit(snapshot, dissatisfaction, drifting)
        churned = rng.random(n) < 1 / (1 + np.exp(-logit))
        book.active[idx[churned]] = False

        # Marketing makes up for part of any shortfall, so the book hovers near its size.
        shortfall = self.customers - (n - churned.sum())
        expected = shape.signup_rate * self.customers + shape.refill_rate * shortfall
        signups = rng.poisson(max(expected, 0.0))
        self.book.extend(self._new_customers(rng, np.full(signups, month)))
        return snapshot, churned

    def _churn_logit(
        self, s: dict[str, np.ndarray], dissatisfaction: np.ndarray, drifting: bool
    ) -> np.ndarray:
        book, idx = self.book, s["index"]
        tenure = s["tenure_months"]
        contract, internet = book.contract[idx], book.internet[idx]
        m2m = contract == _M2M
        add_ons = book.add_ons[idx]
        term_ends = ((contract == _ONE_YEAR) & (tenure % 12 == 0)) | (
            (contract == _TWO_YEAR) & (tenure % 24 == 0)
        )
        # Contracts matter less by themselves than through tenure and the bill: a contract
        # customer can only leave freely in the month the term ends; a month-to-month one
        # is at risk early on (onboarding) and when a promotion ends.
        contract_term = np.select(
            [m2m, term_ends, contract == _ONE_YEAR],
            [0.3 + 1.0 * (tenure <= 3) + 0.6 * ((tenure >= 12) & (tenure <= 14)), 2.0, -0.5],
            -1.0,
        )
        tenure_term = -0.4 * np.minimum(tenure, 60) / 60
        # A high bill drives away new month-to-month customers; others paying as much
        # have chosen many services and stay.
        high_bill = s["monthly_charges"] > 70
        bill_shock = np.where(high_bill, np.where(m2m & (tenure <= 12), 2.2, -0.4), 0.0)
        calls = s["support_calls"]
        calls_term = np.select([calls >= 4, calls == 3], [2.2, 0.6], 0.0)
        fiber, e_check = internet == _FIBER, book.payment[idx] == _E_CHECK
        fiber_e_check = np.where(fiber & e_check, 1.4, -0.3 * fiber - 0.3 * e_check)
        # Only month-to-month customers can walk out over a price rise.
        price_rise = 1.4 * (m2m & (s["_since_rise"] <= 1))
        # DSL lines are throttled above about 150 GB a month.
        throttled = 1.0 * ((internet == _DSL) & (s["data_usage_gb"] > 150))
        late = 0.6 * (s["late_payments_3m"] >= 2)
        household = (
            0.4 * (book.senior[idx] & ~book.partner[idx])
            - 0.2 * book.partner[idx]
            - 0.3 * book.dependents[idx]
            + 0.15 * book.paperless[idx]
        )
        services = -0.35 * add_ons[:, 0] - 0.35 * add_ons[:, 3] - 0.06 * s["num_services"]
        offer = self.drift.competitor_offer * (drifting & (internet == _DSL))
        return (
            self.shape.base_churn_logit
            + contract_term
            + tenure_term
            + bill_shock
            + calls_term
            + fiber_e_check
            + price_rise
            + throttled
            + late
            + household
            + services
            + dissatisfaction
            + offer
        )


def _customer_ids(index: np.ndarray) -> pd.Series:
    return pd.Series([f"C{i:07d}" for i in (index + 1).tolist()], dtype="string")


def _frames(
    sim: _Simulation, snapshots: list[dict[str, np.ndarray]], outcomes: list[np.ndarray]
) -> ChurnData:
    empty = {name: np.zeros(0, dtype=np.int64) for name in ("index", "month", *SNAPSHOT_DTYPES)}
    parts = snapshots or [empty]
    cols = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    churned = np.concatenate(outcomes) if outcomes else np.zeros(0, dtype=bool)
    ids = _customer_ids(cols["index"])
    times = _month_times(cols["month"])

    snapshot_frame = pd.DataFrame({CUSTOMER_ID: ids, SNAPSHOT_TIME: times})
    for name in SNAPSHOT_COLUMNS[2:]:
        snapshot_frame[name] = cols[name]
    snapshot_frame = snapshot_frame.astype(SNAPSHOT_DTYPES)

    labels = pd.DataFrame(
        {
            CUSTOMER_ID: ids,
            SNAPSHOT_TIME: times,
            LABEL: churned.astype(np.int64),
            LABEL_TIME: _month_times(cols["month"] + 1),
        }
    ).astype(LABEL_DTYPES)

    book = sim.book
    who = np.unique(cols["index"])
    customers = pd.DataFrame(
        {
            CUSTOMER_ID: _customer_ids(who),
            "signup_month": _month_times(book.signup[who]),
            "contract": np.asarray(CONTRACTS)[book.contract[who]],
            "payment_method": np.asarray(PAYMENT_METHODS)[book.payment[who]],
            "internet_service": np.asarray(INTERNET_SERVICES)[book.internet[who]],
            "senior_citizen": book.senior[who],
            "partner": book.partner[who],
            "dependents": book.dependents[who],
            "paperless_billing": book.paperless[who],
            "phone_service": book.phone[who],
            "multiple_lines": book.lines[who],
            **{name: book.add_ons[who, i] for i, name in enumerate(INTERNET_ADD_ONS)},
        }
    ).astype(CUSTOMER_DTYPES)
    return ChurnData(customers, snapshot_frame, labels)
