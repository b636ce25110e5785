"""Every name the stack gives: one place, so the rules `<env>-mlops-stack-<item>` (what
the stack's projects share) and `<env>-mlops-stack-<project>-<item>` (what one project
has, e.g. its jobs) hold."""

from __future__ import annotations

from infra.settings import PROJECT, project_folder, stack_folder

# The project every stack deployed alone before the settings' schemaVersion 2, when its
# resources' names had no project in them: its components carry aliases to those names
# (``previous_name``), so that `pulumi up` renames them in place instead of replacing them.
FIRST_PROJECT = "fare"


def resource_name(environment: str, item: str) -> str:
    """The Pulumi name and the workspace name of a stack-level thing, e.g. its folder."""
    return f"{environment}-{PROJECT}-{item}"


def project_resource_name(environment: str, project: str, item: str) -> str:
    """The Pulumi name and the workspace name of a project's thing, e.g. its training job
    ``dev-mlops-stack-churn-training``."""
    return resource_name(environment, f"{project}-{item}")


def previous_name(environment: str, project: str, item: str) -> str | None:
    """What ``project_resource_name`` was before schemaVersion 2, for ``FIRST_PROJECT``
    (its resources had no project in their names); None for the other projects."""
    return resource_name(environment, item) if project == FIRST_PROJECT else None


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


def monitoring_assets_dir(environment: str, project: str) -> str:
    """The workspace folder of a project's monitor dashboard and other monitoring assets,
    inside the project's folder (``infra.settings.project_folder``)."""
    return f"/Workspace{project_folder(environment, project)}/monitoring"


def notebook_folder(environment: str, code_version: str, project: str) -> str:
    """Where a code version's task notebooks of a project's jobs go, inside the stack's own
    folder: a new code version is a new folder, so a job pins its notebooks as it pins its
    wheel."""
    return f"{stack_folder(environment)}/code/{code_version}/{project}"
