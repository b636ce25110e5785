"""The ``mlops`` command: run the local lifecycle, one job task, or the MLflow UI."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipelines.common.errors import PipelineError, UsageError
from pipelines.common.runtime import Runtime
from pipelines.tasks import task, tasks


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops",
        description="mlops-stack on a laptop: the same job tasks the Databricks jobs run,"
        " on an embedded Spark and a local MLflow store (under $MLOPS_HOME, default .mlops).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="run every project of the dev stack through its lifecycle, locally"
    )
    demo.add_argument(
        "--project",
        action="append",
        metavar="NAME",
        help="only this project of Pulumi.dev.yaml (repeat for several; default: all)",
    )
    demo.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply each project's synthetic data size by this (default 1)",
    )
    demo.add_argument(
        "--fresh", action="store_true", help="delete the local lake and MLflow store first"
    )

    ui = sub.add_parser("ui", help="open the MLflow UI on the local store")
    ui.add_argument("--port", type=int, default=5000)
    ui.add_argument("--host", default="127.0.0.1")

    plan = sub.add_parser(
        "plan",
        help="render a Pulumi stack offline: resources, task flags, grants, exports",
        description="Run the Pulumi program under Pulumi's mock engine with the settings of"
        " Pulumi.<stack>.yaml and print what it would register. Offline: no Pulumi CLI,"
        " workspace or cloud account is contacted, so this is not a `pulumi preview`.",
    )
    plan.add_argument("--stack", required=True, help="stack name, e.g. dev, staging or prod")
    plan.add_argument("--json", action="store_true", help="print one JSON document instead")
    plan.add_argument(
        "--baseline",
        type=Path,
        metavar="OLD.json",
        help="an earlier `mlops plan --stack <stack> --json`: also list each table, schema,"
        " catalog, volume or registered model the current code and settings would replace or"
        " delete, and which inputs force it (the exit status stays 0)",
    )

    preflight = sub.add_parser(
        "preflight",
        help="check that CI has what it needs to preview or deploy a stack",
        description="Check Pulumi.<stack>.yaml and this environment (the secrets and variables"
        " a workflow passes) for what `pulumi preview`/`pulumi up` in CI needs: no placeholders,"
        " Databricks credentials for the stack's deployer, a state backend, AWS credentials when"
        " the stack has storage. Exits 1 naming each thing missing; prints no secret.",
    )
    preflight.add_argument("--stack", required=True, help="stack name, e.g. staging or prod")
    preflight.add_argument(
        "--export-to",
        type=Path,
        metavar="FILE",
        help="when ready, append DATABRICKS_HOST and DATABRICKS_CLIENT_ID (the stack's deployer)"
        ' to FILE as NAME=value lines; in GitHub Actions: --export-to "$GITHUB_ENV"',
    )

    integration = sub.add_parser(
        "integration-run",
        help="run a deployed job once and wait for it (CI, after pulumi up)",
        description="Start the job the stack outputs name (projects.<project>.jobs.<job>.id,"
        " on workspace.host) for one project, or for every project at once, wait for the runs"
        " to end and exit 0 only if every run ended SUCCESS. Credentials come from the"
        " environment (OIDC or OAuth M2M, as for Pulumi).",
    )
    integration.add_argument(
        "--outputs",
        required=True,
        type=Path,
        metavar="FILE",
        help="the stack outputs: pulumi stack output --json --stack <stack> > FILE",
    )
    integration.add_argument(
        "--job",
        required=True,
        help="the key under projects.<project>.jobs in the outputs, e.g. training",
    )
    integration.add_argument(
        "--project",
        help="the project whose job to run, e.g. fare (default: every project of the outputs,"
        " started together)",
    )
    integration.add_argument(
        "--timeout-minutes",
        type=_positive_minutes,
        default=110,
        help="cancel the run and fail if it has not ended by then (default 110)",
    )

    run = sub.add_parser(
        "run",
        help="run one job task locally, e.g. mlops run train --help",
        description="Run one job task locally with the flags its Databricks task gets."
        f" Tasks: {', '.join(tasks())}.",
    )
    run.add_argument("task", choices=list(tasks()), metavar="TASK")
    run.add_argument("flags", nargs=argparse.REMAINDER, help="the task's own flags")
    return parser


def _positive_minutes(value: str) -> int:
    try:
        minutes = int(value)
    except ValueError:
        minutes = 0
    if minutes < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of minutes >= 1")
    return minutes


def _integration_run(outputs: Path, job: str, minutes: int, project: str | None = None) -> int:
    from datetime import timedelta

    from mlops.integration_run import IntegrationRunFailed, integration_run

    try:
        outcomes = integration_run(outputs, job, timedelta(minutes=minutes), project)
    except IntegrationRunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(
            f"run {outcome.run_id} of the {job} job of {outcome.project} ended"
            f" {outcome.result}: {outcome.page_url}"
        )
    return 0


def _ui(runtime: Runtime, host: str, port: int) -> int:
    if runtime.on_databricks:
        raise UsageError("mlops ui serves the local store; on Databricks use the workspace UI.")
    runtime.artifacts_dir.mkdir(parents=True, exist_ok=True)
    print(f"MLflow UI on http://{host}:{port} (store: {runtime.tracking_uri}); Ctrl-C stops it.")
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    args = [mlflow_cli, "ui", "--backend-store-uri", runtime.tracking_uri]
    args += ["--host", host, "--port", str(port)]
    os.execv(mlflow_cli, args)
    return 0  # not reached: execv replaces this process


def _plan(stack: str, as_json: bool, baseline_path: Path | None = None) -> int:
    # Imported here: the Pulumi SDKs take seconds to import and the other commands never
    # need them. mlops.replacements does not import them, so a bad baseline is refused
    # before anything is rendered.
    import json

    from mlops.replacements import BaselineError, format_replacements, load_baseline, replacements

    baseline = None
    if baseline_path is not None:
        try:
            baseline = load_baseline(baseline_path, stack)
        except BaselineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    from infra.settings import InvalidStackConfig, stack_file
    from mlops.render import as_json as render_json
    from mlops.render import format_text, render_stack

    try:
        render = render_stack(stack_file(stack))
    except InvalidStackConfig as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    document = render_json(render)
    found = replacements(baseline, document) if baseline is not None else None
    if as_json:
        if found is not None:
            document["replacements"] = [item.as_dict() for item in found]
        print(json.dumps(document, indent=2))
        return 0
    print(format_text(render))
    if found is not None:
        print(f"\nReplacements against {baseline_path}:")
        print("\n".join(f"  {line}" for line in format_replacements(found)))
    return 0


def _preflight(stack: str, export_to: Path | None) -> int:
    from infra.settings import InvalidStackConfig, stack_file
    from mlops.preflight import preflight

    try:
        ready, message = preflight(stack_file(stack), os.environ, export_to)
    except InvalidStackConfig as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: --export-to {export_to} cannot be appended to ({exc.strerror}): expected a"
            ' writable file, in GitHub Actions "$GITHUB_ENV"',
            file=sys.stderr,
        )
        return 2
    print(message if ready else f"error: {message}", file=sys.stdout if ready else sys.stderr)
    return 0 if ready else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "plan":
        return _plan(args.stack, args.json, args.baseline)
    if args.command == "preflight":
        return _preflight(args.stack, args.export_to)
    if args.command == "integration-run":
        return _integration_run(args.outputs, args.job, args.timeout_minutes, args.project)
    runtime = Runtime.from_environment()
    try:
        if args.command == "run":
            return task(args.task).main(args.flags)
        if args.command == "ui":
            return _ui(runtime, args.host, args.port)
        if args.scale <= 0:
            raise UsageError(f"--scale {args.scale}: expected a positive factor, e.g. 0.5")
        from mlops.demo import run_demo

        run_demo(runtime, args.project, scale=args.scale, fresh=args.fresh, stop_spark=True)
        return 0
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
