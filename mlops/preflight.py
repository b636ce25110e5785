"""What CI needs before it previews or deploys a stack: the stack's settings filled in, and
the credentials and state backend the workflow hands to Pulumi.

``mlops preflight --stack <name>`` runs :func:`ci_problems` as the first step of every
preview and deploy job (``.github/workflows``), so a stack or repository that lacks
something fails in seconds with one paragraph naming each missing key or variable, instead
of minutes later inside ``pulumi`` with a provider's error. Only the names of secrets are
ever reported, never their values.

The deploying identity comes from the stack file: its ``principals.deployer`` application
id is what CI authenticates as (the variable ``DATABRICKS_CLIENT_ID`` may only repeat it),
and ``--export-to "$GITHUB_ENV"`` hands it and the workspace host to the later steps. So
the staging and prod previews of one pull request each act as their own stack's deployer,
and CI can never deploy a stack as another stack's principal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.prerequisites import prerequisites
from infra.settings import PROJECT, StackSettings

# The Databricks authentications the workflows support, and what each needs.
AUTH_TYPES = ("github-oidc", "oauth-m2m")
DEFAULT_AUTH_TYPE = "github-oidc"
# What the runner sets in a job that has `permissions: id-token: write`.
OIDC_VARIABLES = ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
SELF_MANAGED_BACKENDS = ("s3://", "gs://", "azblob://", "file://")
PULUMI_CLOUD = "https://api.pulumi.com"
_PRINCIPAL = "the application id (UUID) of a service principal of your workspace"
PLACEHOLDER_MEANS = {
    f"{PROJECT}:workspaceHost": "your workspace URL, https://<workspace>.cloud.databricks.com",
    f"{PROJECT}:principals.deployer": _PRINCIPAL,
    f"{PROJECT}:principals.runner": _PRINCIPAL,
    f"{PROJECT}:sqlWarehouseId": "the id (16 hex digits) of the SQL warehouse that creates"
    " the stack's tables; without one the provider starts a cluster for the DDL on every apply",
}


@dataclass(frozen=True)
class StackFile:
    """What ``Pulumi.<stack>.yaml`` says beside the settings: its secrets provider (absent:
    the backend's default, Pulumi Cloud's or a passphrase on a self-managed backend)."""

    secrets_provider: str | None = None


def read_stack_file_header(path: Path) -> StackFile:
    import yaml

    document = yaml.safe_load(path.read_text()) or {}
    provider = document.get("secretsprovider") if isinstance(document, dict) else None
    return StackFile(secrets_provider=str(provider) if provider else None)


def _set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name, "").strip())


def ci_problems(
    settings: StackSettings, stack_file: StackFile, environ: Mapping[str, str]
) -> list[str]:
    """Everything CI would lack to preview or deploy ``settings.stack``, each naming the
    stack key or the repository secret/variable and what is expected; [] when ready."""
    problems = [
        f"{key} still holds the stack file's placeholder: expected"
        f" {PLACEHOLDER_MEANS.get(key, _PRINCIPAL)}"  # else a project's own runner
        for key in settings.placeholders()
    ]
    problems += _databricks_problems(settings, environ)
    problems += _backend_problems(stack_file, environ)
    if settings.storage.enabled:
        reported = " ".join(problems)  # an S3 backend may have named the role already
        problems += [
            f"the variable {name} is not set: expected {meaning}, since"
            f" {PROJECT}:storage.enabled is true (the stack creates an S3 bucket and an IAM role)"
            for name, meaning in (
                ("AWS_DEPLOY_ROLE_ARN", "the IAM role CI assumes through OIDC"),
                ("AWS_REGION", "the region of that role's session"),
            )
            if not _set(environ, name) and f"the variable {name} is not set" not in reported
        ]
    return problems


def _databricks_problems(settings: StackSettings, environ: Mapping[str, str]) -> list[str]:
    problems = []
    auth = environ.get("DATABRICKS_AUTH_TYPE", "").strip() or DEFAULT_AUTH_TYPE
    client_id = environ.get("DATABRICKS_CLIENT_ID", "").strip()
    # A placeholder deployer is reported once, as a placeholder.
    deployer = settings.principals.deployer
    if f"{PROJECT}:principals.deployer" in settings.placeholders():
        deployer = None
    if auth not in AUTH_TYPES:
        problems.append(
            f"the variable DATABRICKS_AUTH_TYPE is {auth!r}: expected {' or '.join(AUTH_TYPES)}"
        )
    if not client_id and settings.principals.deployer is None:
        problems.append(
            f"{PROJECT}:principals.deployer is not set and neither is the variable"
            " DATABRICKS_CLIENT_ID: expected the application id of the service principal CI"
            " deploys as, in the stack file"
        )
    elif client_id and deployer and client_id != deployer:
        problems.append(
            f"the variable DATABRICKS_CLIENT_ID is {client_id} but {PROJECT}:principals.deployer"
            f" is {deployer}: expected the same service principal, since the"
            " stack's grants and run_as are made for the deployer it names"
        )
    if auth == "github-oidc" and not all(_set(environ, name) for name in OIDC_VARIABLES):
        problems.append(
            "the job has no GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set):"
            " expected `permissions: id-token: write` on the job, or DATABRICKS_AUTH_TYPE"
            " oauth-m2m with the secret DATABRICKS_CLIENT_SECRET"
        )
    if auth == "oauth-m2m" and not _set(environ, "DATABRICKS_CLIENT_SECRET"):
        problems.append(
            "the secret DATABRICKS_CLIENT_SECRET is not set: expected the deploying service"
            " principal's OAuth secret, since DATABRICKS_AUTH_TYPE is oauth-m2m"
        )
    host = environ.get("DATABRICKS_HOST", "").strip().rstrip("/")
    if host and host != settings.workspace_host.rstrip("/"):
        problems.append(
            f"the variable DATABRICKS_HOST is {host} but {PROJECT}:workspaceHost is"
            f" {settings.workspace_host}: expected the same workspace, or leave it unset"
        )
    return problems


def _backend_problems(stack_file: StackFile, environ: Mapping[str, str]) -> list[str]:
    backend = environ.get("PULUMI_BACKEND_URL", "").strip()
    if not backend or backend.startswith(PULUMI_CLOUD):
        if _set(environ, "PULUMI_ACCESS_TOKEN"):
            return []
        return [
            "the secret PULUMI_ACCESS_TOKEN is not set: expected a Pulumi Cloud access token"
            " (or the variable PULUMI_BACKEND_URL naming a self-managed backend, s3://...)"
        ]
    if not backend.startswith(SELF_MANAGED_BACKENDS):
        return [
            f"the variable PULUMI_BACKEND_URL is {backend!r}: expected {PULUMI_CLOUD} or a"
            f" self-managed backend ({', '.join(p + '...' for p in SELF_MANAGED_BACKENDS)})"
        ]
    problems = []
    provider = stack_file.secrets_provider
    if (provider in (None, "passphrase")) and not _set(environ, "PULUMI_CONFIG_PASSPHRASE"):
        problems.append(
            "the secret PULUMI_CONFIG_PASSPHRASE is not set: expected the passphrase of the"
            " stack's secrets, since the backend is self-managed and the stack file names no"
            " other secretsprovider"
        )
    if backend.startswith("s3://") and not _set(environ, "AWS_DEPLOY_ROLE_ARN"):
        problems.append(
            "the variable AWS_DEPLOY_ROLE_ARN is not set: expected the IAM role CI assumes to"
            f" reach the state backend {backend}"
        )
    return problems


def ci_environment(settings: StackSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """What the later steps of a ready job need in their environment: the workspace and the
    identity to deploy as, both from the stack file. No secrets."""
    client_id = environ.get("DATABRICKS_CLIENT_ID", "").strip() or settings.principals.deployer
    return {"DATABRICKS_HOST": settings.workspace_host, "DATABRICKS_CLIENT_ID": client_id or ""}


def describe(settings: StackSettings, environ: Mapping[str, str]) -> str:
    """One line saying what CI will use, for a stack that has everything."""
    auth = environ.get("DATABRICKS_AUTH_TYPE", "").strip() or DEFAULT_AUTH_TYPE
    client_id = ci_environment(settings, environ)["DATABRICKS_CLIENT_ID"]
    backend = environ.get("PULUMI_BACKEND_URL", "").strip() or "Pulumi Cloud"
    storage = "on" if settings.storage.enabled else "off"
    admin = "; ".join(
        f"({n}) {step.describe()}" for n, step in enumerate(prerequisites(settings), start=1)
    )
    projects = ", ".join(f"{p.name} ({p.home})" for p in settings.projects)
    return (
        f"{settings.source} (stack '{settings.stack}') has what CI needs: workspace"
        f" {settings.workspace_host}, deploying as {client_id}"
        f" ({auth}), state in {backend}, storage {storage}, projects {projects}. What it"
        " cannot check from here,"
        f" and the first pulumi up needs of an admin (docs/setup.md): {admin}."
    )


def report(settings: StackSettings, problems: list[str]) -> str:
    """The one paragraph CI prints when something is missing."""
    count = len(problems)
    listed = "; ".join(f"({n}) {p}" for n, p in enumerate(problems, start=1))
    return (
        f"{settings.source} (stack '{settings.stack}') lacks {count}"
        f" thing{'s' * (count > 1)} CI needs, so nothing was previewed or deployed: {listed}."
        " Stack keys go in the stack file; secrets and variables in the repository's (or the"
        " GitHub environment's) settings, see docs/setup.md."
    )


def preflight(
    path: Path, environ: Mapping[str, Any], export_to: Path | None = None
) -> tuple[bool, str]:
    """Check the stack file at ``path`` against ``environ``: (ready, what to print). When
    ready and ``export_to`` is given (GitHub's ``$GITHUB_ENV`` file), append the
    :func:`ci_environment` there as ``NAME=value`` lines; when not ready, write nothing."""
    from infra.settings import settings_from_stack_file

    settings = settings_from_stack_file(path)
    environ = {key: str(value) for key, value in environ.items()}
    problems = ci_problems(settings, read_stack_file_header(path), environ)
    if problems:
        return False, report(settings, problems)
    if export_to is not None:
        lines = "".join(f"{k}={v}\n" for k, v in ci_environment(settings, environ).items())
        with export_to.open("a", encoding="utf-8") as exported:
            exported.write(lines)
    return True, describe(settings, environ)
