"""The synthetic telco customers: deterministic, consistent in pieces, on their declared
schemas, with realistic churn that a tree model learns far better than a linear one."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from pipelines.projects.churn import generator as g
from pipelines.projects.churn.generator import ChurnDrift, ChurnShape

JAN, APR, JUL, SEP = (dt.date(2016, m, 1) for m in (1, 4, 7, 9))
CUSTOMERS = 3000
DRIFT = ChurnDrift(start=APR, price_increase=0.1, support_call_factor=1.6, competitor_offer=1.0)


@pytest.fixture(scope="module")
def data() -> g.ChurnData:
    return g.simulate(JAN, SEP, CUSTOMERS)


def months_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later.dt.year - earlier.dt.year) * 12 + later.dt.month - earlier.dt.month


def test_same_arguments_give_identical_tables(data: g.ChurnData) -> None:
    again = g.simulate(JAN, SEP, CUSTOMERS)
    pd.testing.assert_frame_equal(data.customers, again.customers)
    pd.testing.assert_frame_equal(data.snapshots, again.snapshots)
    pd.testing.assert_frame_equal(data.labels, again.labels)
    other = g.simulate(JAN, SEP, CUSTOMERS, seed=8)
    assert not other.snapshots["monthly_charges"].equals(data.snapshots["monthly_charges"])


@pytest.mark.parametrize("drift", [None, DRIFT], ids=["no drift", "drift"])
def test_a_range_generated_in_pieces_equals_the_whole_range(drift: ChurnDrift | None) -> None:
    whole = g.simulate(JAN, JUL, CUSTOMERS, drift=drift)
    first, second = (
        g.simulate(JAN, APR, CUSTOMERS, drift=drift),
        g.simulate(APR, JUL, CUSTOMERS, drift=drift),
    )
    for table in ("snapshots", "labels"):
        joined = pd.concat([getattr(first, table), getattr(second, table)], ignore_index=True)
        pd.testing.assert_frame_equal(getattr(whole, table), joined)
    customers = pd.concat([first.customers, second.customers]).drop_duplicates(g.CUSTOMER_ID)
    pd.testing.assert_frame_equal(whole.customers, customers.reset_index(drop=True))
    # The convenience functions return the same slices.
    pd.testing.assert_frame_equal(
        g.generate_snapshots(APR, JUL, CUSTOMERS, drift=drift), second.snapshots
    )
    pd.testing.assert_frame_equal(
        g.generate_customers(APR, JUL, CUSTOMERS, drift=drift), second.customers
    )


def test_columns_and_dtypes_follow_the_declared_constants(data: g.ChurnData) -> None:
    empty = g.simulate(APR, APR, CUSTOMERS)
    for tables in (data, empty):
        for frame, dtypes in (
            (tables.customers, g.CUSTOMER_DTYPES),
            (tables.snapshots, g.SNAPSHOT_DTYPES),
            (tables.labels, g.LABEL_DTYPES),
        ):
            assert {c: str(t) for c, t in frame.dtypes.items()} == dtypes
    assert g.SNAPSHOT_COLUMNS[:2] == g.KEY == (g.CUSTOMER_ID, g.SNAPSHOT_TIME)
    assert len(empty.snapshots) == len(empty.labels) == len(empty.customers) == 0
    assert data.customers[g.CUSTOMER_ID].str.fullmatch(r"C\d{7}").all()
    assert set(data.customers["contract"]) == set(g.CONTRACTS)
    assert set(data.customers["payment_method"]) == set(g.PAYMENT_METHODS)
    assert set(data.customers["internet_service"]) == set(g.INTERNET_SERVICES)


def test_keys_are_unique_and_snapshots_fall_on_month_starts(data: g.ChurnData) -> None:
    snapshots, labels = data.snapshots, data.labels
    assert not snapshots.duplicated(list(g.KEY)).any()
    assert not data.customers[g.CUSTOMER_ID].duplicated().any()
    pd.testing.assert_frame_equal(snapshots[list(g.KEY)], labels[list(g.KEY)])
    times = snapshots[g.SNAPSHOT_TIME]
    assert sorted(times.unique()) == [pd.Timestamp(d) for d in g.month_starts(JAN, SEP)]
    assert (times == times.dt.to_period("M").dt.to_timestamp()).all()
    assert g.month_starts(dt.date(2016, 1, 15), dt.date(2016, 3, 2)) == [
        dt.date(2016, 2, 1),
        dt.date(2016, 3, 1),
    ]


def test_every_snapshot_is_of_an_active_customer(data: g.ChurnData) -> None:
    rows = data.snapshots.merge(data.labels, on=list(g.KEY)).merge(
        data.customers, on=g.CUSTOMER_ID, how="left", validate="many_to_one"
    )
    assert rows["signup_month"].notna().all()
    assert set(data.customers[g.CUSTOMER_ID]) == set(data.snapshots[g.CUSTOMER_ID])
    # Signed up before the snapshot, with tenure counted from the signup month.
    assert (rows["signup_month"] < rows[g.SNAPSHOT_TIME]).all()
    tenure = months_between(rows[g.SNAPSHOT_TIME], rows["signup_month"])
    assert (rows["tenure_months"] == tenure).all()
    # A customer appears every month until the month after which they churn, then never.
    rows = rows.sort_values(list(g.KEY))
    later = rows.groupby(g.CUSTOMER_ID)[g.SNAPSHOT_TIME].shift(-1)
    has_next = later.notna()
    assert (months_between(later[has_next], rows[g.SNAPSHOT_TIME][has_next]) == 1).all()
    assert (rows.loc[has_next, g.LABEL] == 0).all()
    last_month = rows[g.SNAPSHOT_TIME] == rows[g.SNAPSHOT_TIME].max()
    assert (rows.loc[~has_next & ~last_month, g.LABEL] == 1).all()
    # New customers join every month, and appear from the month after they sign up.
    first_seen = rows.groupby(g.CUSTOMER_ID)[g.SNAPSHOT_TIME].min()
    signup = data.customers.set_index(g.CUSTOMER_ID)["signup_month"]
    newcomers = first_seen[first_seen > first_seen.min()]
    assert (months_between(newcomers, signup[newcomers.index]) == 1).all()
    assert newcomers.value_counts().min() > 0.02 * CUSTOMERS
    # Charges accumulate: the total grows by this month's bill.
    total = rows.groupby(g.CUSTOMER_ID)["total_charges"].diff()
    step = total.notna()
    assert np.allclose(total[step], rows.loc[step, "monthly_charges"], atol=0.011)


def test_labels_arrive_one_month_later_and_only_known_ones_are_returned(
    data: g.ChurnData,
) -> None:
    labels = data.labels
    assert (labels[g.LABEL_TIME] == labels[g.SNAPSHOT_TIME] + pd.DateOffset(months=1)).all()
    assert set(labels[g.LABEL]) == {0, 1}

    known_by = dt.datetime(2016, 5, 17, 9, 30)
    known = g.generate_labels(JAN, SEP, CUSTOMERS, known_by)
    assert (known[g.LABEL_TIME] <= pd.Timestamp(known_by)).all()
    assert known[g.SNAPSHOT_TIME].max() == pd.Timestamp(2016, 4, 1)
    pd.testing.assert_frame_equal(known, labels[labels[g.LABEL_TIME] <= known_by])
    # A label is known from the first instant of the following month on, never before.
    assert len(g.known_labels(labels, pd.Timestamp(2016, 1, 31, 23, 59))) == 0
    january = g.known_labels(labels, dt.date(2016, 2, 1))
    assert set(january[g.SNAPSHOT_TIME]) == {pd.Timestamp(2016, 1, 1)}
    # An aware time is compared in UTC: 00:30 in Paris is still January in UTC.
    paris = pd.Timestamp(2016, 2, 1, 0, 30, tz="Europe/Paris")
    assert len(g.known_labels(labels, paris)) == 0
    assert len(g.known_labels(labels, paris.tz_convert("UTC") + pd.Timedelta(hours=1))) > 0


def test_monthly_churn_is_realistic_and_the_population_stable(data: g.ChurnData) -> None:
    monthly = data.labels.groupby(g.SNAPSHOT_TIME)[g.LABEL].mean()
    assert monthly.between(0.02, 0.045).all(), monthly
    assert 0.025 <= data.labels[g.LABEL].mean() <= 0.035
    active = data.snapshots.groupby(g.SNAPSHOT_TIME).size()
    assert active.between(0.93 * CUSTOMERS, 1.07 * CUSTOMERS).all(), active
    assert active.max() / active.min() < 1.05


def test_the_documented_drivers_show_in_the_data(data: g.ChurnData) -> None:
    rows = data.snapshots.merge(data.customers, on=g.CUSTOMER_ID).merge(data.labels, on=list(g.KEY))
    rate = rows[g.LABEL]
    calls = rows["support_calls"]
    assert rate[calls >= 4].mean() > 4 * rate[calls <= 2].mean()
    m2m = rows["contract"] == "month-to-month"
    shock = m2m & (rows["monthly_charges"] > 70) & (rows["tenure_months"] <= 12)
    assert rate[shock].mean() > 3 * rate[~shock].mean()
    fiber_check = (rows["internet_service"] == "fiber") & (
        rows["payment_method"] == "electronic check"
    )
    assert rate[fiber_check].mean() > 2 * rate[~fiber_check].mean()
    # Not monotonic in tenure: a bump when promotions end, above the months before it.
    tenure = rows["tenure_months"]
    assert rate[tenure.between(12, 14)].mean() > 1.5 * rate[tenure.between(6, 11)].mean()
    assert rate[tenure <= 3].mean() > rate[tenure.between(12, 14)].mean()


def test_drift_changes_nothing_before_start_and_raises_churn_after() -> None:
    base = g.simulate(JAN, SEP, CUSTOMERS)
    drifted = g.simulate(JAN, SEP, CUSTOMERS, drift=DRIFT)
    cutoff = pd.Timestamp(DRIFT.start)
    for table in ("snapshots", "labels"):
        before = [getattr(t, table) for t in (base, drifted)]
        before = [f[f[g.SNAPSHOT_TIME] < cutoff].reset_index(drop=True) for f in before]
        pd.testing.assert_frame_equal(*before)

    def after(tables: g.ChurnData, column: str, table: str = "snapshots") -> float:
        frame = getattr(tables, table)
        return float(frame.loc[frame[g.SNAPSHOT_TIME] >= cutoff, column].mean())

    assert after(drifted, "monthly_charges") > 1.07 * after(base, "monthly_charges")
    assert after(drifted, "support_calls") > 1.4 * after(base, "support_calls")
    assert after(drifted, g.LABEL, "labels") > 1.5 * after(base, g.LABEL, "labels")


def test_no_drift_knob_is_a_no_op() -> None:
    base = g.simulate(JAN, APR, CUSTOMERS)
    idle = g.simulate(JAN, APR, CUSTOMERS, drift=ChurnDrift(start=JAN))
    pd.testing.assert_frame_equal(base.snapshots, idle.snapshots)
    pd.testing.assert_frame_equal(base.labels, idle.labels)


CATEGORICAL = ["contract", "payment_method", "internet_service"]


def _features(data: g.ChurnData) -> pd.DataFrame:
    """Snapshots with their customer's attributes and their label."""
    return data.snapshots.merge(data.customers, on=g.CUSTOMER_ID).merge(data.labels, on=list(g.KEY))


