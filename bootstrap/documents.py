"""The roles CI uses, which the stack must not manage (a stack must not manage the roles that
deploy it), and the state bucket's policy: their documents as pure functions, printed by `python -m bootstrap`.

In the owner account, two roles trusted by GitHub OIDC: a preview role (environment
`preview`, read-only) and a deploy role (environment `production`). In each secondary account,
a preview role (it may read the reader role and policy) trusted by the preview CI role and by
whoever runs `pulumi up`, and a deploy role (it may write those two and nothing else) trusted
only by whoever runs `pulumi up`: the deploy CI role and the operators in `deployPrincipalArns`
(an update previews first, so both need both).
The secondary roles and the reader's boundary are also one CloudFormation template for every secondary account
(`secondary_roles_template`), built from the same functions with `${AWS::AccountId}` for the account.
tests/bootstrap/test_ci_roles.py proves with principalmapper that the preview side reaches nothing that writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bootstrap.permissions import HANDLERS, READ_HANDLERS, UNUSED, permissions, provider_actions, scoped_statements
from model.documents.actions import PUBLISH_ACTIONS
from model.documents.readers import MEMBER_ACCOUNT, cloudformation_sub
from model.names import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, MANAGED_POLICY_LIMIT, PROJECT
from model.trust_policy import VERSION, to_json

if TYPE_CHECKING:
    from model.settings import Settings

PolicyDocument = dict[str, Any]

# What `pulumi preview --refresh` reads of the reader role and policy in a secondary account.
READER_READ_ACTIONS = (
    "iam:GetRole", "iam:ListRoleTags", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
    "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:ListPolicyTags",
)
# What `pulumi up` changes there: the reader role and policy only.
READER_WRITE_ACTIONS = (
    "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy", "iam:TagRole",
    "iam:UntagRole", "iam:CreatePolicy", "iam:DeletePolicy", "iam:CreatePolicyVersion",
    "iam:DeletePolicyVersion", "iam:TagPolicy", "iam:UntagPolicy",
)
# Creating the reader role, or setting its boundary, only with the bootstrap's boundary: whatever the deploy
# role then writes into the reader's policy or trust, the reader holds no more than the boundary allows.
BOUNDED_ACTIONS = ("iam:CreateRole", "iam:PutRolePermissionsBoundary")
# The reader's boundary: what a reader may ever do, all of it Read (CodeArtifact's reads and the bearer token).
BOUNDARY_ACTIONS = (
    "codeartifact:Describe*", "codeartifact:Get*", "codeartifact:List*", "codeartifact:ReadFromRepository",
)
ATTACH_ACTIONS = ("iam:AttachRolePolicy", "iam:DetachRolePolicy")
# What the stack declares in a secondary account: the reader role, its policy and their attachment.
READER_TYPES = ("aws:iam/role:Role", "aws:iam/policy:Policy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
# The resource types the program declares in the owner account (tests/bootstrap/test_deploy_permissions.py renders both
# reader modes and checks that these cover them); StackSet mode adds the reader StackSet and its instances.
OWNER_TYPES = (
    "aws:codeartifact/domain:Domain", "aws:codeartifact/domainPermissions:DomainPermissions",
    "aws:codeartifact/repository:Repository",
    "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy",
    "aws-native:codeartifact:PackageGroup", "aws:kms/key:Key", "aws:kms/alias:Alias",
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
)
# The curation airlock's types in the owner account (publicIngest: airlock).
AIRLOCK_TYPES = (
    "aws:lambda/function:Function", "aws:cloudwatch/logGroup:LogGroup", "aws:scheduler/schedule:Schedule",
    "aws:sns/topic:Topic", "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketVersioning:BucketVersioning",
)
# The backup's types (backupRegion set): the airlock's (functions, log groups, schedules, topic, locked buckets), and
# replication, the queues, the event rule and target, the queue's event source mapping and the backup keys.
BACKUP_TYPES = (
    *AIRLOCK_TYPES, "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "aws:sqs/queue:Queue",
    "aws:sqs/queuePolicy:QueuePolicy", "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
)
STACK_SET_TYPES = ("aws:cloudformation/stackSet:StackSet", "aws:cloudformation/stackSetInstance:StackSetInstance")


OIDC_PROVIDER_TYPE = "aws:iam/openIdConnectProvider:OpenIdConnectProvider"


def owner_types(settings: Settings) -> tuple[str, ...]:
    """What the stack declares in the owner account: the GitHub OIDC provider only when it creates it (else the
    bootstrap did), the reader StackSet only in StackSet mode."""
    types = tuple(t for t in OWNER_TYPES if t != OIDC_PROVIDER_TYPE or settings.create_github_oidc_provider)
    types += (STACK_SET_TYPES if settings.stack_set_mode else ()) + (AIRLOCK_TYPES if settings.airlock_mode else ())
    if settings.backup_mode:
        types += tuple(t for t in BACKUP_TYPES if t not in types)
    return types


def _reader_arns(settings: Settings, account_id: str) -> list[str]:
    policy = f"arn:aws:iam::{account_id}:policy/{settings.reader_role_name}-{settings.domain_name}"
    return [settings.reader_role_arn(account_id), policy]


def _trusted_by(role_arns: list[str]) -> PolicyDocument:
    """Trust exactly these roles (by ARN, so nobody else in their account is let in)."""
    unique = list(dict.fromkeys(role_arns))
    return {"Version": VERSION, "Statement": [
        {"Sid": "OnlyTheseRoles", "Effect": "Allow", "Principal": {"AWS": unique[0] if len(unique) == 1 else unique},
         "Action": "sts:AssumeRole"},
    ]}


def github_ci_trust(settings: Settings, repository: str, environment: str) -> PolicyDocument:
    """The owner account's CI role: only jobs of this repository in one protected environment. `repository` is
    OWNER/NAME, or OWNER@OWNER_ID/NAME@REPO_ID for the immutable subject a repository created, renamed or
    transferred after 2026-06-18 sends."""
    return {"Version": VERSION, "Statement": [{
        "Sid": "GitHubActionsEnvironment", "Effect": "Allow",
        "Principal": {"Federated": settings.github_oidc_provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{GITHUB_OIDC_HOST}:aud": GITHUB_OIDC_AUDIENCE,
            f"{GITHUB_OIDC_HOST}:sub": f"repo:{repository}:environment:{environment}",
        }},
    }]}


def ci_preview_policy(settings: Settings) -> PolicyDocument:
    """The owner account's preview CI role, also the drift job's: what reading and refreshing every resource
    of the stack needs (the read and list handlers of each type), and assuming only the secondary preview
    roles."""
    preview_roles = [settings.preview_role_arn(account) for account in settings.secondary_account_ids]
    statements = scoped_statements(settings, permissions(owner_types(settings), READ_HANDLERS), "ReadTheRegistry")
    if preview_roles:
        statements.append({"Sid": "AssumeSecondaryPreviewRoles", "Effect": "Allow", "Action": "sts:AssumeRole",
                           "Resource": preview_roles})
    return {"Version": VERSION, "Statement": statements}


def ci_deploy_policy(settings: Settings) -> PolicyDocument:
    """The owner account's deploy CI role: what creating, reading, updating and deleting every resource of the
    stack needs (each type's handlers; the domain and key policies still deny every loss), and assuming the
    secondary preview roles (`pulumi up` previews first) and deploy roles."""
    actions = permissions(owner_types(settings), HANDLERS)
    statements = scoped_statements(settings, [a for a in actions if a not in BOUNDED_ACTIONS], "ManageTheRegistry")
    # A role the deploy role creates, or sets a boundary on, carries the bootstrap's boundary for its kind: it can
    # make no role more than a reader or publisher of this registry (or the airlock's jobs), itself included.
    for roles, boundary, sid in owner_boundaries(settings):
        statements.append({"Sid": sid, "Effect": "Allow", "Action": list(BOUNDED_ACTIONS), "Resource": list(roles),
                           "Condition": {"ArnEquals": {"iam:PermissionsBoundary": boundary}}})
    if settings.airlock_mode:
        # Creating a function or a schedule passes its role: only the airlock's roles, only to those services.
        statements.append({"Sid": "PassTheAirlocksRoles", "Effect": "Allow", "Action": "iam:PassRole",
                           "Resource": list(settings.airlock_role_arns), "Condition": {"StringEquals": {
                               "iam:PassedToService": ["lambda.amazonaws.com", "scheduler.amazonaws.com"]}}})
    if settings.backup_mode:
        # The backup's functions and schedules pass their roles to Lambda and Scheduler; its replication
        # configuration passes the replication role to S3, and nothing else is passed to S3.
        replication = settings.replication_role_arn
        statements += [
            {"Sid": "PassTheBackupsRoles", "Effect": "Allow", "Action": "iam:PassRole",
             "Resource": [arn for arn in settings.backup_role_arns if arn != replication],
             "Condition": {"StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com",
                                                                    "scheduler.amazonaws.com"]}}},
            {"Sid": "PassTheReplicationRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": replication,
             "Condition": {"StringEquals": {"iam:PassedToService": "s3.amazonaws.com"}}},
        ]
    secondary_roles = [arn for account in settings.secondary_account_ids
                       for arn in (settings.preview_role_arn(account), settings.deploy_role_arn(account))]
    if secondary_roles:
        statements.append({"Sid": "AssumeSecondaryPreviewAndDeployRoles", "Effect": "Allow",
                           "Action": "sts:AssumeRole", "Resource": secondary_roles})
    return {"Version": VERSION, "Statement": statements}


def ci_deploy_managed_policies(settings: Settings) -> dict[str, PolicyDocument]:
    """The deploy CI role's permissions as managed policies to attach to it, in order, each within IAM's 6,144
    characters: the whole outgrows the 10,240 a role's inline policies may hold (in airlock mode), and ten managed
    policies may be attached to a role."""
    chunks: list[list[dict[str, Any]]] = [[]]
    for statement in ci_deploy_policy(settings)["Statement"]:
        trial = {"Version": VERSION, "Statement": [*chunks[-1], statement]}
        if chunks[-1] and len(to_json(trial)) > MANAGED_POLICY_LIMIT:
            chunks.append([])
        chunks[-1].append(statement)
    return {f"{PROJECT}-ci-deploy-{i}": {"Version": VERSION, "Statement": chunk}
            for i, chunk in enumerate(chunks, start=1)}


def owner_boundaries(settings: Settings) -> list[tuple[tuple[str, ...], str, str]]:
    """(the roles, their boundary's ARN, a statement ID) of each kind of role the stack declares in the owner
    account."""
    found = [(settings.github_role_patterns, settings.github_roles_boundary_arn, "OnlyInsideTheGitHubRolesBoundary")]
    if settings.airlock_mode:
        found.append((settings.airlock_role_arns, settings.airlock_roles_boundary_arn,
                      "OnlyInsideTheAirlockRolesBoundary"))
    if settings.backup_mode:
        found.append((settings.backup_role_arns, settings.backup_roles_boundary_arn,
                      "OnlyInsideTheBackupRolesBoundary"))
    return found


def _union_boundary(grants: list[PolicyDocument], sid: str) -> PolicyDocument:
    """A boundary that is exactly the union of these grants' statements (each once), so that whatever the deploy
    role writes into one of the roles it bounds, that role does no more than one of their jobs."""
    statements: list[dict[str, Any]] = []
    for statement in (s for grant in grants for s in grant["Statement"]):
        unnamed = {k: v for k, v in statement.items() if k != "Sid"}
        if unnamed not in statements:
            statements.append(unnamed)
    return {"Version": VERSION, "Statement": [{"Sid": f"{sid}{i}", **s} for i, s in enumerate(statements)]}


def airlock_roles_boundary_policy(settings: Settings) -> PolicyDocument:
    """The permissions boundary of the airlock's roles: exactly the union of what the promoter, the pull-back job
    and their two schedules are granted, so that whatever the deploy role writes into one of them, it does no more
    than one of those jobs."""
    from model.documents.airlock import promoter_policy, pull_back_policy
    from model.documents.jobs import invoke_policy
    from model.names import PROMOTER_FUNCTION_NAME, PULL_BACK_FUNCTION_NAME

    grants = [promoter_policy(settings, PROMOTER_FUNCTION_NAME),
              pull_back_policy(settings, PULL_BACK_FUNCTION_NAME),
              *(invoke_policy(settings, name) for name in (PROMOTER_FUNCTION_NAME, PULL_BACK_FUNCTION_NAME))]
    return _union_boundary(grants, "AirlockJob")


def backup_roles_boundary_policy(settings: Settings) -> PolicyDocument:
    """The permissions boundary of the backup's roles: exactly the union of what the copier, the reconciler, the
    retention job (when on), S3's replication and the schedules are granted."""
    from model.documents.backup import backup_policy, reconcile_policy, replication_policy, retention_policy
    from model.documents.jobs import invoke_policy
    from model.names import BACKUP_FUNCTION_NAME, RECONCILE_FUNCTION_NAME, RETENTION_FUNCTION_NAME

    grants = [backup_policy(settings, BACKUP_FUNCTION_NAME),
              reconcile_policy(settings, RECONCILE_FUNCTION_NAME), replication_policy(settings),
              invoke_policy(settings, RECONCILE_FUNCTION_NAME)]
    if settings.retention_mode:
        grants += [retention_policy(settings, RETENTION_FUNCTION_NAME),
                   invoke_policy(settings, RETENTION_FUNCTION_NAME)]
    return _union_boundary(grants, "BackupJob")


def _with_provider_calls(actions: tuple[str, ...], handlers: tuple[str, ...]) -> list[str]:
    """These actions, then what the classic provider calls for the reader's types in these handlers beyond them
    (bootstrap/provider_calls.json), less what the deploy role may do only conditioned and what no resource uses."""
    extra = {a for t in READER_TYPES for a in provider_actions(t, handlers)}
    extra -= {*actions, *BOUNDED_ACTIONS, *ATTACH_ACTIONS, *UNUSED}
    return [*actions, *sorted(extra)]


def secondary_preview_policy(settings: Settings, account_id: str) -> PolicyDocument:
    """A secondary account's preview role: read the reader role and policy, nothing else."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "ReadTheReader", "Effect": "Allow", "Action": _with_provider_calls(READER_READ_ACTIONS, READ_HANDLERS),
         "Resource": _reader_arns(settings, account_id)},
    ]}


def reader_boundary_policy() -> PolicyDocument:
    """The reader role's permissions boundary in a secondary account: CodeArtifact reads and the bearer token for
    CodeArtifact, nothing else, whatever the reader's own policy says."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "CodeArtifactReadsOnly", "Effect": "Allow", "Action": list(BOUNDARY_ACTIONS), "Resource": "*"},
        {"Sid": "BearerTokenForCodeArtifactOnly", "Effect": "Allow", "Action": "sts:GetServiceBearerToken",
         "Resource": "*", "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
    ]}


def github_roles_boundary_policy(settings: Settings) -> PolicyDocument:
    """The permissions boundary of every role the stack declares in the owner account (publishers, CI and
    Dependabot readers): read this registry, publish into `internal`, and the bearer token for CodeArtifact."""
    domain = settings.domain_name
    return {"Version": VERSION, "Statement": [
        {"Sid": "ReadThisRegistry", "Effect": "Allow", "Action": list(BOUNDARY_ACTIONS), "Resource": [
            settings.domain_arn, f"{settings.codeartifact_arn_prefix}:repository/{domain}/*",
            f"{settings.codeartifact_arn_prefix}:package/{domain}/*"]},
        {"Sid": "PublishIntoInternal", "Effect": "Allow", "Action": list(PUBLISH_ACTIONS),
         "Resource": settings.package_arn(settings.internal_repository)},
        {"Sid": "BearerTokenForCodeArtifactOnly", "Effect": "Allow", "Action": "sts:GetServiceBearerToken",
         "Resource": "*", "Condition": {"StringEquals": {"sts:AWSServiceName": "codeartifact.amazonaws.com"}}},
    ]}


def secondary_deploy_policy(settings: Settings, account_id: str) -> PolicyDocument:
    """A secondary account's deploy role: manage the reader role and policy, the role only inside the reader's
    boundary (it may neither create the role without it, nor take it off, nor touch the boundary policy), and
    attach only that policy."""
    role, policy = _reader_arns(settings, account_id)
    return {"Version": VERSION, "Statement": [
        {"Sid": "ManageTheReader", "Effect": "Allow",
         "Action": _with_provider_calls(READER_READ_ACTIONS + READER_WRITE_ACTIONS, HANDLERS),
         "Resource": [role, policy]},
        {"Sid": "OnlyInsideTheReadersBoundary", "Effect": "Allow", "Action": list(BOUNDED_ACTIONS), "Resource": role,
         "Condition": {"ArnEquals": {"iam:PermissionsBoundary": settings.reader_boundary_arn(account_id)}}},
        {"Sid": "AttachOnlyTheReadPolicy", "Effect": "Allow", "Action": list(ATTACH_ACTIONS), "Resource": role,
         "Condition": {"ArnEquals": {"iam:PolicyARN": policy}}},
    ]}


def reader_boundary_name(settings: Settings) -> str:
    return settings.reader_boundary_arn(MEMBER_ACCOUNT).rsplit("/", 1)[1]


def secondary_documents(settings: Settings, account_id: str, ci_preview_role: str,
                        ci_deploy_role: str) -> dict[str, Any]:
    """One secondary account's preview and deploy roles and the reader's boundary, by name. Whoever runs
    `pulumi up` (the deploy CI role, and the operators in deployPrincipalArns) previews first (a dry run assumes
    the preview roles) and then updates (the deploy roles); the preview CI role only previews."""
    operators = [ci_deploy_role, *settings.deploy_principal_arns]
    return {
        settings.preview_role_name: {"trust": _trusted_by([ci_preview_role, *operators]),
                                     "policy": secondary_preview_policy(settings, account_id)},
        settings.deploy_role_name: {"trust": _trusted_by(operators),
                                    "policy": secondary_deploy_policy(settings, account_id)},
        # A managed policy, not a role: the reader role's boundary, which the stack names and never manages.
        reader_boundary_name(settings): {"boundary": reader_boundary_policy()},
    }


# --- the state bucket -------------------------------------------------------------------------------------

# What `pulumi login s3://...`, `pulumi preview` and `pulumi refresh --preview-only` read: the backend's
# `.pulumi/meta.yaml`, the stack's checkpoint and history, and listing the stacks and the locks.
STATE_READ_OBJECT_ACTIONS = ("s3:GetObject",)
STATE_READ_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation")
# What `pulumi up` writes: the checkpoint, its backups and history under `.pulumi/`, and its lock under
# `.pulumi/locks/`, which it deletes when it ends (a delete marker: the bucket is versioned).
STATE_WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:PutObjectAcl", "s3:PutObjectVersionAcl")
# Every way to lose a version of the state for good: deleting it, a lifecycle rule that expires it, suspending
# versioning (the next write then replaces the null version), deleting the bucket.
STATE_LOSS_ACTIONS = ("s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning",
                      "s3:DeleteBucket")
# An object written with a customer-provided key (SSE-C) can be read only with that key: one writer's key would
# lock every other reader out of the state.
SSE_C_HEADER = "s3:x-amz-server-side-encryption-customer-algorithm"


def _arns(values: list[str]) -> str | list[str]:
    unique = list(dict.fromkeys(values))
    return unique[0] if len(unique) == 1 else unique


def state_bucket_policy(settings: Settings, bucket: str, ci_preview_role: str, ci_deploy_role: str) -> PolicyDocument:
    """The policy of the S3 bucket holding the Pulumi state (`pulumi login s3://BUCKET`), in the owner account.

    TLS only. Reads by the CI roles and the operators; object writes by whoever runs `pulumi up` (the deploy CI
    role and the operators in deployPrincipalArns) and by nobody else, whatever their own policies allow. The
    preview CI role writes nothing: neither `pulumi preview` (pulumi/pulumi#8642) nor `pulumi refresh
    --preview-only`, which the drift job runs (pulumi/pulumi#22384, fixed by #22385 before the pinned CLI),
    takes the DIY backend's lock. No version is deleted by anyone but the break-glass role, when there is one.
    Encryption at rest is the bucket's default encryption (S3 encrypts every new object since 2023-01-05); the
    policy does not demand an encryption header, which Pulumi's S3 backend does not send, so such a rule would
    refuse every state write, but it refuses a customer-provided key (SSE-C)."""
    bucket_arn, objects = f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"
    deployers = list(dict.fromkeys([ci_deploy_role, *settings.deploy_principal_arns]))
    readers = [ci_preview_role, *deployers]
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    lose: dict[str, Any] = {"Sid": "DenyLosingVersionsButBreakGlass", "Effect": "Deny", "Principal": "*",
                            "Action": list(STATE_LOSS_ACTIONS), "Resource": [bucket_arn, objects]}
    if break_glass:
        lose["Condition"] = {"ArnNotEquals": {"aws:PrincipalArn": _arns(break_glass)}}
    return {"Version": VERSION, "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [bucket_arn, objects], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Sid": "DenyWritesButDeployers", "Effect": "Deny", "Principal": "*", "Action": list(STATE_WRITE_ACTIONS),
         "Resource": objects, "Condition": {"ArnNotEquals": {"aws:PrincipalArn": _arns([*deployers, *break_glass])}}},
        lose,
        {"Sid": "DenyCustomerProvidedKeys", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
         "Resource": objects, "Condition": {"Null": {SSE_C_HEADER: "false"}}},
        {"Sid": "ListTheState", "Effect": "Allow", "Principal": {"AWS": _arns(readers)},
         "Action": list(STATE_READ_BUCKET_ACTIONS), "Resource": bucket_arn},
        {"Sid": "ReadTheState", "Effect": "Allow", "Principal": {"AWS": _arns(readers)},
         "Action": list(STATE_READ_OBJECT_ACTIONS), "Resource": objects},
        {"Sid": "DeployersWriteTheState", "Effect": "Allow", "Principal": {"AWS": _arns(deployers)},
         "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": objects},
    ]}


