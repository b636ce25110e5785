"""LakehouseStorage: the stack's own S3 storage for Unity Catalog, and how Unity Catalog
reaches it (IAM role, storage credential, external location)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_databricks as databricks

TYPE = "mlops-stack:storage:LakehouseStorage"
# What Unity Catalog does with the objects of an external location and its managed storage:
# Databricks' own Unity Catalog policy grants these, multipart uploads included (large
# writes are multipart; an aborted one must be cleaned up), docs/platform.md "Storage".
OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")
# The least privilege on the external location that lets a catalog or schema keep its
# managed tables there (CREATE MANAGED STORAGE); the stack creates no external tables, so
# no CREATE EXTERNAL TABLE, READ FILES or WRITE FILES.
DEPLOYER_PRIVILEGES = ("CREATE_MANAGED_STORAGE",)


@dataclass(frozen=True)
class LakehouseStorageArgs:
    """What LakehouseStorage needs.

    bucket_name: the S3 bucket to create (globally unique).
    role_name: the IAM role to create for the storage credential; the storage credential
        and the external location take the same name.
    aws_account_id: the AWS account the role lives in (12 digits); the role's own ARN is
        built from it, since the storage credential is created before the role and the
        role's trust policy cannot reference the role's own output.
    unity_catalog_role_arn: the Databricks role allowed to assume the role
        (``settings.UC_MASTER_ROLE_ARN`` unless told otherwise).
    prefix: the folder of the bucket the external location covers, e.g. the catalog name.
    deployer: application id of the service principal that runs ``pulumi up``; granted
        CREATE_MANAGED_STORAGE on the external location. ``None`` in dev, where the person
        deploying creates, hence owns, the external location.
    force_destroy: let ``pulumi destroy`` delete the bucket while it still holds objects.
    protect: keep the bucket from being deleted by Pulumi (prod).
    tags: tags on the AWS resources.
    """

    bucket_name: str
    role_name: str
    aws_account_id: str
    unity_catalog_role_arn: str
    prefix: str
    deployer: str | None = None
    force_destroy: bool = False
    protect: bool = False
    tags: dict[str, str] | None = None


def trust_policy(args: LakehouseStorageArgs, external_id: str) -> dict[str, Any]:
    """Who may assume the role: Unity Catalog's master role presenting the storage
    credential's own external id, and the role itself, which Databricks requires of a
    storage credential's role.

    The external id is the one the credential reports (``aws_iam_role.external_id``): it
    equals the Databricks account id only when an account admin creates the credential, so
    the stack never assumes it (docs/platform.md, "Storage").

    The self-assume statement names the account as principal and the role in an
    ``aws:PrincipalArn`` condition (as Databricks' own generated policy does): IAM rejects a
    trust policy whose principal is a role that does not exist yet, as this one does not
    while it is being created."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "UnityCatalogAssumeRole",
                "Effect": "Allow",
                "Principal": {"AWS": args.unity_catalog_role_arn},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            },
            {
                "Sid": "ExplicitSelfRoleAssumption",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{args.aws_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnLike": {"aws:PrincipalArn": role_arn(args)},
                    "StringEquals": {"sts:ExternalId": external_id},
                },
            },
        ],
    }


def access_policy(args: LakehouseStorageArgs) -> dict[str, Any]:
    """What the role may do: read, write and delete objects in the bucket, list it and find
    its region, and assume itself; nothing else, on nothing else."""
    bucket = f"arn:aws:s3:::{args.bucket_name}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Objects",
                "Effect": "Allow",
                "Action": list(OBJECT_ACTIONS),
                "Resource": [f"{bucket}/*"],
            },
            {
                "Sid": "Bucket",
                "Effect": "Allow",
                "Action": list(BUCKET_ACTIONS),
                "Resource": [bucket],
            },
            {
                "Sid": "AssumeItself",
                "Effect": "Allow",
                "Action": ["sts:AssumeRole"],
                "Resource": [role_arn(args)],
            },
        ],
    }


def role_arn(args: LakehouseStorageArgs) -> str:
    return f"arn:aws:iam::{args.aws_account_id}:role/{args.role_name}"


