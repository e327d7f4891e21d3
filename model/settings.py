"""The validated settings of one stack: frozen dataclasses and what follows from them alone (names and ARNs, the
modes, how the GitHub readers are packed into roles).

`model/parse.py` builds them from raw config values; components receive the frozen `Settings` and never read
configuration themselves.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from model.names import (
    AIRLOCK_ROLE_NAMES,
    AIRLOCK_TOPIC_NAME,
    BACKUP_FUNCTION_NAME,
    BACKUP_QUEUE_NAME,
    BACKUP_ROLE_NAME,
    BACKUP_ROLE_NAMES,
    BACKUP_RULE_NAME,
    BACKUP_TOPIC_NAME,
    DEFAULTS,
    DEPENDABOT_ROLE_NAME,
    GITHUB_READER_ROLE_NAME,
    PROJECT,
    PROMOTE_SCHEDULE_NAME,
    PROMOTER_FUNCTION_NAME,
    PROMOTER_ROLE_NAME,
    PUBLISHER_ROLE_PREFIX,
    PULL_BACK_FUNCTION_NAME,
    PULL_BACK_ROLE_NAME,
    PULL_BACK_SCHEDULE_NAME,
    RECONCILE_FUNCTION_NAME,
    RECONCILE_ROLE_NAME,
    RECONCILE_SCHEDULE_NAME,
    REPLICATION_ROLE_NAME,
    RETENTION_DEFAULTS,
    RETENTION_FUNCTION_NAME,
    RETENTION_ROLE_NAME,
    RETENTION_ROLE_NAMES,
    RETENTION_SCHEDULE_NAME,
    TRUST_POLICY_LIMIT,
)
from model.trust_policy import github_oidc_trust_policy, to_json
from promoter.config import duration_seconds


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
    repository whose subjects alone exceed the limit gets a role of its own, which `size_problems`
    (model/documents/sizes.py) refuses."""
    groups: list[list[GithubReader]] = []
    for reader in readers:
        trial = [subject for member in (groups[-1] if groups else []) for subject in member.subjects]
        trial += reader.subjects
        trust = github_oidc_trust_policy(settings.github_oidc_provider_arn, trial)
        if groups and len(to_json(trust)) <= TRUST_POLICY_LIMIT:
            groups[-1].append(reader)
        else:
            groups.append([reader])
    return tuple(ReaderRole(base_name if index == 0 else f"{base_name}-{index + 1}", tuple(group))
                 for index, group in enumerate(groups))
