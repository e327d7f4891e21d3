"""One validated settings object for the whole program.

`parse_settings` is a pure function of the raw config values (as decoded from
YAML/JSON, types preserved), so every rule is testable without Pulumi.
`load_settings` adapts `pulumi.Config` to it. Components receive the frozen
`Settings` and never read configuration themselves.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.policy_documents import TRUST_POLICY_LIMIT, github_trust_policy, size_problems, to_json
from promoter.config import duration_seconds

PROJECT = "pypi-registry"

# AWS and GitHub naming rules (see README, "Configuration reference"). Every pattern is
# applied with `fullmatch`: `re.match(r"^...$")` would accept a trailing newline.
ACCOUNT_ID = re.compile(r"[0-9]{12}")
DOMAIN_NAME = re.compile(r"[a-z][a-z0-9-]{0,48}[a-z0-9]")
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}")
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
# StackSet deployment targets: an organizational unit, or the organization's root (every account).
ORGANIZATIONAL_UNIT_ID = re.compile(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}")
ROOT_ID = re.compile(r"r-[a-z0-9]{4,32}")
IAM_ROLE_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")
# A role in the aws partition (every ARN this program builds is arn:aws:...). Path segments use
# the role-name characters, so no `*` or `?` (ArnEquals and ArnNotEquals treat them as wildcards).
ROLE_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):role/(?P<path>(?:[A-Za-z0-9+=,.@_-]+/)*)(?P<name>[A-Za-z0-9+=,.@_-]{1,64})"
)
ROLE_PATH_MAX = 512
# A PEP 503 normalised project name, and a prefix of one (it may end in "-").
NORMALISED_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
NORMALISED_PREFIX = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*-?")
GITHUB_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}")
GITHUB_REPO = re.compile(r"[A-Za-z0-9._-]{1,100}")
# repo:OWNER/REPO:<context> or the immutable repo:OWNER@ID/REPO@ID:<context>; the context is
# checked on its own (`_context_problem`), so that every way it can be wrong is named.
GITHUB_SUBJECT = re.compile(
    r"repo:(?P<owner>[A-Za-z0-9-]+)(?:@(?P<owner_id>[0-9]+))?"
    r"/(?P<repo>[A-Za-z0-9._-]+)(?:@(?P<repo_id>[0-9]+))?"
    r":(?P<context>.*)",
    re.DOTALL,
)
GITHUB_ENVIRONMENT_MAX = 255
# A git ref name may not hold these (git check-ref-format); `:` would also end the subject's context.
GIT_REF_FORBIDDEN = set(" ~^:?*[\\")
# AWS tag rules. IAM is the strictest service the tags reach (roles, policies, the OIDC provider):
# at most 50 tags, keys 1-128 and values 0-256 characters of [\p{L}\p{Z}\p{N}_.:/=+\-@].
TAGS_MAX = 50
TAG_KEY_MAX, TAG_VALUE_MAX = 128, 256
TAG_SYMBOLS = set("_.:/=+-@")
RESERVED_TAG_PREFIX = "aws:"

DEFAULT_SUBJECT_CONTEXT = "environment:pypi"

# How public packages reach consumers: straight from public PyPI through the store, or only once the promoter
# has admitted them into the vetted repository.
PUBLIC_INGEST_MODES = ("direct", "airlock")
# A cooldown: a whole number of days, hours or minutes.
COOLDOWN = re.compile(r"(?P<amount>[1-9][0-9]{0,5})(?P<unit>[dhm])")
# OSV's qualitative severities (CVSS v3 rating names), lowest first.
SEVERITIES = ("LOW", "MODERATE", "HIGH", "CRITICAL")
# An SPDX licence identifier (a `LicenseRef-` one included): letters, digits, `.`, `-` and a trailing `+`.
SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*\+?")
# A waiver names one exact version: `name==version`, the name normalised, the version without spaces or operators.
WAIVER_PACKAGE = re.compile(r"(?P<name>[a-z0-9]+(?:-[a-z0-9]+)*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)")
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

# The one place each default is written; Pulumi.yaml and the README's configuration table are
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
    # The curation airlock (README, "Curation airlock"): off unless publicIngest is airlock.
    "publicIngest": "direct",
    "vettedRepositoryName": "pypi-vetted",
    "publicPackages": [],
    "cooldown": "3d",
    "waivers": [],
    "refuseSeverity": "HIGH",
    "allowedLicenses": [],
    # Loss-proof operations (README, "Backup, restore and retention"): off unless backupRegion is set.
    "backupRegion": "",
    "backupRetentionDays": 3650,
    "standby": False,
}


@dataclass(frozen=True)
class Retention:
    """The retention job: archive dev and pre-release versions of `internal` older than `archive_after_days`,
    keeping the newest `keep_newest` of each series and every version in `keep`; a dry run only writes its plan."""

    archive_after_days: int = RETENTION_DEFAULTS["archiveAfterDays"]
    keep_newest: int = RETENTION_DEFAULTS["keepNewest"]
    keep: tuple[tuple[str, str], ...] = ()  # (normalised name, version)
    dry_run: bool = RETENTION_DEFAULTS["dryRun"]


@dataclass(frozen=True)
class Waiver:
    """One exact version admitted (or refused no more) despite the admission policy, with why."""

    name: str
    version: str
    reason: str


class ConfigError(ValueError):
    """Bad configuration: every problem found, each naming its key and rule."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def normalise_name(name: str) -> str:
    """PEP 503 normalisation, as CodeArtifact applies to PyPI package names."""
    return re.sub(r"[-_.]+", "-", name).lower()


PUBLISHER_ROLE_PREFIX = "gh-publish-"


@dataclass(frozen=True)
class Publisher:
    """A GitHub repository allowed to publish its own packages into `internal`."""

    repository: str  # "owner/name"
    packages: tuple[str, ...]
    subjects: tuple[str, ...]

    @property
    def role_name(self) -> str:
        """Deterministic IAM role name (max 64 chars), so ARNs are known at preview."""
        base = PUBLISHER_ROLE_PREFIX + re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", self.repository.replace("/", "-"))
        if len(base) <= 64:
            return base
        digest = hashlib.sha256(self.repository.encode()).hexdigest()[:8]
        return f"{base[:55]}-{digest}"


