"""The monitoring report: one self-contained HTML page drawn from the metric tables.

``render_report`` takes the profile and drift metrics (DESIGN contract 3, as Spark's
``toPandas()`` gives them) and returns a page that needs no network: the data travels as
JSON inside the page and a small script of our own draws the charts into SVG. Reading the
tables and writing the file happen at the edge (the task that calls this module).

Each chart is an ``<svg data-chart="...">`` that the script marks ``data-rendered="true"``
with ``data-points`` (the number of windows) once drawn; script errors land in
``<pre id="errors">``. Tests open the page in headless Chromium and read those marks.

The page follows the rule's metric, whatever the problem type: a struct's field after a
dot (``f1_score.macro``) is read from the struct column. The problem type is the
metric's (``MONITOR_METRICS``): for classification the predictions are classes, so the
page counts missing (NULL) predictions instead of NaN and infinite ones, and shows the
confusion matrix of the latest evaluated window.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipelines.common.errors import SchemaMismatch
from pipelines.common.project import ProblemType
from pipelines.monitoring.violation import ALL_MODELS, ViolationRule, problem_type_of

TABLE_COLUMN = ":table"
PREDICTION = "prediction"
STRUCT_WINDOWS = ("window", "window_cmp")

METRIC_LABELS = {
    "root_mean_squared_error": "RMSE",
    "mean_squared_error": "MSE",
    "mean_absolute_error": "MAE",
    "mean_absolute_percentage_error": "MAPE",
    "r2_score": "R²",
    "accuracy_score": "Accuracy",
    "log_loss": "Log loss",
    "f1_score.macro": "F1 (macro)",
    "f1_score.weighted": "F1 (weighted)",
    "precision.macro": "Precision (macro)",
    "precision.weighted": "Precision (weighted)",
    "recall.macro": "Recall (macro)",
    "recall.weighted": "Recall (weighted)",
}
CONFUSION_MATRIX = "confusion_matrix"
DASH = "\u2013"  # en dash, for ranges and missing values
KS = "KS statistic"
JS = "JS distance"
# Distinguishable without relying on red, which the report keeps for violations.
VERSION_COLOURS = (
    "#3b6fd4",
    "#17a398",
    "#e0a526",
    "#8a5cd0",
    "#d9579b",
    "#5d6b7e",
    "#7fb03a",
    "#2aa7d6",
)
_UNIT_SECONDS = {
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}
_GRANULARITY = re.compile(r"^\s*(\d+)\s+(minute|hour|day|week|month|year)s?\s*$")

PROFILE_NEEDS = ("granularity", "model_id", "column_name", "count")
DRIFT_NEEDS = ("granularity", "model_id", "column_name", "drift_type")


# ---------------------------------------------------------------------------------------
# Frames
# ---------------------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other containers are not missing
        return False


def _field(value: Any, name: str) -> Any:
    """Field ``name`` of a struct value as toPandas gives it: a dict (Arrow), a pyspark
    Row (no Arrow) or anything with attributes; None for a NULL struct."""
    if _missing(value):
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    if hasattr(value, "asDict"):
        return value.asDict().get(name)
    return getattr(value, name, None)


def _number(value: Any) -> float | None:
    """A finite float, or None for NULL, NaN and infinities."""
    if _missing(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def flatten_windows(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` where each struct column ``window`` / ``window_cmp`` (dicts or
    pyspark Rows with ``start`` and ``end``) is replaced by ``<name>_start`` and
    ``<name>_end`` pandas Timestamps (NaT for a NULL struct). Frames already flat come
    back unchanged (as a copy)."""
    flat = df.copy()
    for name in STRUCT_WINDOWS:
        if name not in flat.columns:
            continue
        at = flat.columns.get_loc(name)
        values = flat.pop(name)
        for offset, part in enumerate(("start", "end")):
            flat.insert(
                at + offset,
                f"{name}_{part}",
                pd.to_datetime([_field(v, part) for v in values]),
            )
    return flat


def _require(df: pd.DataFrame, needs: tuple[str, ...], what: str) -> None:
    missing = [c for c in needs if c not in df.columns]
    if "window_start" not in df.columns:
        missing.insert(0, "window")
    if missing:
        raise SchemaMismatch(
            f"The {what} frame lacks column(s) {', '.join(missing)}: expected Lakehouse"
            f" Monitoring's {what} columns (DESIGN contract 3); it has"
            f" {', '.join(map(str, df.columns)) or 'none'}."
        )


def _granularity_seconds(text: str) -> float:
    match = _GRANULARITY.match(str(text))
    if not match:
        return math.inf
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _whole_table(df: pd.DataFrame) -> pd.DataFrame:
    """Rows about the whole monitored table: no slice, the monitored rows (not the
    baseline's, which a Databricks profile table also holds)."""
    keep = pd.Series(True, index=df.index)
    if "slice_key" in df.columns:
        keep &= df["slice_key"].isna()
    if "log_type" in df.columns:
        keep &= df["log_type"].isna() | (df["log_type"] == "INPUT")
    return df[keep]