def documents(settings: Settings, repository: str, ci_preview_role: str, ci_deploy_role: str,
              state_bucket: str | None = None) -> dict[str, Any]:
    """Every bootstrap document, by account and role (and the state bucket's policy, given its name)."""
    owner: dict[str, Any] = {
        "ci-preview": {"trust": github_ci_trust(settings, repository, "preview"),
                       "policy": ci_preview_policy(settings)},
        "ci-deploy": {"trust": github_ci_trust(settings, repository, "production"),
                      "policies": ci_deploy_managed_policies(settings)},
        settings.github_roles_boundary_arn.rsplit("/", 1)[1]: {"boundary": github_roles_boundary_policy(settings)},
    }
    if settings.airlock_mode:
        owner[settings.airlock_roles_boundary_arn.rsplit("/", 1)[1]] = {
            "boundary": airlock_roles_boundary_policy(settings)}
    if settings.backup_mode:
        owner[settings.backup_roles_boundary_arn.rsplit("/", 1)[1]] = {
            "boundary": backup_roles_boundary_policy(settings)}
    if state_bucket is not None:
        owner["state-bucket"] = {"bucketPolicy": state_bucket_policy(settings, state_bucket, ci_preview_role,
                                                                     ci_deploy_role)}
    found: dict[str, Any] = {settings.owner_account_id: owner}
    for account in settings.secondary_account_ids:
        found[account] = secondary_documents(settings, account, ci_preview_role, ci_deploy_role)
    return found