@dataclass(frozen=True)
class GithubReader:
    """A GitHub repository whose CI jobs may install from the registry (read-only)."""

    repository: str  # "owner/name"
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class ReaderRole:
    """One read-only GitHub OIDC role and the repositories whose subjects its trust policy lists."""

    name: str
    readers: tuple[GithubReader, ...]

    @property
    def subjects(self) -> list[str]:
        return [subject for reader in self.readers for subject in reader.subjects]


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
# Any name one of those roles can take, ignoring case as IAM does.
READER_ROLE_NAME = re.compile(
    rf"(?:{GITHUB_READER_ROLE_NAME}|{DEPENDABOT_ROLE_NAME})(?:-[1-9][0-9]*)?", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    region: str
    owner_account_id: str
    domain_name: str
    internal_prefixes: tuple[str, ...]
    secondary_account_ids: tuple[str, ...] = ()
    organization_id: str | None = None
    deploy_role_name: str = DEFAULTS["deployRoleName"]
    # Assumed in each secondary account during a preview: read-only, so a pull request's code
    # run by `pulumi preview` cannot write there.
    preview_role_name: str = DEFAULTS["previewRoleName"]
    reader_role_name: str = DEFAULTS["readerRoleName"]
    store_repository: str = DEFAULTS["storeRepositoryName"]
    internal_repository: str = DEFAULTS["internalRepositoryName"]
    publishers: tuple[Publisher, ...] = ()
    github_readers: tuple[GithubReader, ...] = ()
    dependabot_readers: tuple[GithubReader, ...] = ()
    create_github_oidc_provider: bool = DEFAULTS["createGithubOidcProvider"]
    break_glass_role_arn: str | None = None
    # Roles in the owner account that run `pulumi up`: the only principals, with the break-glass
    # role, that may change package groups, origin controls and upstreams.
    deploy_principal_arns: tuple[str, ...] = ()
    # The owner account's CI roles that `python -m bootstrap` writes the documents of: the deploy one runs
    # `pulumi up` (one of deploy_principal_arns), the preview one runs previews and the drift job.
    ci_deploy_role_arn: str | None = None
    ci_preview_role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # readerDeployment: "accounts" (a provider per secondary account) or "stackset".
    reader_deployment: str = DEFAULTS["readerDeployment"]
    # StackSet mode: the OUs (or the root) whose accounts get a reader, and how it is rolled out.
    organizational_unit_ids: tuple[str, ...] = ()
    stack_set_call_as: str = DEFAULTS["stackSetCallAs"]
    stack_set_max_concurrent_percentage: int = DEFAULTS["stackSetMaxConcurrentPercentage"]
    stack_set_failure_tolerance_percentage: int = DEFAULTS["stackSetFailureTolerancePercentage"]
    retain_stacks_on_account_removal: bool = DEFAULTS["retainStacksOnAccountRemoval"]
    # The reader role the StackSet puts into each member account: never reader_role_name.
    stack_set_reader_role_name: str = DEFAULTS["stackSetReaderRoleName"]
    # StackSet mode: the organization's management account, which no service-managed StackSet reaches
    # (the owner account with stackSetCallAs SELF; None when not given).
    management_account_id: str | None = None
    # The curation airlock: "direct" (public PyPI through the store, as before) or "airlock".
    public_ingest: str = DEFAULTS["publicIngest"]
    vetted_repository: str = DEFAULTS["vettedRepositoryName"]
    public_packages: tuple[str, ...] = ()
    cooldown: str = DEFAULTS["cooldown"]
    waivers: tuple[Waiver, ...] = ()
    refuse_severity: str = DEFAULTS["refuseSeverity"]
    allowed_licenses: tuple[str, ...] = ()
    # Loss-proof operations: the second region the backup replicates to (None: no backup), Object Lock's default
    # retention there, the retention job (None: none), and whether this stack is a standby.
    backup_region: str | None = None
    backup_retention_days: int = DEFAULTS["backupRetentionDays"]
    retention: Retention | None = None
    standby: bool = DEFAULTS["standby"]

    # ARNs are deterministic, so policy documents never wait for an Output.
    @property
    def codeartifact_arn_prefix(self) -> str:
        return f"arn:aws:codeartifact:{self.region}:{self.owner_account_id}"

    @property
    def domain_arn(self) -> str:
        return f"{self.codeartifact_arn_prefix}:domain/{self.domain_name}"

    def repository_arn(self, repository: str) -> str:
        return f"{self.codeartifact_arn_prefix}:repository/{self.domain_name}/{repository}"

    def package_arn(self, repository: str, name: str = "*") -> str:
        """PyPI has no namespace, hence the empty segment in `pypi//name`."""
        if name == "*":
            return f"{self.codeartifact_arn_prefix}:package/{self.domain_name}/{repository}/*"
        return f"{self.codeartifact_arn_prefix}:package/{self.domain_name}/{repository}/pypi//{name}"

    @property
    def repositories(self) -> tuple[str, ...]:
        """Every repository the stack declares."""
        if self.airlock_mode:
            return (self.store_repository, self.vetted_repository, self.internal_repository)
        return (self.store_repository, self.internal_repository)

    @property
    def readable_repositories(self) -> tuple[str, ...]:
        """The repositories readers are granted: in airlock mode never the store, which serves whatever public
        PyPI holds, admitted or not."""
        if self.airlock_mode:
            return (self.vetted_repository, self.internal_repository)
        return self.repositories

    @property
    def airlock_mode(self) -> bool:
        return self.public_ingest == "airlock"

    @property
    def cooldown_seconds(self) -> int:
        return duration_seconds(self.cooldown)  # the promoter's reading of the same form

    @property
    def promoter_role_arn(self) -> str:
        return self.owner_role_arn(PROMOTER_ROLE_NAME)

    @property
    def pull_back_role_arn(self) -> str:
        return self.owner_role_arn(PULL_BACK_ROLE_NAME)


    def function_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.owner_account_id}:function:{name}"

    def log_group_name(self, function_name: str) -> str:
        """Where Lambda writes a function's logs (the stack declares the group, with a retention)."""
        return f"/aws/lambda/{function_name}"

    def log_group_arn(self, function_name: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.owner_account_id}:log-group:{self.log_group_name(function_name)}"

    @property
    def ledger_bucket_name(self) -> str:
        """Globally unique, as S3 bucket names must be: the owner account and region are in it (at most 47
        characters, within S3's 63)."""
        return f"{PROJECT}-ledger-{self.owner_account_id}-{self.region}"

    @property
    def ledger_bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.ledger_bucket_name}"

    @property
    def airlock_roles_boundary_arn(self) -> str:
        """The permissions boundary of the airlock's roles: created by `python -m bootstrap`, not by the stack, so
        that the deploy role can make none of them more than the promoter, the pull-back job or their scheduler
        need."""
        return f"arn:aws:iam::{self.owner_account_id}:policy/{PROJECT}-airlock-roles-boundary"

    @property
    def airlock_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.owner_account_id}:{AIRLOCK_TOPIC_NAME}"

    # --- the backup (backupRegion set) ---

    @property
    def backup_mode(self) -> bool:
        return self.backup_region is not None

    @property
    def retention_mode(self) -> bool:
        return self.backup_mode and self.retention is not None

    def backup_bucket_name_in(self, region: str) -> str:
        """Globally unique like the ledger's: the owner account and the region are in it (at most 48 characters)."""
        return f"{PROJECT}-backup-{self.owner_account_id}-{region}"

    @property
    def backup_bucket_name(self) -> str:
        return self.backup_bucket_name_in(self.region)

    @property
    def backup_bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.backup_bucket_name}"

    @property
    def replica_bucket_name(self) -> str:
        """The copy in backupRegion, which S3 replication writes."""
        return self.backup_bucket_name_in(self.backup_region or "")

    @property
    def replica_bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.replica_bucket_name}"

    def backup_key_arns(self, region: str) -> str:
        """The backup keys' ARNs in a region, by pattern: a key's ID is AWS's choice, so identity policies name
        the key by its alias (kms:ResourceAliases) and this pattern."""
        return f"arn:aws:kms:{region}:{self.owner_account_id}:key/*"

    def queue_arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.owner_account_id}:{name}"

    @property
    def backup_queue_arn(self) -> str:
        return self.queue_arn(BACKUP_QUEUE_NAME)

    @property
    def backup_rule_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.owner_account_id}:rule/{BACKUP_RULE_NAME}"

    @property
    def backup_topic_arn(self) -> str:
        return f"arn:aws:sns:{self.region}:{self.owner_account_id}:{BACKUP_TOPIC_NAME}"

    @property
    def backup_role_arn(self) -> str:
        return self.owner_role_arn(BACKUP_ROLE_NAME)

    @property
    def reconcile_role_arn(self) -> str:
        return self.owner_role_arn(RECONCILE_ROLE_NAME)

    @property
    def retention_role_arn(self) -> str:
        return self.owner_role_arn(RETENTION_ROLE_NAME)

    @property
    def replication_role_arn(self) -> str:
        return self.owner_role_arn(REPLICATION_ROLE_NAME)

    @property
    def backup_roles_boundary_arn(self) -> str:
        """The permissions boundary of the backup's roles, created by `python -m bootstrap` as the airlock's."""
        return f"arn:aws:iam::{self.owner_account_id}:policy/{PROJECT}-backup-roles-boundary"

    @property
    def backup_function_names(self) -> tuple[str, ...]:
        if not self.backup_mode:
            return ()
        return (BACKUP_FUNCTION_NAME, RECONCILE_FUNCTION_NAME,
                *((RETENTION_FUNCTION_NAME,) if self.retention_mode else ()))

    @property
    def backup_role_arns(self) -> tuple[str, ...]:
        """Every role of the backup: the copier, the reconciler, S3's replication role, the schedules' roles, and
        the retention job's when it is on."""
        if not self.backup_mode:
            return ()
        names = BACKUP_ROLE_NAMES + (RETENTION_ROLE_NAMES if self.retention_mode else ())
        return tuple(map(self.owner_role_arn, names))

    @property
    def backup_function_arns(self) -> tuple[str, ...]:
        return tuple(map(self.function_arn, self.backup_function_names))

    @property
    def backup_log_group_arns(self) -> tuple[str, ...]:
        groups = [self.log_group_arn(name) for name in self.backup_function_names]
        return tuple(arn for group in groups for arn in (group, f"{group}:*"))

    @property
    def backup_schedule_arns(self) -> tuple[str, ...]:
        if not self.backup_mode:
            return ()
        names = (RECONCILE_SCHEDULE_NAME, *((RETENTION_SCHEDULE_NAME,) if self.retention_mode else ()))
        return tuple(map(self.schedule_arn, names))

    def schedule_arn(self, name: str) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.owner_account_id}:schedule/default/{name}"

    @property
    def github_oidc_provider_arn(self) -> str:
        # Only one provider per URL may exist in an account, so its ARN is fixed.
        return f"arn:aws:iam::{self.owner_account_id}:oidc-provider/token.actions.githubusercontent.com"

    def reader_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.reader_role_name}"

    def stack_set_reader_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.stack_set_reader_role_name}"

    def deploy_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.deploy_role_name}"

    def preview_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.preview_role_name}"

    def reader_boundary_arn(self, account_id: str) -> str:
        """The permissions boundary of the reader role in a secondary account: created by `python -m bootstrap`,
        not by the stack, so that the deploy role there can never make the reader more than a reader."""
        return f"arn:aws:iam::{account_id}:policy/{self.reader_role_name}-permissions-boundary"

    def owner_role_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.owner_account_id}:role/{name}"

    @property
    def owner_managed_role_patterns(self) -> tuple[str, ...]:
        """Every role the stack may declare in the owner account, by name pattern: publishers, CI and Dependabot
        readers (names the settings keep from deployPrincipalArns and breakGlassRoleArn)."""
        return self.github_role_patterns + self.airlock_role_arns + self.backup_role_arns

    @property
    def github_role_patterns(self) -> tuple[str, ...]:
        """The roles GitHub's OIDC tokens assume: publishers, CI and Dependabot readers."""
        return tuple(self.owner_role_arn(pattern) for pattern in (
            f"{PUBLISHER_ROLE_PREFIX}*", GITHUB_READER_ROLE_NAME, f"{GITHUB_READER_ROLE_NAME}-*",
            DEPENDABOT_ROLE_NAME, f"{DEPENDABOT_ROLE_NAME}-*"))

    @property
    def airlock_role_arns(self) -> tuple[str, ...]:
        return tuple(map(self.owner_role_arn, AIRLOCK_ROLE_NAMES)) if self.airlock_mode else ()

    @property
    def airlock_function_arns(self) -> tuple[str, ...]:
        names = (PROMOTER_FUNCTION_NAME, PULL_BACK_FUNCTION_NAME)
        return tuple(map(self.function_arn, names)) if self.airlock_mode else ()

    @property
    def airlock_log_group_arns(self) -> tuple[str, ...]:
        names = (PROMOTER_FUNCTION_NAME, PULL_BACK_FUNCTION_NAME) if self.airlock_mode else ()
        groups = [f"arn:aws:logs:{self.region}:{self.owner_account_id}:log-group:{self.log_group_name(n)}"
                  for n in names]
        return tuple(arn for group in groups for arn in (group, f"{group}:*"))

    @property
    def airlock_schedule_arns(self) -> tuple[str, ...]:
        names = (PROMOTE_SCHEDULE_NAME, PULL_BACK_SCHEDULE_NAME) if self.airlock_mode else ()
        return tuple(f"arn:aws:scheduler:{self.region}:{self.owner_account_id}:schedule/default/{n}" for n in names)

    @property
    def github_roles_boundary_arn(self) -> str:
        """The permissions boundary of every role the stack declares in the owner account (publishers, CI and
        Dependabot readers): created by `python -m bootstrap`, not by the stack, so that the deploy role can never
        make one of them more than a reader or publisher of this registry."""
        return f"arn:aws:iam::{self.owner_account_id}:policy/{PROJECT}-github-roles-boundary"

    @property
    def key_alias_name(self) -> str:
        return f"alias/codeartifact-{self.domain_name}"

    @property
    def github_reader_role_arn(self) -> str:
        """The first CI reader role, which every repository used before there were more."""
        return self.owner_role_arn(GITHUB_READER_ROLE_NAME)

    @functools.cached_property
    def github_reader_roles(self) -> tuple[ReaderRole, ...]:
        """The CI readers' roles, each trust policy within IAM's limit (`reader_roles`)."""
        return reader_roles(self, self.github_readers, GITHUB_READER_ROLE_NAME)

    @functools.cached_property
    def dependabot_roles(self) -> tuple[ReaderRole, ...]:
        return reader_roles(self, self.dependabot_readers, DEPENDABOT_ROLE_NAME)

    @property
    def reader_role_arns_by_repository(self) -> dict[str, dict[str, str]]:
        """{"github": {owner/name: role ARN}, "dependabot": {...}}: the role each repository assumes."""
        return {kind: {reader.repository: self.owner_role_arn(role.name) for role in roles for reader in role.readers}
                for kind, roles in (("github", self.github_reader_roles), ("dependabot", self.dependabot_roles))}

    def publisher_role_arn(self, publisher: Publisher) -> str:
        return f"arn:aws:iam::{self.owner_account_id}:role/{publisher.role_name}"

    @property
    def organization_mode(self) -> bool:
        return self.organization_id is not None

    @property
    def stack_set_mode(self) -> bool:
        return self.reader_deployment == "stackset"

    @property
    def reader_stack_set_name(self) -> str:
        """[a-zA-Z][-a-zA-Z0-9]{0,127}, as StackSet names must be (the domain name fits the pattern)."""
        return f"{PROJECT}-reader-{self.domain_name}"

    def package_group_pattern(self, prefix: str) -> str:
        return f"/pypi//{prefix}~"


