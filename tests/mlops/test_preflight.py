"""``mlops preflight``: a stack, or the secrets and variables a workflow passes, missing
something CI needs is named before Pulumi runs; a stack that has everything passes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from infra.settings import stack_file
from mlops.cli import main
from mlops.preflight import preflight

DEPLOYER = "1a2b3c4d-5e6f-4a0b-8c1d-2e3f4a5b6c7d"
RUNNER = "9f8e7d6c-5b4a-4321-8fed-cba987654321"
HOST = "https://acme-staging.cloud.databricks.com"
WAREHOUSE = "0123456789abcdef"
# Values that must never be printed.
SECRETS = {
    "PULUMI_ACCESS_TOKEN": "pul-sentinel-access-token-0000000000",
    "DATABRICKS_CLIENT_SECRET": "dose-sentinel-client-secret-000000",
    "PULUMI_CONFIG_PASSPHRASE": "sentinel passphrase 0000",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "sentinel-oidc-request-token-0000",
}
# What a preview or deploy job of .github/workflows gives the preflight step, with OIDC
# (DATABRICKS_CLIENT_ID and DATABRICKS_HOST unset: they come from the stack file).
CI_ENV = {
    "DATABRICKS_AUTH_TYPE": "github-oidc",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/oidc",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": SECRETS["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
    "PULUMI_ACCESS_TOKEN": SECRETS["PULUMI_ACCESS_TOKEN"],
}
STORAGE_BLOCK = """  mlops-stack:storage:
    enabled: true
    bucketName: acme-mlops-staging
    awsRegion: eu-west-1
    awsAccountId: "123456789012"
