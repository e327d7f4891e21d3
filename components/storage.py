"""A bucket that keeps every object: the airlock's ledger, the backup and its replica.

Object Lock in COMPLIANCE mode with a default retention, versioning, encryption at rest, public access blocked and
a policy that denies every delete (model/documents/jobs.py, `locked_bucket_policy`). The policy pack holds
every S3 bucket to the same (policies/airlock.py, airlock-ledger-keeps-every-decision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class LockedBucket:
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    policy: aws.s3.BucketPolicy


def declare_locked_bucket(parent: pulumi.Resource, name: str, *, bucket_name: str, policy: str, retention_days: int,
                          encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict,
                          tags: Mapping[str, str],
                          provider: pulumi.ProviderResource | None = None) -> LockedBucket:
    """The bucket (kept like the registry: protected, retained on delete) and its parts, each named `name-...`.

    `encryption` is the rule's apply_server_side_encryption_by_default (and bucket_key_enabled) as Pulumi takes it;
    `provider` places the bucket in another region than the parent's."""
    child = pulumi.ResourceOptions(parent=parent, provider=provider)
    keep = pulumi.ResourceOptions(parent=parent, provider=provider, protect=True, retain_on_delete=True)
    bucket = aws.s3.Bucket(
        f"{name}-bucket",
        bucket=bucket_name,
        object_lock_enabled=True,
        tags=dict(tags),
        opts=keep,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.bucket,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    lock = aws.s3.BucketObjectLockConfiguration(
        f"{name}-object-lock",
        bucket=bucket.bucket,
        object_lock_enabled="Enabled",
        rule={"default_retention": {"mode": "COMPLIANCE", "days": retention_days}},
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=[versioning]),
    )
    encrypted = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.bucket,
        rules=[encryption],
        opts=child,
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.bucket,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    # After the lock and versioning: the policy denies changing them to all but the deploy roles.
    bucket_policy = aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.bucket,
        policy=policy,
        opts=pulumi.ResourceOptions(parent=parent, provider=provider,
                                    depends_on=[versioning, lock, encrypted, public_access]),
    )
    return LockedBucket(bucket, versioning, bucket_policy)
