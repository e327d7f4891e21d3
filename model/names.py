"""The names, limits and defaults of the stack: every one written once, and nothing here imports the rest of
`model/` (each module there may import this one)."""

from __future__ import annotations

from typing import Any

PROJECT = "pypi-registry"

# A publisher that lists no subjects is trusted from its `pypi` environment.
DEFAULT_SUBJECT_CONTEXT = "environment:pypi"

# How public packages reach consumers: straight from public PyPI through the store, or only once the promoter
# has admitted them into the vetted repository.
PUBLIC_INGEST_MODES = ("direct", "airlock")
# OSV's qualitative severities (CVSS v3 rating names), lowest first.
SEVERITIES = ("LOW", "MODERATE", "HIGH", "CRITICAL")
# The airlock's roles, functions, topic and schedules in the owner account (names fixed, so ARNs are known at
# preview); the ledger bucket's name adds the account and region, as S3 bucket names are global.
PROMOTER_ROLE_NAME = f"{PROJECT}-promoter"
PULL_BACK_ROLE_NAME = f"{PROJECT}-pull-back"
PROMOTE_SCHEDULE_ROLE_NAME = f"{PROJECT}-promote-schedule"
PULL_BACK_SCHEDULE_ROLE_NAME = f"{PROJECT}-pull-back-schedule"
PROMOTER_FUNCTION_NAME = f"{PROJECT}-promoter"
PULL_BACK_FUNCTION_NAME = f"{PROJECT}-pull-back"
PROMOTE_SCHEDULE_NAME = f"{PROJECT}-promote"
PULL_BACK_SCHEDULE_NAME = f"{PROJECT}-pull-back"
AIRLOCK_TOPIC_NAME = f"{PROJECT}-airlock"
AIRLOCK_ROLE_NAMES = (PROMOTER_ROLE_NAME, PULL_BACK_ROLE_NAME, PROMOTE_SCHEDULE_ROLE_NAME, PULL_BACK_SCHEDULE_ROLE_NAME)
# The backup (backupRegion set): its functions, roles, queues, rule, topic and schedules in the owner account,
# names fixed so that every ARN is known at preview; the buckets add the account and region, as the ledger's.
BACKUP_FUNCTION_NAME = f"{PROJECT}-backup"
RECONCILE_FUNCTION_NAME = f"{PROJECT}-backup-reconcile"
RETENTION_FUNCTION_NAME = f"{PROJECT}-retention"
BACKUP_ROLE_NAME = f"{PROJECT}-backup"
RECONCILE_ROLE_NAME = f"{PROJECT}-backup-reconcile"
RETENTION_ROLE_NAME = f"{PROJECT}-retention"
REPLICATION_ROLE_NAME = f"{PROJECT}-backup-replication"
RECONCILE_SCHEDULE_NAME = f"{PROJECT}-backup-reconcile"
RECONCILE_SCHEDULE_ROLE_NAME = f"{PROJECT}-backup-reconcile-schedule"
RETENTION_SCHEDULE_NAME = f"{PROJECT}-retention"
RETENTION_SCHEDULE_ROLE_NAME = f"{PROJECT}-retention-schedule"
BACKUP_QUEUE_NAME = f"{PROJECT}-backup"
BACKUP_DEAD_LETTER_QUEUE_NAME = f"{PROJECT}-backup-dead-letter"
BACKUP_RULE_NAME = f"{PROJECT}-backup-version-changes"
BACKUP_TOPIC_NAME = f"{PROJECT}-backup"
BACKUP_ROLE_NAMES = (BACKUP_ROLE_NAME, RECONCILE_ROLE_NAME, REPLICATION_ROLE_NAME, RECONCILE_SCHEDULE_ROLE_NAME)
RETENTION_ROLE_NAMES = (RETENTION_ROLE_NAME, RETENTION_SCHEDULE_ROLE_NAME)
# Object Lock's default retention: at least a day, at most 100 years (S3's limit, 36,500 days).
BACKUP_RETENTION_DAYS_MAX = 36500
# The retention job's settings, each with its default (the `retention` key itself is unset by default: no job).
RETENTION_DEFAULTS: dict[str, Any] = {"archiveAfterDays": 180, "keepNewest": 5, "keep": [], "dryRun": True}
RETENTION_KEEP_NEWEST_MAX = 1000

# How the secondary readers are deployed: a provider per listed account, or one service-managed
# CloudFormation StackSet into every account of the chosen organizational units.
READER_DEPLOYMENTS = ("accounts", "stackset")
# Who creates the StackSet: the organization's management account (SELF), or a member account
# registered as delegated administrator for StackSets (DELEGATED_ADMIN).
STACK_SET_CALLERS = ("SELF", "DELEGATED_ADMIN")

