"""LakehouseStorage under Pulumi's mock engine: the S3 bucket and its protections, the IAM
role Unity Catalog assumes, the storage credential, the external location and its grants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.outputs import validate_outputs
from infra.settings import UC_MASTER_ROLE_ARN, InvalidStackConfig
from mlops.render import Render, fake_id, fake_outputs, format_text, render_stack
from tests.infra.conftest import CODE, STACKS, render_with, stack_path

COMPONENT = "mlops-stack:storage:LakehouseStorage"
BUCKET = "aws:s3/bucket:Bucket"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
)
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
CREDENTIAL = "databricks:index/storageCredential:StorageCredential"
LOCATION = "databricks:index/externalLocation:ExternalLocation"
GRANTS = "databricks:index/grants:Grants"
GRANT = "databricks:index/grant:Grant"
CATALOG = "databricks:index/catalog:Catalog"
SCHEMA = "databricks:index/schema:Schema"
AWS_PROVIDER = "pulumi:providers:aws"

AWS_ACCOUNT = "123456789012"
ENABLED = {
    "enabled": True,
    "bucketName": "acme-mlops-lakehouse",
    "awsRegion": "eu-west-1",
    "awsAccountId": AWS_ACCOUNT,
}


def enabled(stack: str = "staging", **changes: Any) -> Render:
    return render_with(stack, storage={**ENABLED, **changes})


@pytest.fixture(scope="module")
def staging() -> Render:
    return enabled("staging")


def only(render: Render, resource_type: str) -> dict[str, Any]:
    (found,) = render.of_type(resource_type)
    return found.inputs


def role_arn(stack: str) -> str:
    return f"arn:aws:iam::{AWS_ACCOUNT}:role/{stack}-mlops-stack-uc-storage"


# --- the bucket ------------------------------------------------------------------------


def test_the_bucket_is_encrypted_versioned_private_and_owner_enforced(staging: Render) -> None:
    bucket = staging.find(BUCKET, "staging-mlops-stack-storage-bucket")
    assert bucket.inputs["bucket"] == "acme-mlops-lakehouse"
    assert bucket.inputs["forceDestroy"] is False
    bucket_id = fake_id(BUCKET, bucket.name, bucket.inputs)

    assert only(staging, ENCRYPTION) == {
        "bucket": bucket_id,
        "rules": [
            {
                "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"},
                "bucketKeyEnabled": True,
            }
        ],
    }
    assert only(staging, VERSIONING) == {
        "bucket": bucket_id,
        "versioningConfiguration": {"status": "Enabled"},
    }
    assert only(staging, PUBLIC_ACCESS) == {
        "bucket": bucket_id,
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert only(staging, OWNERSHIP) == {
        "bucket": bucket_id,
        "rule": {"objectOwnership": "BucketOwnerEnforced"},
    }


def test_the_aws_resources_use_a_provider_in_the_configured_region(staging: Render) -> None:
    (provider,) = staging.of_type(AWS_PROVIDER)
    assert provider.name == "staging-mlops-stack-aws"
    assert provider.inputs["region"] == "eu-west-1"
    tags = json.loads(provider.inputs["defaultTags"])["tags"]
    assert tags["project"] == "mlops-stack" and tags["environment"] == "staging"


def test_force_destroy_and_prod_protection_reach_the_bucket() -> None:
    render = enabled("prod", forceDestroy=True)
    bucket = render.find(BUCKET, "prod-mlops-stack-storage-bucket")
    assert bucket.inputs["forceDestroy"] is True
    assert bucket.protected
    assert not enabled("dev").find(BUCKET, "dev-mlops-stack-storage-bucket").protected


# --- the IAM role ----------------------------------------------------------------------


def test_the_trust_policy_allows_unity_catalog_with_the_external_id_and_the_role_itself(
    staging: Render,
) -> None:
    role = only(staging, ROLE)
    assert role["name"] == "staging-mlops-stack-uc-storage"
    trust = json.loads(role["assumeRolePolicy"])
    # The external id the credential reports (the mock's, shaped like Databricks').
    credential = staging.find(CREDENTIAL, "staging-mlops-stack-storage-credential")
    reported = fake_outputs(CREDENTIAL, credential.name, credential.inputs)
    external_id = {"StringEquals": {"sts:ExternalId": reported["awsIamRole"]["externalId"]}}
    assert trust["Statement"] == [
        {
            "Sid": "UnityCatalogAssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": UC_MASTER_ROLE_ARN},
            "Action": "sts:AssumeRole",
            "Condition": external_id,
        },
        {
            "Sid": "ExplicitSelfRoleAssumption",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{AWS_ACCOUNT}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"ArnLike": {"aws:PrincipalArn": role_arn("staging")}, **external_id},
        },
    ]
    assert UC_MASTER_ROLE_ARN == (
        "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"
    )


def test_another_unity_catalog_role_can_be_trusted() -> None:
    other = "arn:aws-us-gov:iam::044793339203:role/unity-catalog-prod-UCMasterRole-1QRFA8SGY15OJ"
    trust = json.loads(only(enabled(unityCatalogRoleArn=other), ROLE)["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"AWS": other}


def test_the_role_may_only_use_its_bucket_and_assume_itself(staging: Render) -> None:
    policy = only(staging, ROLE_POLICY)
    role = staging.find(ROLE, "staging-mlops-stack-storage-role")
    assert policy["role"] == fake_id(ROLE, role.name, role.inputs)
    statements = json.loads(policy["policy"])["Statement"]
    granted = {
        (action, resource)
        for statement in statements
        for action in statement["Action"]
        for resource in statement["Resource"]
    }
    assert all(statement["Effect"] == "Allow" for statement in statements)
    assert granted == {
        ("s3:GetObject", "arn:aws:s3:::acme-mlops-lakehouse/*"),
        ("s3:PutObject", "arn:aws:s3:::acme-mlops-lakehouse/*"),
        ("s3:DeleteObject", "arn:aws:s3:::acme-mlops-lakehouse/*"),
        ("s3:AbortMultipartUpload", "arn:aws:s3:::acme-mlops-lakehouse/*"),
        ("s3:ListMultipartUploadParts", "arn:aws:s3:::acme-mlops-lakehouse/*"),
        ("s3:ListBucket", "arn:aws:s3:::acme-mlops-lakehouse"),
        ("s3:ListBucketMultipartUploads", "arn:aws:s3:::acme-mlops-lakehouse"),
        ("s3:GetBucketLocation", "arn:aws:s3:::acme-mlops-lakehouse"),
        ("sts:AssumeRole", role_arn("staging")),
    }


# --- Unity Catalog ---------------------------------------------------------------------


def test_the_storage_credential_uses_the_role(staging: Render) -> None:
    credential = only(staging, CREDENTIAL)
    role = only(staging, ROLE)
    assert credential["awsIamRole"] == {"roleArn": role_arn("staging")}
    assert credential["awsIamRole"]["roleArn"].endswith(f":role/{role['name']}")
    assert credential["name"] == "staging-mlops-stack-uc-storage"


def test_the_external_location_covers_the_catalogs_folder_with_the_credential(
    staging: Render,
) -> None:
    location = only(staging, LOCATION)
    assert location["url"] == "s3://acme-mlops-lakehouse/staging"
    assert location["credentialName"] == only(staging, CREDENTIAL)["name"]


def test_only_the_deployer_is_granted_managed_storage_on_the_location(staging: Render) -> None:
    grants = staging.find(GRANTS, "staging-mlops-stack-storage-location-grants").inputs
    assert grants == {
        "externalLocation": only(staging, LOCATION)["name"],
        "grants": [
            {
                "principal": staging.settings.principals.deployer,
                "privileges": ["CREATE_MANAGED_STORAGE"],
            }
        ],
    }


def test_without_a_deployer_nothing_is_granted() -> None:
    render = enabled("dev")
    assert render.settings.principals.deployer is None
    assert not [g for g in render.of_type(GRANTS) if "externalLocation" in g.inputs]


def test_the_component_holds_its_children_and_the_exports_name_them(staging: Render) -> None:
    (component,) = [r for r in staging.roots if r.type == COMPONENT]
    assert component.name == "staging-mlops-stack-storage"
    assert {child.type for child in component.children} == {
        BUCKET,
        ENCRYPTION,
        VERSIONING,
        PUBLIC_ACCESS,
        OWNERSHIP,
        ROLE,
        ROLE_POLICY,
        CREDENTIAL,
        LOCATION,
        GRANTS,
    }
    assert all(child.name.startswith(component.name + "-") for child in component.children)
    validate_outputs(staging.exports)
    assert staging.exports["storage"] == {
        "bucket": "acme-mlops-lakehouse",
        "region": "eu-west-1",
        "roleArn": role_arn("staging"),
        "storageCredential": "staging-mlops-stack-uc-storage",
        "externalLocation": "staging-mlops-stack-uc-storage",
        "url": "s3://acme-mlops-lakehouse/staging",
        "storageRoot": "s3://acme-mlops-lakehouse/staging/managed",
        "managedLocation": "schema",
    }
    text = format_text(staging)
    assert "EXTERNAL LOCATION staging-mlops-stack-uc-storage" in text
    assert "region eu-west-1" in text


# --- the storage root of the schema or the catalog ------------------------------------


def test_by_default_the_schemas_keep_their_managed_tables_on_the_bucket(
    staging: Render,
) -> None:
    roots = {s.inputs["name"]: s.inputs["storageRoot"] for s in staging.of_type(SCHEMA)}
    # The first project keeps the root the stack's one schema had; the others get their own
    # beside it: Unity Catalog refuses managed storage locations that overlap.
    assert roots == {
        "nyc_taxi": "s3://acme-mlops-lakehouse/staging/managed",
        "telco": "s3://acme-mlops-lakehouse/staging/schemas/telco",
    }
    for a in roots.values():
        for b in roots.values():
            assert a == b or not (a + "/").startswith(b + "/")
    for schema in staging.of_type(SCHEMA):
        assert schema.inputs["catalogName"] == "staging"
    # The catalog stays its owner's: no catalog resource, additive grants only.
    assert staging.of_type(CATALOG) == []
    assert not [g for g in staging.of_type(GRANTS) if "catalog" in g.inputs]
    catalog_grants = [g.inputs for g in staging.of_type(GRANT) if g.inputs.get("catalog")]
    assert {(g["catalog"], g["principal"], tuple(g["privileges"])) for g in catalog_grants} == {
        ("staging", staging.settings.principals.runner, ("USE_CATALOG",)),
        ("staging", staging.settings.groups.readers, ("USE_CATALOG",)),
    }


# Raw trips from a catalog the stack does not create.
OUTSIDE_INPUTS = {"trips": "shared.bronze.nyc_taxi_trips"}


@pytest.fixture(scope="module")
def owned_catalog() -> Render:
    return render_with(
        "prod", storage={**ENABLED, "managedLocation": "catalog"}, fare={"tables": OUTSIDE_INPUTS}
    )


def test_managed_location_catalog_creates_the_catalog_with_its_root_on_the_bucket(
    owned_catalog: Render,
) -> None:
    (catalog,) = owned_catalog.of_type(CATALOG)
    assert catalog.name == "prod-mlops-stack-catalog-catalog"
    assert catalog.inputs["name"] == "prod"
    assert catalog.inputs["storageRoot"] == "s3://acme-mlops-lakehouse/prod/managed"
    assert catalog.inputs["forceDestroy"] is False
    assert catalog.protected
    for schema in owned_catalog.of_type(SCHEMA):
        assert schema.inputs["catalogName"] == "prod"
        assert "storageRoot" not in schema.inputs  # inherited from the catalog
    assert owned_catalog.exports["storage"]["managedLocation"] == "catalog"
    assert "prod; storage root s3://acme-mlops-lakehouse/prod/managed" in format_text(owned_catalog)


def test_an_owned_catalog_gets_authoritative_least_privilege_grants(owned_catalog: Render) -> None:
    settings = owned_catalog.settings
    grants = [g.inputs for g in owned_catalog.of_type(GRANTS) if "catalog" in g.inputs]
    assert grants == [
        {
            "catalog": "prod",
            "grants": [
                {"principal": settings.principals.runner, "privileges": ["USE_CATALOG"]},
                {"principal": settings.groups.readers, "privileges": ["USE_CATALOG"]},
            ],
        }
    ]
    # No additive grant on it besides; the input table's own catalog gets one.
    additive = {g.inputs["catalog"] for g in owned_catalog.of_type(GRANT) if "catalog" in g.inputs}
    assert additive == {"shared"}


def test_bad_managed_location_is_refused() -> None:
    with pytest.raises(InvalidStackConfig) as caught:
        enabled(managedLocation="volume")
    assert (
        "(1) mlops-stack:storage.managedLocation is 'volume': expected one of schema, catalog."
    ) in str(caught.value)


def test_an_owned_catalog_cannot_hold_the_input_tables_of_another_schema() -> None:
    # prod reads prod.bronze.nyc_taxi_trips: a catalog the stack creates would have no bronze.
    with pytest.raises(InvalidStackConfig) as caught:
        render_with("prod", storage={**ENABLED, "managedLocation": "catalog"})
    message = str(caught.value)
    assert message.startswith("Pulumi.prod.yaml (stack 'prod') has 1 invalid setting,")
    assert (
        "(1) mlops-stack:fare.tables.trips is 'prod.bronze.nyc_taxi_trips': expected a table"
        " outside the catalog prod or in one of the stack's schemas (prod.nyc_taxi,"
        " prod.telco)" in message
    )
    assert "storage.managedLocation is catalog" in message


# --- disabled, and bad settings --------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_disabled_registers_nothing_and_exports_null(
    renders: dict[str, Render], stack: str
) -> None:
    render = renders[stack]
    assert not render.settings.storage.enabled
    storage_types = {COMPONENT, AWS_PROVIDER, CREDENTIAL, LOCATION}
    assert not [r for r in render.resources if r.type in storage_types or r.type.startswith("aws:")]
    assert render.exports["storage"] is None


@pytest.mark.parametrize(
    ("storage", "key"),
    [
        ({"bucketName": "Acme_Bucket"}, "storage.bucketName"),
        ({"bucketName": "192.168.1.10"}, "storage.bucketName"),
        # S3 allows dots; Unity Catalog does not.
        ({"bucketName": "acme.mlops.lakehouse"}, "storage.bucketName"),
        ({"awsAccountId": "12345"}, "storage.awsAccountId"),
        ({"awsAccountId": None}, "storage.awsAccountId"),
    ],
)
def test_bad_storage_settings_fail_before_anything_is_registered(
    tmp_path, registered: list[str], storage: dict[str, Any], key: str
) -> None:
    given = {k: v for k, v in {**ENABLED, **storage}.items() if v is not None}
    lines = [f"    {name}: {json.dumps(value)}" for name, value in given.items()]
    source = (
        stack_path("staging")
        .read_text()
        .replace(
            "  mlops-stack:storage:\n    enabled: false\n",
            "  mlops-stack:storage:\n" + "\n".join(lines) + "\n",
        )
    )
    path = tmp_path / "Pulumi.staging.yaml"
    path.write_text(source)
    with pytest.raises(InvalidStackConfig) as caught:
        render_stack(path, CODE)
    message = str(caught.value)
    assert message.startswith("Pulumi.staging.yaml (stack 'staging') has 1 invalid setting,")
    assert f"(1) mlops-stack:{key} is " in message
    assert "\n" not in message
    assert registered == []
