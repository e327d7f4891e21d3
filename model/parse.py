"""`parse_settings`: raw config values, as decoded from YAML or JSON with their types, into one validated
`Settings`, so that every rule is testable without Pulumi.

Each step reads its keys in turn, adds every problem it finds and goes on with what it could read, so that one
run names every problem (ConfigError); nothing is declared before this returns. The sections have their own
modules: parse_roles (the IAM roles), parse_github, parse_airlock, parse_backup and parse_stackset.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from model.documents.sizes import size_problems
from model.names import DEFAULTS, PROJECT
from model.parse_airlock import AirlockSection, parse_airlock
from model.parse_backup import BackupSection, parse_backup
from model.parse_github import GithubSection, parse_github
from model.parse_roles import (
    Principals,
    check_principals_are_not_github_roles,
    check_principals_are_not_service_roles,
    parse_principals,
    parse_role_names,
)
from model.parse_stackset import StackSetSection, parse_stack_set
from model.parse_values import Problems, read_bool, read_list, read_string, valid_account_id
from model.rules import (
    DOMAIN_NAME,
    NORMALISED_PREFIX,
    ORGANIZATION_ID,
    REPOSITORY_NAME,
    RESERVED_TAG_PREFIX,
    TAG_KEY_MAX,
    TAG_VALUE_MAX,
    TAGS_MAX,
    region_problem,
    tag_characters_problem,
)
from model.settings import ConfigError, Settings

T = TypeVar("T")


@dataclass(frozen=True)
class RegistrySection:
    """The registry's own keys; None where a problem was added."""

    owner: str | None
    domain: str | None
    store: str | None
    internal: str | None
    prefixes: list[Any]
    # The prefixes once every one is valid (packages are checked against them only then), else None.
    valid_prefixes: list[str] | None
    secondary_accounts: list[str]
    organization: str | None


def parse_settings(raw: Mapping[str, Any], region: Any) -> Settings:
    """Validate raw config values (keys without the project prefix) into Settings.

    Raises ConfigError listing every problem; nothing is declared before this returns.
    """
    problems = Problems()
    problem = region_problem(region)
    if problem:
        problems.items.append(f"aws:region: {problem}")
    registry = _registry(raw, problems)
    role_names = parse_role_names(raw, problems)
    principals = parse_principals(raw, problems, registry.owner)
    create_oidc = read_bool(raw, "createGithubOidcProvider", problems, DEFAULTS["createGithubOidcProvider"])
    github = parse_github(raw, problems, registry.valid_prefixes)
    check_principals_are_not_github_roles(principals, github.publisher_roles, problems)
    tags = _tags(raw, problems)
    airlock = parse_airlock(raw, problems, registry.store, registry.internal, registry.valid_prefixes)
    backup = parse_backup(raw, problems, region)
    check_principals_are_not_service_roles(principals, airlock.public_ingest == "airlock", backup.region is not None,
                                           problems)
    stack_set = parse_stack_set(raw, problems, organization=registry.organization, role_names=role_names,
                                domain=registry.domain, owner=registry.owner, accounts=registry.secondary_accounts)
    if problems.items:
        raise ConfigError(problems.items)
    settings = _settings(region, registry, role_names, principals, create_oidc, github, tags, airlock, backup,
                         stack_set)
    # Documents are built from valid settings only; AWS would reject one over its limit.
    oversize = size_problems(settings)
    if oversize:
        raise ConfigError([f"{PROJECT}:{problem}" for problem in oversize])
    return settings


def _registry(raw: Mapping[str, Any], problems: Problems) -> RegistrySection:
    """ownerAccountId, domainName, the repositories' names, internalPrefixes, secondaryAccountIds and
    organizationId."""
    owner = read_string(raw, "ownerAccountId", problems, required=True)
    owner = valid_account_id(owner, "ownerAccountId", problems) if owner is not None else None
    domain = read_string(raw, "domainName", problems, required=True)
    if domain is not None and not DOMAIN_NAME.fullmatch(domain):
        problems.add("domainName", f"{domain!r} must match {DOMAIN_NAME.pattern} (2-50 chars, lower case)")
    store, internal = _repositories(raw, problems)
    prefixes, valid_prefixes = _prefixes(raw, problems)
    accounts = _secondary_accounts(raw, problems, owner)
    organization = read_string(raw, "organizationId", problems)
    if organization is not None and not ORGANIZATION_ID.fullmatch(organization):
        problems.add("organizationId", f"{organization!r} must look like o-xxxxxxxxxx ({ORGANIZATION_ID.pattern})")
    return RegistrySection(owner, domain, store, internal, prefixes, valid_prefixes, accounts, organization)