def _model_inputs(rows: pd.DataFrame, categorical_dtype: object) -> pd.DataFrame:
    excluded = {*g.KEY, g.LABEL, g.LABEL_TIME, "signup_month", *CATEGORICAL}
    numeric = [c for c in rows.columns if c not in excluded]
    return rows[numeric + CATEGORICAL].astype(dict.fromkeys(CATEGORICAL, categorical_dtype))


def _trees() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)


def test_gradient_boosting_beats_logistic_regression_on_a_time_split() -> None:
    rows = _features(g.simulate(JAN, SEP, 6000, seed=11))
    train = rows[rows[g.SNAPSHOT_TIME] < pd.Timestamp(JUL)]
    test = rows[rows[g.SNAPSHOT_TIME] >= pd.Timestamp(JUL)]
    assert test[g.LABEL].sum() > 200  # enough positives for a stable AUC

    train_x, test_x = _model_inputs(train, object), _model_inputs(test, object)
    numeric = [c for c in train_x.columns if c not in CATEGORICAL]
    linear = make_pipeline(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ]
        ),
        LogisticRegression(max_iter=2000),
    )
    linear.fit(train_x, train[g.LABEL])
    linear_auc = roc_auc_score(test[g.LABEL], linear.predict_proba(test_x)[:, 1])

    trees = _trees().fit(_model_inputs(train, "category"), train[g.LABEL])
    tree_scores = trees.predict_proba(_model_inputs(test, "category"))[:, 1]
    tree_auc = roc_auc_score(test[g.LABEL], tree_scores)
    assert linear_auc > 0.65  # the linear model still learns something
    assert tree_auc >= linear_auc + 0.03, (linear_auc, tree_auc)


