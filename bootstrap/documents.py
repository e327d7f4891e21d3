"""The roles CI uses, which the stack must not manage (a stack must not manage the roles that
deploy it): their documents as pure functions, printed by `python -m bootstrap`.

In the owner account, two roles trusted by GitHub OIDC: a preview role (environment
`preview`, read-only) and a deploy role (environment `production`). In each secondary account,
a preview role (it may read the reader role and policy) trusted by the preview CI role and by
whoever runs `pulumi up`, and a deploy role (it may write those two and nothing else) trusted
only by whoever runs `pulumi up`: the deploy CI role and the operators in `deployPrincipalArns`
(an update previews first, so both need both).
tests/test_ci_roles.py proves with principalmapper that the preview side reaches nothing that writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bootstrap.permissions import HANDLERS, READ_HANDLERS, permissions, scoped_statements
from components.policy_documents import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST, PUBLISH_ACTIONS, VERSION

if TYPE_CHECKING:
    from components.settings import Settings

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
# The resource types the program declares in the owner account (tests/test_deploy_permissions.py renders both
# reader modes and checks that these cover them); StackSet mode adds the reader StackSet and its instances.
OWNER_TYPES = (
    "aws:codeartifact/domain:Domain", "aws:codeartifact/domainPermissions:DomainPermissions",
    "aws:codeartifact/repository:Repository",
    "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy",
    "aws-native:codeartifact:PackageGroup", "aws:kms/key:Key", "aws:kms/alias:Alias",
    "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
)
STACK_SET_TYPES = ("aws:cloudformation/stackSet:StackSet", "aws:cloudformation/stackSetInstance:StackSetInstance")


def owner_types(settings: Settings) -> tuple[str, ...]:
    return OWNER_TYPES + (STACK_SET_TYPES if settings.stack_set_mode else ())


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
    # A role the deploy role creates, or sets a boundary on, carries the bootstrap's boundary: it can make no role
    # more than a reader or publisher of this registry, itself included.
    bounded = {"ArnEquals": {"iam:PermissionsBoundary": settings.github_roles_boundary_arn}}
    statements = scoped_statements(settings, permissions(owner_types(settings), HANDLERS), "ManageTheRegistry",
                                   dict.fromkeys(BOUNDED_ACTIONS, bounded))
    roles = [arn for account in settings.secondary_account_ids
             for arn in (settings.preview_role_arn(account), settings.deploy_role_arn(account))]
    if roles:
        statements.append({"Sid": "AssumeSecondaryPreviewAndDeployRoles", "Effect": "Allow",
                           "Action": "sts:AssumeRole", "Resource": roles})
    return {"Version": VERSION, "Statement": statements}


def secondary_preview_policy(settings: Settings, account_id: str) -> PolicyDocument:
    """A secondary account's preview role: read the reader role and policy, nothing else."""
    return {"Version": VERSION, "Statement": [
        {"Sid": "ReadTheReader", "Effect": "Allow", "Action": list(READER_READ_ACTIONS),
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
        {"Sid": "ManageTheReader", "Effect": "Allow", "Action": list(READER_READ_ACTIONS + READER_WRITE_ACTIONS),
         "Resource": [role, policy]},
        {"Sid": "OnlyInsideTheReadersBoundary", "Effect": "Allow", "Action": list(BOUNDED_ACTIONS), "Resource": role,
         "Condition": {"ArnEquals": {"iam:PermissionsBoundary": settings.reader_boundary_arn(account_id)}}},
        {"Sid": "AttachOnlyTheReadPolicy", "Effect": "Allow", "Action": list(ATTACH_ACTIONS), "Resource": role,
         "Condition": {"ArnEquals": {"iam:PolicyARN": policy}}},
    ]}


def documents(settings: Settings, repository: str, ci_preview_role: str, ci_deploy_role: str) -> dict[str, Any]:
    """Every bootstrap document, by account and role."""
    found: dict[str, Any] = {
        settings.owner_account_id: {
            "ci-preview": {"trust": github_ci_trust(settings, repository, "preview"),
                           "policy": ci_preview_policy(settings)},
            "ci-deploy": {"trust": github_ci_trust(settings, repository, "production"),
                          "policy": ci_deploy_policy(settings)},
            settings.github_roles_boundary_arn.rsplit("/", 1)[1]: {"boundary": github_roles_boundary_policy(settings)},
        }
    }
    # Whoever runs `pulumi up` (the deploy CI role, and the operators in deployPrincipalArns) previews first
    # (a dry run assumes the preview roles) and then updates (the deploy roles); the preview CI role only previews.
    operators = [ci_deploy_role, *settings.deploy_principal_arns]
    for account in settings.secondary_account_ids:
        found[account] = {
            settings.preview_role_name: {"trust": _trusted_by([ci_preview_role, *operators]),
                                         "policy": secondary_preview_policy(settings, account)},
            settings.deploy_role_name: {"trust": _trusted_by(operators),
                                        "policy": secondary_deploy_policy(settings, account)},
            # A managed policy, not a role: the reader role's boundary, which the stack names and never manages.
            settings.reader_boundary_arn(account).rsplit("/", 1)[1]: {"boundary": reader_boundary_policy()},
        }
    return found