def _repositories(raw: Mapping[str, Any], problems: Problems) -> tuple[str | None, str | None]:
    """storeRepositoryName and internalRepositoryName."""
    repositories = {}
    for key in ("storeRepositoryName", "internalRepositoryName"):
        name = read_string(raw, key, problems, default=DEFAULTS[key])
        if name is not None and not REPOSITORY_NAME.fullmatch(name):
            problems.add(key, f"{name!r} must match {REPOSITORY_NAME.pattern}")
        repositories[key] = name
    store, internal = repositories["storeRepositoryName"], repositories["internalRepositoryName"]
    if store is not None and internal is not None and store.lower() == internal.lower():
        problems.add("internalRepositoryName", "must differ from storeRepositoryName, ignoring case")
    return store, internal


def _prefixes(raw: Mapping[str, Any], problems: Problems) -> tuple[list[Any], list[str] | None]:
    """internalPrefixes as listed, and the same once every one is valid (else None)."""
    prefixes = read_list(raw, "internalPrefixes", problems)
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
    return prefixes, [p for p in prefixes if isinstance(p, str)] if prefixes_ok else None


def _secondary_accounts(raw: Mapping[str, Any], problems: Problems, owner: str | None) -> list[str]:
    accounts: list[str] = []
    for i, value in enumerate(read_list(raw, "secondaryAccountIds", problems)):
        account = valid_account_id(value, f"secondaryAccountIds[{i}]", problems)
        if account is None:
            continue
        if account == owner:
            problems.add(f"secondaryAccountIds[{i}]", f"{account} is the owner account, not a secondary")
        elif account in accounts:
            problems.add(f"secondaryAccountIds[{i}]", f"{account} is listed twice")
        else:
            accounts.append(account)
    return accounts


def _tags(raw: Mapping[str, Any], problems: Problems) -> dict[str, str]:
    """The tags of every taggable resource, by IAM's rules (the strictest service they reach)."""
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
        if not _tag_is_valid(key, value, seen, problems):
            valid = False
    return dict(tags) if valid else {}


def _tag_is_valid(key: Any, value: Any, seen: dict[str, str], problems: Problems) -> bool:
    """One tag; `seen` maps the lower-case keys so far to their spelling."""
    if not isinstance(key, str) or not isinstance(value, str):
        problems.add(
            "tags",
            f"must be a map of string to string; {key!r}: {value!r} is {type(value).__name__} "
            "(quote it in YAML)",
        )
        return False
    valid = True
    for text, what, low, high in ((key, "key", 1, TAG_KEY_MAX), (value, "value", 0, TAG_VALUE_MAX)):
        if not low <= len(text) <= high:
            problems.add("tags", f"tag {what} {text!r} must be {low}-{high} characters long, not {len(text)}")
            valid = False
        characters = tag_characters_problem(text)
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
    return valid


def _known(value: T | None) -> T:
    """A value is None only where a problem was added, and none was: a None here is refused all the same."""
    if value is None:
        raise ConfigError([])
    return value


def _settings(region: Any, registry: RegistrySection, role_names: Mapping[str, str | None], principals: Principals,
              create_oidc: bool, github: GithubSection, tags: dict[str, str], airlock: AirlockSection,
              backup: BackupSection, stack_set: StackSetSection) -> Settings:
    """The Settings of sections read without a problem."""
    return Settings(
        region=region, owner_account_id=_known(registry.owner), domain_name=_known(registry.domain),
        internal_prefixes=tuple(registry.prefixes), secondary_account_ids=tuple(registry.secondary_accounts),
        organization_id=registry.organization, deploy_role_name=_known(role_names["deployRoleName"]),
        preview_role_name=_known(role_names["previewRoleName"]), reader_role_name=_known(role_names["readerRoleName"]),
        store_repository=_known(registry.store), internal_repository=_known(registry.internal),
        publishers=github.publishers, github_readers=github.github_readers,
        dependabot_readers=github.dependabot_readers, create_github_oidc_provider=create_oidc,
        break_glass_role_arn=principals.break_glass, deploy_principal_arns=principals.deploy_principals,
        ci_deploy_role_arn=principals.ci_deploy, ci_preview_role_arn=principals.ci_preview, tags=tags,
        reader_deployment=_known(stack_set.deployment), organizational_unit_ids=stack_set.organizational_unit_ids,
        stack_set_call_as=_known(stack_set.call_as),
        stack_set_max_concurrent_percentage=stack_set.max_concurrent_percentage,
        stack_set_failure_tolerance_percentage=stack_set.failure_tolerance_percentage,
        retain_stacks_on_account_removal=stack_set.retain_stacks,
        stack_set_reader_role_name=_known(stack_set.reader_role_name),
        management_account_id=stack_set.management_account_id,
        public_ingest=airlock.public_ingest, vetted_repository=airlock.vetted_repository,
        public_packages=airlock.public_packages, cooldown=airlock.cooldown, waivers=airlock.waivers,
        refuse_severity=airlock.refuse_severity, allowed_licenses=airlock.allowed_licenses,
        backup_region=backup.region, backup_retention_days=backup.retention_days, retention=backup.retention,
        standby=backup.standby,
    )