def _by_window(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per window start (the last one if a table holds duplicates)."""
    return rows.sort_values("window_start").drop_duplicates("window_start", keep="last")


# ---------------------------------------------------------------------------------------
# What the page shows
# ---------------------------------------------------------------------------------------


def _window_key(start: pd.Timestamp) -> str:
    return start.isoformat()


def _epoch_ms(moment: pd.Timestamp) -> int:
    # Spark hands out naive timestamps in the session time zone: only their spacing
    # matters here (labels are formatted in Python), so any zone is dropped.
    naive = moment.tz_localize(None) if moment.tzinfo else moment
    return int(naive.value // 1_000_000)


def _window_label(start: pd.Timestamp, seconds: float) -> str:
    return start.strftime("%b %d %H:%M" if seconds < 86400 else "%b %d")


def _window_span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    return f"{start:%Y-%m-%d %H:%M} {DASH} {end:%Y-%m-%d %H:%M}"


def _fmt(value: float | None) -> str:
    if value is None:
        return DASH
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _beyond(value: float | None, rule: ViolationRule) -> bool:
    if value is None:
        return False
    return value > rule.threshold if rule.violated_when == "above" else value < rule.threshold


def _aligned(
    rows: pd.DataFrame, column: str, keys: list[str], pick: Callable[[Any], Any] = _number
) -> list:
    """``column`` of ``rows`` per window key, in the order of ``keys`` (None when absent)."""
    if column not in rows.columns:
        return [None] * len(keys)
    by_key = {
        _window_key(s): pick(v) for s, v in zip(rows["window_start"], rows[column], strict=True)
    }
    return [by_key.get(k) for k in keys]


def _drift_series(drift: pd.DataFrame, granularity: str, keys: list[str]) -> list[dict]:
    """Per profiled column: the drift statistic per window, consecutive and baseline."""
    if drift.empty:
        return []
    rows = _whole_table(drift)
    rows = rows[
        (rows["granularity"] == granularity)
        & (rows["model_id"] == ALL_MODELS)
        & (rows["column_name"] != TABLE_COLUMN)
    ]
    series = []
    for column in sorted(rows["column_name"].dropna().unique()):
        of_column = rows[rows["column_name"] == column]
        ks = [_number(_field(v, "statistic")) for v in of_column.get("ks_test", [])]
        statistic = KS if any(v is not None for v in ks) else JS
        lines: dict[str, Any] = {}
        for drift_type in ("CONSECUTIVE", "BASELINE"):
            typed = _by_window(of_column[of_column["drift_type"] == drift_type])
            if statistic == KS:
                values = _aligned(typed, "ks_test", keys, lambda v: _number(_field(v, "statistic")))
                pvalues = _aligned(typed, "ks_test", keys, lambda v: _number(_field(v, "pvalue")))
            else:
                values = _aligned(typed, "js_distance", keys)
                pvalues = _aligned(
                    typed, "chi_squared_test", keys, lambda v: _number(_field(v, "pvalue"))
                )
            if any(v is not None for v in values):
                lines[drift_type.lower()] = {"values": values, "pvalues": pvalues}
        if lines:
            series.append({"column": str(column), "statistic": statistic, **lines})
    # Numeric columns (KS) first, then categorical ones (JS), each alphabetically.
    return sorted(series, key=lambda s: (s["statistic"] != KS, s["column"]))


def _versions(profile: pd.DataFrame, granularity: str, keys: list[str]) -> list[dict]:
    rows = profile[
        (profile["granularity"] == granularity)
        & (profile["column_name"] == TABLE_COLUMN)
        & (profile["model_id"] != ALL_MODELS)
        & profile["model_id"].notna()
    ].sort_values(["window_start", "model_id"])
    ids = rows["model_id"].astype(str)
    names = list(dict.fromkeys(ids))  # in order of first appearance
    return [
        {
            "name": name,
            "colour": VERSION_COLOURS[i % len(VERSION_COLOURS)],
            "rows": [
                int(v) if v is not None else 0
                for v in _aligned(_by_window(rows[ids == name]), "count", keys)
            ],
        }
        for i, name in enumerate(names)
    ]


def _metric_column(metric: str) -> str:
    """The profile column holding ``metric`` (``f1_score`` for ``f1_score.macro``)."""
    return metric.partition(".")[0]


def _metric_values(rows: pd.DataFrame, metric: str, keys: list[str]) -> list[float | None]:
    """``metric`` per window key; a struct's field when it names one."""
    column, _, part = metric.partition(".")
    if not part:
        return _aligned(rows, column, keys)
    return _aligned(rows, column, keys, lambda v: _number(_field(v, part)))


def _cells(value: Any) -> list[tuple[str, str, int]]:
    """A confusion matrix as toPandas gives it (a list or array of dicts or Rows):
    (prediction, label, count) per cell; [] for NULL."""
    if value is None or (not hasattr(value, "__len__") and _missing(value)):
        return []
    cells = []
    for cell in value:
        count = _number(_field(cell, "count"))
        cells.append((str(_field(cell, "prediction")), str(_field(cell, "label")), int(count or 0)))
    return cells


def _confusion(table_rows: pd.DataFrame, keys: list[str], values: list) -> dict | None:
    """The confusion matrix of the latest window with a metric: classes in the matrix's
    order, ``counts[label][prediction]``; None when the table has no such column."""
    if CONFUSION_MATRIX not in table_rows.columns:
        return None
    latest = next((i for i in reversed(range(len(values))) if values[i] is not None), None)
    if latest is None:
        return {"window": None, "classes": [], "counts": []}
    matrices = _aligned(table_rows, CONFUSION_MATRIX, keys, _cells)
    cells = matrices[latest] or []
    classes = list(dict.fromkeys([p for p, _, _ in cells] + [y for _, y, _ in cells]))
    at = {c: i for i, c in enumerate(classes)}
    counts = [[0] * len(classes) for _ in classes]
    for p, y, n in cells:
        counts[at[y]][at[p]] += n
    return {"window": latest, "classes": classes, "counts": counts}


def _report_data(
    profile: pd.DataFrame,
    drift: pd.DataFrame,
    rule: ViolationRule,
    granularity: str | None,
    prediction_col: str = PREDICTION,
) -> dict:
    """Everything the charts and tables show, one entry per window of ``granularity``
    (None: the finest present); empty ``windows`` when there are none. Frames are flat."""
    whole = _whole_table(profile)
    table_rows = whole[(whole["column_name"] == TABLE_COLUMN) & (whole["model_id"] == ALL_MODELS)]
    present = table_rows["granularity"].dropna().unique()
    if granularity is None and len(present):
        granularity = min(present, key=_granularity_seconds)
    if granularity not in present:
        return {"windows": []}
    seconds = _granularity_seconds(granularity)
    table_rows = _by_window(table_rows[table_rows["granularity"] == granularity])
    starts = list(table_rows["window_start"])
    keys = [_window_key(s) for s in starts]
    windows = [
        {
            "key": key,
            "start": _epoch_ms(start),
            "end": _epoch_ms(end),
            "label": _window_label(start, seconds),
            "span": _window_span(start, end),
        }
        for key, start, end in zip(keys, starts, table_rows["window_end"], strict=True)
    ]
    last_end = table_rows["window_end"].iloc[-1]
    values = _metric_values(table_rows, rule.metric, keys)
    predictions = _by_window(
        whole[
            (whole["column_name"] == prediction_col)
            & (whole["model_id"] == ALL_MODELS)
            & (whole["granularity"] == granularity)
        ]
    )
    classes = problem_type_of(rule.metric) is ProblemType.CLASSIFICATION
    if classes:  # a class is never NaN: what can be wrong with it is being missing
        nan = [int(v or 0) for v in _aligned(predictions, "num_nulls", keys)]
        inf = [0] * len(keys)
    else:
        # num_inf is our addition to Lakehouse Monitoring's columns: absent there, so 0.
        nan = [int(v or 0) for v in _aligned(predictions, "num_nan", keys)]
        inf = [int(v or 0) for v in _aligned(predictions, "num_inf", keys)]
    return {
        "granularity": str(granularity),
        "period": f"{starts[0]:%Y-%m-%d %H:%M} to {last_end:%Y-%m-%d %H:%M}",
        "windows": windows,
        "metric": {
            "name": rule.metric,
            "label": METRIC_LABELS.get(rule.metric, rule.metric),
            "threshold": rule.threshold,
            "direction": rule.violated_when,
            "values": values,
            "beyond": [_beyond(v, rule) for v in values],
        },
        "rows": [int(v or 0) for v in _aligned(table_rows, "count", keys)],
        "invalid": "missing" if classes else "nonfinite",
        "nan": nan,
        "inf": inf,
        "confusion": _confusion(table_rows, keys, values) if classes else None,
        "versions": _versions(whole, granularity, keys),
        "drift": _drift_series(drift, granularity, keys),
    }


def _last_evaluated(data: dict, n: int) -> list[int]:
    """Indices of the last ``n`` windows with a metric, newest first (as the violation
    check picks them: windows without labels do not count)."""
    values = data["metric"]["values"]
    return [i for i in reversed(range(len(values))) if values[i] is not None][:n]


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json_for_script(data: dict) -> str:
    # Inside <script> only "</script" and "<!--" could end the block early; escaping every
    # "<", ">" and "&" keeps the text valid JSON whatever the table's strings hold.
    text = json.dumps(data, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _generated(moment: dt.datetime) -> str:
    text = moment.strftime("%Y-%m-%d %H:%M")
    if moment.tzinfo is not None:
        text += " " + (moment.tzname() or moment.strftime("%z"))
    return text


def _legend(items: list[tuple[str, str, str]]) -> str:
    """``(css class of the swatch, label, extra attributes)`` per item."""
    return (
        '<ul class="legend">'
        + "".join(
            f'<li class="legend-item"{attrs}><span class="swatch {cls}"></span>{label}</li>'
            for cls, label, attrs in items
        )
        + "</ul>"
    )


def _card(title: str, body: str, *, legend: str = "", subtitle: str = "", ident: str) -> str:
    sub = f'<p class="subtitle">{subtitle}</p>' if subtitle else ""
    return (
        f'<section class="card" id="{ident}"><div class="card-head"><div><h2>{title}</h2>'
        f"{sub}</div>{legend}</div>{body}</section>"
    )


def _svg(name: str, label: str) -> str:
    return (
        f'<svg data-chart="{name}" class="chart" role="img" aria-label="{_e(label)}"'
        ' xmlns="http://www.w3.org/2000/svg"></svg>'
    )


def _state(data: dict, rule: ViolationRule) -> tuple[str, str, list[int]]:
    """The rule applied to the windows shown (as ``violation_query`` applies it to the
    table), for the summary's colour and headline: state, headline, evaluated windows."""
    last = _last_evaluated(data, rule.evaluation_windows)
    beyond = sum(data["metric"]["beyond"][i] for i in last)
    if len(last) < rule.evaluation_windows:
        return "pending", f"Not enough windows ({len(last)} of {rule.evaluation_windows})", last
    if beyond >= rule.violation_windows and data["metric"]["beyond"][last[0]]:
        return "violated", "Violated", last
    return "ok", "Within threshold", last


def _drift_tile(data: dict) -> tuple[str, str, str, bool]:
    """The column that drifted most from its previous window in the latest window."""
    latest = [
        (s["consecutive"]["values"][-1], s["column"], s["statistic"])
        for s in data["drift"]
        if "consecutive" in s and s["consecutive"]["values"][-1] is not None
    ]
    if not latest:
        return ("Largest drift, latest window", DASH, "no consecutive drift yet", False)
    value, column, statistic = max(latest)
    return (
        "Largest drift, latest window",
        _e(_fmt(value)),
        f"{_e(column)} · {_e(statistic)}",
        False,
    )


def _summary(data: dict, rule: ViolationRule, verdict: str | None, label: str) -> str:
    state, headline, last = _state(data, rule)
    metric = data["metric"]
    beyond = sum(metric["beyond"][i] for i in last)
    rule_text = (
        f"Violated when at least {rule.violation_windows} of the last"
        f" {rule.evaluation_windows} evaluated {_e(data['granularity'])} windows have"
        f" <code>{_e(rule.metric)}</code> {_e(rule.violated_when)}"
        f" <b>{_e(f'{rule.threshold:g}')}</b>, the latest of them included. Windows without"
        " labels have no metric and are not evaluated."
    )
    verdict_html = f'<p class="verdict-text">{_e(verdict)}</p>' if verdict else ""
    latest = last[0] if last else None
    latest_value = metric["values"][latest] if latest is not None else None
    latest_note = (
        f"window of {_e(data['windows'][latest]['label'])}" if latest is not None else "no labels"
    )
    invalid = sum(data["nan"]) + sum(data["inf"])
    versions = data["versions"]
    tiles = [
        (
            f"Latest {_e(label)}",
            _e(_fmt(latest_value)),
            latest_note,
            latest is not None and metric["beyond"][latest],
        ),
        (
            f"{rule.violated_when.capitalize()} threshold",
            f"{beyond} <small>of {len(last)}</small>",
            f"last evaluated windows (need {rule.violation_windows} of {rule.evaluation_windows})",
            state == "violated",
        ),
        (
            "Rows scored",
            _e(_fmt(float(sum(data["rows"])))),
            f"in {len(data['windows'])} windows",
            False,
        ),
        (
            "Missing predictions",
            _e(_fmt(float(invalid))),
            "NULL predictions (classes)",
            invalid > 0,
        )
        if data["invalid"] == "missing"
        else (
            "NaN / inf predictions",
            _e(_fmt(float(invalid))),
            f"{sum(data['nan'])} NaN, {sum(data['inf'])} infinite",
            invalid > 0,
        ),
        _drift_tile(data),
        (
            "Model versions",
            str(len(versions)),
            f"latest: version {_e(versions[-1]['name'])}" if versions else "none recorded",
            False,
        ),
    ]
    tiles_html = "".join(
        f'<div class="tile{" alert" if alert else ""}"><div class="tile-label">{name}</div>'
        f'<div class="tile-value">{value}</div><div class="tile-note">{note}</div></div>'
        for name, value, note, alert in tiles
    )
    return (
        f'<section class="summary"><div class="verdict" data-state="{state}">'
        f'<div class="verdict-state"><span class="dot"></span>{_e(headline)}</div>'
        f'{verdict_html}<p class="rule">{rule_text}</p></div>'
        f'<div class="tiles">{tiles_html}</div></section>'
    )


def _metric_card(data: dict, rule: ViolationRule, label: str) -> str:
    metric = data["metric"]
    n = len(data["windows"])
    gaps = sum(v is None for v in metric["values"])
    beyond = sum(metric["beyond"])
    caption = (
        f"{n} windows of {_e(data['granularity'])}. {gaps} window{'s' if gaps != 1 else ''}"
        " without labels (no metric yet) shown as hatched gaps."
        f" {beyond} window{'s' if beyond != 1 else ''} {_e(rule.violated_when)} the threshold."
    )
    legend = _legend(
        [
            ("line", _e(label), ""),
            ("violating", f"{_e(rule.violated_when)} threshold", ""),
            ("threshold", f"threshold {_e(f'{rule.threshold:g}')}", ""),
            ("gap", "no labels", ""),
        ]
    )
    body = _svg("metric", f"{label} per window") + f'<p class="caption">{caption}</p>'
    return _card(
        f"{_e(label)} per window",
        body,
        legend=legend,
        subtitle=f"<code>{_e(rule.metric)}</code> over all model versions",
        ident="metric-card",
    )


def _windows_table(data: dict, rule: ViolationRule, label: str) -> str:
    last = _last_evaluated(data, rule.evaluation_windows)
    metric = data["metric"]
    rows = "".join(
        f'<tr data-window="{_e(data["windows"][i]["key"])}">'
        f"<td>{_e(data['windows'][i]['span'])}</td>"
        f'<td class="num">{_e(_fmt(metric["values"][i]))}</td>'
        + (
            f'<td><span class="badge bad">{_e(rule.violated_when)}</span></td>'
            if metric["beyond"][i]
            else '<td><span class="badge">within</span></td>'
        )
        + f'<td class="num">{_e(_fmt(float(data["rows"][i])))}</td></tr>'
        for i in last
    )
    if not rows:
        rows = '<tr><td colspan="4" class="muted">No window has labels yet.</td></tr>'
    table = (
        '<table class="windows" id="last-windows"><thead><tr><th>Window</th>'
        f'<th class="num">{_e(label)}</th><th>vs {_e(f"{rule.threshold:g}")}</th>'
        f'<th class="num">Rows</th></tr></thead><tbody>{rows}</tbody></table>'
    )
    return _card(
        f"Last {rule.evaluation_windows} evaluated windows",
        table,
        subtitle="Newest first; the windows the violation check reads.",
        ident="windows-card",
    )


def _counts_card(data: dict) -> str:
    what = "missing" if data["invalid"] == "missing" else "NaN or infinite"
    legend = _legend(
        [
            ("bar", "rows scored", ""),
            (
                "invalid",
                "missing predictions" if what == "missing" else "NaN / inf predictions",
                "",
            ),
        ]
    )
    invalid_windows = sum((a + b) > 0 for a, b in zip(data["nan"], data["inf"], strict=True))
    caption = (
        f"{invalid_windows} window{'s' if invalid_windows != 1 else ''} with {what}"
        " predictions, marked in red with their count."
        if invalid_windows
        else f"No {what} predictions."
    )
    return _card(
        "Rows per window",
        _svg("counts", "rows per window") + f'<p class="caption">{caption}</p>',
        legend=legend,
        subtitle="Rows of the inference table in each window, all model versions",
        ident="counts-card",
    )


def _versions_card(data: dict) -> str:
    items = [
        (
            f"v{i % len(VERSION_COLOURS)}",
            f"version {_e(v['name'])}",
            f' data-version="{_e(v["name"])}"',
        )
        for i, v in enumerate(data["versions"])
    ]
    body = (
        _svg("versions", "model versions over time")
        if data["versions"]
        else '<p class="empty-note">No per-version rows in the profile metrics.</p>'
    )
    return _card(
        "Model versions",
        body,
        legend=_legend(items),
        subtitle="Share of each window's rows scored by each model version",
        ident="versions-card",
    )


def _confusion_card(data: dict) -> str:
    """The confusion matrix of the latest evaluated window: a row per label (true class),
    a column per prediction, the correct ones on the diagonal."""
    confusion = data["confusion"]
    if confusion["window"] is None:
        body = '<p class="empty-note">No window has labels yet.</p>'
        subtitle = "Latest evaluated window"
    else:
        classes, counts = confusion["classes"], confusion["counts"]
        head = "".join(f'<th class="num">{_e(c)}</th>' for c in classes)
        rows = "".join(
            f'<tr><th scope="row">{_e(label)}</th>'
            + "".join(
                f'<td class="num{" diagonal" if i == j else ""}" data-label="{_e(label)}"'
                f' data-prediction="{_e(prediction)}">{counts[i][j]:,}</td>'
                for j, prediction in enumerate(classes)
            )
            + "</tr>"
            for i, label in enumerate(classes)
        )
        body = (
            '<table class="windows confusion" id="confusion-matrix"><thead><tr>'
            f"<th>label \\ prediction</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )
        subtitle = (
            f"Window {_e(data['windows'][confusion['window']]['span'])}, all model versions;"
            " correct predictions on the diagonal"
        )
    return _card("Confusion matrix", body, subtitle=subtitle, ident="confusion-card")


def _drift_card(data: dict) -> str:
    has_baseline = any("baseline" in s for s in data["drift"])
    statistics = [s for s in (KS, JS) if any(d["statistic"] == s for d in data["drift"])]
    items = [("line", "consecutive: vs the previous window", "")]
    if has_baseline:
        items.append(("baseline", "baseline: vs the baseline table", ""))
    meaning = {
        KS: "KS statistic: two-sample Kolmogorov-Smirnov, numeric columns",
        JS: "JS distance: Jensen-Shannon (base 2), categorical columns",
    }
    body = (
        _svg("drift", "drift per feature")
        + '<p class="caption">'
        + "; ".join(_e(meaning[s]) for s in statistics)
        + ". 0 means identical distributions. Hover a point for its p-value.</p>"
        if data["drift"]
        else '<p class="empty-note">No drift metrics yet: consecutive drift needs two windows'
        " with rows, baseline drift a baseline table.</p>"
    )
    return _card(
        "Drift per feature",
        body,
        legend=_legend(items) if data["drift"] else "",
        subtitle="Statistic per window, all model versions; one panel per profiled column",
        ident="drift-card",
    )


def render_report(
    profile: pd.DataFrame | None,
    drift: pd.DataFrame | None,
    *,
    table: str,
    metric: str,
    threshold: float,
    violated_when: str,
    evaluation_windows: int,
    violation_windows: int,
    verdict: str | None,
    generated_at: dt.datetime,
    granularity: str | None = None,
    prediction_col: str = PREDICTION,
) -> str:
    """One self-contained HTML document (no network) reporting on a monitored table.

    ``profile`` and ``drift`` hold rows of ``<table>_profile_metrics`` and
    ``<table>_drift_metrics`` (``window`` as a struct, dict or Row, or already flattened
    by ``flatten_windows``; None when a table does not exist yet). The page shows the
    windows of ``granularity`` (by default the finest present): the metric
    against the rule (at least ``violation_windows`` of the last ``evaluation_windows``
    evaluated windows beyond ``threshold``, the latest included), drift per column, rows
    and NaN/inf predictions per window and model versions over time, plus ``verdict``
    when given. Without any window it says so instead of drawing charts.
    ``prediction_col`` is the monitored prediction column (its profile rows count the
    invalid predictions); ``metric`` may name a struct's field (``f1_score.macro``).

    Raises UsageError for a bad rule and SchemaMismatch when a non-empty frame lacks the
    columns it needs.
    """
    rule = ViolationRule(
        metric=metric,
        threshold=float(threshold),
        violated_when=violated_when,
        evaluation_windows=evaluation_windows,
        violation_windows=violation_windows,
        **({"granularity": granularity} if granularity else {}),
    )
    data: dict = {"windows": []}
    if profile is not None and len(profile):
        flat = flatten_windows(profile)
        _require(flat, (*PROFILE_NEEDS, _metric_column(rule.metric)), "profile metrics")
        flat_drift = flatten_windows(drift if drift is not None else pd.DataFrame())
        if len(flat_drift):
            _require(flat_drift, DRIFT_NEEDS, "drift metrics")
        data = _report_data(flat, flat_drift, rule, granularity, prediction_col)
    label = METRIC_LABELS.get(rule.metric, rule.metric)
    windows = data["windows"]
    if windows:
        meta = f"{len(windows)} windows of {_e(data['granularity'])}, {_e(data['period'])}"
        content = "".join(
            [
                _summary(data, rule, verdict, label),
                _metric_card(data, rule, label),
                _windows_table(data, rule, label),
                _confusion_card(data) if data.get("confusion") else "",
                _counts_card(data),
                _versions_card(data),
                _drift_card(data),
            ]
        )
    else:
        meta = "no windows yet"
        verdict_html = f'<p class="verdict-text">{_e(verdict)}</p>' if verdict else ""
        content = (
            '<section class="card empty" id="empty">'
            "<h2>No monitoring windows yet</h2>"
            f"<p>The profile metrics of <code>{_e(table)}</code> have no whole-table rows"
            f"{f' for {_e(granularity)} windows' if granularity else ''}, so there is"
            " nothing to chart. They appear once batch inference has scored rows and"
            " <code>refresh-metrics</code> has run.</p>"
            f"{verdict_html}</section>"
        )
    return _PAGE.format(
        title=_e(f"Monitoring · {table}"),
        css=_CSS,
        table=_e(table),
        generated=_e(_generated(generated_at)),
        meta=meta,
        content=content,
        data=_json_for_script(data),
        script=_SCRIPT,
    )


def write_report(path: str | Path, html_text: str) -> Path:
    """Write the page to ``path`` (creating its folder) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html_text, encoding="utf-8")
    return target


# ---------------------------------------------------------------------------------------
# The page: markup, style and the script that draws the charts
# ---------------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main class="page">
<header class="masthead">
<div class="eyebrow">Model monitoring report</div>
<h1>{table}</h1>
<p class="meta">Generated {generated} · {meta}</p>
</header>
{content}
<pre id="errors"></pre>
<footer>Metrics: <code>{table}_profile_metrics</code> and <code>{table}_drift_metrics</code>
(Lakehouse Monitoring's column names). This page is self-contained and works offline.</footer>
</main>
<script type="application/json" id="report-data">{data}</script>
<script>{script}</script>
</body>
</html>
"""

_CSS = (
    """
:root {
  --ink: #1b2430; --muted: #5f6b7a; --faint: #8a94a3; --line: #e3e7ed; --grid: #eef1f5;
  --bg: #f5f7fa; --card: #ffffff; --accent: #2f5fc4; --bad: #d03b3b; --bad-soft: #fbeaea;
  --ok: #1f8a5b; --ok-soft: #e7f5ee; --pending: #a86b00; --pending-soft: #fdf3e0;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0; color: var(--ink); font: 14px/1.5 -apple-system, BlinkMacSystemFont,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
  font-variant-numeric: tabular-nums; -webkit-font-smoothing: antialiased;
}
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono",
  monospace; background: #eef1f6; padding: 1px 5px; border-radius: 4px; }
.page { max-width: 1120px; margin: 0 auto; padding: 28px 28px 40px; }
.masthead { margin-bottom: 18px; }
.eyebrow { text-transform: uppercase; letter-spacing: .08em; font-size: 11.5px;
  font-weight: 600; color: var(--accent); }
h1 { margin: 2px 0 4px; font-size: 24px; font-weight: 650; letter-spacing: -.01em;
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
.meta { margin: 0; color: var(--muted); }
h2 { margin: 0; font-size: 15.5px; font-weight: 650; }
.subtitle { margin: 2px 0 0; color: var(--muted); font-size: 12.5px; }
.card, .verdict, .tile { background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04); }
.card { padding: 16px 18px 12px; margin-top: 16px; }
.card-head { display: flex; justify-content: space-between; align-items: flex-start;
  gap: 16px; margin-bottom: 8px; }
.summary { display: grid; grid-template-columns: minmax(0, 1.15fr) minmax(0, 2fr); gap: 16px; }
.verdict { padding: 16px 18px; border-left: 5px solid var(--faint); }
.verdict[data-state="violated"] { border-left-color: var(--bad); background:
  linear-gradient(90deg, var(--bad-soft), #fff 70%); }
.verdict[data-state="ok"] { border-left-color: var(--ok); background:
  linear-gradient(90deg, var(--ok-soft), #fff 70%); }
.verdict[data-state="pending"] { border-left-color: var(--pending); background:
  linear-gradient(90deg, var(--pending-soft), #fff 70%); }
.verdict-state { font-size: 18px; font-weight: 700; display: flex; align-items: center;
  gap: 8px; }
.verdict[data-state="violated"] .verdict-state { color: var(--bad); }
.verdict[data-state="ok"] .verdict-state { color: var(--ok); }
.verdict[data-state="pending"] .verdict-state { color: var(--pending); }
.dot { width: 10px; height: 10px; border-radius: 50%; background: currentColor; }
.verdict-text { margin: 8px 0 0; font-weight: 500; }
.rule { margin: 8px 0 0; color: var(--muted); font-size: 12.5px; }
.tiles { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px; }
.tile { padding: 10px 14px; }
.tile-label { color: var(--muted); font-size: 12px; font-weight: 600; }
.tile-value { font-size: 22px; font-weight: 650; letter-spacing: -.01em; }
.tile-value small { font-size: 13px; color: var(--muted); font-weight: 500; }
.tile-note { color: var(--faint); font-size: 12px; }
.tile.alert .tile-value { color: var(--bad); }
.legend { list-style: none; display: flex; flex-wrap: wrap; justify-content: flex-end;
  gap: 4px 14px; margin: 2px 0 0; padding: 0; font-size: 12px; color: var(--muted); }
.legend-item { display: flex; align-items: center; gap: 6px; white-space: nowrap; }
.swatch { display: inline-block; width: 14px; height: 10px; border-radius: 2px; }
.swatch.line { height: 3px; background: var(--accent); }
.swatch.baseline { height: 0; border-top: 2px dashed #7d8796; }
.swatch.violating { width: 10px; height: 10px; border-radius: 50%; background: var(--bad); }
.swatch.threshold { height: 0; border-top: 2px dashed var(--bad); }
.swatch.gap { background: repeating-linear-gradient(135deg, #cfd5de 0 2px, #f3f5f8 2px 5px); }
.swatch.bar { background: #9db4e6; }
.swatch.invalid { background: var(--bad); }
"""
    + "".join(
        f".swatch.v{i} {{ background: {colour}; }}\n" for i, colour in enumerate(VERSION_COLOURS)
    )
    + """
svg.chart { display: block; width: 100%; height: auto; overflow: visible; }
svg.chart text { font-size: 11px; fill: var(--muted); }
svg.chart .axis-label { font-size: 11.5px; font-weight: 600; fill: var(--muted); }
svg.chart .grid { stroke: var(--grid); }
svg.chart .axis { stroke: #c9d0da; }
svg.chart .series { fill: none; stroke: var(--accent); stroke-width: 2;
  stroke-linejoin: round; stroke-linecap: round; }
svg.chart .point { fill: #fff; stroke: var(--accent); stroke-width: 2; }
svg.chart .point.violating { fill: var(--bad); stroke: #fff; stroke-width: 1.5; }
svg.chart .threshold { stroke: var(--bad); stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.chart text.threshold-label { fill: var(--bad); font-weight: 600; }
svg.chart .violation-zone { fill: var(--bad); opacity: .05; }
svg.chart .gap rect { fill: url(#hatch); }
svg.chart .gap text { fill: var(--faint); font-size: 10px; }
svg.chart .bar { fill: #9db4e6; }
svg.chart .bar:hover, svg.chart .segment:hover { opacity: .8; }
svg.chart .invalid-bar { fill: var(--bad); }
svg.chart .invalid circle { fill: var(--bad); }
svg.chart .invalid text { fill: #fff; font-size: 10px; font-weight: 700; }
svg.chart .panel-title { font-size: 12px; font-weight: 650; fill: var(--ink); }
svg.chart .panel-statistic { font-size: 11px; fill: var(--faint); }
svg.chart .panel-frame { fill: #fafbfc; stroke: var(--line); }
svg.chart .drift-line { fill: none; stroke: var(--accent); stroke-width: 1.75; }
svg.chart .drift-line.baseline { stroke: #7d8796; stroke-dasharray: 4 3; }
svg.chart .drift-point { fill: var(--accent); }
svg.chart .drift-point.baseline { fill: #7d8796; }
.caption { margin: 6px 0 2px; color: var(--muted); font-size: 12.5px; }
.empty-note { color: var(--muted); margin: 8px 0; }
.card.empty { padding: 28px; text-align: center; }
.card.empty h2 { font-size: 18px; margin-bottom: 6px; }
.card.empty p { color: var(--muted); max-width: 620px; margin: 6px auto; }
table.windows { width: 100%; border-collapse: collapse; font-size: 13px; }
table.windows th { text-align: left; font-size: 12px; color: var(--muted); font-weight: 600;
  border-bottom: 1px solid var(--line); padding: 6px 10px; }
table.windows td { border-bottom: 1px solid var(--grid); padding: 6px 10px; }
table.windows tr:last-child td { border-bottom: 0; }
table.windows .num { text-align: right; }
table.confusion { width: auto; min-width: 40%; }
table.confusion th[scope="row"] { color: var(--ink); border-bottom: 1px solid var(--grid); }
table.confusion tr:last-child th { border-bottom: 0; }
table.confusion td.diagonal { font-weight: 600; background: #eef4ff; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 11.5px;
  font-weight: 600; background: #eef1f5; color: var(--muted); }
.badge.bad { background: var(--bad-soft); color: var(--bad); }
.muted { color: var(--muted); }
#errors { color: var(--bad); background: var(--bad-soft); padding: 10px; border-radius: 8px;
  white-space: pre-wrap; }
#errors:empty { display: none; }
footer { margin-top: 22px; color: var(--faint); font-size: 12px; }
@media (max-width: 860px) { .summary { grid-template-columns: 1fr; } }
@media print { html { background: #fff; } .card, .tile, .verdict { box-shadow: none; } }
"""
)

# Draws each <svg data-chart> from the JSON block; errors go to <pre id="errors">.
_SCRIPT = r"""
(() => {
  "use strict";
  const errors = document.getElementById("errors");
  const fail = (message) => { errors.textContent += message + "\n"; };
  window.addEventListener("error", (e) => fail("error: " + e.message + " (line " + e.lineno + ")"));
  const NS = "http://www.w3.org/2000/svg";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const W = 1060;
  const windows = data.windows || [];

  function el(parent, tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    parent.appendChild(node);
    return node;
  }
  const tip = (node, text) => el(node, "title", {}, text);
  function fmt(v) {
    if (v === null || v === undefined) return "\u2013";
    const a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString("en-US");
    if (a >= 100) return v.toFixed(0);
    return String(Number(v.toPrecision(3)));
  }
  function niceStep(range, count) {
    const raw = range / Math.max(count, 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const r = raw / mag;
    return (r >= 5 ? 10 : r >= 2 ? 5 : r >= 1 ? 2 : 1) * mag;
  }
  // A y scale over [lo, hi] widened to whole ticks; returns {y, ticks, lo, hi}.
  function yScale(lo, hi, top, bottom, count) {
    if (!(hi > lo)) { const pad = Math.abs(hi) * 0.1 || 1; lo -= pad; hi += pad; }
    const step = niceStep(hi - lo, count);
    lo = Math.floor(lo / step + 1e-9) * step;
    hi = Math.ceil(hi / step - 1e-9) * step;
    const ticks = [];
    for (let t = lo; t <= hi + step / 2; t += step) ticks.push(Math.abs(t) < step / 1e6 ? 0 : t);
    const y = (v) => bottom - (v - lo) / (hi - lo) * (bottom - top);
    return { y, ticks, lo, hi };
  }
  // Time on x: each window spans [start, end) of the plot width.
  function xScale(left, right) {
    const t0 = windows[0].start, t1 = windows[windows.length - 1].end;
    return (t) => left + (t - t0) / (t1 - t0) * (right - left);
  }
  const centre = (x, w) => (x(w.start) + x(w.end)) / 2;
  const adjacent = (i) => i > 0 && windows[i - 1].end === windows[i].start;

  // Grid, y ticks, x labels and the y axis title of one plot area.
  function axes(g, x, ys, box, yTitle) {
    for (const t of ys.ticks) {
      el(g, "line", { class: "grid", x1: box.left, x2: box.right, y1: ys.y(t), y2: ys.y(t) });
      el(g, "text", { x: box.left - 8, y: ys.y(t) + 3.5, "text-anchor": "end" }, fmt(t));
    }
    el(g, "line", { class: "axis", x1: box.left, x2: box.right, y1: box.bottom, y2: box.bottom });
    // As many window labels as fit side by side (about 6.2 units per character).
    const longest = Math.max(...windows.map((w) => w.label.length));
    const fit = Math.max(1, Math.floor((box.right - box.left) / (longest * 6.2 + 16)));
    const every = Math.max(1, Math.ceil(windows.length / fit));
    windows.forEach((w, i) => {
      if ((windows.length - 1 - i) % every !== 0) return;  // always label the latest window
      const cx = centre(x, w);
      el(g, "line", { class: "axis", x1: cx, x2: cx, y1: box.bottom, y2: box.bottom + 4 });
      el(g, "text", { x: cx, y: box.bottom + 16, "text-anchor": "middle" }, w.label);
    });
    if (yTitle) {
      const my = (box.top + box.bottom) / 2;
      el(g, "text", { class: "axis-label", x: 14, y: my, "text-anchor": "middle",
        transform: `rotate(-90 14 ${my})` }, yTitle);
    }
  }
  function frame(svg, height) {
    svg.setAttribute("viewBox", `0 0 ${W} ${height}`);
    return { left: 64, right: W - 20, top: 14, bottom: height - 30 };
  }
  // Polyline segments that break at missing values and at missing windows.
  function segments(values, x, y) {
    const parts = [];
    let current = null;
    values.forEach((v, i) => {
      if (v === null) { current = null; return; }
      const point = `${centre(x, windows[i]).toFixed(1)},${y(v).toFixed(1)}`;
      if (current !== null && adjacent(i)) { current.push(point); return; }
      current = [point];
      parts.push(current);
    });
    return parts.filter((p) => p.length > 1).map((p) => "M" + p.join(" L"));
  }

  function drawMetric(svg) {
    const m = data.metric;
    const box = frame(svg, 300);
    const defined = m.values.filter((v) => v !== null);
    const all = defined.concat([m.threshold]);
    const span = Math.max(...all) - Math.min(...all);
    const ys = yScale(Math.min(...all) - span * 0.08, Math.max(...all) + span * 0.08,
      box.top, box.bottom, 5);
    const x = xScale(box.left, box.right);
    const defs = el(svg, "defs");
    const hatch = el(defs, "pattern", { id: "hatch", width: 6, height: 6,
      patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    el(hatch, "rect", { width: 6, height: 6, fill: "#f4f6f9" });
    el(hatch, "line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#d5dbe3", "stroke-width": 2.5 });
    const ty = ys.y(m.threshold);
    const zone = m.direction === "above" ? [box.top, ty] : [ty, box.bottom];
    el(svg, "rect", { class: "violation-zone", x: box.left, y: zone[0], width: box.right - box.left,
      height: Math.max(0, zone[1] - zone[0]) });
    windows.forEach((w, i) => {
      if (m.values[i] !== null) return;
      const g = el(svg, "g", { class: "gap", "data-window": w.key });
      el(g, "rect", { x: x(w.start) + 1, y: box.top, width: Math.max(1, x(w.end) - x(w.start) - 2),
        height: box.bottom - box.top });
      tip(g, `${w.span}\nno labels yet: ${m.label} not computed`);
    });
    axes(svg, x, ys, box, m.label);
    el(svg, "line", { class: "threshold", "data-value": m.threshold, x1: box.left, x2: box.right,
      y1: ty, y2: ty });
    el(svg, "text", { class: "threshold-label", x: box.right - 4,
      y: m.direction === "above" ? ty - 6 : ty + 14, "text-anchor": "end" },
      `threshold ${fmt(m.threshold)}`);
    for (const d of segments(m.values, x, ys.y)) el(svg, "path", { class: "series", d });
    windows.forEach((w, i) => {
      const v = m.values[i];
      if (v === null) return;
      const c = el(svg, "circle", { class: m.beyond[i] ? "point violating" : "point",
        cx: centre(x, w), cy: ys.y(v), r: m.beyond[i] ? 5 : 3.5, "data-window": w.key,
        "data-value": v });
      tip(c, `${w.span}\n${m.label} ${fmt(v)}` +
        (m.beyond[i] ? ` — ${m.direction} threshold ${fmt(m.threshold)}` : ""));
    });
  }

  function drawCounts(svg) {
    const box = frame(svg, 230);
    const ys = yScale(0, Math.max(1, ...data.rows), box.top + 8, box.bottom, 4);
    const x = xScale(box.left, box.right);
    axes(svg, x, ys, box, "rows");
    windows.forEach((w, i) => {
      const pad = Math.max(1, (x(w.end) - x(w.start)) * 0.14);
      const x0 = x(w.start) + pad, width = Math.max(1, x(w.end) - x(w.start) - 2 * pad);
      const bar = el(svg, "rect", { class: "bar", x: x0, y: ys.y(data.rows[i]), width,
        height: box.bottom - ys.y(data.rows[i]), rx: 2, "data-window": w.key,
        "data-value": data.rows[i] });
      tip(bar, `${w.span}\n${fmt(data.rows[i])} rows`);
      const bad = data.nan[i] + data.inf[i];
      if (bad <= 0) return;
      const tall = Math.max(3, box.bottom - ys.y(bad));  // visible however few
      el(svg, "rect", { class: "invalid-bar", x: x0, width, y: box.bottom - tall, height: tall });
      const g = el(svg, "g", { class: "invalid", "data-window": w.key, "data-value": bad });
      const cy = Math.max(box.top + 2, ys.y(data.rows[i]) - 12);
      el(g, "circle", { cx: x0 + width / 2, cy, r: 9 });
      el(g, "text", { x: x0 + width / 2, y: cy + 3.5, "text-anchor": "middle" }, fmt(bad));
      const what = data.invalid === "missing" ? `${data.nan[i]} missing predictions`
        : `${data.nan[i]} NaN and ${data.inf[i]} infinite predictions`;
      tip(g, `${w.span}\n${what} of ${fmt(data.rows[i])} rows`);
    });
  }

  function drawVersions(svg) {
    const box = frame(svg, 210);
    const ys = yScale(0, 100, box.top, box.bottom, 4);
    const x = xScale(box.left, box.right);
    axes(svg, x, ys, box, "% of rows");
    windows.forEach((w, i) => {
      const total = data.versions.reduce((s, v) => s + v.rows[i], 0);
      if (total <= 0) return;
      const pad = Math.max(1, (x(w.end) - x(w.start)) * 0.14);
      let acc = 0;
      for (const v of data.versions) {
        const n = v.rows[i];
        if (n <= 0) continue;
        const y0 = ys.y((acc + n) / total * 100), y1 = ys.y(acc / total * 100);
        const r = el(svg, "rect", { class: "segment", "data-version": v.name, "data-window": w.key,
          x: x(w.start) + pad, width: Math.max(1, x(w.end) - x(w.start) - 2 * pad), y: y0,
          height: Math.max(0, y1 - y0 - 0.5), fill: v.colour });
        tip(r, `${w.span}\nversion ${v.name}: ${fmt(n)} rows (${(n / total * 100).toFixed(0)}%)`);
        acc += n;
      }
    });
  }

  function drawDrift(svg) {
    const series = data.drift;
    const cols = Math.min(3, series.length), rows = Math.ceil(series.length / cols);
    const gap = 18, ph = 158, pw = (W - gap * (cols - 1)) / cols;
    svg.setAttribute("viewBox", `0 0 ${W} ${rows * ph + (rows - 1) * gap}`);
    let max = 0.05;
    for (const s of series) for (const kind of ["consecutive", "baseline"])
      if (s[kind]) for (const v of s[kind].values) if (v !== null) max = Math.max(max, v);
    series.forEach((s, k) => {
      const ox = (k % cols) * (pw + gap), oy = Math.floor(k / cols) * (ph + gap);
      const g = el(svg, "g", { class: "panel", "data-column": s.column,
        "data-statistic": s.statistic, transform: `translate(${ox},${oy})` });
      el(g, "rect", { class: "panel-frame", x: 0, y: 0, width: pw, height: ph, rx: 8 });
      const title = el(g, "text", { class: "panel-title", x: 12, y: 20 }, s.column);
      el(title, "tspan", { class: "panel-statistic", dx: 8 }, s.statistic);
      const box = { left: 44, right: pw - 14, top: 34, bottom: ph - 26 };
      const ys = yScale(0, max, box.top, box.bottom, 3);
      const x = xScale(box.left, box.right);
      axes(g, x, ys, box, "");
      for (const kind of ["baseline", "consecutive"]) {
        if (!s[kind]) continue;
        const cls = kind === "baseline" ? " baseline" : "";
        for (const d of segments(s[kind].values, x, ys.y)) {
          el(g, "path", { class: "drift-line" + cls, d });
        }
        const against = kind === "baseline" ? "the baseline table" : "the previous window";
        const test = s.statistic === "KS statistic" ? "KS p-value" : "χ² p-value";
        s[kind].values.forEach((v, i) => {
          if (v === null) return;
          const c = el(g, "circle", { class: "drift-point" + cls, cx: centre(x, windows[i]),
            cy: ys.y(v), r: 2.6, "data-window": windows[i].key, "data-value": v });
          const p = s[kind].pvalues[i];
          tip(c, `${windows[i].span}\n${s.column}: ${s.statistic} ${fmt(v)} vs ${against}` +
            (p === null ? "" : `\n${test} ${p < 0.001 ? p.toExponential(1) : fmt(p)}`));
        });
      }
    });
  }

  const charts = {
    metric: drawMetric, counts: drawCounts, versions: drawVersions, drift: drawDrift,
  };
  for (const svg of document.querySelectorAll("svg[data-chart]")) {
    const name = svg.getAttribute("data-chart");
    try {
      charts[name](svg);
      svg.setAttribute("data-points", String(windows.length));
      svg.setAttribute("data-rendered", "true");
    } catch (err) {
      fail(name + ": " + ((err && err.stack) || err));
    }
  }
})();
"""
