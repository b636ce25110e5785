"""``mlops demo``: the whole lifecycle on a laptop, in the order the Databricks jobs run it.

One process, one SparkSession, one local MLflow store. Round 1 trains a first model and
makes it champion; round 2 brings newer data, so a challenger meets that champion, and
monitoring starts; in round 3 the data drifts, monitoring finds the violation and the
retraining job trains, validates and maybe promotes a new challenger.
Every step is a real job task run through its own flag parser.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pipelines.common.errors import ValidationFailed
from pipelines.common.registry import CHAMPION
from pipelines.common.runtime import Runtime
from pipelines.common.task import TaskContext
from pipelines.common.task_values import (
    METRIC_VIOLATED,
    TRAINED_VERSION,
    condition_holds,
    resolve,
)
from pipelines.monitoring.violation import ViolationRule
from pipelines.monitoring.violation_task import TASK_VALUE
from pipelines.tasks import run_task

SCHEMA = "spark_catalog.mlops_local"
MODEL = f"{SCHEMA}.nyc_taxi_fare"
EXPERIMENT = "/Shared/mlops-stack/local-experiment"
TRIPS = f"{SCHEMA}.trips"
PICKUP_FEATURES = f"{SCHEMA}.pickup_features"
DROPOFF_FEATURES = f"{SCHEMA}.dropoff_features"
INFERENCE = f"{SCHEMA}.fare_inference"
# Round 1's holdout days scored by the first champion: the reference for baseline drift.
BASELINE = f"{SCHEMA}.fare_inference_baseline"
PROFILE_METRICS = f"{INFERENCE}_profile_metrics"
DRIFT_METRICS = f"{INFERENCE}_drift_metrics"
TABLES = (TRIPS, PICKUP_FEATURES, DROPOFF_FEATURES, INFERENCE, BASELINE, PROFILE_METRICS,
          DRIFT_METRICS)  # fmt: skip
# The dev stack's settings give the violation rule, so the demo rehearses its thresholds.
DEV_STACK = Path(__file__).resolve().parents[1] / "Pulumi.dev.yaml"
REPORT_NAME = "monitoring-report.html"


@dataclass(frozen=True)
class DriftPlan:
    """The generator's drift knob: from ``start`` on, fares and distances change."""

    start: dt.date
    fare_factor: float
    distance_factor: float

    def flags(self) -> list[str]:
        return ["--drift-start", self.start.isoformat(), "--fare-drift", str(self.fare_factor),
                "--distance-drift", str(self.distance_factor)]  # fmt: skip

    def describe(self) -> str:
        return (
            f"from {self.start:%b %d} fares x{self.fare_factor:g},"
            f" distances x{self.distance_factor:g}"
        )


@dataclass(frozen=True)
class Round:
    """One pass of the lifecycle: new data arrives, a model is trained on a window of it,
    validated and compared on the following days, then requests are scored; monitoring
    looks at the scored requests once their labels arrive."""

    title: str
    new_data: tuple[dt.date, dt.date]
    train: tuple[dt.date, dt.date]
    holdout: tuple[dt.date, dt.date]
    scored: tuple[dt.date, dt.date]
    # Monitoring: labels arrive for `labelled`, metrics are refreshed for `monitored`.
    labelled: tuple[dt.date, dt.date] | None = None
    monitored: tuple[dt.date, dt.date] | None = None
    drift: DriftPlan | None = None
    # Train only when the violation check says so (the retraining job), after monitoring.
    retrain_on_violation: bool = False