def test_a_competitor_offer_degrades_a_model_trained_before_it() -> None:
    offer = ChurnDrift(start=JUL, competitor_offer=2.0)
    base = _features(g.simulate(JAN, SEP, 6000, seed=11))
    drifted = _features(g.simulate(JAN, SEP, 6000, seed=11, drift=offer))
    before = base[base[g.SNAPSHOT_TIME] < pd.Timestamp(JUL)]
    trees = _trees().fit(_model_inputs(before, "category"), before[g.LABEL])

    def after(rows: pd.DataFrame) -> tuple[float, float, float]:
        rows = rows[rows[g.SNAPSHOT_TIME] >= pd.Timestamp(JUL)]
        scores = trees.predict_proba(_model_inputs(rows, "category"))[:, 1]
        return roc_auc_score(rows[g.LABEL], scores), scores.mean(), rows[g.LABEL].mean()

    base_auc, base_predicted, base_rate = after(base)
    drifted_auc, drifted_predicted, drifted_rate = after(drifted)
    assert drifted_auc < base_auc - 0.04, (base_auc, drifted_auc)
    # Calibrated before the offer, underestimating churn after it.
    assert abs(base_predicted - base_rate) < 0.3 * base_rate
    assert drifted_rate > 1.5 * drifted_predicted


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="before the origin"):
        g.simulate(dt.date(2015, 12, 1), JUL, CUSTOMERS)
    with pytest.raises(ValueError, match="customers"):
        g.simulate(JAN, JUL, 0)
    later = ChurnShape(origin=dt.date(2020, 3, 1))
    assert len(g.simulate(dt.date(2020, 3, 1), dt.date(2020, 4, 1), 500, shape=later).labels) > 0


def test_generation_is_fast_at_the_demo_size() -> None:
    started = time.perf_counter()
    data = g.simulate(JAN, SEP, 5000)
    assert time.perf_counter() - started < 2.0
    assert len(data.snapshots) > 8 * 4500
