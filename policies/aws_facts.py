"""AWS facts the guardrails and the audit rely on, stated here so that both judges stand apart from the
program they guard: a wrong constant in the program (an action dropped from a Deny) must not move the
guard with it. tests/model/test_design.py shows the program's Denies name exactly these actions."""

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
CODEARTIFACT_SERVICE = "codeartifact.amazonaws.com"

# Characters AWS allows per document; 5120 is the older, stricter CodeArtifact limit.
RESOURCE_POLICY_LIMIT = 5120
TRUST_POLICY_LIMIT = 2048
MANAGED_POLICY_LIMIT = 6144
INLINE_ROLE_POLICY_LIMIT = 10240

# Deleting a domain, repository or version loses packages for good.
IRREVERSIBLE_ACTIONS = (
    "codeartifact:DeleteDomain",
    "codeartifact:DeleteRepository",
    "codeartifact:DeletePackage",
    "codeartifact:DeletePackageVersions",
    "codeartifact:DisposePackageVersions",
)
# Replacing a published version (no condition key can express "no overwrite").
OVERWRITE_ACTIONS = ("codeartifact:CopyPackageVersions",)
# Reopening internal names to public PyPI or rewiring upstreams: for the deploy roles only.
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
# Archiving or unlisting versions (UpdatePackageVersionsStatus) loses nothing, but one call can hide
# every version of every package from every consumer: for the deploy roles only.
STATUS_ACTIONS = ("codeartifact:UpdatePackageVersionsStatus",)
# Disabling the domain's key makes every package unreadable at once; deleting it, for good.
KEY_LOSS_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:DisableKey")

PUBLISH_ACTION = "codeartifact:PublishPackageVersion"
BEARER_TOKEN_ACTION = "sts:GetServiceBearerToken"  # noqa: S105 (an action name, not a secret)
KEY_POLICY_LIMIT = 32768
POLICY_VERSION = "2012-10-17"
