"""Every name the stack gives: one place, so the rule `<env>-mlops-stack-<item>` holds."""

from __future__ import annotations

from infra.settings import PROJECT


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
