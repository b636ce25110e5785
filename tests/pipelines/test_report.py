"""The HTML monitoring report, opened in headless Chromium: the page's own script must draw
every chart from the metric tables' rows, and the drawing must say what the data says."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import Row

from pipelines.common.errors import SchemaMismatch
from pipelines.monitoring.report import flatten_windows, render_report, write_report

PROFILE_COLUMNS = [
    "window", "granularity", "model_id", "log_type", "slice_key", "slice_value",
    "column_name", "data_type", "count", "num_nulls", "num_nan", "num_inf", "percent_null",
    "avg", "stddev", "min", "max", "median", "quantiles", "distinct_count",
    "mean_squared_error", "root_mean_squared_error", "mean_absolute_error",
    "mean_absolute_percentage_error", "r2_score",
]  # fmt: skip
DRIFT_COLUMNS = [
    "window", "granularity", "model_id", "slice_key", "slice_value", "column_name",
    "data_type", "window_cmp", "drift_type", "count_delta", "avg_delta",
    "percent_null_delta", "ks_test", "population_stability_index", "js_distance",
    "chi_squared_test",
]  # fmt: skip
NUMERIC = {"trip_distance": "double", "prediction": "double", "fare_amount": "double"}
CATEGORICAL = {"pickup_zip": "int", "dropoff_zip": "int"}

START = dt.datetime(2024, 3, 1)
DAYS = 14
THRESHOLD = 4.0
# RMSE per day: no labels yet on days 3 and 13; above 4.0 on days 10-12; exactly 4.0 on
# day 5, which is not above.
RMSE = [3.1, 3.3, 3.2, None, 3.5, 4.0, 3.6, 3.4, 3.8, 3.9, 4.4, 4.7, 4.9, None]
VERSIONS = {"1": range(0, 9), "2": range(6, 14)}  # version 2 rolled out on day 6
ROLLOUT = {6: 0.2, 7: 0.5, 8: 0.8}  # share of version 2's rows while both serve
BAD_PREDICTIONS = {9: (3, 1), 12: (2, 0)}  # day: (NaN, infinite)
RULE = dict(
    table="spark_catalog.taxi.trip_predictions",
    metric="root_mean_squared_error",
    threshold=THRESHOLD,
    violated_when="above",
    evaluation_windows=4,
    violation_windows=2,
    generated_at=dt.datetime(2024, 3, 15, 6, 30, tzinfo=dt.UTC),
)
VERDICT = "Retraining triggered: RMSE <b>4.9</b> & rising"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
]


def day(i: int) -> dt.datetime:
    return START + dt.timedelta(days=i)


def key(i: int) -> str:
    return pd.Timestamp(day(i)).isoformat()


# ---------------------------------------------------------------------------------------
# Metric tables as toPandas() gives them
# ---------------------------------------------------------------------------------------


def profile_frame() -> pd.DataFrame:
    rows = []

    def add(i: int, model: str, column: str, rows_in_window: int, **values) -> None:
        window = {"start": pd.Timestamp(day(i)), "end": pd.Timestamp(day(i + 1))}
        rows.append(
            {
                "window": window,  # a dict, as with Arrow
                "granularity": "1 day",
                "model_id": model,
                "log_type": "INPUT",
                "column_name": column,
                "data_type": None if column == ":table" else {**NUMERIC, **CATEGORICAL}[column],
                "count": rows_in_window,
                "num_nulls": 0,
                **values,
            }
        )

    for i in range(DAYS):
        total = 900 + 15 * i
        share_of_2 = ROLLOUT.get(i, 0.0 if i < 6 else 1.0)
        per_version = {
            v: round(total * (share_of_2 if v == "2" else 1 - share_of_2))
            for v, days in VERSIONS.items()
            if i in days
        }
        total = sum(per_version.values())
        rmse = RMSE[i]
        for model, n in [("*", total), *per_version.items()]:
            add(
                i,
                model,
                ":table",
                n,
                root_mean_squared_error=rmse,
                mean_squared_error=None if rmse is None else rmse**2,
                r2_score=None if rmse is None else 0.9 - rmse / 20,
            )
            nan, inf = BAD_PREDICTIONS.get(i, (0, 0)) if model == "*" else (0, 0)
            for column in NUMERIC:
                bad = column == "prediction"
                add(i, model, column, n, num_nan=nan if bad else 0, num_inf=inf if bad else 0)
            for column in CATEGORICAL:
                add(i, model, column, n, num_nan=0, num_inf=0, distinct_count=40)
    # Coarser windows and a slice: the report must keep to whole-table daily windows.
    for week in range(2):
        rows.append(
            {
                "window": {
                    "start": pd.Timestamp(day(7 * week)),
                    "end": pd.Timestamp(day(7 * week + 7)),
                },
                "granularity": "1 week",
                "model_id": "*",
                "log_type": "INPUT",
                "column_name": ":table",
                "count": 5000,
                "root_mean_squared_error": 9.0,
            }
        )
    rows.append({**rows[0], "slice_key": "pickup_zip", "slice_value": "10001", "count": 7})
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def drift_frame() -> pd.DataFrame:
    rows = []
    for i in range(DAYS):
        for column in [*NUMERIC, *CATEGORICAL]:
            numeric = column in NUMERIC
            base = 0.03 + 0.004 * i + (0.05 if column == "trip_distance" and i >= 10 else 0)
            compared = {
                "CONSECUTIVE": Row(start=pd.Timestamp(day(i - 1)), end=pd.Timestamp(day(i))),
                "BASELINE": Row(start=pd.Timestamp(day(-30)), end=pd.Timestamp(day(-1))),
            }
            for drift_type, window_cmp in compared.items():
                if drift_type == "CONSECUTIVE" and i == 0:
                    continue  # no previous window to compare with
                value = base * (1.6 if drift_type == "BASELINE" else 1.0)
                rows.append(
                    {
                        # a pyspark Row, as without Arrow
                        "window": Row(start=pd.Timestamp(day(i)), end=pd.Timestamp(day(i + 1))),
                        "granularity": "1 day",
                        "model_id": "*",
                        "column_name": column,
                        "data_type": {**NUMERIC, **CATEGORICAL}[column],
                        "window_cmp": window_cmp,
                        "drift_type": drift_type,
                        "ks_test": Row(statistic=value, pvalue=0.2) if numeric else None,
                        "js_distance": None if numeric else value,
                        "chi_squared_test": None if numeric else Row(statistic=3.0, pvalue=0.4),
                    }
                )
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


# ---------------------------------------------------------------------------------------
# Headless Chromium and the DOM it dumps
# ---------------------------------------------------------------------------------------


def chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail(
            "chromium is not on PATH: the report test draws the page in headless Chromium."
            " Run `bash scripts/ensure-chromium.sh` (make test runs it)."
        )
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp)
    done = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-2000:]}"
    return done


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    text: str = ""

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Node]:
        """Descendants with this tag, class and attributes (``data_x`` for ``data-x``)."""
        found = []
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        for child in self.children:
            if (
                (tag is None or child.tag == tag)
                and (cls is None or cls in child.attrs.get("class", "").split())
                and all(child.attrs.get(k) == v for k, v in wanted.items())
            ):
                found.append(child)
            found.extend(child.all(tag, cls, **attrs))
        return found

    def one(self, *args, **kwargs) -> Node:
        found = self.all(*args, **kwargs)
        assert len(found) == 1, f"expected one {args} {kwargs}, found {len(found)}"
        return found[0]

    def content(self) -> str:
        return self.text + "".join(c.content() for c in self.children)


class _TreeBuilder(HTMLParser):
    VOID = frozenset({"meta", "link", "br", "hr", "img", "input", "col", "wbr", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        # Text after a child goes to a text-only child, to keep reading order.
        self.stack[-1].children.append(Node("#text", {}, text=data))


def parse(html_text: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html_text)
    return builder.root


def rendered_dom(html_text: str, tmp: Path) -> Node:
    page = write_report(tmp / "report.html", html_text)
    return parse(chromium(tmp, "--dump-dom", page.as_uri()).stdout)


def png_pixels(path: Path) -> np.ndarray:
    """The RGB(A) pixels of an 8-bit, non-interlaced PNG (what Chromium writes)."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    at, idat = 8, b""
    while at < len(blob):
        (length,) = struct.unpack(">I", blob[at : at + 4])
        kind, body = blob[at + 4 : at + 8], blob[at + 8 : at + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + width * bpp)
    pixels = np.zeros((height, width * bpp), np.uint8)
    previous = np.zeros(width * bpp, np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: running sum along the row, per channel
            row = np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:  # Up
            row = line + previous
        else:  # Average and Paeth depend on the byte just decoded: one byte at a time
            out, up = [0] * len(line), previous.tolist()
            for i, value in enumerate(line.tolist()):
                a = out[i - bpp] if i >= bpp else 0
                if kind == 3:
                    out[i] = (value + (a + up[i]) // 2) & 255
                    continue
                b, c = up[i], up[i - bpp] if i >= bpp else 0
                # Paeth: the neighbour nearest to a + b - c (ties: a, then b).
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                out[i] = (value + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            row = np.array(out, np.uint8)
        pixels[y], previous = row, row
    return pixels.reshape(height, width, bpp)[:, :, :3]


# ---------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report_html() -> str:
    return render_report(profile_frame(), drift_frame(), verdict=VERDICT, **RULE)


@pytest.fixture(scope="module")
def dom(report_html: str, tmp_path_factory: pytest.TempPathFactory) -> Node:
    return rendered_dom(report_html, tmp_path_factory.mktemp("report"))


def test_every_chart_is_drawn_for_every_window_without_script_errors(dom: Node):
    assert dom.one(id="errors").content().strip() == ""
    charts = {svg.attrs["data-chart"]: svg for svg in dom.all("svg") if "data-chart" in svg.attrs}
    assert set(charts) == {"metric", "drift", "counts", "versions"}
    for name, svg in charts.items():
        assert svg.attrs.get("data-rendered") == "true", f"chart {name} was not drawn"
        assert svg.attrs.get("data-points") == str(DAYS), f"chart {name} has the weekly rows"


def test_metric_chart_marks_threshold_violations_and_gaps(dom: Node):
    chart = dom.one("svg", data_chart="metric")
    threshold = chart.one("line", "threshold")
    assert float(threshold.attrs["data-value"]) == THRESHOLD
    points = chart.all("circle", "point")
    assert {p.attrs["data-window"] for p in chart.all("circle", "violating")} == {
        key(10),
        key(11),
        key(12),
    }
    assert {p.attrs["data-window"] for p in points} == {
        key(i) for i, v in enumerate(RMSE) if v is not None
    }
    # The threshold line sits at 4.0 on the chart's own y scale (y grows downwards).
    line_y = float(threshold.attrs["y1"])
    for point in points:
        value, cy = float(point.attrs["data-value"]), float(point.attrs["cy"])
        if value > THRESHOLD:
            assert cy < line_y
        elif value < THRESHOLD:
            assert cy > line_y
        else:
            assert cy == pytest.approx(line_y, abs=0.01)
    assert {g.attrs["data-window"] for g in chart.all("g", "gap")} == {key(3), key(13)}
    assert "2 windows without labels" in dom.one(id="metric-card").content()
    assert chart.all("path", "series"), "no line drawn between the points"


def test_counts_chart_flags_windows_with_nan_or_infinite_predictions(dom: Node):
    chart = dom.one("svg", data_chart="counts")
    assert len(chart.all("rect", "bar")) == DAYS
    flagged = {g.attrs["data-window"]: g.attrs["data-value"] for g in chart.all("g", "invalid")}
    assert flagged == {key(i): str(nan + inf) for i, (nan, inf) in BAD_PREDICTIONS.items()}
    tooltip = chart.one("g", "invalid", data_window=key(9)).one("title").content()
    assert "3 NaN and 1 infinite predictions" in tooltip


def test_versions_chart_shows_both_versions_with_a_legend(dom: Node):
    card = dom.one(id="versions-card")
    legend = card.all("li", "legend-item")
    assert [item.attrs["data-version"] for item in legend] == ["1", "2"]
    assert [item.content().strip() for item in legend] == ["version 1", "version 2"]
    chart = card.one("svg", data_chart="versions")
    by_window: dict[str, set[str]] = {}
    for segment in chart.all("rect", "segment"):
        by_window.setdefault(segment.attrs["data-window"], set()).add(segment.attrs["data-version"])
    assert by_window == {
        key(i): {v for v, days in VERSIONS.items() if i in days} for i in range(DAYS)
    }


def test_drift_chart_has_a_panel_per_column_with_its_statistic(dom: Node):
    chart = dom.one("svg", data_chart="drift")
    panels = {g.attrs["data-column"]: g for g in chart.all("g", "panel")}
    assert {c: g.attrs["data-statistic"] for c, g in panels.items()} == {
        **{c: "KS statistic" for c in NUMERIC},
        **{c: "JS distance" for c in CATEGORICAL},
    }
    for column, panel in panels.items():
        consecutive = panel.all("circle", "drift-point")
        baseline = panel.all("circle", "baseline")
        assert len(baseline) == DAYS, column
        assert len(consecutive) - len(baseline) == DAYS - 1, column  # none for day 0
    card_text = dom.one(id="drift-card").content()
    assert "KS statistic" in card_text and "JS distance" in card_text
    assert "baseline" in card_text


def test_header_states_the_rule_the_verdict_and_the_last_windows(dom: Node):
    assert dom.one("h1").content() == RULE["table"]
    verdict = dom.one("div", "verdict")
    assert verdict.attrs["data-state"] == "violated"  # days 12, 11, 10 of 12, 11, 10, 9
    assert dom.one("p", "verdict-text").content() == VERDICT  # shown as text, not markup
    assert dom.one("p", "verdict-text").all("b") == []
    assert "at least 2 of the last 4 evaluated 1 day windows" in verdict.content()
    assert "Generated 2024-03-15 06:30 UTC" in dom.one("p", "meta").content()
    table = dom.one(id="last-windows")
    assert [tr.attrs["data-window"] for tr in table.all("tr") if "data-window" in tr.attrs] == [
        key(12),
        key(11),
        key(10),
        key(9),
    ]


def test_screenshot_shows_the_drawn_report(report_html: str, tmp_path: Path):
    page = write_report(tmp_path / "report.html", report_html)
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1200,2000", f"--screenshot={shot}", page.as_uri())
    pixels = png_pixels(shot)
    assert pixels.shape == (2000, 1200, 3)
    packed = pixels.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
    colours = np.unique(packed)
    assert len(colours) > 500, f"only {len(colours)} colours: the page looks blank"
    red = np.all(np.abs(pixels.astype(int) - (208, 59, 59)) < 30, axis=-1)
    assert red.sum() > 200, "no violation red: the violating points were not painted"


def test_without_windows_the_page_says_so_instead_of_drawing(tmp_path: Path):
    html_text = render_report(
        pd.DataFrame(columns=PROFILE_COLUMNS),
        pd.DataFrame(columns=DRIFT_COLUMNS),
        verdict=None,
        **RULE,
    )
    dom = rendered_dom(html_text, tmp_path)
    assert dom.one(id="errors").content().strip() == ""
    assert [svg for svg in dom.all("svg") if "data-chart" in svg.attrs] == []
    assert "No monitoring windows yet" in dom.one(id="empty").content()


def test_windows_come_flat_from_dicts_and_rows():
    flat = flatten_windows(drift_frame().head(2))
    assert list(flat.columns[:2]) == ["window_start", "window_end"]
    assert flat["window_start"].iloc[0] == pd.Timestamp(day(0))
    assert "window_cmp_start" in flat.columns and "window" not in flat.columns
    assert flatten_windows(profile_frame())["window_end"].iloc[0] == pd.Timestamp(day(1))


def test_table_strings_cannot_break_out_of_the_page():
    profile = profile_frame()
    profile.loc[profile["model_id"] == "2", "model_id"] = "</script><script>alert(1)//"
    html_text = render_report(profile, drift_frame(), verdict="</script>", **RULE)
    assert html_text.count("</script>") == 2  # the closing tags of our two script blocks
    assert "<script>alert" not in html_text


def test_a_profile_without_the_metric_column_is_a_schema_mismatch():
    profile = profile_frame().drop(columns=["root_mean_squared_error"])
    with pytest.raises(SchemaMismatch, match="root_mean_squared_error"):
        render_report(profile, drift_frame(), verdict=None, **RULE)


def test_a_given_granularity_picks_its_windows_and_missing_tables_are_empty():
    weekly = render_report(
        profile_frame(), drift_frame(), verdict=None, granularity="1 week", **RULE
    )
    assert "2 windows of 1 week" in weekly
    hourly = render_report(profile_frame(), None, verdict=None, granularity="1 hour", **RULE)
    assert 'id="empty"' in hourly and "for 1 hour windows" in hourly
    assert 'id="empty"' in render_report(None, None, verdict=None, **RULE)


# ---------------------------------------------------------------------------------------
# A classification project's tables (churn)
# ---------------------------------------------------------------------------------------

CHURN_NUMERIC = {"probability": "double", "tenure_months": "double"}
CHURN_CATEGORICAL = {"prediction": "bigint", "churned": "bigint", "contract": "string"}
CHURN_QUALITY = ["accuracy_score", "log_loss", "confusion_matrix", "precision", "recall",
                 "f1_score"]  # fmt: skip
# F1 (macro) per day: no labels yet on the last two days; below 0.6 on days 7 and 9.
F1 = [0.71, 0.69, 0.72, 0.7, 0.66, 0.65, 0.63, 0.58, 0.61, 0.55, None, None]
CHURN_DAYS = len(F1)
MISSING_PREDICTIONS = {4: 2}  # day: NULL predictions
CHURN_RULE = {
    **RULE,
    "table": "spark_catalog.telco.churn_predictions",
    "metric": "f1_score.macro",
    "threshold": 0.6,
    "violated_when": "below",
}


def _matrix(i: int) -> list[dict]:
    """The day's confusion matrix: (prediction, label) cells, ordered as the table is."""
    counts = {("0", "0"): 600 - 5 * i, ("0", "1"): 60 + 4 * i, ("1", "0"): 50, ("1", "1"): 90}
    return [{"prediction": p, "label": y, "count": n} for (p, y), n in counts.items()]


def churn_profile_frame() -> pd.DataFrame:
    rows = []
    for i, f1 in enumerate(F1):
        window = {"start": pd.Timestamp(day(i)), "end": pd.Timestamp(day(i + 1))}
        keys = {"window": window, "granularity": "1 day", "log_type": "INPUT"}
        labelled = f1 is not None
        for model in ("*", "5"):
            rows.append(
                {
                    **keys,
                    "model_id": model,
                    "column_name": ":table",
                    "count": 800,
                    "accuracy_score": 0.86 if labelled else None,
                    "log_loss": 0.35 if labelled else None,
                    "confusion_matrix": _matrix(i) if labelled else None,
                    "precision": {"macro": f1 + 0.02, "weighted": f1 + 0.1} if labelled else None,
                    "recall": {"macro": f1 - 0.02, "weighted": 0.86} if labelled else None,
                    "f1_score": {"macro": f1, "weighted": f1 + 0.08} if labelled else None,
                }
            )
            for column, kind in {**CHURN_NUMERIC, **CHURN_CATEGORICAL}.items():
                nulls = MISSING_PREDICTIONS.get(i, 0) if column == "prediction" else 0
                rows.append(
                    {
                        **keys, "model_id": model, "column_name": column, "data_type": kind,
                        "count": 800 - nulls, "num_nulls": nulls, "num_nan": 0,
                        "distinct_count": 2 if column in ("prediction", "churned") else 3,
                    }
                )  # fmt: skip
    columns = [*PROFILE_COLUMNS[: PROFILE_COLUMNS.index("distinct_count") + 1], *CHURN_QUALITY]
    return pd.DataFrame(rows, columns=columns)


def churn_drift_frame() -> pd.DataFrame:
    rows = []
    for i in range(1, CHURN_DAYS):
        for column in [*CHURN_NUMERIC, *CHURN_CATEGORICAL]:
            numeric = column in CHURN_NUMERIC
            value = 0.02 + 0.01 * i
            rows.append(
                {
                    "window": {"start": pd.Timestamp(day(i)), "end": pd.Timestamp(day(i + 1))},
                    "granularity": "1 day",
                    "model_id": "*",
                    "column_name": column,
                    "data_type": {**CHURN_NUMERIC, **CHURN_CATEGORICAL}[column],
                    "window_cmp": {"start": pd.Timestamp(day(i - 1)), "end": pd.Timestamp(day(i))},
                    "drift_type": "CONSECUTIVE",
                    "ks_test": {"statistic": value, "pvalue": 0.3} if numeric else None,
                    "js_distance": None if numeric else value,
                    "chi_squared_test": None if numeric else {"statistic": 1.0, "pvalue": 0.5},
                }
            )
    return pd.DataFrame(rows, columns=DRIFT_COLUMNS)


@pytest.fixture(scope="module")
def churn_dom(tmp_path_factory: pytest.TempPathFactory) -> Node:
    html_text = render_report(
        churn_profile_frame(), churn_drift_frame(), verdict="violated", **CHURN_RULE
    )
    return rendered_dom(html_text, tmp_path_factory.mktemp("churn-report"))


def test_a_classification_report_charts_the_rules_struct_field(churn_dom: Node):
    assert churn_dom.one(id="errors").content().strip() == ""
    charts = {s.attrs["data-chart"]: s for s in churn_dom.all("svg") if "data-chart" in s.attrs}
    assert set(charts) == {"metric", "drift", "counts", "versions"}
    for name, svg in charts.items():
        assert svg.attrs.get("data-rendered") == "true", f"chart {name} was not drawn"
        assert svg.attrs.get("data-points") == str(CHURN_DAYS)
    chart = charts["metric"]
    points = {p.attrs["data-window"]: float(p.attrs["data-value"]) for p in chart.all("circle")}
    assert points == {key(i): v for i, v in enumerate(F1) if v is not None}
    assert {p.attrs["data-window"] for p in chart.all("circle", "violating")} == {key(7), key(9)}
    assert {g.attrs["data-window"] for g in chart.all("g", "gap")} == {key(10), key(11)}
    # Below the threshold is below its line on the chart (y grows downwards).
    line_y = float(chart.one("line", "threshold").attrs["y1"])
    assert all(float(p.attrs["cy"]) > line_y for p in chart.all("circle", "violating"))
    card = churn_dom.one(id="metric-card").content()
    assert "F1 (macro) per window" in card and "f1_score.macro" in card
    assert "2 windows below the threshold" in card
    verdict = churn_dom.one("div", "verdict")
    assert verdict.attrs["data-state"] == "violated"  # days 9, 8, 7, 6: 2 below, the latest
    assert "f1_score.macro</code> below <b>0.6</b>" in html_of(verdict)


def html_of(node: Node) -> str:
    """The node's markup, roughly (tags and text), for substring checks."""
    inner = "".join(html_of(c) for c in node.children)
    if node.tag == "#text":
        return node.text
    return f"<{node.tag}>{inner}</{node.tag}>"


def test_a_classification_report_shows_class_drift_missing_predictions_and_the_matrix(
    churn_dom: Node,
):
    panels = {g.attrs["data-column"]: g for g in churn_dom.one("svg", data_chart="drift").all("g")
              if "data-column" in g.attrs}  # fmt: skip
    assert {c: g.attrs["data-statistic"] for c, g in panels.items()} == {
        "probability": "KS statistic", "tenure_months": "KS statistic",
        "prediction": "JS distance", "churned": "JS distance", "contract": "JS distance",
    }  # fmt: skip
    assert all(len(g.all("circle", "drift-point")) == CHURN_DAYS - 1 for g in panels.values())
    counts = churn_dom.one("svg", data_chart="counts")
    flagged = {g.attrs["data-window"]: g.attrs["data-value"] for g in counts.all("g", "invalid")}
    assert flagged == {key(4): "2"}
    assert "2 missing predictions of 800 rows" in counts.one("g", "invalid").one("title").content()
    tiles = churn_dom.one("section", "summary").content()
    assert "Missing predictions" in tiles and "NaN / inf" not in tiles
    # The confusion matrix of the latest evaluated window (day 9): label rows, prediction
    # columns.
    card = churn_dom.one(id="confusion-card")
    assert "2024-03-10 00:00" in card.content()
    cells = {
        (td.attrs["data-label"], td.attrs["data-prediction"]): int(td.content().replace(",", ""))
        for td in card.one("table", id="confusion-matrix").all("td")
    }
    assert cells == {(c["label"], c["prediction"]): c["count"] for c in _matrix(9)}
    assert {k for k, td in zip(cells, card.all("td"), strict=True)
            if "diagonal" in td.attrs["class"]} == {("0", "0"), ("1", "1")}  # fmt: skip


def test_a_classification_report_without_labels_has_an_empty_matrix_card(tmp_path: Path):
    profile = churn_profile_frame()
    for column in CHURN_QUALITY:
        profile[column] = None
    html_text = render_report(profile, churn_drift_frame(), verdict=None, **CHURN_RULE)
    assert 'id="confusion-card"' in html_text and "No window has labels yet." in html_text
    dom = rendered_dom(html_text, tmp_path)
    assert dom.one(id="errors").content().strip() == ""
    assert dom.one("svg", data_chart="metric").attrs.get("data-rendered") == "true"
    assert dom.one("div", "verdict").attrs["data-state"] == "pending"


def test_a_regression_report_has_no_confusion_matrix(report_html: str):
    assert 'id="confusion-card"' not in report_html
    with pytest.raises(SchemaMismatch, match="f1_score"):
        render_report(profile_frame(), drift_frame(), verdict=None, **CHURN_RULE)