# --- the secondary accounts' CloudFormation template -------------------------------------------------------

SECONDARY_STACK_NAME = f"{PROJECT}-bootstrap"


def _role_resource(name: str, description: str, parts: dict[str, Any]) -> dict[str, Any]:
    return {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": name, "Description": description, "AssumeRolePolicyDocument": parts["trust"],
        "Policies": [{"PolicyName": name, "PolicyDocument": parts["policy"]}]}}


def secondary_roles_template(settings: Settings, ci_preview_role: str, ci_deploy_role: str) -> dict[str, Any]:
    """One CloudFormation template for every secondary account: its preview and deploy roles (named, with their
    policies inline) and the reader's permissions boundary. The documents are `secondary_documents` for
    `MEMBER_ACCOUNT`, so CloudFormation puts in the account it deploys to; nothing else in it depends on the
    account."""
    parts = secondary_documents(settings, MEMBER_ACCOUNT, ci_preview_role, ci_deploy_role)
    boundary = reader_boundary_name(settings)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{PROJECT}: the roles `pulumi preview` and `pulumi up` assume in a secondary account, and "
                       "the reader role's permissions boundary (python -m bootstrap; the stack must not manage them)",
        "Resources": {
            "PreviewRole": _role_resource(
                settings.preview_role_name, "Assumed by pulumi preview: reads the reader role and policy only",
                parts[settings.preview_role_name]),
            "DeployRole": _role_resource(
                settings.deploy_role_name, "Assumed by pulumi up: writes the reader role (inside its boundary) "
                "and policy only", parts[settings.deploy_role_name]),
            "ReaderBoundary": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
                "ManagedPolicyName": boundary,
                "Description": "The reader role's permissions boundary: CodeArtifact reads and its bearer token only",
                "PolicyDocument": parts[boundary]["boundary"]}},
        },
    }
    return dict(cloudformation_sub(template))