def reader_roles(settings: Settings, readers: tuple[GithubReader, ...], base_name: str) -> tuple[ReaderRole, ...]:
    """The readers in listed order, each role filled until the next repository's subjects would take its trust
    policy over IAM's default limit, then the next role (`base_name`, `base_name-2`, ...).

    A repository's role depends only on the entries before it, so appending repositories never moves one
    (removing or inserting one may move those after it: the stack outputs name each repository's role). A
    repository whose subjects alone exceed the limit gets a role of its own, which `size_problems` refuses."""
    groups: list[list[GithubReader]] = []
    for reader in readers:
        trial = [subject for member in (groups[-1] if groups else []) for subject in member.subjects]
        trial += reader.subjects
        if groups and len(to_json(github_trust_policy(settings, trial))) <= TRUST_POLICY_LIMIT:
            groups[-1].append(reader)
        else:
            groups.append([reader])
    return tuple(ReaderRole(base_name if index == 0 else f"{base_name}-{index + 1}", tuple(group))
                 for index, group in enumerate(groups))


# --- parsing -------------------------------------------------------------------


@functools.cache
def codeartifact_regions() -> tuple[str, ...]:
    """Regions where CodeArtifact is offered in the aws partition, from botocore's offline endpoint data."""
    import botocore.session

    return tuple(sorted(botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")))


def _region_problem(region: Any) -> str | None:
    regions = codeartifact_regions()
    rule = f"a region where CodeArtifact is offered, one of {', '.join(regions)} (botocore's endpoint data)"
    if region is None or region == "":
        return f"is required: {rule}"
    if not isinstance(region, str):
        return f"must be a string, {rule}; got {type(region).__name__} {region!r}"
    if region in regions:
        return None
    import botocore.session

    try:
        partition = botocore.session.get_session().get_partition_for_region(region)
    except Exception:  # not shaped like any partition's region names
        partition = "aws"
    if partition != "aws":
        return (
            f"{region!r} is in the {partition} partition; every ARN here is arn:aws:..., and CodeArtifact is "
            f"offered only in commercial regions (no GovCloud, no China): use {rule}"
        )
    return f"{region!r} is not {rule}"


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, rule: str) -> None:
        self.items.append(f"{PROJECT}:{key}: {rule}")


def _string(raw: Mapping[str, Any], key: str, problems: _Problems, *, default: str | None = None,
            required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        if required:
            problems.add(key, "is required")
            return None
        if key in raw and default is not None:
            problems.add(key, f"must not be empty; leave the key out to use the default {default!r}")
            return None
        return default
    if not isinstance(value, str):
        problems.add(key, f"must be a string (quote it in YAML), got {type(value).__name__} {value!r}")
        return None
    return value


def _list(raw: Mapping[str, Any], key: str, problems: _Problems) -> list[Any]:
    value = raw.get(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            problems.add(key, "must be a list")
            return []
    if not isinstance(value, list):
        problems.add(key, f"must be a list, got {type(value).__name__}")
        return []
    return value


def _bool(raw: Mapping[str, Any], key: str, problems: _Problems, default: bool) -> bool:
    value: object = raw.get(key, default)
    if isinstance(value, bool):
        return value
    # Exactly the spellings the Pulumi CLI accepts for a boolean key.
    if value in ("true", "false"):
        return value == "true"
    problems.add(key, f"must be true or false, got {value!r}")
    return default


def _percentage(raw: Mapping[str, Any], key: str, problems: _Problems, low: int) -> int:
    """A whole number from `low` to 100: an integer, or its decimal text as the engine passes it."""
    default: int = DEFAULTS[key]
    value = raw.get(key, default)
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,3}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100:
        problems.add(key, f"must be a whole number from {low} to 100 (a percentage of the target accounts), "
                          f"got {value!r}")
        return default
    return value


def _account_id(value: Any, key: str, problems: _Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(
            key,
            f"account ID {value!r} must be a 12-digit string; quote it in YAML "
            "(a number loses leading zeros)",
        )
        return None
    if not ACCOUNT_ID.fullmatch(value):
        problems.add(key, f"account ID {value!r} must be exactly 12 digits")
        return None
    return value


def role_arn_problem(value: object, owner: str | None, why_owner: str = "") -> str | None:
    """Why a value is not a full IAM role ARN in the owner account (any account when `owner` is None);
    `why_owner` says, for a role of another account, why it must be the owner's."""
    rule = "arn:aws:iam::ACCOUNT:role/[PATH/]NAME, no wildcards"
    if not isinstance(value, str):
        return f"{value!r} must be an IAM role ARN as a string ({rule})"
    match = ROLE_ARN.fullmatch(value)
    if not match:
        return f"{value!r} must be an IAM role ARN in the aws partition ({rule})"
    if len(match["path"]) + 1 > ROLE_PATH_MAX:
        return f"{value!r} has a role path longer than IAM's {ROLE_PATH_MAX} characters"
    if owner is not None and match["account"] != owner:
        return f"{value!r} is a role in account {match['account']}, not in the owner account {owner}; {why_owner}"
    return None


def _role_arn(value: Any, key: str, problems: _Problems, owner: str | None) -> str | None:
    """A full IAM role ARN in the owner account, or None after reporting why not."""
    problem = role_arn_problem(value, owner, "only owner-account roles may be exempted in the owner's domain policy")
    if problem is None:
        return str(value)
    problems.add(key, problem)
    return None


def _ci_roles(raw: Mapping[str, Any], problems: _Problems, owner: str | None, deploy_principals: list[str],
              break_glass: str | None) -> tuple[str | None, str | None]:
    """The owner account's CI roles: the deploy one must be a deploy principal (it runs `pulumi up`, which the
    domain policy lets change package groups only for those); the preview one runs a pull request's code, so it
    must be none of them, nor the break-glass role, nor the deploy one."""
    why = "the CI roles live in the owner account"
    found: dict[str, str | None] = {}
    for key in ("ciDeployRoleArn", "ciPreviewRoleArn"):
        value = _string(raw, key, problems)
        problem = role_arn_problem(value, owner, why) if value else None
        if problem:
            problems.add(key, problem)
        found[key] = value if value and not problem else None
    deploy, preview = found["ciDeployRoleArn"], found["ciPreviewRoleArn"]
    deploy_names = {_role_name_of(arn).lower() for arn in deploy_principals}
    if deploy and _role_name_of(deploy).lower() not in deploy_names:
        problems.add("ciDeployRoleArn", f"{deploy} must also be listed in deployPrincipalArns: it runs `pulumi up`, "
                                        "which the domain policy lets change package groups only for those roles")
    if preview:
        for other_key, other in (("ciDeployRoleArn", deploy), ("breakGlassRoleArn", break_glass)):
            if other and _role_name_of(preview).lower() == _role_name_of(other).lower():
                problems.add("ciPreviewRoleArn", f"{preview} names the same role as {other_key} (IAM role names are "
                                                 "unique ignoring case and path): a preview runs a pull request's "
                                                 "code and must not hold that role's rights")
        if _role_name_of(preview).lower() in deploy_names:
            problems.add("ciPreviewRoleArn", f"{preview} is listed in deployPrincipalArns: a preview runs a pull "
                                             "request's code and must not be exempt from the domain policy's Denies")
    return deploy, preview


# Roles AWS or the organization owns in member accounts (exact names, then name prefixes), ignoring case: the
# organization's administrator role, Control Tower's, self-managed StackSets', service-linked roles and
# Identity Center's.
RESERVED_ROLE_NAMES = {
    "organizationaccountaccessrole": "the AWS Organizations administrator role of member accounts",
    "awscontroltowerexecution": "AWS Control Tower's administrator role of member accounts",
    "awscloudformationstacksetexecutionrole": "the execution role of self-managed CloudFormation StackSets",
    "awscloudformationstacksetadministrationrole": "the administration role of self-managed CloudFormation StackSets",
}
RESERVED_ROLE_PREFIXES = {
    "awsservicerolefor": "a service-linked role name (AWSServiceRoleFor...), reserved to AWS services",
    "awsreservedsso_": "an IAM Identity Center role name (AWSReservedSSO_...), managed by Identity Center",
    "stacksets-exec-": "a service-managed StackSet execution role name (stacksets-exec-...)",
}


def _reserved_role(name: str) -> str | None:
    """What a role name belongs to when AWS or the organization reserves it, else None."""
    lowered = name.lower()
    if lowered in RESERVED_ROLE_NAMES:
        return RESERVED_ROLE_NAMES[lowered]
    return next((what for prefix, what in RESERVED_ROLE_PREFIXES.items() if lowered.startswith(prefix)), None)


def _role_name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def _environment_problem(name: str) -> str | None:
    if not name:
        return "names an empty environment"
    if len(name) > GITHUB_ENVIRONMENT_MAX:
        return f"names an environment longer than GitHub's {GITHUB_ENVIRONMENT_MAX} characters"
    if ":" in name:
        return "names an environment containing ':', which would make the subject ambiguous"
    if not name.isprintable() or name != name.strip():
        return "names an environment with a control character or surrounding white space"
    return None


def _git_ref_problem(name: str) -> str | None:
    """Why `name` cannot be a branch or tag name (git check-ref-format), or None."""
    components = name.split("/")
    if (
        not name
        or any(ord(c) < 0x20 or ord(c) == 0x7F or c in GIT_REF_FORBIDDEN for c in name)
        or ".." in name
        or "@{" in name
        or name == "@"
        or name.endswith(".")
        or any(not part or part.startswith(".") or part.endswith(".lock") for part in components)
    ):
        return f"names {name!r}, which is not a valid git branch or tag name (git check-ref-format)"
    return None


PULL_REQUEST_RULE = "pull requests must never publish"
READER_PULL_REQUEST_RULE = "readers may use `pull_request` itself, nothing else that names it"
DEPENDABOT_PULL_REQUEST_RULE = "Dependabot's update jobs run on a branch (ref:refs/heads/BRANCH), never as pull_request"


def _context_problem(subject: str, context: str, pull_request_rule: str = PULL_REQUEST_RULE) -> str | None:
    """Why the part after repo:OWNER/REPO: is not a context a publishing job runs in, or None.

    GitHub sends `pull_request` for a job a pull request triggers, unless the job names an
    environment: then `environment:NAME`. A branch or tag subject (`ref:refs/heads/...`,
    `ref:refs/tags/...`) is never sent for a pull request event, so a branch named
    fix-pull_request-parsing is accepted; an environment whose name mentions pull_request is not.
    """
    if context.startswith("environment:"):
        name = context.removeprefix("environment:")
        if "pull_request" in name.lower():
            return f"subject {subject!r} names pull_request in its environment; {pull_request_rule}"
        problem = _environment_problem(name)
    elif context.startswith(("ref:refs/heads/", "ref:refs/tags/")):
        problem = _git_ref_problem(context.split("/", 2)[2])
    elif "pull_request" in context.lower():
        return f"subject {subject!r} names pull_request; {pull_request_rule}"
    else:
        return (
            f"subject {subject!r} must end in :environment:NAME, :ref:refs/heads/BRANCH or "
            f":ref:refs/tags/TAG; its context {context!r} is none of these"
        )
    return f"subject {subject!r} {problem}" if problem else None


def _subject_problem(subject: Any, repository: str, *, read_only: bool = False,
                     ids: tuple[str, str] | None = None, pull_request_rule: str | None = None) -> str | None:
    """Why a GitHub OIDC `sub` may not be trusted, or None when it is fine.

    A read-only role may also trust the `pull_request` subject: CI of a pull request installs
    packages, and GitHub gives no OIDC token to pull requests from forks."""
    pull_request_rule = pull_request_rule or (READER_PULL_REQUEST_RULE if read_only else PULL_REQUEST_RULE)
    if not isinstance(subject, str):
        return f"subject {subject!r} must be a string"
    if "*" in subject or "?" in subject:
        return f"subject {subject!r} contains a wildcard; list exact subjects"
    match = GITHUB_SUBJECT.fullmatch(subject)
    if not match:
        if "pull_request" in subject.lower():
            return f"subject {subject!r} names pull_request; {pull_request_rule}"
        return (
            f"subject {subject!r} must look like repo:OWNER/REPO:environment:NAME, "
            "repo:OWNER/REPO:ref:refs/heads/BRANCH or refs/tags/TAG "
            "(or the immutable repo:OWNER@ID/REPO@ID:... form)"
        )
    if not (read_only and match["context"] == "pull_request"):
        problem = _context_problem(subject, match["context"], pull_request_rule)
        if problem:
            return problem
    owner, repo = repository.split("/", 1)
    if match["owner"].lower() != owner.lower() or match["repo"].lower() != repo.lower():
        return f"subject {subject!r} belongs to another repository than {repository!r}"
    if ids is not None and (match["owner_id"], match["repo_id"]) != ids:
        return (f"subject {subject!r} is not the immutable form with ownerId {ids[0]} and repositoryId {ids[1]}: "
                "with the IDs given, trust goes to repo:OWNER@OWNER_ID/REPO@REPO_ID:... only")
    return None


# A GitHub user, organization or repository ID: a positive whole number.
GITHUB_ID = re.compile(r"[1-9][0-9]{0,19}")


def _github_ids(value: Mapping[str, Any], key: str, problems: _Problems) -> tuple[str, str] | None:
    """(ownerId, repositoryId) of an entry that gives both, as digits; None when it gives neither (or after
    reporting why they cannot be used)."""
    given = {name: value.get(name) for name in ("ownerId", "repositoryId") if value.get(name) is not None}
    if not given:
        return None
    ids = []
    for name in ("ownerId", "repositoryId"):
        raw = given.get(name)
        text = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
        if not isinstance(text, str) or not GITHUB_ID.fullmatch(text):
            problems.add(f"{key}.{name}", "both ownerId and repositoryId, or neither: the GitHub IDs as whole numbers "
                                           "(gh api repos/OWNER/REPO --jq '.owner.id, .id')")
            return None
        ids.append(text)
    return ids[0], ids[1]


def _subject_prefix(repository: str, ids: tuple[str, str] | None) -> str:
    """repo:OWNER/REPO, or repo:OWNER@OWNER_ID/REPO@REPO_ID when the IDs are given."""
    if ids is None:
        return f"repo:{repository}"
    owner, name = repository.split("/", 1)
    return f"repo:{owner}@{ids[0]}/{name}@{ids[1]}"


def _github_entry(value: Any, key: str, fields: tuple[str, ...], shape: str, problems: _Problems) -> str | None:
    """The `owner/name` repository of a publishers/githubReaders entry, None after reporting why not."""
    if not isinstance(value, Mapping):
        problems.add(key, f"must be an object with {shape}")
        return None
    unknown = set(value) - set(fields)
    if unknown:
        problems.add(key, f"unknown fields {sorted(map(str, unknown))}; allowed: {', '.join(fields)}")
    repository = value.get("repository")
    if not isinstance(repository, str) or repository.count("/") != 1:
        problems.add(f"{key}.repository", f"{repository!r} must be a GitHub repository in owner/name form")
        return None
    owner, name = repository.split("/")
    if not GITHUB_OWNER.fullmatch(owner) or not GITHUB_REPO.fullmatch(name) or name in (".", ".."):
        problems.add(f"{key}.repository", f"{repository!r} must be a GitHub repository in owner/name form")
        return None
    return repository


def _subjects(value: Mapping[str, Any], key: str, repository: str, contexts: tuple[str, ...], problems: _Problems,
              *, read_only: bool = False, pull_request_rule: str | None = None) -> tuple[list[Any], bool] | None:
    """(the entry's subjects, or the default contexts in the form its IDs call for, whether each is fine); None
    when there is no list at all."""
    ids = _github_ids(value, key, problems)
    subjects = value.get("subjects")
    if subjects is None:
        subjects = [f"{_subject_prefix(repository, ids)}:{context}" for context in contexts]
    if not isinstance(subjects, list) or not subjects:
        problems.add(f"{key}.subjects", "must be a non-empty list of exact OIDC subjects")
        return None
    ok = True
    for i, subject in enumerate(subjects):
        problem = _subject_problem(subject, repository, read_only=read_only, ids=ids,
                                   pull_request_rule=pull_request_rule)
        if problem:
            problems.add(f"{key}.subjects[{i}]", problem)
            ok = False
    return subjects, ok


def _publisher(index: int, value: Any, problems: _Problems) -> Publisher | None:
    key = f"publishers[{index}]"
    repository = _github_entry(value, key, ("repository", "ownerId", "repositoryId", "packages", "subjects"),
                               "repository, packages and optional ownerId, repositoryId and subjects", problems)
    if repository is None:
        return None
    ok = True

    packages = value.get("packages")
    if not isinstance(packages, list) or not packages:
        problems.add(f"{key}.packages", "must be a non-empty list of package names")
        packages = []
        ok = False
    for i, package in enumerate(packages):
        if not isinstance(package, str) or not NORMALISED_NAME.fullmatch(package):
            normalised = normalise_name(package) if isinstance(package, str) else ""
            # Suggest the normalised form only when it is a name; a wildcard or other character is not.
            hint = (f" (use {normalised!r})" if NORMALISED_NAME.fullmatch(normalised)
                    else ": lower-case letters and digits joined by single hyphens, no wildcards")
            problems.add(f"{key}.packages[{i}]", f"{package!r} is not a normalised Python package name{hint}")
            ok = False
    names = [package for package in packages if isinstance(package, str)]
    if len(set(names)) != len(names):
        problems.add(f"{key}.packages", "lists a package twice")
        ok = False

    found = _subjects(value, key, repository, (DEFAULT_SUBJECT_CONTEXT,), problems)
    if found is None:
        return None
    subjects, subjects_ok = found
    if not (ok and subjects_ok):
        return None
    return Publisher(repository=repository, packages=tuple(packages), subjects=tuple(subjects))


def _github_reader(index: int, value: Any, problems: _Problems,
                   config_key: str = "githubReaders") -> GithubReader | None:
    """A githubReaders entry; a dependabotReaders one (`config_key`) defaults to the default branch, where
    Dependabot's update jobs run, and may not name pull_request."""
    key = f"{config_key}[{index}]"
    repository = _github_entry(value, key, ("repository", "ownerId", "repositoryId", "subjects"),
                               "repository and optional ownerId, repositoryId and subjects", problems)
    if repository is None:
        return None
    if config_key == "dependabotReaders":
        found = _subjects(value, key, repository, DEPENDABOT_CONTEXTS, problems,
                          pull_request_rule=DEPENDABOT_PULL_REQUEST_RULE)
    else:
        found = _subjects(value, key, repository, GITHUB_READER_CONTEXTS, problems, read_only=True)
    if found is None:
        return None
    subjects, ok = found
    if len(set(subjects)) != len(subjects):
        problems.add(f"{key}.subjects", "lists a subject twice")
        ok = False
    return GithubReader(repository=repository, subjects=tuple(subjects)) if ok else None


def _tag_characters_problem(text: str) -> str | None:
    """IAM's [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]: letters, separators (spaces), numbers and six symbols."""
    bad = sorted({c for c in text if unicodedata.category(c)[0] not in "LZN" and c not in TAG_SYMBOLS})
    if bad:
        return (f"contains {''.join(bad)!r}; allowed are letters, digits, spaces and "
                f"{' '.join(sorted(TAG_SYMBOLS))}")
    return None


def _tags(raw: Mapping[str, Any], problems: _Problems) -> dict[str, str]:
    tags = raw.get("tags", {})
    if tags is None or tags == "":
        return {}
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except json.JSONDecodeError:
            tags = None
    if not isinstance(tags, Mapping):
        problems.add("tags", "must be a map of string to string")
        return {}
    valid = True
    if len(tags) > TAGS_MAX:
        problems.add("tags", f"has {len(tags)} tags; IAM allows at most {TAGS_MAX} on a role")
        valid = False
    seen: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            problems.add(
                "tags",
                f"must be a map of string to string; {key!r}: {value!r} is {type(value).__name__} "
                "(quote it in YAML)",
            )
            valid = False
            continue
        for text, what, low, high in ((key, "key", 1, TAG_KEY_MAX), (value, "value", 0, TAG_VALUE_MAX)):
            if not low <= len(text) <= high:
                problems.add("tags", f"tag {what} {text!r} must be {low}-{high} characters long, not {len(text)}")
                valid = False
            characters = _tag_characters_problem(text)
            if characters:
                problems.add("tags", f"tag {what} {text!r} {characters}")
                valid = False
        if key.lower().startswith(RESERVED_TAG_PREFIX):
            problems.add("tags", f"tag key {key!r} starts with {RESERVED_TAG_PREFIX!r}, which AWS reserves")
            valid = False
        other = seen.setdefault(key.lower(), key)
        if other != key:
            problems.add("tags", f"tag keys {other!r} and {key!r} differ only in case; keep one spelling")
            valid = False
    return dict(tags) if valid else {}


def _organizational_units(raw: Mapping[str, Any], problems: _Problems, deployment: str | None,
                          organization: str | None) -> tuple[str, ...]:
    """The StackSet's deployment targets: OU IDs, or the root alone; only in StackSet mode."""
    units: list[str] = []
    listed = _list(raw, "organizationalUnitIds", problems)
    for i, value in enumerate(listed):
        key = f"organizationalUnitIds[{i}]"
        if not isinstance(value, str) or not (ORGANIZATIONAL_UNIT_ID.fullmatch(value) or ROOT_ID.fullmatch(value)):
            problems.add(key, f"{value!r} must be an organizational unit ID ({ORGANIZATIONAL_UNIT_ID.pattern}) "
                              f"or the organization's root ID ({ROOT_ID.pattern})")
        elif value in units:
            problems.add(key, f"{value} is listed twice")
        else:
            units.append(value)
    roots = [unit for unit in units if ROOT_ID.fullmatch(unit)]
    if roots and len(units) > 1:
        problems.add("organizationalUnitIds", f"{roots[0]} is the organization's root, which already targets every "
                     "account of every OU: list the root alone, or OUs without it")
    if deployment == "stackset":
        if not listed:
            problems.add("organizationalUnitIds", "must list at least one organizational unit (or the root) when "
                         "readerDeployment is stackset: the StackSet deploys a reader into every account of them")
        if organization is None:
            problems.add("organizationId", "is required when readerDeployment is stackset: its readers live in "
                         "accounts no list names, so the resource policies must grant the organization "
                         "(aws:PrincipalOrgID)")
    elif units:
        problems.add("organizationalUnitIds", "applies only with readerDeployment: stackset (the accounts mode "
                     "deploys a reader into each of secondaryAccountIds); set readerDeployment or remove the list")
    return tuple(units)


def _stack_set_reader_role(raw: Mapping[str, Any], problems: _Problems, deployment: str | None,
                           role_names: Mapping[str, str | None], domain: str | None) -> str | None:
    """The StackSet's reader role name: never the per-account reader's (nor the deploy or preview role's), so
    that an account holding both (while it moves between the modes) never meets a name that already exists."""
    key = "stackSetReaderRoleName"
    name = _string(raw, key, problems, default=DEFAULTS[key])
    if name is None:
        return None
    if not IAM_ROLE_NAME.fullmatch(name):
        problems.add(key, f"{name!r} is not a valid IAM role name ({IAM_ROLE_NAME.pattern})")
        return None
    if reserved := _reserved_role(name):
        problems.add(key, f"{name!r} is {reserved}: this stack would rewrite or delete a role it does not own; "
                          "choose a name of its own")
        return None
    if deployment != "stackset":
        return name
    same = [other_key for other_key, other in role_names.items() if other is not None and name.lower() == other.lower()]
    for other_key in same:
        problems.add(key, f"must differ from {other_key}, ignoring case: an account can hold both roles (the "
                     "per-account reader while it moves to or from the StackSet, the deploy and preview roles "
                     "of a secondary account), and the StackSet would fail with EntityAlreadyExists")
    reader = role_names.get("readerRoleName")
    if domain is not None and reader is not None and not same:
        # The template's managed policy is named like the per-account one: `<role>-<domain>`.
        ours = f"{name}-{domain}".lower()
        theirs = {f"{reader}-{domain}".lower(): "the per-account reader's policy",
                  f"{reader}-permissions-boundary".lower(): "the per-account reader's permissions boundary"}
        if ours in theirs:
            problems.add(key, f"its policy {name}-{domain} would have the name of {theirs[ours]}, and IAM policy "
                              "names are unique in an account ignoring case; choose another name")
    return name


def _management_account(raw: Mapping[str, Any], problems: _Problems, deployment: str | None, call_as: str | None,
                        owner: str | None, accounts: list[str], units: tuple[str, ...]) -> str | None:
    """The organization's management account, which AWS never deploys a service-managed StackSet into, even
    when it sits in a targeted OU or under the targeted root: it reads only through secondaryAccountIds."""
    key = "managementAccountId"
    given = _string(raw, key, problems)
    management = _account_id(given, key, problems) if given is not None else None
    if deployment != "stackset":
        if given is not None:
            problems.add(key, "applies only with readerDeployment: stackset (no StackSet, no account it skips); "
                              "set readerDeployment or remove the key")
        return None
    if call_as == "SELF":
        if management is not None and owner is not None and management != owner:
            problems.add(key, f"{management} is not ownerAccountId {owner}: with stackSetCallAs SELF the owner "
                              "account creates the StackSet as the organization's management account")
        # The owner reads as the owner: it needs no reader.
        return owner
    if management is not None and management == owner:
        problems.add(key, f"{management} is ownerAccountId: the management account creates StackSets as SELF, "
                          "never as a delegated administrator; set stackSetCallAs: SELF")
    roots = [unit for unit in units if ROOT_ID.fullmatch(unit)]
    if call_as == "DELEGATED_ADMIN" and roots:
        # The root promises every account; the management account is the one AWS leaves out.
        if given is None:
            problems.add(key, f"is required when organizationalUnitIds targets the root {roots[0]} with "
                              "stackSetCallAs DELEGATED_ADMIN: the root holds every account, but AWS never deploys "
                              "the StackSet into the management account, so name it and list it in "
                              "secondaryAccountIds (or target organizational units instead of the root)")
        elif management is not None and management not in accounts:
            problems.add(key, f"{management} is not in secondaryAccountIds: the root {roots[0]} holds every "
                              "account, but AWS never deploys the StackSet into the management account, so it "
                              "would be the one account without a reader; list it in secondaryAccountIds (or "
                              "target organizational units instead of the root)")
    return management


@dataclass(frozen=True)
class _Airlock:
    public_ingest: str
    vetted_repository: str
    public_packages: tuple[str, ...]
    cooldown: str
    waivers: tuple[Waiver, ...]
    refuse_severity: str
    allowed_licenses: tuple[str, ...]


AIRLOCK_ONLY_KEYS = ("vettedRepositoryName", "publicPackages", "cooldown", "waivers", "refuseSeverity",
                     "allowedLicenses")


def _airlock(raw: Mapping[str, Any], problems: _Problems, store: str | None, internal: str | None,
             prefixes: list[str] | None) -> _Airlock:
    """The airlock's keys: the mode, the vetted repository, the allow-list, the cooldown, the waivers and the
    admission policy. The other keys apply only in airlock mode; given with `direct`, they would do nothing."""
    mode = _string(raw, "publicIngest", problems, default=DEFAULTS["publicIngest"])
    if mode is not None and mode not in PUBLIC_INGEST_MODES:
        problems.add("publicIngest", f"{mode!r} must be one of {', '.join(PUBLIC_INGEST_MODES)}")
    if mode != "airlock":
        # The CLI fills in Pulumi.yaml's defaults, so only a value other than the default says anything.
        for key in AIRLOCK_ONLY_KEYS:
            if raw.get(key) is not None and raw[key] != DEFAULTS[key] and raw[key] not in ("", "[]"):
                problems.add(key, "applies only with publicIngest: airlock (public packages come straight from "
                                  "public PyPI otherwise); set publicIngest or remove the key")

    vetted = _string(raw, "vettedRepositoryName", problems, default=DEFAULTS["vettedRepositoryName"]) or ""
    if vetted and not REPOSITORY_NAME.fullmatch(vetted):
        problems.add("vettedRepositoryName", f"{vetted!r} must match {REPOSITORY_NAME.pattern}")
    for other_key, other in (("storeRepositoryName", store), ("internalRepositoryName", internal)):
        if vetted and other is not None and vetted.lower() == other.lower():
            problems.add("vettedRepositoryName", f"must differ from {other_key}, ignoring case")

    packages: list[str] = []
    for i, value in enumerate(_list(raw, "publicPackages", problems)):
        key = f"publicPackages[{i}]"
        if not isinstance(value, str) or not NORMALISED_NAME.fullmatch(value):
            normalised = normalise_name(value) if isinstance(value, str) else ""
            hint = (f" (use {normalised!r})" if NORMALISED_NAME.fullmatch(normalised)
                    else ": lower-case letters and digits joined by single hyphens, no wildcards")
            problems.add(key, f"{value!r} is not a PEP 503 normalised package name{hint}")
        elif prefixes is not None and (prefix := next((p for p in prefixes if value.startswith(p)), None)):
            problems.add(key, f"{value!r} is under the internal prefix {prefix!r}: internal names never come from "
                              "public PyPI (dependency confusion)")
        elif value in packages:
            problems.add(key, f"{value!r} is listed twice")
        else:
            packages.append(value)

    cooldown = raw.get("cooldown", DEFAULTS["cooldown"])
    if not isinstance(cooldown, str) or not COOLDOWN.fullmatch(cooldown):
        problems.add("cooldown", f"{cooldown!r} must be a positive whole number of days, hours or minutes: "
                                 "<int>d, <int>h or <int>m (e.g. 3d)")
        cooldown = DEFAULTS["cooldown"]

    waivers: list[Waiver] = []
    for i, value in enumerate(_list(raw, "waivers", problems)):
        waiver = _waiver(f"waivers[{i}]", value, problems)
        if waiver is None:
            continue
        if any((w.name, w.version) == (waiver.name, waiver.version) for w in waivers):
            problems.add(f"waivers[{i}].package", f"{waiver.name}=={waiver.version} is waived twice")
            continue
        if waiver.name not in packages:
            problems.add(f"waivers[{i}].package", f"{waiver.name!r} is not in publicPackages: the promoter considers "
                                                  "only those, so the waiver would admit nothing")
            continue
        waivers.append(waiver)

    severity = raw.get("refuseSeverity", DEFAULTS["refuseSeverity"])
    if severity not in SEVERITIES:
        problems.add("refuseSeverity", f"{severity!r} must be one of {', '.join(SEVERITIES)} (OSV's severities, "
                                       "lowest first: a version with a known vulnerability at or above it is refused)")
        severity = DEFAULTS["refuseSeverity"]

    licenses: list[str] = []
    for i, value in enumerate(_list(raw, "allowedLicenses", problems)):
        if not isinstance(value, str) or not SPDX_ID.fullmatch(value):
            problems.add(f"allowedLicenses[{i}]", f"{value!r} must be an SPDX licence identifier (e.g. MIT, "
                                                  "Apache-2.0, BSD-3-Clause)")
        elif value.lower() in (known.lower() for known in licenses):
            problems.add(f"allowedLicenses[{i}]", f"{value!r} is listed twice")
        else:
            licenses.append(value)

    return _Airlock(mode if mode in PUBLIC_INGEST_MODES else DEFAULTS["publicIngest"], vetted or
                    DEFAULTS["vettedRepositoryName"], tuple(packages), str(cooldown), tuple(waivers), str(severity),
                    tuple(licenses))


def _waiver(key: str, value: Any, problems: _Problems) -> Waiver | None:
    """A waivers entry: {package: "name==version", reason: "..."}, one exact version with why."""
    if not isinstance(value, Mapping):
        problems.add(key, "must be an object with package (name==version) and reason")
        return None
    unknown = set(value) - {"package", "reason"}
    if unknown:
        problems.add(key, f"unknown fields {sorted(map(str, unknown))}; allowed: package, reason")
    package, reason = value.get("package"), value.get("reason")
    match = WAIVER_PACKAGE.fullmatch(package) if isinstance(package, str) else None
    ok = True
    if match is None:
        problems.add(f"{key}.package", f"{package!r} must name one exact version as name==version, the name PEP 503 "
                                       "normalised (e.g. requests==2.32.3); no ranges or wildcards")
        ok = False
    if not isinstance(reason, str) or not reason.strip():
        problems.add(f"{key}.reason", "must say why the version is waived (a non-empty string); git history is the "
                                      "audit trail")
        ok = False
    if not ok or match is None or not isinstance(reason, str):
        return None
    return Waiver(match["name"], match["version"], reason.strip())


@dataclass(frozen=True)
class _Backup:
    region: str | None
    retention_days: int
    retention: Retention | None
    standby: bool


def _whole_number(key: str, value: Any, problems: _Problems, low: int, high: int,
                  what: str) -> int | None:
    """A whole number from `low` to `high`: an integer, or its decimal text as the engine passes it."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(key, f"must be a whole number from {low} to {high} ({what}), got {value!r}")
        return None
    return value


def _retention(value: Any, problems: _Problems) -> Retention | None:
    """The `retention` object: {archiveAfterDays, keepNewest, keep: ["name==version", ...], dryRun}."""
    if not isinstance(value, Mapping):
        problems.add("retention", "must be an object with archiveAfterDays, keepNewest, keep and dryRun (each "
                                  "optional), got " + type(value).__name__)
        return None
    unknown = set(value) - set(RETENTION_DEFAULTS)
    if unknown:
        problems.add("retention", f"unknown fields {sorted(map(str, unknown))}; allowed: "
                                  f"{', '.join(RETENTION_DEFAULTS)}")
    after = _whole_number("retention.archiveAfterDays",
                          value.get("archiveAfterDays", RETENTION_DEFAULTS["archiveAfterDays"]), problems, 1, 36500,
                          "days a dev or pre-release version is kept before it is archived")
    newest = _whole_number("retention.keepNewest", value.get("keepNewest", RETENTION_DEFAULTS["keepNewest"]),
                           problems, 0, RETENTION_KEEP_NEWEST_MAX,
                           "dev and pre-release versions kept per series, however old")
    dry_run: object = value.get("dryRun", RETENTION_DEFAULTS["dryRun"])
    if dry_run in ("true", "false"):
        dry_run = dry_run == "true"
    if not isinstance(dry_run, bool):
        problems.add("retention.dryRun", f"must be true or false, got {dry_run!r}")
    keep: list[tuple[str, str]] = []
    listed = value.get("keep", [])
    if not isinstance(listed, list):
        problems.add("retention.keep", f"must be a list of name==version, got {type(listed).__name__}")
        listed = []
    for i, entry in enumerate(listed):
        match = WAIVER_PACKAGE.fullmatch(entry) if isinstance(entry, str) else None
        if match is None:
            problems.add(f"retention.keep[{i}]", f"{entry!r} must name one exact version as name==version, the name "
                                                 "PEP 503 normalised (e.g. acme-core==1.0.0.dev3); no ranges or "
                                                 "wildcards")
        elif (match["name"], match["version"]) in keep:
            problems.add(f"retention.keep[{i}]", f"{entry} is listed twice")
        else:
            keep.append((match["name"], match["version"]))
    if after is None or newest is None or not isinstance(dry_run, bool):
        return None
    return Retention(after, newest, tuple(keep), dry_run)


def _backup(raw: Mapping[str, Any], problems: _Problems, region: Any) -> _Backup:
    """The loss-proof keys: backupRegion switches the backup on; backupRetentionDays and retention apply only
    with it; standby marks a stack that a restore fills, which backs nothing up itself."""
    backup_region = _string(raw, "backupRegion", problems)
    if backup_region is not None:
        regions = codeartifact_regions()
        if backup_region not in regions:
            problems.add("backupRegion", f"{backup_region!r} is not a region where CodeArtifact is offered (one of "
                                         f"{', '.join(regions)}): the standby and a restore need it there")
            backup_region = None
        elif backup_region == region:
            problems.add("backupRegion", f"{backup_region!r} is aws:region: the copy must survive the loss of the "
                                         "registry's region, so it lives in another one")
            backup_region = None
    days_given = raw.get("backupRetentionDays")
    days = _whole_number("backupRetentionDays", raw.get("backupRetentionDays", DEFAULTS["backupRetentionDays"]),
                         problems, 1, BACKUP_RETENTION_DAYS_MAX,
                         "days Object Lock keeps every backed-up file, in COMPLIANCE mode: nobody can shorten it")
    retention_given = raw.get("retention")
    retention = _retention(retention_given, problems) if retention_given is not None else None
    standby = _bool(raw, "standby", problems, DEFAULTS["standby"])
    if "backupRegion" not in raw or raw.get("backupRegion") in (None, ""):
        # The CLI fills in Pulumi.yaml's defaults, so only a value other than the default says anything.
        if days_given is not None and days != DEFAULTS["backupRetentionDays"]:
            problems.add("backupRetentionDays", "applies only with backupRegion (no backup bucket otherwise); set "
                                                "backupRegion or remove the key")
        if retention_given is not None:
            problems.add("retention", "applies only with backupRegion (the retention job writes its plans to the "
                                      "backup bucket, so nothing it archives is lost); set backupRegion or remove "
                                      "the key")
    if standby and backup_region is not None:
        problems.add("standby", "a standby is filled by `python -m backup.restore` from the primary's backup bucket "
                                "and backs nothing up itself; remove backupRegion from the standby stack")
    if standby and retention_given is not None:
        problems.add("standby", "a standby runs no retention job (the primary's archives are restored as they are); "
                                "remove retention from the standby stack")
    return _Backup(backup_region, days or DEFAULTS["backupRetentionDays"], retention, standby)


def parse_settings(raw: Mapping[str, Any], region: Any) -> Settings:
    """Validate raw config values (keys without the project prefix) into Settings.

    Raises ConfigError listing every problem; nothing is declared before this returns.
    """
    problems = _Problems()

    region_problem = _region_problem(region)
    if region_problem:
        problems.items.append(f"aws:region: {region_problem}")

    owner = _string(raw, "ownerAccountId", problems, required=True)
    owner = _account_id(owner, "ownerAccountId", problems) if owner is not None else None

    domain = _string(raw, "domainName", problems, required=True)
    if domain is not None and not DOMAIN_NAME.fullmatch(domain):
        problems.add("domainName", f"{domain!r} must match {DOMAIN_NAME.pattern} (2-50 chars, lower case)")

    repositories = {}
    for key in ("storeRepositoryName", "internalRepositoryName"):
        name = _string(raw, key, problems, default=DEFAULTS[key])
        if name is not None and not REPOSITORY_NAME.fullmatch(name):
            problems.add(key, f"{name!r} must match {REPOSITORY_NAME.pattern}")
        repositories[key] = name
    store, internal = repositories["storeRepositoryName"], repositories["internalRepositoryName"]
    if store is not None and internal is not None and store.lower() == internal.lower():
        problems.add("internalRepositoryName", "must differ from storeRepositoryName, ignoring case")

    prefixes = _list(raw, "internalPrefixes", problems)
    prefixes_ok = bool(prefixes)
    if not prefixes:
        problems.add("internalPrefixes", "must list at least one internal package name prefix")
    for i, prefix in enumerate(prefixes):
        if not isinstance(prefix, str) or not prefix or not NORMALISED_PREFIX.fullmatch(prefix):
            prefixes_ok = False
            problems.add(
                f"internalPrefixes[{i}]",
                f"{prefix!r} must be a non-empty normalised Python name prefix "
                "(lower case letters, digits and single '-', e.g. 'acme-')",
            )
    if len(set(map(str, prefixes))) != len(prefixes):
        problems.add("internalPrefixes", "lists a prefix twice")

    accounts: list[str] = []
    for i, value in enumerate(_list(raw, "secondaryAccountIds", problems)):
        account = _account_id(value, f"secondaryAccountIds[{i}]", problems)
        if account is None:
            continue
        if account == owner:
            problems.add(f"secondaryAccountIds[{i}]", f"{account} is the owner account, not a secondary")
        elif account in accounts:
            problems.add(f"secondaryAccountIds[{i}]", f"{account} is listed twice")
        else:
            accounts.append(account)

    organization = _string(raw, "organizationId", problems)
    if organization is not None and not ORGANIZATION_ID.fullmatch(organization):
        problems.add("organizationId", f"{organization!r} must look like o-xxxxxxxxxx ({ORGANIZATION_ID.pattern})")

    role_names = {}
    for key in ("deployRoleName", "previewRoleName", "readerRoleName"):
        name = _string(raw, key, problems, default=DEFAULTS[key])
        if name is not None and not IAM_ROLE_NAME.fullmatch(name):
            problems.add(key, f"{name!r} is not a valid IAM role name ({IAM_ROLE_NAME.pattern})")
        elif name is not None and (reserved := _reserved_role(name)):
            problems.add(key, f"{name!r} is {reserved}: this stack would trust, rewrite or delete a role it does not "
                              "own; choose a name of its own")
        role_names[key] = name
    deploy_name, preview_name, reader_name = (
        role_names["deployRoleName"], role_names["previewRoleName"], role_names["readerRoleName"])
    # All three roles live in each secondary account, and IAM role names are unique ignoring case.
    for key, name, earlier in (("previewRoleName", preview_name, [("deployRoleName", deploy_name)]),
                               ("readerRoleName", reader_name,
                                [("deployRoleName", deploy_name), ("previewRoleName", preview_name)])):
        for other_key, other in earlier:
            if name is not None and other is not None and name.lower() == other.lower():
                problems.add(
                    key,
                    f"must differ from {other_key}, ignoring case: both roles live in each secondary account "
                    "and IAM role names are unique ignoring case",
                )

    break_glass = _string(raw, "breakGlassRoleArn", problems)
    if break_glass is not None:
        break_glass = _role_arn(break_glass, "breakGlassRoleArn", problems, owner)

    deploy_principals: list[str] = []
    deploy_names: dict[str, int] = {}
    for i, value in enumerate(_list(raw, "deployPrincipalArns", problems)):
        arn = _role_arn(value, f"deployPrincipalArns[{i}]", problems, owner)
        if arn is None:
            continue
        first = deploy_names.setdefault(_role_name_of(arn).lower(), i)
        if first != i:
            problems.add(
                f"deployPrincipalArns[{i}]",
                f"{arn} names the same role as deployPrincipalArns[{first}] "
                "(IAM role names are unique in an account, ignoring case and path)",
            )
            continue
        deploy_principals.append(arn)

    ci_deploy, ci_preview = _ci_roles(raw, problems, owner, deploy_principals, break_glass)

    create_oidc = _bool(raw, "createGithubOidcProvider", problems, DEFAULTS["createGithubOidcProvider"])

    publishers: list[Publisher] = []
    for i, value in enumerate(_list(raw, "publishers", problems)):
        publisher = _publisher(i, value, problems)
        if publisher is not None:
            publishers.append(publisher)

    readers_by_key: dict[str, list[GithubReader]] = {"githubReaders": [], "dependabotReaders": []}
    for config_key, readers in readers_by_key.items():
        for i, value in enumerate(_list(raw, config_key, problems)):
            reader = _github_reader(i, value, problems, config_key)
            if reader is None:
                continue
            if any(r.repository.lower() == reader.repository.lower() for r in readers):
                problems.add(f"{config_key}[{i}].repository", f"{reader.repository} is listed twice")
                continue
            readers.append(reader)
    github_readers, dependabot_readers = readers_by_key["githubReaders"], readers_by_key["dependabotReaders"]

    # Packages are checked against the prefixes only once those are valid (else that is the problem).
    valid_prefixes = [p for p in prefixes if isinstance(p, str)] if prefixes_ok else None
    claimed: dict[str, str] = {}
    seen_repositories: set[str] = set()
    for i, publisher in enumerate(publishers):
        if publisher.repository.lower() in seen_repositories:
            problems.add(f"publishers[{i}].repository", f"{publisher.repository} is listed twice")
        seen_repositories.add(publisher.repository.lower())
        for package in publisher.packages:
            if package in claimed:
                problems.add(
                    f"publishers[{i}].packages",
                    f"{package!r} is already published by {claimed[package]}; a package has one publisher",
                )
            claimed.setdefault(package, publisher.repository)
            if valid_prefixes is not None and not any(package.startswith(prefix) for prefix in valid_prefixes):
                problems.add(
                    f"publishers[{i}].packages",
                    f"{package!r} is outside every internal prefix {valid_prefixes}; "
                    "it would not be protected from dependency confusion",
                )
    # IAM role names are unique in an account ignoring case.
    publisher_roles: dict[str, str] = {}
    for i, publisher in enumerate(publishers):
        other = publisher_roles.setdefault(publisher.role_name.lower(), publisher.repository)
        if other != publisher.repository:
            problems.add(
                f"publishers[{i}].repository",
                f"role name {publisher.role_name} collides with the one of {other} (IAM role names are "
                "unique ignoring case)",
            )
    for key, arns in (("breakGlassRoleArn", [break_glass] if break_glass else []),
                      ("ciPreviewRoleArn", [ci_preview] if ci_preview else []),
                      *((f"deployPrincipalArns[{i}]", [arn]) for i, arn in enumerate(deploy_principals))):
        for arn in arns:
            repository = publisher_roles.get(_role_name_of(arn).lower())
            if repository:
                problems.add(key, f"{arn} names the publisher role of {repository}, which GitHub can assume")
            elif READER_ROLE_NAME.fullmatch(name := _role_name_of(arn)):
                who = ("the GitHub CI reader role", "pull request jobs of the githubReaders repositories") if (
                    name.lower().startswith(GITHUB_READER_ROLE_NAME)) else (
                    "the Dependabot reader role", "Dependabot's update jobs of the dependabotReaders repositories")
                problems.add(key, f"{arn} names {who[0]} ({name}), which {who[1]} can assume")

    tags = _tags(raw, problems)

    airlock = _airlock(raw, problems, store, internal, valid_prefixes)
    backup = _backup(raw, problems, region)
    # The roles the stack declares for AWS services to assume: none may be a role the settings name for people.
    service_roles = {
        **({name.lower(): ("the airlock's", name) for name in AIRLOCK_ROLE_NAMES}
           if airlock.public_ingest == "airlock" else {}),
        **({name.lower(): ("the backup's", name) for name in (*BACKUP_ROLE_NAMES, *RETENTION_ROLE_NAMES)}
           if backup.region is not None else {}),
    }
    for key, arn in (("breakGlassRoleArn", break_glass), ("ciDeployRoleArn", ci_deploy),
                     ("ciPreviewRoleArn", ci_preview),
                     *((f"deployPrincipalArns[{i}]", arn) for i, arn in enumerate(deploy_principals))):
        if arn and (found := service_roles.get(_role_name_of(arn).lower())):
            whose, name = found
            problems.add(key, f"{arn} names {whose} role {name}, which the stack declares for AWS Lambda, "
                              "EventBridge Scheduler or S3 to assume; choose a role of its own")

    deployment = _string(raw, "readerDeployment", problems, default=DEFAULTS["readerDeployment"])
    if deployment is not None and deployment not in READER_DEPLOYMENTS:
        problems.add("readerDeployment", f"{deployment!r} must be one of {', '.join(READER_DEPLOYMENTS)}")
        deployment = None
    units = _organizational_units(raw, problems, deployment, organization)
    call_as = _string(raw, "stackSetCallAs", problems, default=DEFAULTS["stackSetCallAs"])
    if call_as is not None and call_as not in STACK_SET_CALLERS:
        problems.add("stackSetCallAs", f"{call_as!r} must be SELF (the owner account is the organization's "
                     "management account) or DELEGATED_ADMIN (the owner account is registered as a delegated "
                     "administrator for StackSets)")
        call_as = None
    max_concurrent = _percentage(raw, "stackSetMaxConcurrentPercentage", problems, low=1)
    failure_tolerance = _percentage(raw, "stackSetFailureTolerancePercentage", problems, low=0)
    retain_stacks = _bool(raw, "retainStacksOnAccountRemoval", problems, DEFAULTS["retainStacksOnAccountRemoval"])
    stack_set_reader = _stack_set_reader_role(raw, problems, deployment, role_names, domain)
    management = _management_account(raw, problems, deployment, call_as, owner, accounts, units)

    # A value is None only where a problem was added; the `is None` tests say so to the type checker.
    if (problems.items or owner is None or domain is None or deploy_name is None or preview_name is None
            or reader_name is None or store is None or internal is None or deployment is None or call_as is None
            or stack_set_reader is None):
        raise ConfigError(problems.items)

    settings = Settings(
        region=region,
        owner_account_id=owner,
        domain_name=domain,
        internal_prefixes=tuple(prefixes),
        secondary_account_ids=tuple(accounts),
        organization_id=organization,
        deploy_role_name=deploy_name,
        preview_role_name=preview_name,
        reader_role_name=reader_name,
        store_repository=store,
        internal_repository=internal,
        publishers=tuple(publishers),
        github_readers=tuple(github_readers),
        dependabot_readers=tuple(dependabot_readers),
        create_github_oidc_provider=create_oidc,
        break_glass_role_arn=break_glass,
        deploy_principal_arns=tuple(deploy_principals),
        ci_deploy_role_arn=ci_deploy,
        ci_preview_role_arn=ci_preview,
        tags=tags,
        reader_deployment=deployment,
        organizational_unit_ids=units,
        stack_set_call_as=call_as,
        stack_set_max_concurrent_percentage=max_concurrent,
        stack_set_failure_tolerance_percentage=failure_tolerance,
        retain_stacks_on_account_removal=retain_stacks,
        stack_set_reader_role_name=stack_set_reader,
        management_account_id=management,
        public_ingest=airlock.public_ingest,
        vetted_repository=airlock.vetted_repository,
        public_packages=airlock.public_packages,
        cooldown=airlock.cooldown,
        waivers=airlock.waivers,
        refuse_severity=airlock.refuse_severity,
        allowed_licenses=airlock.allowed_licenses,
        backup_region=backup.region,
        backup_retention_days=backup.retention_days,
        retention=backup.retention,
        standby=backup.standby,
    )
    # Documents are built from valid settings only; AWS would reject one over its limit.
    oversize = size_problems(settings)
    if oversize:
        raise ConfigError([f"{PROJECT}:{problem}" for problem in oversize])
    return settings


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


def load_settings() -> Settings:
    """Read `pulumi.Config` once and validate it (the only place config is read)."""
    import pulumi

    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key in SCALAR_KEYS:
        value = config.get(key)
        if value is not None:
            raw[key] = value
    for key in STRUCTURED_KEYS:
        value = config.get(key)
        if value is not None:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError as error:
                raise ConfigError([f"{PROJECT}:{key}: is not valid structured config ({error})"]) from None
    region = pulumi.Config("aws").get("region")
    return parse_settings(raw, region)
