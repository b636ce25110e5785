"""Lakehouse-Monitoring metrics on local Spark (the pipelines' code) against the same metrics
computed with DuckDB + NumPy/SciPy.

Generates 30 days x 50,000 inference rows (two model versions, nulls, NaN and infinities,
drift in the last 10 days) and a 50,000-row baseline, writes both once to parquet, then
computes the profile and drift metrics (consecutive and baseline) of every daily window,
side by side in one run:

- spark (pipelines): ``pipelines.monitoring.metrics.compute_metrics`` on the two files read
  by the local session, both metric frames collected to the driver;
- duckdb + numpy (reference): counts, moments, exact quantiles, distinct counts and the
  regression metrics in one DuckDB ``GROUPING SETS`` query; value counts of the categorical
  columns in another; the finite numeric values fetched sorted from DuckDB, and KS
  statistics and PSI from them with NumPy (``np.searchsorted``, as ``scipy.stats.ks_2samp``
  does); p-values, Jensen-Shannon distances and chi-square tests with the same SciPy calls.

The warm-up results are compared row by row: the same keys, counts equal, every float
within a relative or absolute 1e-9.

Target: spark (pipelines) at most 3x the reference (median wall of 3 runs after a warm-up).

    .venv/bin/python -m bench.monitoring_metrics
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import SparkSession
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, kstwo

from bench.common import print_machine, print_series, run_interleaved, temp_runtime
from pipelines.common.spark import get_spark
from pipelines.common.tables import check_schema
from pipelines.monitoring.metrics import (
    ALL_MODELS,
    BASELINE,
    CONSECUTIVE,
    GRANULARITIES,
    INFERENCE_SPEC,
    PSI_BINS,
    PSI_FLOOR,
    QUANTILES,
    TABLE_COLUMN,
    compute_metrics,
)
from pipelines.projects.fare.schemas import INFERENCE

TARGET_RATIO = 3.0
TOLERANCE = 1e-9
PACKAGES = ("pyspark", "duckdb", "numpy", "scipy", "pandas", "pyarrow")
SPEC = INFERENCE_SPEC
_MICROS_PER_SECOND = 1_000_000

# A result: (table, window start in microseconds, model id, column, drift type) -> metrics.
Key = tuple[str, int, str, str, str]
Results = dict[Key, dict[str, Any]]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.monitoring_metrics", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--days", type=int, default=30, help="days of inference rows")
    parser.add_argument("--rows-per-day", type=int, default=50_000)
    parser.add_argument("--drift-days", type=int, default=10, help="last days with drift")
    parser.add_argument("--baseline-rows", type=int, default=50_000)
    parser.add_argument("--start-date", type=dt.date.fromisoformat, default=dt.date(2016, 1, 1))
    parser.add_argument("--granularity", choices=tuple(GRANULARITIES), default="1 day")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side")
    parser.add_argument("--seed", type=int, default=20160101)
    return parser.parse_args(argv)


# --- Data ---------------------------------------------------------------------------------


def inference_rows(
    rng: np.random.Generator,
    start: dt.date,
    days: int,
    per_day: int,
    drift_days: int,
    first_id: int = 0,
) -> pa.Table:
    """Scored trips with the inference table's columns, deterministic for a seed.

    Distances (2 decimals) and fares (whole half-dollars) have many ties, predictions none.
    Version "2" serves 30% of the traffic from the second third of the range on. In the
    last ``drift_days`` days trips are 30% longer and drop-offs favour other zips. About
    10% of labels are still NULL and 0.1% NaN; 1% of distances are NULL; 0.05% of
    predictions are NaN and 0.02% infinite."""
    n = days * per_day
    day = np.repeat(np.arange(days), per_day)
    drifted = day >= days - drift_days
    base_us = int(dt.datetime.combine(start, dt.time(), tzinfo=dt.UTC).timestamp()) * 10**6
    pickup_us = base_us + day * 86_400 * 10**6 + rng.integers(0, 86_400 * 10**6, n)
    minutes = rng.gamma(3.0, 4.0, n)
    dropoff_us = pickup_us + (minutes * 60 * 10**6).astype(np.int64)
    zips = np.arange(10001, 10201, dtype=np.int32)
    weights = 1.0 / np.arange(1, len(zips) + 1)
    pickup_zip = rng.choice(zips, n, p=weights / weights.sum())
    shifted = np.roll(weights, 40)
    dropoff_zip = np.where(
        drifted,
        rng.choice(zips, n, p=shifted / shifted.sum()),
        rng.choice(zips, n, p=weights / weights.sum()),
    ).astype(np.int32)
    distance = np.round(rng.lognormal(np.log(2.0), 0.7, n) * np.where(drifted, 1.3, 1.0), 2)
    fare = np.round((3.0 + 2.5 * distance + rng.normal(0, 1.5, n)).clip(2.5) * 2) / 2
    version_two = (day >= days // 3) & (rng.random(n) < 0.3)
    prediction = 3.2 + 2.45 * distance + np.where(version_two, 0.1, 0.0) + rng.normal(0, 1.0, n)
    noise = rng.random(n)
    prediction[noise < 0.0005] = np.nan
    prediction[(noise >= 0.0005) & (noise < 0.0006)] = np.inf
    prediction[(noise >= 0.0006) & (noise < 0.0007)] = -np.inf
    fare[(noise >= 0.001) & (noise < 0.002)] = np.nan
    label_missing = rng.random(n) < 0.1
    distance_missing = rng.random(n) < 0.01

    def micros(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.timestamp("us", tz="UTC"))

    return pa.table(
        {
            "trip_id": pa.array(np.arange(first_id, first_id + n), pa.int64()),
            "tpep_pickup_datetime": micros(pickup_us),
            "tpep_dropoff_datetime": micros(dropoff_us),
            "trip_distance": pa.array(distance, mask=distance_missing),
            "pickup_zip": pa.array(pickup_zip, pa.int32()),
            "dropoff_zip": pa.array(dropoff_zip, pa.int32()),
            "prediction": pa.array(prediction),
            "model_version": pa.array(np.where(version_two, "2", "1")),
            "timestamp": micros(pickup_us),
            "scored_at": micros(pickup_us + 3600 * 10**6),
            "fare_amount": pa.array(fare, mask=label_missing),
        }
    )


# --- Spark side ---------------------------------------------------------------------------


def _us(moment: dt.datetime) -> int:
    """Microseconds since the epoch of a collected timestamp (PySpark returns naive local
    times, which ``timestamp()`` reads back as local)."""
    return int(moment.replace(microsecond=0).timestamp()) * _MICROS_PER_SECOND + moment.microsecond


def spark_results(profile: list[Any], drift: list[Any]) -> Results:
    results: Results = {}
    for row in profile:
        r = row.asDict()
        key = ("profile", _us(r["window"]["start"]), r["model_id"], r["column_name"], "")
        results[key] = {k: v for k, v in r.items() if k not in _KEY_FIELDS}
    for row in drift:
        r = row.asDict(recursive=True)
        key = (
            "drift",
            _us(r["window"]["start"]),
            r["model_id"],
            r["column_name"],
            r["drift_type"],
        )
        values = {k: v for k, v in r.items() if k not in _KEY_FIELDS and k != "drift_type"}
        for name in ("ks_test", "chi_squared_test"):
            test = values.pop(name) or {}
            values[f"{name}.statistic"] = test.get("statistic")
            values[f"{name}.pvalue"] = test.get("pvalue")
        cmp = values.pop("window_cmp")
        values["window_cmp.start"] = _us(cmp["start"]) if cmp["start"] else None
        values["window_cmp.end"] = _us(cmp["end"]) if cmp["end"] else None
        results[key] = values
    return results


_KEY_FIELDS = {
    "window", "granularity", "model_id", "log_type", "slice_key", "slice_value",
    "column_name", "data_type",
}  # fmt: skip


def spark_side(
    spark: SparkSession, rows_path: Path, baseline_path: Path, granularity: str, out: dict
) -> Callable[[int], None]:
    def run(index: int) -> None:
        rows = spark.read.parquet(rows_path.as_uri())
        baseline = spark.read.parquet(baseline_path.as_uri())
        frames = compute_metrics(rows, SPEC, granularity, baseline)
        profile, drift = frames.profile.collect(), frames.drift.collect()
        if index == 0:
            out["spark"] = spark_results(profile, drift)

    return run


# --- Reference: DuckDB + NumPy/SciPy ------------------------------------------------------


def _finite(x: str) -> str:
    return f"isfinite({x})"


def _stats_sql(source: str, step_us: int | None) -> str:
    """Per (window, model) and per window (``g`` = 1): what the profile needs, in one
    query; the whole table as one group when ``step_us`` is None (the baseline)."""
    y, p = SPEC.label_col, SPEC.prediction_col
    labelled = f"isfinite({y}) AND isfinite({p})"
    cols = [
        "count(*) AS rows",
        "epoch_us(min(timestamp)) AS ts_min",
        "epoch_us(max(timestamp)) AS ts_max",
        f"count(*) FILTER ({labelled}) AS n_labelled",
        f"avg(({y} - {p}) ** 2) FILTER ({labelled}) AS mse",
        f"avg(abs({y} - {p})) FILTER ({labelled}) AS mae",
        f"avg(abs(({y} - {p}) / {y})) FILTER ({labelled} AND {y} <> 0) AS mape",
        f"sum(({y} - {p}) ** 2) FILTER ({labelled}) AS sse",
        f"var_pop({y}) FILTER ({labelled}) AS label_var",
    ]
    for c in SPEC.numeric_columns:
        cols += [
            f'count({c}) AS "{c}.count"',
            f'count(*) FILTER (isnan({c})) AS "{c}.num_nan"',
            f"count(*) FILTER ({c} = 'inf'::DOUBLE) AS \"{c}.num_pinf\"",
            f"count(*) FILTER ({c} = '-inf'::DOUBLE) AS \"{c}.num_ninf\"",
            f'avg({c}) FILTER ({_finite(c)}) AS "{c}.avg"',
            f'stddev_samp({c}) FILTER ({_finite(c)}) AS "{c}.stddev"',
            f'min({c}) FILTER ({_finite(c)}) AS "{c}.min"',
            f'max({c}) FILTER ({_finite(c)}) AS "{c}.max"',
        ]
    cols += [f'count({c}) AS "{c}.count"' for c in SPEC.categorical_columns]
    if step_us is None:
        return f"SELECT NULL AS w, NULL AS m, 1 AS g, {', '.join(cols)} FROM {source}"
    return f"""
        SELECT epoch_us(timestamp) // {step_us} * {step_us} AS w,
               model_version AS m, grouping(model_version) AS g, {", ".join(cols)}
        FROM {source} GROUP BY GROUPING SETS ((w, model_version), (w))"""


def _sorted_values(
    con: duckdb.DuckDBPyConnection, source: str, step_us: int | None, versions: list[str]
) -> dict[tuple[int, int, int], np.ndarray]:
    """Finite values of each numeric column, sorted by DuckDB, per (column, window, model
    index): 0 is every model, k + 1 is versions[k]; the window is 0 without ``step_us``."""
    listed = "[" + ", ".join(f"'{v}'" for v in versions) + "]"
    window = "0" if step_us is None else f"epoch_us(timestamp) // {step_us} * {step_us}"
    unions = " UNION ALL ".join(
        f"SELECT {i} AS c, w, m, {c} AS x FROM src WHERE isfinite({c})"
        for i, c in enumerate(SPEC.numeric_columns)
    )
    got = con.execute(
        f"""WITH src AS (
                SELECT {window} AS w,
                       coalesce(list_position({listed}, model_version), 0) AS m, *
                FROM {source})
            SELECT c, w, m, x FROM ({unions}) ORDER BY c, w, x"""
    ).fetchnumpy()
    keys = np.stack([got["c"], got["w"]], axis=1).astype(np.int64)
    models = np.asarray(got["m"])
    xs = np.asarray(got["x"], dtype=float)
    starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]).any(axis=1)])
    ends = np.r_[starts[1:], len(keys)]
    values: dict[tuple[int, int, int], np.ndarray] = {}
    for s, e in zip(starts, ends, strict=True):
        c, w = (int(v) for v in keys[s])
        values[(c, w, 0)] = xs[s:e]
        for k in range(1, len(versions) + 1):
            mine = xs[s:e][models[s:e] == k]
            if len(mine):
                values[(c, w, k)] = mine
    return values


def _quantiles(x: np.ndarray) -> list[float]:
    """Linear interpolation between order statistics of a sorted sample."""
    result = []
    for q in QUANTILES:
        position = (len(x) - 1) * q
        lower = math.floor(position)
        higher = min(lower + 1, len(x) - 1)
        result.append(float(x[lower] + (x[higher] - x[lower]) * (position - lower)))
    return result


def _ks(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """scipy.stats.ks_2samp(a, b, method="asymp") on already sorted samples."""
    both = np.concatenate([a, b])
    diffs = np.searchsorted(a, both, side="right") / len(a) - np.searchsorted(
        b, both, side="right"
    ) / len(b)
    statistic = max(float(np.clip(-diffs.min(), 0, 1)), float(diffs.max()))
    m, n = sorted((float(len(a)), float(len(b))), reverse=True)
    return statistic, float(np.clip(kstwo.sf(statistic, np.round(m * n / (m + n))), 0, 1))


def _psi(cur: np.ndarray, ref: np.ndarray) -> float:
    """Edges: the ceil(j n / 10)-th smallest reference values; bins right-closed."""
    n = len(ref)
    edges = ref[[(j * n + PSI_BINS - 1) // PSI_BINS - 1 for j in range(1, PSI_BINS)]]
    le_cur = np.r_[0, np.searchsorted(cur, edges, side="right"), len(cur)]
    le_ref = np.r_[0, np.searchsorted(ref, edges, side="right"), n]
    c = np.maximum(np.diff(le_cur) / len(cur), PSI_FLOOR)
    r = np.maximum(np.diff(le_ref) / n, PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def reference_results(
    con: duckdb.DuckDBPyConnection, rows_path: Path, baseline_path: Path, granularity: str
) -> Results:
    step = GRANULARITIES[granularity] // dt.timedelta(microseconds=1)
    rows_src, base_src = f"read_parquet('{rows_path}')", f"read_parquet('{baseline_path}')"
    stats = con.execute(_stats_sql(rows_src, step)).df()
    base = con.execute(_stats_sql(base_src, None)).df()
    versions = sorted(v for v in stats["m"].dropna().unique())
    model_ids = {0: ALL_MODELS, **{k + 1: v for k, v in enumerate(versions)}}
    index = {v: k for k, v in model_ids.items()}
    groups: dict[tuple[int, int], dict[str, Any]] = {}
    for r in stats.to_dict("records"):
        if r["g"] == 1:
            groups[(int(r["w"]), 0)] = r
        elif isinstance(r["m"], str):
            groups[(int(r["w"]), index[r["m"]])] = r
    base_row = base.to_dict("records")[0]

    values = _sorted_values(con, rows_src, step, versions)
    base_values = {
        i: np.sort(con.execute(f"SELECT {c} FROM {base_src} WHERE isfinite({c})").fetchnumpy()[c])
        for i, c in enumerate(SPEC.numeric_columns)
    }
    counts = con.execute(
        " UNION ALL ".join(
            f"""SELECT {j} AS c, epoch_us(timestamp) // {step} * {step} AS w,
                       coalesce(list_position({versions!r}, model_version), 0) AS m,
                       {c}::BIGINT AS v, count(*) AS n
                FROM {rows_src} WHERE {c} IS NOT NULL GROUP BY ALL
                UNION ALL
                SELECT {j}, NULL, -1, {c}::BIGINT, count(*) FROM {base_src}
                WHERE {c} IS NOT NULL GROUP BY ALL"""
            for j, c in enumerate(SPEC.categorical_columns)
        )
    ).df()
    tables: dict[tuple[int, Any, int], pd.Series] = {}
    for (c, w), part in counts.groupby(["c", "w"], dropna=False):
        w_key = None if pd.isna(w) else int(w)
        tables[(int(c), w_key, 0)] = part.groupby("v")["n"].sum()
        for m, sub in part.groupby("m"):
            if m > 0:
                tables[(int(c), w_key, int(m))] = sub.set_index("v")["n"]

    results: Results = {}
    for (w, m), r in sorted(groups.items()):
        model_id = model_ids[m]
        rows = int(r["rows"])
        n_l = int(r["n_labelled"])
        sst = None if n_l == 0 else r["label_var"] * n_l
        r2 = None
        if n_l >= 2:
            r2 = (1.0 if r["sse"] == 0 else 0.0) if sst == 0 else 1 - r["sse"] / sst
        results[("profile", w, model_id, TABLE_COLUMN, "")] = {
            "count": rows,
            "mean_squared_error": r["mse"] if n_l else None,
            "root_mean_squared_error": math.sqrt(r["mse"]) if n_l else None,
            "mean_absolute_error": r["mae"] if n_l else None,
            "mean_absolute_percentage_error": r["mape"],
            "r2_score": r2,
        }
        for c in SPEC.profiled:
            count = int(r[f"{c}.count"])
            entry = {
                "count": count,
                "num_nulls": rows - count,
                "percent_null": 100.0 * (rows - count) / rows,
            }
            if c in SPEC.numeric_columns:
                x = values.get((SPEC.numeric_columns.index(c), w, m), np.zeros(0))
                quantiles = _quantiles(x) if len(x) else None
                special = [int(r[f"{c}.num_{s}"]) for s in ("nan", "pinf", "ninf")]
                distinct = (1 + int(np.count_nonzero(np.diff(x)))) if len(x) else 0
                entry.update(
                    {
                        "distinct_count": distinct + sum(n > 0 for n in special),
                        "num_nan": special[0],
                        "num_inf": special[1] + special[2],
                        "avg": r[f"{c}.avg"],
                        "stddev": r[f"{c}.stddev"],
                        "min": r[f"{c}.min"],
                        "max": r[f"{c}.max"],
                        "quantiles": quantiles,
                        "median": None if quantiles is None else quantiles[QUANTILES.index(0.5)],
                    }
                )
            else:
                table = tables.get((SPEC.categorical_columns.index(c), w, m))
                entry["distinct_count"] = 0 if table is None else len(table)
            results[("profile", w, model_id, c, "")] = entry

        comparisons = []
        if (w - step, m) in groups:
            comparisons.append((CONSECUTIVE, groups[(w - step, m)], w - step, m))
        comparisons.append((BASELINE, base_row, None, 0))
        for drift_type, ref, ref_w, ref_m in comparisons:
            if drift_type == CONSECUTIVE:
                window_cmp = (ref_w, ref_w + step)
            else:
                window_cmp = (int(base_row["ts_min"]), int(base_row["ts_max"]))
            for kind, names in (("n", SPEC.numeric_columns), ("k", SPEC.categorical_columns)):
                for i, c in enumerate(names):
                    entry = {
                        "window_cmp.start": window_cmp[0],
                        "window_cmp.end": window_cmp[1],
                        "count_delta": float(r[f"{c}.count"] - ref[f"{c}.count"]),
                        "percent_null_delta": 100.0 * (rows - r[f"{c}.count"]) / rows
                        - 100.0 * (ref["rows"] - ref[f"{c}.count"]) / ref["rows"],
                    }
                    if kind == "n":
                        a = values.get((i, w, m), np.zeros(0))
                        b = (
                            base_values[i]
                            if ref_w is None
                            else values.get((i, ref_w, ref_m), np.zeros(0))
                        )
                        ks = _ks(a, b) if len(a) and len(b) else (None, None)
                        entry.update(
                            {
                                "avg_delta": r[f"{c}.avg"] - ref[f"{c}.avg"],
                                "ks_test.statistic": ks[0],
                                "ks_test.pvalue": ks[1],
                                "population_stability_index": (
                                    _psi(a, b) if len(a) and len(b) else None
                                ),
                            }
                        )
                    else:
                        cur = tables.get((i, w, m))
                        old = tables.get((i, ref_w, ref_m))
                        both = pd.concat([cur, old], axis=1).fillna(0).to_numpy(dtype=float)
                        test = chi2_contingency(both.T, correction=False)
                        entry.update(
                            {
                                "js_distance": float(jensenshannon(both[:, 0], both[:, 1], base=2)),
                                "chi_squared_test.statistic": float(test.statistic),
                                "chi_squared_test.pvalue": float(test.pvalue),
                            }
                        )
                    results[("drift", w, model_ids[m], c, drift_type)] = entry
    return results


def reference_side(
    con: duckdb.DuckDBPyConnection,
    rows_path: Path,
    baseline_path: Path,
    granularity: str,
    out: dict,
) -> Callable[[int], None]:
    def run(index: int) -> None:
        results = reference_results(con, rows_path, baseline_path, granularity)
        if index == 0:
            out["reference"] = results

    return run


# --- Comparison ---------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return (a is None or _nan(a)) and (b is None or _nan(b))
    if isinstance(a, (list, tuple, np.ndarray)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        return int(a) == int(b)
    return math.isclose(float(a), float(b), rel_tol=TOLERANCE, abs_tol=TOLERANCE)


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def compare(spark: Results, reference: Results) -> bool:
    """Same keys; every metric the reference computes equal (counts exactly, floats within
    TOLERANCE). Prints the first differences."""
    ok = True
    missing, extra = set(reference) - set(spark), set(spark) - set(reference)
    if missing or extra:
        ok = False
        print(f"  keys differ: {len(missing)} only in the reference, {len(extra)} only in spark")
        for key in sorted(missing)[:5] + sorted(extra)[:5]:
            print(f"    {key}")
    shown = compared = 0
    for key in sorted(set(spark) & set(reference)):
        for name, expected in reference[key].items():
            compared += 1
            got = spark[key].get(name)
            if not _same(got, expected):
                ok = False
                if shown < 10:
                    print(f"  differs: {key} {name}: spark {got!r}, reference {expected!r}")
                shown += 1
    profile = sum(1 for k in spark if k[0] == "profile")
    print(
        f"  spark: {profile:,} profile rows, {len(spark) - profile:,} drift rows;"
        f" {compared:,} values compared with the reference, {shown} differ"
        f" (counts exactly, floats within {TOLERANCE:g})"
    )
    return ok


# --- Main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print_machine(PACKAGES)
    rng = np.random.default_rng(args.seed)
    with temp_runtime("bench-monitoring-") as runtime, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows_path, baseline_path = work / "inference.parquet", work / "baseline.parquet"
        began = time.perf_counter()
        table = inference_rows(rng, args.start_date, args.days, args.rows_per_day, args.drift_days)
        pq.write_table(table, rows_path, row_group_size=131_072)
        before = args.start_date - dt.timedelta(days=1)
        baseline = inference_rows(rng, before, 1, args.baseline_rows, 0, first_id=10**9)
        pq.write_table(baseline, baseline_path, row_group_size=131_072)
        print(
            f"inference rows: {table.num_rows:,} over {args.days} days from {args.start_date}"
            f" (drift in the last {args.drift_days}), {rows_path.stat().st_size / 1e6:.1f} MB"
            f" parquet; baseline: {baseline.num_rows:,} rows"
            f" ({time.perf_counter() - began:.1f} s to generate and write)"
        )

        began = time.perf_counter()
        spark = get_spark(runtime, "bench-monitoring")
        check_schema(spark.read.parquet(rows_path.as_uri()), INFERENCE, str(rows_path))
        print(
            f"spark: {spark.sparkContext.master}, session ready in"
            f" {time.perf_counter() - began:.1f} s; shuffle partitions"
            f" {spark.conf.get('spark.sql.shuffle.partitions')}"
        )
        con = duckdb.connect()
        con.execute(f"SET threads = {os.cpu_count()}")
        print(f"duckdb {duckdb.__version__}: {os.cpu_count()} threads")

        out: dict[str, Results] = {}
        labels = {"spark": "spark (pipelines)", "reference": "duckdb + numpy (reference)"}
        sides = {
            labels["spark"]: spark_side(spark, rows_path, baseline_path, args.granularity, out),
            labels["reference"]: reference_side(
                con, rows_path, baseline_path, args.granularity, out
            ),
        }
        print(f"\ntimings ({args.granularity} windows; 1 warm-up, then {args.repeats} interleaved")
        print("runs; profile + consecutive and baseline drift, parquet in, results collected):")
        series = run_interleaved(sides, args.repeats)

        print("\nresults (warm-up run of each side):")
        same = compare(out["spark"], out["reference"])

    print("\nmedians:")
    print_series(series, table.num_rows)
    spark_s, ref_s = series[labels["spark"]], series[labels["reference"]]
    ratio = spark_s.wall / ref_s.wall
    print(f"\nratio spark / reference: {ratio:.2f}x wall ({spark_s.cpu / ref_s.cpu:.2f}x cpu)")
    met = ratio <= TARGET_RATIO and same
    print(
        f"\nverdict: {'MET' if met else 'MISSED'} - spark (pipelines) {ratio:.1f}x the"
        f" reference (target <= {TARGET_RATIO:.0f}x){'' if same else '; RESULTS DIFFER'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
