"""``mlops demo``: every project of the dev stack through its lifecycle, on this machine.

The demo runs the dev stack's own job specs (``infra.program.project_job_args``, the
same ones ``pulumi up -s dev`` deploys, with the dev stack's validation rules and
monitoring rule), with the stack's catalog swapped for the local one, in one process: one
SparkSession, one metastore, one MLflow store. Each project brings its story
(``ModelProject.demo``): data arrives round by round (its synthetic generator, with drift
where the story has it), and after each delivery the jobs run for that day, the retraining
job deciding on its own whether to retrain.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.components.batch_inference_job import batch_inference_job
from infra.components.feature_engineering_job import feature_engineering_job
from infra.components.retraining_job import retraining_job
from infra.components.scheduled_job import JobSpec, RunJobTaskSpec, TaskSpec
from infra.components.training_job import training_job
from infra.program import ProjectJobArgs, project_job_args
from infra.settings import ProjectSettings, StackSettings, settings_from_stack_file, stack_file
from mlops.local_jobs import JobRun, TaskRun, run_job
from pipelines.common.code_version import code_version
from pipelines.common.errors import UsageError
from pipelines.common.project import DemoRound, ModelProject
from pipelines.common.registry import CHAMPION
from pipelines.common.runtime import Runtime
from pipelines.common.store_lock import claim_store
from pipelines.common.task import TaskContext
from pipelines.tasks import run_task

LOCAL_CATALOG = "spark_catalog"
DEV_STACK = stack_file("dev")
REPORT_NAME = "monitoring-report.html"
_TABLE = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\b")


def local_name(name: str) -> str:
    """A dev stack table or model name in the local metastore: same schema and name, the
    local catalog."""
    return _TABLE.sub(lambda m: f"{LOCAL_CATALOG}.{m.group(2)}.{m.group(3)}", name)


def localize(flag: str, value: str) -> str:
    """A task parameter as it runs here: table and model names in the local catalog."""
    if flag in ("tables", "model-name") or flag.endswith("-table"):
        return local_name(value)
    return value


@dataclass
class LocalProject:
    """A project of the dev stack, with its jobs as the stack deploys them."""

    settings: ProjectSettings
    declaration: ModelProject
    jobs: ProjectJobArgs
    specs: dict[str, JobSpec] = field(default_factory=dict)
    runs: list[tuple[str, JobRun]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def model(self) -> str:
        return local_name(self.settings.model_full_name)

    @property
    def predictions(self) -> str:
        return local_name(self.settings.predictions)

    @property
    def tables(self) -> str:
        return local_name(str(self.settings.table_map()))


def local_projects(
    settings: StackSettings, chosen: Sequence[str] | None = None
) -> list[LocalProject]:
    """The dev stack's projects (``chosen`` of them, when given), with their job specs."""
    version = code_version()
    found = []
    for project in settings.projects:
        if chosen and project.name not in chosen:
            continue
        jobs = project_job_args(settings, project, version)
        specs = {
            "feature_engineering": feature_engineering_job(jobs.feature_engineering),
            "training": training_job(jobs.training),
            "batch_inference": batch_inference_job(jobs.batch_inference),
        }
        if jobs.retraining is not None:
            specs["monitoring"] = retraining_job(jobs.retraining)
        found.append(LocalProject(project, project.declaration, jobs, specs))
    unknown = sorted(set(chosen or ()) - {p.name for p in found})
    if unknown:
        raise UsageError(
            f"--project {', '.join(unknown)}: not a project of {DEV_STACK.name}; it deploys"
            f" {', '.join(p.name for p in settings.projects)}"
        )
    return found


def run_demo(
    runtime: Runtime,
    projects: Sequence[str] | None = None,
    scale: float = 1.0,
    fresh: bool = False,
    stop_spark: bool = False,
) -> list[LocalProject]:
    """Run every chosen project's story, print a summary, and return the projects with the
    job runs they had.

    ``scale`` multiplies each story's data size. ``stop_spark`` ends the SparkSession and
    its JVM before the last look at the dev stack: the Pulumi SDKs the render imports would
    otherwise add to the JVM's memory at the peak.
    """
    # The steps print their own one-line outcome; MLflow's INFO chatter would bury it.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # The store is this process's before anything in it is removed or started.
    claim_store(runtime.home)
    if fresh:
        _remove_local_state(runtime)
    settings = settings_from_stack_file(DEV_STACK)
    chosen = local_projects(settings, projects)
    started = time.perf_counter()
    print("mlops-stack: the dev stack's jobs, on this machine (Pulumi.dev.yaml)")
    print(f"  lake: {runtime.lake_dir}   MLflow: {runtime.tracking_uri}")
    ctx = TaskContext(runtime)
    _timed("start Spark (Hive metastore, parquet tables) and MLflow",
           lambda: (ctx.spark, ctx.mlflow) and "ready")  # fmt: skip
    reports: dict[str, Path] = {}
    for project in chosen:
        _run_story(ctx, project, scale)
        reports[project.name] = _report(ctx, runtime, project)
    print(f"\nlifecycle done in {time.perf_counter() - started:.1f} s\n")
    for project in chosen:
        print(_summary(ctx, project, reports[project.name]))
    print("\nNext")
    print("  mlops ui                    open the MLflow UI on this store")
    print("  mlops run <task> --help     run one job task with the flags its job passes")
    if stop_spark:
        _stop_spark(ctx)
    print(_dev_stack_summary())
    return chosen