# The one place each default is written; Pulumi.yaml and docs/configuration.md's table are
# checked against it (tests/model/test_design.py).
DEFAULTS: dict[str, Any] = {
    "storeRepositoryName": "pypi-store",
    "internalRepositoryName": "internal",
    "secondaryAccountIds": [],
    "organizationId": "",
    "deployRoleName": "pypi-registry-deploy",
    "previewRoleName": "pypi-registry-preview",
    "readerRoleName": "codeartifact-pypi-reader",
    "publishers": [],
    "githubReaders": [],
    "dependabotReaders": [],
    "createGithubOidcProvider": True,
    "breakGlassRoleArn": "",
    "deployPrincipalArns": [],
    "ciDeployRoleArn": "",
    "ciPreviewRoleArn": "",
    "tags": {},
    "readerDeployment": "accounts",
    "organizationalUnitIds": [],
    "stackSetCallAs": "DELEGATED_ADMIN",
    "stackSetMaxConcurrentPercentage": 25,
    "stackSetFailureTolerancePercentage": 10,
    "retainStacksOnAccountRemoval": False,
    # Never readerRoleName: both can live in one account (a switch between the modes), and a StackSet
    # creating a role of an existing name fails with EntityAlreadyExists.
    "stackSetReaderRoleName": "codeartifact-pypi-org-reader",
    "managementAccountId": "",
    # The curation airlock (docs/airlock.md): off unless publicIngest is airlock.
    "publicIngest": "direct",
    "vettedRepositoryName": "pypi-vetted",
    "publicPackages": [],
    "cooldown": "3d",
    "waivers": [],
    "refuseSeverity": "HIGH",
    "allowedLicenses": [],
    # Loss-proof operations (docs/backup.md): off unless backupRegion is set.
    "backupRegion": "",
    "backupRetentionDays": 3650,
    "standby": False,
}

# How `pulumi.Config` hands each key over: the structured ones as JSON text, the scalar ones as they are.
STRUCTURED_KEYS = (
    "internalPrefixes", "secondaryAccountIds", "deployPrincipalArns", "publishers", "githubReaders",
    "dependabotReaders", "tags", "organizationalUnitIds", "publicPackages", "waivers", "allowedLicenses",
    "retention",
)
SCALAR_KEYS = (
    "ownerAccountId", "domainName", "storeRepositoryName", "internalRepositoryName",
    "organizationId", "deployRoleName", "previewRoleName", "readerRoleName", "breakGlassRoleArn",
    "ciDeployRoleArn", "ciPreviewRoleArn",
    "createGithubOidcProvider", "readerDeployment", "stackSetCallAs", "stackSetMaxConcurrentPercentage",
    "stackSetFailureTolerancePercentage", "retainStacksOnAccountRemoval", "stackSetReaderRoleName",
    "managementAccountId", "publicIngest", "vettedRepositoryName", "cooldown", "refuseSeverity",
    "backupRegion", "backupRetentionDays", "standby",
)

# The GitHub OIDC roles' names: a publisher's role is `gh-publish-<owner>-<name>` (Publisher.role_name).
PUBLISHER_ROLE_PREFIX = "gh-publish-"
# The CI readers' roles: `gh-pypi-reader`, then `gh-pypi-reader-2`, `-3`, ... as the repositories fill each
# trust policy (deterministic, and never one of the gh-publish-* names).
GITHUB_READER_ROLE_NAME = "gh-pypi-reader"
GITHUB_READER_CONTEXTS = ("pull_request", "ref:refs/heads/main")
# Dependabot's update jobs run on the default branch; its proxy assumes arn:aws:iam::ACCOUNT:role/NAME (no path)
# with the session name `dependabot-update` (dependabot/proxy, internal/oidc/actions_oidc.go).
DEPENDABOT_ROLE_NAME = "dependabot-pypi-reader"
DEPENDABOT_CONTEXTS = ("ref:refs/heads/main",)
# Far above what a thousand repositories need (each role holds 15-22 of them), and well within IAM's default
# quota of 1,000 roles per account: a list that needs more is more likely a mistake than an organization.
READER_ROLES_MAX = 200

# GitHub's OIDC provider and the audience AWS's STS asks for.
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_OIDC_AUDIENCE = "sts.amazonaws.com"
# The backup keys' alias in both regions.
BACKUP_KEY_ALIAS = "alias/pypi-registry-backup"

# Characters AWS allows per document (PRODUCT.md, "Facts"; 5120 is the older,
# stricter CodeArtifact resource policy limit).
RESOURCE_POLICY_LIMIT = 5120
# IAM's default role trust policy length (Service Quotas L-C07B4B0D, adjustable): the stack stays within the
# default, so it deploys into any account without a quota request.
TRUST_POLICY_LIMIT = 2048
MANAGED_POLICY_LIMIT = 6144
INLINE_ROLE_POLICY_LIMIT = 10240
