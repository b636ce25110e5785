"""Storage credentials, experiments, job timeouts and the Data Quality SDK, as the platform
defines them.

- A storage credential's external id is the account id only when an account admin creates
  it (Databricks KB "AWS S3 storage credential validation failure due to external ID"); the
  Terraform guide for Unity Catalog on AWS creates the credential first and trusts its
  ``aws_iam_role.external_id`` (terraform-provider-databricks ``docs/guides/unity-catalog.md``);
  its policy data source grants the multipart actions (``aws/data_aws_unity_catalog_policy.go``);
  Unity Catalog refuses bucket names with dots (docs: storage credentials, "cannot include
  dot notation").
- ``description`` of databricks_mlflow_experiment is deprecated and never sent
  (``mlflow/resource_mlflow_experiment.go``).
- A task's ``timeout_seconds`` applies to each run of the task, a job's to each run of the
  job (Jobs API, databricks-sdk-py ``service/jobs.py``).
- ``databricks.sdk.service.dataquality`` first shipped in databricks-sdk 0.68.0
  (databricks-sdk-py CHANGELOG).
docs/platform.md, "Storage", "Experiments and job timeouts", "The Data Quality SDK".
"""

from __future__ import annotations

import importlib.metadata
import json

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from infra.settings import InvalidStackConfig
from mlops.render import Render, fake_outputs
from tests.infra.conftest import STACKS, render_with, settings_for

STORAGE = {
    "enabled": True,
    "bucketName": "acme-mlops-lakehouse",
    "awsRegion": "eu-west-1",
    "awsAccountId": "123456789012",
}
CREDENTIAL = "databricks:index/storageCredential:StorageCredential"


@pytest.fixture(scope="module")
def storage() -> Render:
    return render_with("staging", storage=STORAGE)


def test_the_role_trusts_the_external_id_the_credential_reports(storage: Render) -> None:
    (credential,) = storage.of_type(CREDENTIAL)
    reported = fake_outputs(CREDENTIAL, credential.name, credential.inputs)["awsIamRole"]
    (role,) = storage.of_type("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    for statement in trust["Statement"]:
        assert statement["Condition"]["StringEquals"] == {"sts:ExternalId": reported["externalId"]}
    # The role waits for the credential; the location for the role and its policy.
    assert credential.urn in {
        d.urn for d in storage.dependencies(storage.find(role.type, role.name))
    }
    (location,) = storage.of_type("databricks:index/externalLocation:ExternalLocation")
    before = {d.type for d in storage.dependencies(location)}
    assert {"aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", CREDENTIAL} <= before


def test_the_role_may_complete_and_abort_multipart_uploads(storage: Render) -> None:
    (policy,) = storage.of_type("aws:iam/rolePolicy:RolePolicy")
    actions = {a for s in json.loads(policy.inputs["policy"])["Statement"] for a in s["Action"]}
    assert {
        "s3:AbortMultipartUpload",
        "s3:ListBucketMultipartUploads",
        "s3:ListMultipartUploadParts",
    } <= actions


def test_a_dotted_bucket_name_is_refused_before_anything_is_registered() -> None:
    with pytest.raises(InvalidStackConfig) as refused:
        settings_for("staging", storage={**STORAGE, "bucketName": "acme.mlops.lakehouse"})
    assert "storage.bucketName is 'acme.mlops.lakehouse'" in str(refused.value)
    assert "no dots" in str(refused.value)


@pytest.mark.parametrize("stack", STACKS)
def test_the_experiment_sends_no_deprecated_description(
    renders: dict[str, Render], stack: str
) -> None:
    experiments = renders[stack].of_type("databricks:index/mlflowExperiment:MlflowExperiment")
    assert len(experiments) == len(renders[stack].settings.projects)
    for experiment in experiments:
        assert "description" not in experiment.inputs


@pytest.mark.parametrize("stack", STACKS)
def test_a_job_outlasts_every_attempt_of_its_tasks(renders: dict[str, Render], stack: str) -> None:
    jobs = {j.inputs["name"]: j.inputs for j in renders[stack].of_type("databricks:index/job:Job")}
    for name, job in jobs.items():
        need = 0.0
        for task in job["tasks"]:
            if "runJobTask" in task:
                need += task["timeoutSeconds"]
            elif "timeoutSeconds" in task:
                retries = task.get("maxRetries", 0)
                wait = task.get("minRetryIntervalMillis", 0) / 1000
                need += (retries + 1) * task["timeoutSeconds"] + retries * wait
        assert job["timeoutSeconds"] >= need, name


def test_the_wheel_declares_the_sdk_that_has_the_data_quality_api() -> None:
    requirements = [
        Requirement(r) for r in importlib.metadata.requires("mlops-stack") or [] if "extra" not in r
    ]
    (sdk,) = [r for r in requirements if r.name == "databricks-sdk"]
    assert Version("0.68.0") in sdk.specifier and Version("0.67.0") not in sdk.specifier
    from databricks.sdk.service import dataquality

    assert hasattr(dataquality.DataQualityAPI, "create_refresh")
    assert hasattr(dataquality.DataQualityAPI, "get_refresh")