def _run_story(ctx: TaskContext, project: LocalProject, scale: float) -> None:
    story = project.declaration.demo
    if story is None:
        print(f"\n{project.name}: no demo story declared; skipped")
        return
    declared = project.declaration
    print(f"\n{declared.title} ({project.name}, {declared.problem_type})")
    size = max(1, round(story.size * scale))
    delivered = story.start
    previous_run = story.start
    for number, r in enumerate(story.rounds, start=1):
        print(f" round {number}: {r.title}  (jobs run for {r.run_date})")
        _generate(ctx, project, delivered, r, size)
        new_days = (r.run_date - previous_run).days
        _job(ctx, project, "feature_engineering", r.run_date, days=new_days)
        if r.train:
            _job(ctx, project, "training", r.run_date)
        _job(ctx, project, "batch_inference", r.run_date, days=r.score_days or new_days)
        if r.monitor and "monitoring" in project.specs:
            _job(ctx, project, "monitoring", r.run_date, label=f"round {number}")
        delivered, previous_run = r.data_until, r.run_date


def _generate(
    ctx: TaskContext, project: LocalProject, start: dt.date, r: DemoRound, size: int
) -> None:
    argv = ["--project", project.name, "--tables", project.tables,
            "--start-date", start.isoformat(), "--end-date", r.data_until.isoformat(),
            "--size", str(size)]  # fmt: skip
    if r.drift_start is not None:
        knobs = ",".join(f"{k}={v:g}" for k, v in r.drift.items())
        argv += ["--drift-start", r.drift_start.isoformat(), "--drift", knobs]
    drift = f" (drift from {r.drift_start}: {dict(r.drift)})" if r.drift_start else ""
    _timed(
        "new data",
        lambda: run_task("generate-data", argv, ctx),
        lambda res: f"{sum(res['rows_written'].values()):,} rows {start}..{r.data_until}" + drift,
    )


def _job(
    ctx: TaskContext, project: LocalProject, job: str, run_date: dt.date, **extra: Any
) -> JobRun:
    label = extra.pop("label", "")
    spec = project.specs[job]
    overrides = {"run_date": run_date.isoformat(), **{k: str(v) for k, v in extra.items()}}

    def start_job(task: RunJobTaskSpec, parameters: dict[str, str]) -> JobRun:
        # The retraining job's Retrain task: the training job, with the parameters it gets.
        print(f"    {task.key}: starts the training job")
        return run_job(project.specs["training"], ctx, parameters, start_job=None,
                       localize=localize, on_task=_printer("training", indent=6))  # fmt: skip

    run = run_job(spec, ctx, overrides, start_job=start_job, localize=localize,
                  on_task=_printer(job))  # fmt: skip
    project.runs.append((label or job, run))
    return run


def _printer(job: str, indent: int = 2) -> Any:
    started = [time.perf_counter()]

    def show(task: TaskRun) -> None:
        seconds = time.perf_counter() - started[0]
        started[0] = time.perf_counter()
        title = f"{job}/{task.key}"
        pad = " " * indent
        if task.state == "skipped":
            print(f"{pad}{title:<36}        skipped")
        elif task.state == "failed":
            print(f"{pad}{title:<36} {seconds:5.1f} s FAILED  {task.error}")
        else:
            print(f"{pad}{title:<36} {seconds:5.1f} s  {describe(task)}", flush=True)

    return show


def describe(task: TaskRun) -> str:
    """One line on what a task did, from its returned values."""
    res = task.result
    if "outcome" in res:
        return f"condition is {res['outcome']}"
    if "run" in res:
        return "the training job ran" if res["run"].succeeded else "the training job failed"
    if "reason" in res and "is_metric_violated" in res:
        return str(res["reason"])
    if "decision" in res:
        return f"{res['decision']}: {res.get('reason', '')}".strip()
    if "status" in res:
        metrics = _numbers(res.get("metrics"))
        return f"{res['status']}" + (f" ({metrics})" if metrics else "")
    if "alias" in res:
        return f"version {res['model_version']} @{res['alias']}; test {_numbers(res['metrics'])}"
    if "rows_scored" in res:
        return f"{res['rows_scored']:,} requests scored by version {res['model_version']}"
    if "newly_labelled" in res:
        return f"{res['newly_labelled']:,} labels arrived"
    if "windows" in res:
        return f"{res['windows']} windows, {res.get('profile_rows', 0):,} profile rows"
    if "rows_written" in res:
        written = res["rows_written"]
        return ", ".join(f"{n:,} {t.split('.')[-1]}" for t, n in written.items())
    return ""