ROUNDS = (
    Round(
        "round 1: a first model",
        new_data=(dt.date(2016, 1, 1), dt.date(2016, 1, 29)),
        train=(dt.date(2016, 1, 1), dt.date(2016, 1, 22)),
        holdout=(dt.date(2016, 1, 22), dt.date(2016, 1, 29)),
        scored=(dt.date(2016, 1, 22), dt.date(2016, 1, 29)),
    ),
    Round(
        "round 2: newer data, a challenger meets the champion; monitoring starts",
        new_data=(dt.date(2016, 1, 29), dt.date(2016, 2, 12)),
        train=(dt.date(2016, 1, 8), dt.date(2016, 2, 5)),
        holdout=(dt.date(2016, 2, 5), dt.date(2016, 2, 12)),
        scored=(dt.date(2016, 1, 29), dt.date(2016, 2, 12)),
        labelled=(dt.date(2016, 1, 22), dt.date(2016, 2, 12)),
        monitored=(dt.date(2016, 1, 22), dt.date(2016, 2, 12)),
    ),
    Round(
        "round 3: drift begins; monitoring finds it and the retraining job runs",
        new_data=(dt.date(2016, 2, 12), dt.date(2016, 3, 4)),
        # The retraining job's windows for a run on Mar 04: recent days, drift included.
        train=(dt.date(2016, 2, 19), dt.date(2016, 3, 1)),
        holdout=(dt.date(2016, 3, 1), dt.date(2016, 3, 4)),
        scored=(dt.date(2016, 2, 12), dt.date(2016, 3, 4)),
        # The last scored day has no labels yet: its window has no quality metrics.
        labelled=(dt.date(2016, 2, 12), dt.date(2016, 3, 3)),
        monitored=(dt.date(2016, 2, 12), dt.date(2016, 3, 4)),
        drift=DriftPlan(dt.date(2016, 2, 19), fare_factor=1.4, distance_factor=1.25),
        retrain_on_violation=True,
    ),
)


def _dates(window: tuple[dt.date, dt.date]) -> list[str]:
    return ["--start-date", window[0].isoformat(), "--end-date", window[1].isoformat()]


FEATURE_TABLES = ["--pickup-features-table", PICKUP_FEATURES,
                  "--dropoff-features-table", DROPOFF_FEATURES]  # fmt: skip
LABELLED_DATA = ["--input-table", TRIPS, *FEATURE_TABLES]


@dataclass(frozen=True)
class Step:
    task: str
    flags: list[str]
    describe: Callable[[dict[str, Any]], str]
    label: str = ""
    # Run only if this holds for the task values published so far (a condition task).
    when: Callable[[dict[str, dict[str, Any]]], bool] | None = None
    skipped: str = ""
    # The task's key in its Databricks job, when later tasks read the values it publishes.
    key: str = ""

    @property
    def title(self) -> str:
        return self.label or self.task


def _violated(published: dict[str, dict[str, Any]]) -> bool:
    """The retraining job's IsViolated condition task, on the value CheckViolation
    published (pipelines.common.task_values)."""
    return condition_holds(resolve(METRIC_VIOLATED.reference, published), "EQUAL_TO", "true")


def rule_flags(rule: ViolationRule) -> list[str]:
    """The check-violation flags of the retraining job for this rule."""
    return ["--metric", rule.metric, "--threshold", repr(rule.threshold),
            "--violated-when", rule.violated_when,
            "--evaluation-windows", str(rule.evaluation_windows),
            "--violation-windows", str(rule.violation_windows),
            "--granularity", rule.granularity]  # fmt: skip


def training_steps(r: Round, retraining: bool) -> list[Step]:
    """The training job: Train -> ModelValidation -> ModelDeployment."""
    model = ["--model-name", MODEL]
    tracked = [*model, "--experiment", EXPERIMENT]
    when = _violated if retraining else None
    skipped = "the metric is not violated: no retraining" if retraining else ""
    prefix = "retrain: " if retraining else ""
    return [
        Step("train", [*LABELLED_DATA, *_dates(r.train), *tracked],
             lambda res: _describe_training(res, r), f"{prefix}train", when, skipped,
             key=TRAINED_VERSION.task_key),
        Step("validate",
             [*LABELLED_DATA, *_dates(r.holdout), *tracked, "--run-mode", "enabled",
              "--model-version", TRAINED_VERSION.reference],
             _describe_validation, f"{prefix}validate", when, skipped),
        Step("deploy", [*LABELLED_DATA, *_dates(r.holdout), *model,
                        "--model-version", TRAINED_VERSION.reference],
             _describe_deployment, f"{prefix}deploy", when, skipped),
    ]  # fmt: skip


