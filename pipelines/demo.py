"""``mlops demo``: the whole lifecycle on a laptop, in the order the Databricks jobs run it.

One process, one SparkSession, one local MLflow store. Round 1 trains a first model and
makes it champion; round 2 brings newer data, so a challenger meets that champion.
Every step is a real job task run through its own flag parser.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.common.errors import ValidationFailed
from pipelines.common.runtime import Runtime
from pipelines.common.task import TaskContext
from pipelines.deployment.aliases import CHAMPION
from pipelines.tasks import run_task

SCHEMA = "spark_catalog.mlops_local"
MODEL = f"{SCHEMA}.nyc_taxi_fare"
EXPERIMENT = "/Shared/mlops-stack/local-experiment"
TRIPS = f"{SCHEMA}.trips"
PICKUP_FEATURES = f"{SCHEMA}.pickup_features"
DROPOFF_FEATURES = f"{SCHEMA}.dropoff_features"
INFERENCE = f"{SCHEMA}.fare_inference"
TABLES = (TRIPS, PICKUP_FEATURES, DROPOFF_FEATURES, INFERENCE)


@dataclass(frozen=True)
class Round:
    """One pass of the lifecycle: new data arrives, a model is trained on a window of it,
    validated and compared on the following days, then those days are scored."""

    title: str
    new_data: tuple[dt.date, dt.date]
    train: tuple[dt.date, dt.date]
    holdout: tuple[dt.date, dt.date]


ROUNDS = (
    Round(
        "round 1: a first model",
        new_data=(dt.date(2016, 1, 1), dt.date(2016, 1, 29)),
        train=(dt.date(2016, 1, 1), dt.date(2016, 1, 22)),
        holdout=(dt.date(2016, 1, 22), dt.date(2016, 1, 29)),
    ),
    Round(
        "round 2: newer data, a challenger meets the champion",
        new_data=(dt.date(2016, 1, 29), dt.date(2016, 2, 12)),
        train=(dt.date(2016, 1, 8), dt.date(2016, 2, 5)),
        holdout=(dt.date(2016, 2, 5), dt.date(2016, 2, 12)),
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


def round_steps(r: Round, trips_per_day: int) -> list[Step]:
    """The job tasks of one round, with the flags their Databricks tasks get."""
    model = ["--model-name", MODEL]
    tracked = [*model, "--experiment", EXPERIMENT]
    return [
        Step(
            "generate-data",
            ["--output-table", TRIPS, "--trips-per-day", str(trips_per_day),
             *_dates(r.new_data)],
            lambda res: f"{res['rows_written']:,} trips {_span(r.new_data)}",
        ),
        Step("write-features", [*LABELLED_DATA, *_dates(r.new_data)], _describe_features),
        Step(
            "train",
            [*LABELLED_DATA, *_dates(r.train), *tracked],
            lambda res: _describe_training(res, r),
        ),
        Step(
            "validate",
            [*LABELLED_DATA, *_dates(r.holdout), *tracked, "--run-mode", "enabled"],
            _describe_validation,
        ),
        Step("deploy", [*LABELLED_DATA, *_dates(r.holdout), *model], _describe_deployment),
        Step(
            "batch-inference",
            [*LABELLED_DATA, *_dates(r.holdout), *model, "--output-table", INFERENCE],
            lambda res: f"{res['rows_scored']:,} trips {_span(r.holdout)} scored by version"
            f" {res['model_version']} (@{CHAMPION})",
        ),
    ]  # fmt: skip


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


def run_demo(runtime: Runtime, trips_per_day: int = 1500, fresh: bool = False) -> int:
    """Run both rounds and print a summary; return the process exit code."""
    # The steps print their own one-line outcome; MLflow's INFO chatter would bury it.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    if fresh:
        _remove_local_state(runtime)
    started = time.perf_counter()
    print("mlops-stack: the local lifecycle (the same tasks the Databricks jobs run)")
    print(f"  lake: {runtime.lake_dir}   MLflow: {runtime.tracking_uri}")
    ctx = TaskContext(runtime)
    _timed("start Spark (Hive metastore, parquet tables) and MLflow",
           lambda: (ctx.spark, ctx.mlflow) and "ready")  # fmt: skip
    outcomes: list[dict[str, Any]] = []
    for r in ROUNDS:
        print(f"\n{r.title}")
        rejected = False
        for step in round_steps(r, trips_per_day):
            if step.task == "deploy" and rejected:
                # As in the training job: deployment depends on validation.
                print(f"  {step.task:<18}  skipped: validation failed, the champion stays")
                continue
            try:
                result = _timed(
                    step.task, lambda s=step: run_task(s.task, s.flags, ctx), step.describe
                )
            except ValidationFailed as failure:
                print(f"  {step.task:<18} FAILED  {failure}")
                rejected = True
                continue
            if step.task == "deploy":
                outcomes.append(result)
    print(f"\nlifecycle done in {time.perf_counter() - started:.1f} s\n")
    print(_summary(ctx, outcomes))
    print(_dev_stack_summary())
    return 0


def _timed(label: str, action: Callable[[], Any], describe: Callable | None = None) -> Any:
    t0 = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - t0
    detail = describe(result) if describe else str(result)
    print(f"  {label:<18} {seconds:5.1f} s  {detail}", flush=True)
    return result


def _summary(ctx: TaskContext, outcomes: list[dict[str, Any]]) -> str:
    spark, client = ctx.spark, ctx.mlflow
    lines = ["Tables"]
    for table in TABLES:
        count = spark.table(table).count()
        lines.append(f"  {table:<44} {count:>9,} rows")
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
    if outcomes:
        last = outcomes[-1]
        lines.append(f"\nLast deployment: {_describe_deployment(last)}")
    lines.append("\nNext")
    lines.append("  mlops ui                    open the MLflow UI on this store")
    lines.append("  mlops run <task> --help     run one job task with the flags its job passes")
    return "\n".join(lines)


def _dev_stack_summary() -> str:
    """What `pulumi up -s dev` would create, from the offline render of the dev stack."""
    # Imported here: the Pulumi SDKs are only needed for this last look.
    from infra.render import render_stack, stack_file
    from infra.settings import InvalidStackConfig

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
