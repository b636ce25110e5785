"""Every name the stack gives: one place, so the rule `<env>-mlops-stack-<item>` holds."""

from __future__ import annotations

from infra.settings import PROJECT, stack_folder


def resource_name(environment: str, item: str) -> str:
    """The Pulumi name and the workspace name of a stack-level thing, e.g. a job."""
    return f"{environment}-{PROJECT}-{item}"


def job_url(host: str, job_id: str) -> str:
    return f"{host}/jobs/{job_id}"


def experiment_url(host: str, experiment_id: str) -> str:
    return f"{host}/ml/experiments/{experiment_id}"


def model_url(host: str, full_name: str) -> str:
    return f"{host}/explore/data/models/{full_name.replace('.', '/')}"


def table_url(host: str, full_name: str) -> str:
    return f"{host}/explore/data/{full_name.replace('.', '/')}"


def metric_tables(table: str, output_schema: str | None = None) -> tuple[str, str]:
    """The profile and drift metric tables a quality monitor writes for ``table``:
    ``<output schema>.<table>_profile_metrics`` and ``..._drift_metrics``. The stack puts
    them in the monitored table's own schema, beside it (DESIGN contract 3)."""
    home, _, short = table.rpartition(".")
    schema = output_schema or home
    return f"{schema}.{short}_profile_metrics", f"{schema}.{short}_drift_metrics"


def monitoring_assets_dir(environment: str) -> str:
    """The workspace folder of a stack's monitor dashboard and other monitoring assets,
    inside the stack's own folder."""
    return f"/Workspace{stack_folder(environment)}/monitoring"


def notebook_folder(environment: str, code_version: str) -> str:
    """Where a code version's task notebooks go, inside the stack's own folder: a new code
    version is a new folder, so a job pins its notebooks as it pins its wheel."""
    return f"{stack_folder(environment)}/code/{code_version}"