def monitoring_steps(r: Round, rule: ViolationRule) -> list[Step]:
    """The monitoring job: JoinLabels -> RefreshMetrics -> CheckViolation."""
    if r.labelled is None or r.monitored is None:
        return []
    labelled = r.labelled
    return [
        Step("join-labels",
             ["--inference-table", INFERENCE, "--labels-table", TRIPS, *_dates(r.labelled)],
             lambda res: f"{res['newly_labelled']:,} labels arrived {_span(labelled)};"
             f" {res['still_unlabelled']:,} requests still without one"),
        Step("refresh-metrics",
             ["--inference-table", INFERENCE, "--baseline-table", BASELINE,
              "--granularities", rule.granularity, *_dates(r.monitored)],
             _describe_metrics),
        Step("check-violation",
             ["--profile-metrics-table", PROFILE_METRICS, *rule_flags(rule),
              "--end-date", r.monitored[1].isoformat()],
             lambda res: res["reason"], key=METRIC_VIOLATED.task_key),
    ]  # fmt: skip


def round_steps(r: Round, trips_per_day: int, rule: ViolationRule) -> list[Step]:
    """The job tasks of one round, with the flags their Databricks tasks get."""
    model = ["--model-name", MODEL]
    data = Step(
        "generate-data",
        ["--output-table", TRIPS, "--trips-per-day", str(trips_per_day), *_dates(r.new_data),
         *(r.drift.flags() if r.drift else [])],
        lambda res: f"{res['rows_written']:,} trips {_span(r.new_data)}"
        + (f" ({r.drift.describe()})" if r.drift else ""),
    )  # fmt: skip
    features = Step("write-features", [*LABELLED_DATA, *_dates(r.new_data)], _describe_features)
    score = Step(
        "batch-inference",
        [*LABELLED_DATA, *_dates(r.scored), *model, "--output-table", INFERENCE],
        lambda res: (
            f"{res['rows_scored']:,} requests {_span(r.scored)} scored by version"
            f" {res['model_version']} (@{CHAMPION})"
        ),
    )
    if r.retrain_on_violation:
        return [data, features, score, *monitoring_steps(r, rule), *training_steps(r, True)]
    steps = [data, features, *training_steps(r, False), score, *monitoring_steps(r, rule)]
    if r is ROUNDS[0]:
        steps += [
            Step("batch-inference",
                 [*LABELLED_DATA, *_dates(r.holdout), *model, "--output-table", BASELINE],
                 lambda res: f"{res['rows_scored']:,} holdout requests scored by version"
                 f" {res['model_version']}: the monitoring baseline",
                 "baseline: score"),
            Step("join-labels",
                 ["--inference-table", BASELINE, "--labels-table", TRIPS, *_dates(r.holdout)],
                 lambda res: f"{res['labelled']:,} baseline requests labelled",
                 "baseline: labels"),
        ]  # fmt: skip
    return steps


def _span(window: tuple[dt.date, dt.date]) -> str:
    return f"{window[0]:%b %d}..{window[1]:%b %d}"


def _describe_features(res: dict[str, Any]) -> str:
    return ", ".join(f"{n:,} {t.split('.')[-1]}" for t, n in res["rows_written"].items())


def _describe_training(res: dict[str, Any], r: Round) -> str:
    rmse = res["metrics"]["root_mean_squared_error"]
    return (
        f"version {res['model_version']} @challenger, trained {_span(r.train)},"
        f" test RMSE {rmse:.3f} on {res['test_rows']:,} trips"
    )


def _describe_validation(res: dict[str, Any]) -> str:
    rmse = res.get("metrics", {}).get("root_mean_squared_error")
    text = f"{res.get('status')}"
    if rmse is not None:
        text += f", RMSE {rmse:.3f} on the holdout days"
    return text


def _describe_deployment(res: dict[str, Any]) -> str:
    return f"{res.get('decision')}: {res.get('reason', '')}".strip()


def dev_violation_rule(stack_file: Path = DEV_STACK) -> ViolationRule:
    """The violation rule of the dev stack's monitoring settings."""
    # Imported here: only the demo reads a stack file.
    from infra.settings import settings_from_stack_file

    monitoring = settings_from_stack_file(stack_file).monitoring
    return ViolationRule(
        metric=monitoring.metric,
        threshold=monitoring.threshold,
        violated_when=monitoring.violated_when,
        evaluation_windows=monitoring.evaluation_windows,
        violation_windows=monitoring.violation_windows,
        granularity=monitoring.granularities[0],
    )