def _numbers(values: Any) -> str:
    """``name 1.234, ...`` for the numeric entries of a result's metrics."""
    if not isinstance(values, dict):
        return ""
    return ", ".join(f"{k} {v:.3f}" for k, v in values.items() if isinstance(v, int | float))


def _report(ctx: TaskContext, runtime: Runtime, project: LocalProject) -> Path:
    path = runtime.home / "reports" / project.name / REPORT_NAME
    spec = project.specs.get("monitoring")
    if spec is None:
        return path
    check = spec.task("CheckViolation")
    assert isinstance(check, TaskSpec)
    values = {k: v for k, v in check.parameters.items() if k not in ("end-date",)}
    argv = ["--inference-table", project.predictions, "--output", str(path)]
    for flag, value in values.items():
        if flag != "profile-metrics-table":
            argv += [f"--{flag}", localize(flag, value)]
    _timed(f"{project.name}: monitoring report", lambda: run_task("monitoring-report", argv, ctx),
           lambda res: f"{res['windows']} windows -> {res['path']}")  # fmt: skip
    return path


def _summary(ctx: TaskContext, project: LocalProject, report: Path) -> str:
    spark, client = ctx.spark, ctx.mlflow
    lines = [f"{project.declaration.title} ({project.name})", "  tables"]
    for role, name in project.settings.table_map().names.items():
        table = local_name(str(name))
        if spark.catalog.tableExists(table):
            lines.append(f"    {role:<20} {table:<52} {spark.table(table).count():>9,} rows")
    lines.append(f"  model {project.model}")
    versions = client.search_model_versions(f"name = '{project.model}'")
    for found in sorted(versions, key=lambda v: int(v.version))[-6:]:
        # search results may leave aliases out; a direct read has them
        mv = client.get_model_version(project.model, str(found.version))
        tags = mv.tags or {}
        lines.append(
            f"    version {mv.version:<4} {', '.join(sorted(mv.aliases)) or '-':<22}"
            f" {tags.get('validation_status', '-'):<16}"
            f" trained on {tags.get('train_start', '?')}..{tags.get('train_end', '?')}"
        )
    champion = [v for v in versions if CHAMPION in client.get_model_version(
        project.model, str(v.version)).aliases]  # fmt: skip
    lines.append(f"    champion: version {champion[0].version}" if champion else "    no champion")
    spent: dict[str, float] = {}
    for _, run in project.runs:
        spent[run.job] = spent.get(run.job, 0.0) + run.seconds
    lines.append("  job runs: " + ", ".join(f"{job} {s:.1f} s" for job, s in spent.items()))
    stopped: dict[str, int] = {}
    for _, run in project.runs:
        for task in run.tasks:
            for rule, count in (task.result.get("quarantined") or {}).items():
                stopped[rule] = stopped.get(rule, 0) + count
    if stopped:
        held = ", ".join(f"{rule} {n}" for rule, n in stopped.items())
        lines.append(f"  rows kept from the models (quarantined): {held}")
    monitoring = [(label, run) for label, run in project.runs if run.job == "monitoring"]
    for label, run in monitoring:
        check = run.task("CheckViolation")
        retrain = run.task("Retrain")
        verdict = check.result.get("reason", check.error or check.state)
        lines.append(f"  {label}: {verdict}")
        if retrain.state != "skipped":
            training = retrain.result.get("run")
            deploy = training.task("ModelDeployment") if training else None
            outcome = describe(deploy) if deploy and deploy.state == "succeeded" else "-"
            lines.append(f"    retraining: {outcome}")
    if monitoring:
        lines.append(f"  report: {report}")
    return "\n".join(lines)


def _timed(label: str, action: Any, describe: Any | None = None) -> Any:
    t0 = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - t0
    detail = describe(result) if describe else str(result)
    print(f"  {label:<36} {seconds:5.1f} s  {detail}", flush=True)
    return result


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


def _dev_stack_summary() -> str:
    """What `pulumi up -s dev` would create, from the offline render of the dev stack."""
    # Imported here: the Pulumi SDKs are only needed for this last look.
    from infra.settings import InvalidStackConfig
    from mlops.render import render_stack

    try:
        render = render_stack(DEV_STACK)
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