"""


def filled(tmp_path: Path, stack: str = "staging", storage: bool = False, head: str = "") -> Path:
    """The committed stack file with the placeholders filled in, as a team would."""
    text = stack_file(stack).read_text()
    text = re.sub(r"https://REPLACE-ME-\w+\.cloud\.databricks\.com", HOST, text)
    text = re.sub(r"00000000-0000-0000-0000-00000000d\d{3}", DEPLOYER, text)
    text = re.sub(r"00000000-0000-0000-0000-00000000a\d{3}", RUNNER, text)
    text = text.replace("REPLACE-ME-sql-warehouse", WAREHOUSE)
    if storage:
        text = text.replace("  mlops-stack:storage:\n    enabled: false\n", STORAGE_BLOCK)
        assert STORAGE_BLOCK in text
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(head + text)
    return path


def problems_of(path: Path, env: dict[str, str]) -> list[str]:
    ready, message = preflight(path, env)
    assert not ready, message
    assert "\n" not in message
    return re.findall(r"\(\d+\) (.*?)(?=; \(\d+\) |\. Stack keys go)", message)


def test_a_filled_stack_with_the_workflows_environment_is_ready(tmp_path: Path) -> None:
    ready, message = preflight(filled(tmp_path), CI_ENV)
    assert ready, message
    assert message.startswith(
        f"Pulumi.staging.yaml (stack 'staging') has what CI needs: workspace {HOST}, deploying"
        f" as {DEPLOYER} (github-oidc), state in Pulumi Cloud, storage off, projects fare"
        " (staging.nyc_taxi), churn (staging.telco). What it cannot check from here, and the"
        " first pulumi up needs of an admin"
    )
    assert "\n" not in message


def test_ready_exports_the_stacks_host_and_deployer_for_the_later_steps(tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("EARLIER=kept\n")
    ready, _ = preflight(filled(tmp_path), CI_ENV, export_to=github_env)
    assert ready
    assert github_env.read_text() == (
        f"EARLIER=kept\nDATABRICKS_HOST={HOST}\nDATABRICKS_CLIENT_ID={DEPLOYER}\n"
    )
    # The variable may repeat the deployer; exporting it changes nothing then.
    ready, _ = preflight(filled(tmp_path), CI_ENV | {"DATABRICKS_CLIENT_ID": DEPLOYER})
    assert ready


def test_not_ready_exports_nothing(tmp_path: Path) -> None:
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    ready, _ = preflight(stack_file("prod"), CI_ENV, export_to=github_env)
    assert not ready
    assert github_env.read_text() == ""


def test_a_stack_without_a_deployer_needs_the_client_id(tmp_path: Path) -> None:
    # dev names no deployer: the person deploying is the identity.
    problems = problems_of(filled(tmp_path, "dev"), CI_ENV)
    assert problems == [
        "mlops-stack:principals.deployer is not set and neither is the variable"
        " DATABRICKS_CLIENT_ID: expected the application id of the service principal CI"
        " deploys as, in the stack file"
    ]
    ready, message = preflight(filled(tmp_path, "dev"), CI_ENV | {"DATABRICKS_CLIENT_ID": RUNNER})
    assert ready and f"deploying as {RUNNER}" in message


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_committed_stacks_name_their_placeholders(stack: str) -> None:
    problems = problems_of(stack_file(stack), CI_ENV | {"DATABRICKS_CLIENT_ID": DEPLOYER})
    assert [p.split(" ", 1)[0] for p in problems[:4]] == [
        "mlops-stack:workspaceHost",
        "mlops-stack:principals.deployer",
        "mlops-stack:principals.runner",
        "mlops-stack:sqlWarehouseId",
    ]
    assert all("placeholder" in p for p in problems[:4])
    # The deployer is reported once, as a placeholder, not also as a mismatch.
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            {"DATABRICKS_CLIENT_ID": RUNNER},
            f"the variable DATABRICKS_CLIENT_ID is {RUNNER} but mlops-stack:principals.deployer"
            f" is {DEPLOYER}: expected the same service principal",
            id="deploys-as-another-principal",
        ),
        pytest.param(
            {"ACTIONS_ID_TOKEN_REQUEST_URL": None},
            "the job has no GitHub OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set):"
            " expected `permissions: id-token: write` on the job",
            id="no-oidc-token",
        ),
        pytest.param(
            {"DATABRICKS_AUTH_TYPE": "pat"},
            "the variable DATABRICKS_AUTH_TYPE is 'pat': expected github-oidc or oauth-m2m",
            id="unsupported-auth",
        ),
        pytest.param(
            {"DATABRICKS_AUTH_TYPE": "oauth-m2m"},
            "the secret DATABRICKS_CLIENT_SECRET is not set: expected the deploying service"
            " principal's OAuth secret, since DATABRICKS_AUTH_TYPE is oauth-m2m",
            id="m2m-without-secret",
        ),
        pytest.param(
            {"PULUMI_ACCESS_TOKEN": ""},
            "the secret PULUMI_ACCESS_TOKEN is not set: expected a Pulumi Cloud access token",
            id="no-pulumi-token",
        ),
        pytest.param(
            {"PULUMI_BACKEND_URL": "ftp://state"},
            "the variable PULUMI_BACKEND_URL is 'ftp://state': expected https://api.pulumi.com"
            " or a self-managed backend",
            id="unknown-backend",
        ),
        pytest.param(
            {"DATABRICKS_HOST": "https://other.cloud.databricks.com"},
            "the variable DATABRICKS_HOST is https://other.cloud.databricks.com but"
            f" mlops-stack:workspaceHost is {HOST}: expected the same workspace",
            id="another-workspace",
        ),
    ],
)
def test_each_thing_ci_lacks_is_named(
    tmp_path: Path, change: dict[str, str | None], expected: str
) -> None:
    env = {k: v for k, v in {**CI_ENV, **change}.items() if v is not None}
    problems = problems_of(filled(tmp_path), env)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected)


def test_m2m_with_its_secret_and_the_same_host_is_ready(tmp_path: Path) -> None:
    env = {
        "DATABRICKS_AUTH_TYPE": "oauth-m2m",
        "DATABRICKS_CLIENT_SECRET": SECRETS["DATABRICKS_CLIENT_SECRET"],
        "DATABRICKS_HOST": HOST + "/",
        "PULUMI_ACCESS_TOKEN": SECRETS["PULUMI_ACCESS_TOKEN"],
    }
    ready, message = preflight(filled(tmp_path), env)
    assert ready, message
    assert "(oauth-m2m)" in message


def test_a_self_managed_s3_backend_needs_the_passphrase_and_an_aws_role(tmp_path: Path) -> None:
    env = {**CI_ENV, "PULUMI_BACKEND_URL": "s3://acme-pulumi-state/mlops"}
    del env["PULUMI_ACCESS_TOKEN"]
    problems = problems_of(filled(tmp_path), env)
    assert [p.split(":")[0] for p in problems] == [
        "the secret PULUMI_CONFIG_PASSPHRASE is not set",
        "the variable AWS_DEPLOY_ROLE_ARN is not set",
    ]
    env |= {"PULUMI_CONFIG_PASSPHRASE": SECRETS["PULUMI_CONFIG_PASSPHRASE"]}
    env |= {"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/ci", "AWS_REGION": "eu-west-1"}
    ready, message = preflight(filled(tmp_path), env)
    assert ready, message
    assert "state in s3://acme-pulumi-state/mlops" in message


def test_a_kms_secrets_provider_needs_no_passphrase(tmp_path: Path) -> None:
    head = "secretsprovider: awskms://alias/pulumi-mlops?region=eu-west-1\n"
    env = {**CI_ENV, "PULUMI_BACKEND_URL": "file:///var/pulumi-state"}
    ready, message = preflight(filled(tmp_path, head=head), env)
    assert ready, message


def test_storage_and_an_s3_backend_name_the_missing_role_once(tmp_path: Path) -> None:
    env = {**CI_ENV, "PULUMI_BACKEND_URL": "s3://acme-pulumi-state/mlops"}
    env |= {"PULUMI_CONFIG_PASSPHRASE": SECRETS["PULUMI_CONFIG_PASSPHRASE"]}
    problems = problems_of(filled(tmp_path, storage=True), env)
    assert [p.split(":")[0] for p in problems] == [
        "the variable AWS_DEPLOY_ROLE_ARN is not set",
        "the variable AWS_REGION is not set",
    ]


def test_storage_needs_the_aws_role_and_region(tmp_path: Path) -> None:
    path = filled(tmp_path, storage=True)
    problems = problems_of(path, CI_ENV)
    assert [p.split(":")[0] for p in problems] == [
        "the variable AWS_DEPLOY_ROLE_ARN is not set",
        "the variable AWS_REGION is not set",
    ]
    assert all("mlops-stack:storage.enabled is true" in p for p in problems)
    env = CI_ENV | {"AWS_DEPLOY_ROLE_ARN": "arn:aws:iam::123456789012:role/ci"}
    ready, message = preflight(path, env | {"AWS_REGION": "eu-west-1"})
    assert ready and "storage on, projects fare" in message
    assert "CREATE_STORAGE_CREDENTIAL, CREATE_EXTERNAL_LOCATION" in message


def test_no_secret_value_is_ever_printed(tmp_path: Path) -> None:
    env = {**SECRETS, "DATABRICKS_AUTH_TYPE": "oauth-m2m", "PULUMI_BACKEND_URL": "ftp://x"}
    ready, message = preflight(stack_file("prod"), env)
    assert not ready
    assert not [name for name, value in SECRETS.items() if value in message]
    ready, message = preflight(filled(tmp_path), {**CI_ENV, **SECRETS})
    assert ready
    assert not [name for name, value in SECRETS.items() if value in message]


def test_the_command_exits_0_1_or_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DATABRICKS_CLIENT_ID", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL"):
        monkeypatch.delenv(name, raising=False)
    assert main(["preflight", "--stack", "prod"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Pulumi.prod.yaml (stack 'prod') lacks ")
    assert "mlops-stack:workspaceHost still holds the stack file's placeholder" in err

    assert main(["preflight", "--stack", "qa"]) == 2
    assert "there is no stack 'qa'" in capsys.readouterr().err

    path = filled(tmp_path)
    monkeypatch.setattr("infra.settings.stack_file", lambda stack: path)
    for name, value in CI_ENV.items():
        monkeypatch.setenv(name, value)
    github_env = tmp_path / "github_env"
    assert main(["preflight", "--stack", "staging", "--export-to", str(github_env)]) == 0
    assert capsys.readouterr().out.startswith("Pulumi.staging.yaml (stack 'staging') has what")
    assert f"DATABRICKS_CLIENT_ID={DEPLOYER}\n" in github_env.read_text()

    unwritable = tmp_path / "no-such-folder" / "github_env"
    assert main(["preflight", "--stack", "staging", "--export-to", str(unwritable)]) == 2
    assert capsys.readouterr().err == (
        f"error: --export-to {unwritable} cannot be appended to (No such file or directory):"
        ' expected a writable file, in GitHub Actions "$GITHUB_ENV"\n'
    )


def test_a_ready_stack_names_what_an_admin_must_grant_the_deployer(tmp_path: Path) -> None:
    """Granting on what the deployer does not own takes MANAGE (docs/platform.md, "Who may
    grant"): preflight says so for the catalog and the input tables outside the stack."""
    from infra.prerequisites import prerequisites
    from infra.settings import settings_from_stack_file

    path = filled(tmp_path, "prod")
    ready, message = preflight(path, CI_ENV | {"DATABRICKS_CLIENT_ID": DEPLOYER})
    assert ready, message
    steps = prerequisites(settings_from_stack_file(path))
    held = {(s.kind, s.name): s.privileges for s in steps if s.privileges}
    assert held[("CATALOG", "prod")] == ("USE_CATALOG", "CREATE_SCHEMA", "MANAGE")
    assert held[("SCHEMA", "prod.bronze")] == ("USE_SCHEMA", "MANAGE")
    assert held[("TABLE", "prod.bronze.nyc_taxi_trips")] == ("MANAGE",)
    assert held[("SQL_WAREHOUSE", WAREHOUSE)] == ("CAN_USE",)
    assert {s.principal for s in steps if s.privileges} == {DEPLOYER}
    assert ("GROUP", "mlops-prod-model-owners") in {(s.kind, s.name) for s in steps}
    for step in steps:
        assert step.describe() in message
    # churn's tables are all in its own schema, which the stack creates: nothing to grant.
    assert not [s for s in steps if s.name.startswith("prod.telco")]


def test_input_tables_of_several_projects_outside_the_stack_are_each_named_once(
    tmp_path: Path,
) -> None:
    """Two projects reading tables of one outside schema: the schema is one prerequisite,
    each table one."""
    import yaml

    from infra.prerequisites import prerequisites
    from infra.settings import settings_from_stack_file

    path = filled(tmp_path, "prod")
    document = yaml.safe_load(path.read_text())
    churn = document["config"]["mlops-stack:churn"]
    churn["tables"] = {
        "customers": "prod.bronze.crm_customers",
        "labels": "prod.bronze.nyc_taxi_trips",  # the same table as fare's trips
    }
    path.write_text(yaml.safe_dump(document))
    steps = prerequisites(settings_from_stack_file(path))
    names = [(s.kind, s.name) for s in steps]
    assert names.count(("SCHEMA", "prod.bronze")) == 1
    assert names.count(("TABLE", "prod.bronze.nyc_taxi_trips")) == 1
    assert ("TABLE", "prod.bronze.crm_customers") in names
    ready, message = preflight(path, CI_ENV | {"DATABRICKS_CLIENT_ID": DEPLOYER})
    assert ready, message
    assert "prod.bronze.crm_customers" in message