def run_demo(
    runtime: Runtime, trips_per_day: int = 1500, fresh: bool = False, stop_spark: bool = False
) -> int:
    """Run the three rounds and print a summary; return the process exit code.

    ``stop_spark`` ends the SparkSession and its JVM before the last look at the dev stack:
    the `mlops demo` process does not need them any more, and the Pulumi SDKs the render
    imports would otherwise add to the JVM's and the idle model workers' memory at the peak.
    """
    # The steps print their own one-line outcome; MLflow's INFO chatter would bury it.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    if fresh:
        _remove_local_state(runtime)
    rule = dev_violation_rule()
    started = time.perf_counter()
    print("mlops-stack: the local lifecycle (the same tasks the Databricks jobs run)")
    print(f"  lake: {runtime.lake_dir}   MLflow: {runtime.tracking_uri}")
    ctx = TaskContext(runtime)
    _timed("start Spark (Hive metastore, parquet tables) and MLflow",
           lambda: (ctx.spark, ctx.mlflow) and "ready")  # fmt: skip
    story = Story()
    # Task key -> the values that task published in its latest run, as a job run keeps them.
    published: dict[str, dict[str, Any]] = {}
    for r in ROUNDS:
        print(f"\n{r.title}")
        rejected = False
        for step in round_steps(r, trips_per_day, rule):
            if step.when is not None and not step.when(published):
                print(f"  {step.title:<18}  skipped: {step.skipped}")
                continue
            if step.task == "deploy" and rejected:
                # As in the training job: deployment depends on validation.
                print(f"  {step.title:<18}  skipped: validation failed, the champion stays")
                continue
            flags = [resolve(flag, published) for flag in step.flags]
            ctx.task_values.clear()
            try:
                result = _timed(step.title, partial(run_task, step.task, flags, ctx), step.describe)
            except ValidationFailed as failure:
                print(f"  {step.title:<18} FAILED  {failure}")
                rejected = True
                story.note(r, step, {"status": "failed", "reason": str(failure)})
                continue
            if step.key:
                published[step.key] = dict(ctx.task_values)
            story.note(r, step, result)
    report = runtime.home / "reports" / REPORT_NAME
    _timed(
        "monitoring report",
        lambda: run_task("monitoring-report", ["--inference-table", INFERENCE,
                                               *rule_flags(rule), "--output", str(report)], ctx),
        lambda res: f"{res['windows']} windows -> {res['path']}",
    )  # fmt: skip
    print(f"\nlifecycle done in {time.perf_counter() - started:.1f} s\n")
    print(_summary(ctx, story, rule, report))
    if stop_spark:
        _stop_spark(ctx)
    print(_dev_stack_summary())
    return 0


def _stop_spark(ctx: TaskContext) -> None:
    """Stop the session and end its JVM (``stop()`` alone leaves the gateway JVM running)."""
    from pyspark import SparkContext

    ctx.spark.stop()
    gateway = SparkContext._gateway
    if gateway is not None:
        gateway.shutdown()
        gateway.proc.stdin.close()  # the gateway JVM exits when its stdin closes
        gateway.proc.wait()
        SparkContext._gateway = SparkContext._jvm = None