class LakehouseStorage(pulumi.ComponentResource):
    """An S3 bucket for Unity Catalog data, the IAM role Unity Catalog assumes to use it,
    the storage credential and external location over it, and the deployer's grant.

    The bucket: SSE-S3 encryption by default (with S3 bucket keys), versioning enabled (an
    overwritten or deleted object can be recovered), every public access blocked, and ACLs
    disabled (``BucketOwnerEnforced``), so access is only what IAM and Unity Catalog grant.

    The external location covers ``s3://<bucket>/<prefix>``; ``storage_root``
    (``<url>/managed``) is where the stack's managed tables, volumes and model files live:
    ``CatalogAccess`` creates the catalog with its storage root there, or puts the first
    project's schema's storage root there, and each other project's schema's at
    ``schema_root(schema)`` (``<url>/schemas/<schema>``, beside it: Unity Catalog's managed
    storage locations may not overlap) (``storage.managedLocation``). Both are outputs of the
    external location, so whatever uses them is created after the location exists.

    Children use the providers given in ``opts``: one for AWS (the region) and one for the
    workspace.
    """

    bucket: aws.s3.Bucket
    role: aws.iam.Role
    credential: databricks.StorageCredential
    location: databricks.ExternalLocation
    grants: databricks.Grants | None

    def __init__(
        self, name: str, args: LakehouseStorageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags or {}) or None

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=args.bucket_name,
            force_destroy=args.force_destroy,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        on_bucket = pulumi.ResourceOptions(parent=self, depends_on=[self.bucket])
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=on_bucket,
        )
        self.versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                status="Enabled"
            ),
            opts=on_bucket,
        )
        self.public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=on_bucket,
        )
        self.ownership_controls = aws.s3.BucketOwnershipControls(
            f"{name}-ownership-controls",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=on_bucket,
        )

        # The order of Databricks' Terraform guide for Unity Catalog on AWS: the credential
        # first, on the ARN the role will have (IAM reports path "/"), then the role trusting
        # the external id the credential reports, then its policy; the external location,
        # whose creation Databricks validates by assuming the role, comes last.
        self.role_arn = role_arn(args)
        self.credential = databricks.StorageCredential(
            f"{name}-credential",
            name=args.role_name,
            aws_iam_role=databricks.StorageCredentialAwsIamRoleArgs(role_arn=self.role_arn),
            comment="IAM role of the stack's S3 bucket. Managed by Pulumi.",
            opts=child,
        )
        self.external_id: pulumi.Output[str] = self.credential.aws_iam_role.apply(
            lambda role: (role.external_id if role is not None else None) or ""
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description="Unity Catalog storage credential of mlops-stack. Managed by Pulumi.",
            assume_role_policy=self.external_id.apply(
                lambda external_id: json.dumps(trust_policy(args, external_id))
            ),
            tags=tags,
            opts=child,
        )
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=self.role.id,
            policy=json.dumps(access_policy(args)),
            opts=child,
        )
        self.url = f"s3://{args.bucket_name}/{args.prefix}"
        self.location = databricks.ExternalLocation(
            f"{name}-location",
            name=args.role_name,
            url=self.url,
            credential_name=self.credential.name,
            comment="The stack's S3 storage; managed tables under /managed. Managed by Pulumi.",
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    self.bucket,
                    self.public_access_block,
                    self.ownership_controls,
                    self.role,
                    self.role_policy,
                ],
            ),
        )

        self.storage_root: pulumi.Output[str] = pulumi.Output.concat(self.location.url, "/managed")

        # The stack owns the external location, so the grants are authoritative: only the
        # deployer, and only what managed storage needs.
        self.grants = None
        if args.deployer:
            self.grants = databricks.Grants(
                f"{name}-location-grants",
                external_location=self.location.name,
                grants=[
                    databricks.GrantsGrantArgs(
                        principal=args.deployer, privileges=list(DEPLOYER_PRIVILEGES)
                    )
                ],
                opts=child,
            )

        self.bucket_name = args.bucket_name
        self.credential_name = self.credential.name
        self.location_name = self.location.name
        self.register_outputs(
            {
                "bucket": self.bucket.bucket,
                "role_arn": self.role_arn,
                "storage_credential": self.credential_name,
                "external_location": self.location_name,
                "url": self.url,
                "storage_root": self.storage_root,
            }
        )

    def schema_root(self, schema: str) -> pulumi.Output[str]:
        """The storage root of a schema of its own, beside ``storage_root``."""
        return pulumi.Output.concat(self.location.url, "/schemas/", schema)