@dataclass
class Story:
    """What happened, for the summary: deployments, checks and retraining."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    checks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    retraining: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def note(self, r: Round, step: Step, result: dict[str, Any]) -> None:
        if step.task == "deploy":
            self.deployments.append(result)
        if step.task == "check-violation":
            self.checks.append((r.title.split(":")[0], result))
        if step.title.startswith("retrain: "):
            self.retraining.append((step.task, result))


def _timed(label: str, action: Callable[[], Any], describe: Callable | None = None) -> Any:
    t0 = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - t0
    detail = describe(result) if describe else str(result)
    print(f"  {label:<18} {seconds:5.1f} s  {detail}", flush=True)
    return result


def _describe_metrics(res: dict[str, Any]) -> str:
    text = (
        f"{res['windows']} windows, {res['profile_rows']:,} profile and"
        f" {res['drift_rows']:,} drift rows"
    )
    if res["windows_without_labels"]:
        text += f"; {res['windows_without_labels']} window(s) without labels yet"
    bad = res["nan_predictions"] + res["infinite_predictions"]
    if bad:
        text += f"; {bad:,} non-finite predictions"
    return text


def _summary(ctx: TaskContext, story: Story, rule: ViolationRule, report: Path) -> str:
    spark, client = ctx.spark, ctx.mlflow
    lines = ["Tables"]
    for table in TABLES:
        count = spark.table(table).count()
        lines.append(f"  {table:<54} {count:>9,} rows")
    lines.append(f"\nModel {MODEL}")
    lines.append(
        f"  {'version':<8} {'aliases':<22} {'validation':<16} {'test RMSE':>9}  trained on"
    )
    versions = client.search_model_versions(f"name = '{MODEL}'")
    for found in sorted(versions, key=lambda v: int(v.version))[-6:]:
        # search results may leave aliases out; a direct read has them
        mv = client.get_model_version(MODEL, str(found.version))
        run = client.get_run(mv.run_id) if mv.run_id else None
        rmse = run.data.metrics.get("test_root_mean_squared_error") if run else None
        tags = mv.tags or {}
        lines.append(
            f"  {mv.version:<8} {', '.join(sorted(mv.aliases)) or '-':<22}"
            f" {tags.get('validation_status', '-'):<16}"
            f" {f'{rmse:.3f}' if rmse is not None else '-':>9}"
            f"  {tags.get('train_start', '?')}..{tags.get('train_end', '?')}"
        )
    if story.deployments:
        lines.append(f"\nLast deployment: {_describe_deployment(story.deployments[-1])}")
    lines.append(f"\nMonitoring {INFERENCE} (rule from {DEV_STACK.name}: {rule.describe()})")
    for title, check in story.checks:
        lines.append(f"  {title}: {check['reason']}")
    lines.extend(_drift_lines(spark))
    if story.retraining:
        outcome = story.retraining[-1]
        if outcome[0] == "deploy":
            lines.append(f"  retraining: {_describe_deployment(outcome[1])}")
        else:
            lines.append(f"  retraining stopped at {outcome[0]}: {outcome[1].get('reason', '')}")
    elif any(check[TASK_VALUE] for _, check in story.checks):
        lines.append("  retraining: did not run")
    else:
        lines.append("  retraining: not needed, the metric was never violated")
    lines.append(f"  report: {report}")
    lines.append("\nNext")
    lines.append("  mlops ui                    open the MLflow UI on this store")
    lines.append("  mlops run <task> --help     run one job task with the flags its job passes")
    return "\n".join(lines)


def _drift_lines(spark: Any) -> list[str]:
    """Baseline drift of each column in the latest window, largest first."""
    rows = spark.sql(
        f"""SELECT column_name, ks_test.statistic AS ks, js_distance AS js,
                   window.start AS window_start
            FROM {DRIFT_METRICS}
            WHERE drift_type = 'BASELINE' AND model_id = '*' AND slice_key IS NULL
              AND window.start = (SELECT max(window.start) FROM {DRIFT_METRICS})"""
    ).collect()
    if not rows:
        return []
    parts = []
    for row in sorted(rows, key=lambda r: -(r.ks if r.ks is not None else r.js or 0)):
        if row.ks is not None:
            parts.append(f"{row.column_name} KS {row.ks:.2f}")
        elif row.js is not None:
            parts.append(f"{row.column_name} JS {row.js:.2f}")
    return [f"  drift of {rows[0].window_start:%b %d} against the baseline: {', '.join(parts)}"]


def _dev_stack_summary() -> str:
    """What `pulumi up -s dev` would create, from the offline render of the dev stack."""
    # Imported here: the Pulumi SDKs are only needed for this last look.
    from infra.settings import InvalidStackConfig, stack_file
    from mlops.render import render_stack

    try:
        render = render_stack(stack_file("dev"))
    except InvalidStackConfig as exc:
        return f"\nThe dev stack does not render: {exc}"
    lines = [
        "\nThe dev stack (offline render of Pulumi.dev.yaml under Pulumi's mock engine;"
        " not a preview)"
    ]
    for kind, count in sorted(render.counts().items()):
        if kind.startswith("databricks:"):
            lines.append(f"  {count:3d}  {kind.rsplit(':', 1)[-1]}")
    jobs = [r.inputs["name"] for r in render.of_type("databricks:index/job:Job")]
    paused = "paused" if render.settings.schedules_paused else "scheduled"
    lines.append(f"  jobs ({paused}): {', '.join(sorted(jobs))}")
    lines.append("  mlops plan --stack dev      every resource, task flag, grant and export")
    return "\n".join(lines)


def _remove_local_state(runtime: Runtime) -> None:
    """Delete the local lake and MLflow store, and nothing else."""
    for part in (runtime.lake_dir, runtime.home / "mlflow"):
        if part.exists():
            shutil.rmtree(part)
