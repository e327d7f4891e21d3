"""One validated settings object for the whole program.

`parse_settings` is a pure function of the raw config values (as decoded from
YAML/JSON, types preserved), so every rule is testable without Pulumi.
`load_settings` adapts `pulumi.Config` to it. Components receive the frozen
`Settings` and never read configuration themselves.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROJECT = "pypi-registry"

# AWS and GitHub naming rules (see README, "Configuration reference").
ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]$")
REPOSITORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$")
REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$")
ORGANIZATION_ID = re.compile(r"^o-[a-z0-9]{10,32}$")
IAM_ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
# A PEP 503 normalised project name, and a prefix of one (it may end in "-").
NORMALISED_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NORMALISED_PREFIX = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*-?$")
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
GITHUB_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# repo:OWNER/REPO:<context> or the immutable repo:OWNER@ID/REPO@ID:<context>
GITHUB_SUBJECT = re.compile(
    r"^repo:(?P<owner>[A-Za-z0-9-]+)(?:@(?P<owner_id>[0-9]+))?"
    r"/(?P<repo>[A-Za-z0-9._-]+)(?:@(?P<repo_id>[0-9]+))?"
    r":(?P<context>environment:[^:]+|ref:refs/(?:heads|tags)/.+)$"
)

DEFAULT_SUBJECT_CONTEXT = "environment:pypi"


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


@dataclass(frozen=True)
class Publisher:
    """A GitHub repository allowed to publish its own packages into `internal`."""

    repository: str  # "owner/name"
    packages: tuple[str, ...]
    subjects: tuple[str, ...]

    @property
    def role_name(self) -> str:
        """Deterministic IAM role name (max 64 chars), so ARNs are known at preview."""
        base = "gh-publish-" + re.sub(r"[^A-Za-z0-9+=,.@_-]", "-", self.repository.replace("/", "-"))
        if len(base) <= 64:
            return base
        digest = hashlib.sha256(self.repository.encode()).hexdigest()[:8]
        return f"{base[:55]}-{digest}"


@dataclass(frozen=True)
class Settings:
    region: str
    owner_account_id: str
    domain_name: str
    internal_prefixes: tuple[str, ...]
    secondary_account_ids: tuple[str, ...] = ()
    organization_id: str | None = None
    deploy_role_name: str = "pypi-registry-deploy"
    reader_role_name: str = "codeartifact-pypi-reader"
    store_repository: str = "pypi-store"
    internal_repository: str = "internal"
    publishers: tuple[Publisher, ...] = ()
    create_github_oidc_provider: bool = True
    break_glass_role_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    # ARNs are deterministic, so policy documents never wait for an Output.
    @property
    def partition_prefix(self) -> str:
        return f"arn:aws:codeartifact:{self.region}:{self.owner_account_id}"

    @property
    def domain_arn(self) -> str:
        return f"{self.partition_prefix}:domain/{self.domain_name}"

    def repository_arn(self, repository: str) -> str:
        return f"{self.partition_prefix}:repository/{self.domain_name}/{repository}"

    def package_arn(self, repository: str, name: str = "*") -> str:
        """PyPI has no namespace, hence the empty segment in `pypi//name`."""
        if name == "*":
            return f"{self.partition_prefix}:package/{self.domain_name}/{repository}/*"
        return f"{self.partition_prefix}:package/{self.domain_name}/{repository}/pypi//{name}"

    @property
    def repositories(self) -> tuple[str, str]:
        return (self.store_repository, self.internal_repository)

    @property
    def github_oidc_provider_arn(self) -> str:
        # Only one provider per URL may exist in an account, so its ARN is fixed.
        return f"arn:aws:iam::{self.owner_account_id}:oidc-provider/token.actions.githubusercontent.com"

    def reader_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.reader_role_name}"

    def deploy_role_arn(self, account_id: str) -> str:
        return f"arn:aws:iam::{account_id}:role/{self.deploy_role_name}"

    def publisher_role_arn(self, publisher: Publisher) -> str:
        return f"arn:aws:iam::{self.owner_account_id}:role/{publisher.role_name}"

    @property
    def organization_mode(self) -> bool:
        return self.organization_id is not None

    def package_group_pattern(self, prefix: str) -> str:
        return f"/pypi//{prefix}~"


# --- parsing -------------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, rule: str) -> None:
        self.items.append(f"{PROJECT}:{key}: {rule}")


def _string(raw: Mapping[str, Any], key: str, problems: _Problems, *, default: str | None = None,
            required: bool = False) -> str | None:
    value = raw.get(key, default)
    if value is None or value == "":
        if required:
            problems.add(key, "is required")
        return None
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
    value = raw.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.add(key, f"must be true or false, got {value!r}")
    return default


def _account_id(value: Any, key: str, problems: _Problems) -> str | None:
    if not isinstance(value, str):
        problems.add(
            key,
            f"account ID {value!r} must be a 12-digit string; quote it in YAML "
            "(a number loses leading zeros)",
        )
        return None
    if not ACCOUNT_ID.match(value):
        problems.add(key, f"account ID {value!r} must be exactly 12 digits")
        return None
    return value


def _subject_problem(subject: Any, repository: str) -> str | None:
    """Why a GitHub OIDC `sub` may not be trusted, or None when it is fine."""
    if not isinstance(subject, str):
        return f"subject {subject!r} must be a string"
    if "*" in subject or "?" in subject:
        return f"subject {subject!r} contains a wildcard; list exact subjects"
    if "pull_request" in subject:
        return f"subject {subject!r} names pull_request; pull requests must never publish"
    match = GITHUB_SUBJECT.match(subject)
    if not match:
        return (
            f"subject {subject!r} must look like repo:OWNER/REPO:environment:NAME, "
            "repo:OWNER/REPO:ref:refs/heads/BRANCH or refs/tags/TAG "
            "(or the immutable repo:OWNER@ID/REPO@ID:... form)"
        )
    owner, repo = repository.split("/", 1)
    if match["owner"].lower() != owner.lower() or match["repo"].lower() != repo.lower():
        return f"subject {subject!r} belongs to another repository than {repository!r}"
    return None


def _publisher(index: int, value: Any, problems: _Problems) -> Publisher | None:
    key = f"publishers[{index}]"
    if not isinstance(value, Mapping):
        problems.add(key, "must be an object with repository, packages and optional subjects")
        return None
    unknown = set(value) - {"repository", "packages", "subjects"}
    if unknown:
        problems.add(key, f"unknown fields {sorted(unknown)}; allowed: repository, packages, subjects")
    repository = value.get("repository")
    ok = True
    if not isinstance(repository, str) or repository.count("/") != 1:
        problems.add(f"{key}.repository", f"{repository!r} must be a GitHub repository in owner/name form")
        return None
    owner, name = repository.split("/")
    if not GITHUB_OWNER.match(owner) or not GITHUB_REPO.match(name) or name in (".", ".."):
        problems.add(f"{key}.repository", f"{repository!r} must be a GitHub repository in owner/name form")
        return None

    packages = value.get("packages")
    if not isinstance(packages, list) or not packages:
        problems.add(f"{key}.packages", "must be a non-empty list of package names")
        packages = []
        ok = False
    for i, package in enumerate(packages):
        if not isinstance(package, str) or not NORMALISED_NAME.match(package):
            hint = f" (use {normalise_name(package)!r})" if isinstance(package, str) else ""
            problems.add(f"{key}.packages[{i}]", f"{package!r} is not a normalised Python package name{hint}")
            ok = False
    if isinstance(packages, list) and len(set(packages)) != len(packages):
        problems.add(f"{key}.packages", "lists a package twice")
        ok = False

    subjects = value.get("subjects")
    if subjects is None:
        subjects = [f"repo:{repository}:{DEFAULT_SUBJECT_CONTEXT}"]
    if not isinstance(subjects, list) or not subjects:
        problems.add(f"{key}.subjects", "must be a non-empty list of exact OIDC subjects")
        return None
    for i, subject in enumerate(subjects):
        problem = _subject_problem(subject, repository)
        if problem:
            problems.add(f"{key}.subjects[{i}]", problem)
            ok = False
    if not ok:
        return None
    return Publisher(repository=repository, packages=tuple(packages), subjects=tuple(subjects))


def parse_settings(raw: Mapping[str, Any], region: Any) -> Settings:
    """Validate raw config values (keys without the project prefix) into Settings.

    Raises ConfigError listing every problem; nothing is declared before this returns.
    """
    problems = _Problems()

    if not isinstance(region, str) or not REGION.match(region):
        problems.items.append(f"aws:region: {region!r} is not an AWS region name like eu-west-1")

    owner = _string(raw, "ownerAccountId", problems, required=True)
    owner = _account_id(owner, "ownerAccountId", problems) if owner is not None else None

    domain = _string(raw, "domainName", problems, required=True)
    if domain is not None and not DOMAIN_NAME.match(domain):
        problems.add("domainName", f"{domain!r} must match {DOMAIN_NAME.pattern} (2-50 chars, lower case)")

    repositories = {}
    for key, default in (("storeRepositoryName", "pypi-store"), ("internalRepositoryName", "internal")):
        name = _string(raw, key, problems, default=default)
        if name is not None and not REPOSITORY_NAME.match(name):
            problems.add(key, f"{name!r} must match {REPOSITORY_NAME.pattern}")
        repositories[key] = name
    if repositories["storeRepositoryName"] == repositories["internalRepositoryName"]:
        problems.add("internalRepositoryName", "must differ from storeRepositoryName")

    prefixes = _list(raw, "internalPrefixes", problems)
    if not prefixes:
        problems.add("internalPrefixes", "must list at least one internal package name prefix")
    for i, prefix in enumerate(prefixes):
        if not isinstance(prefix, str) or not prefix or not NORMALISED_PREFIX.match(prefix):
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
    if organization is not None and not ORGANIZATION_ID.match(organization):
        problems.add("organizationId", f"{organization!r} must look like o-xxxxxxxxxx ({ORGANIZATION_ID.pattern})")

    role_names = {}
    for key, default in (("deployRoleName", "pypi-registry-deploy"), ("readerRoleName", "codeartifact-pypi-reader")):
        name = _string(raw, key, problems, default=default)
        if name is not None and not IAM_ROLE_NAME.match(name):
            problems.add(key, f"{name!r} is not a valid IAM role name ({IAM_ROLE_NAME.pattern})")
        role_names[key] = name

    break_glass = _string(raw, "breakGlassRoleArn", problems)
    if break_glass is not None and not ROLE_ARN.match(break_glass):
        problems.add("breakGlassRoleArn", f"{break_glass!r} must be an IAM role ARN")

    create_oidc = _bool(raw, "createGithubOidcProvider", problems, True)

    publishers: list[Publisher] = []
    for i, value in enumerate(_list(raw, "publishers", problems)):
        publisher = _publisher(i, value, problems)
        if publisher is not None:
            publishers.append(publisher)

    valid_prefixes = [p for p in prefixes if isinstance(p, str)]
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
            if not any(package.startswith(prefix) for prefix in valid_prefixes):
                problems.add(
                    f"publishers[{i}].packages",
                    f"{package!r} is outside every internal prefix {valid_prefixes}; "
                    "it would not be protected from dependency confusion",
                )
    role_names_seen: dict[str, str] = {}
    for i, publisher in enumerate(publishers):
        other = role_names_seen.setdefault(publisher.role_name, publisher.repository)
        if other != publisher.repository:
            problems.add(f"publishers[{i}].repository", f"role name {publisher.role_name} collides with {other}")

    tags = raw.get("tags", {}) or {}
    if isinstance(tags, str):
        try:
            tags = json.loads(tags)
        except json.JSONDecodeError:
            tags = None
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        problems.add("tags", "must be a map of string to string")
        tags = {}

    if problems.items:
        raise ConfigError(problems.items)

    settings = Settings(
        region=region,
        owner_account_id=owner,
        domain_name=domain,
        internal_prefixes=tuple(prefixes),
        secondary_account_ids=tuple(accounts),
        organization_id=organization,
        deploy_role_name=role_names["deployRoleName"],
        reader_role_name=role_names["readerRoleName"],
        store_repository=repositories["storeRepositoryName"],
        internal_repository=repositories["internalRepositoryName"],
        publishers=tuple(publishers),
        create_github_oidc_provider=create_oidc,
        break_glass_role_arn=break_glass,
        tags=dict(tags),
    )
    # Documents are built from valid settings only; AWS would reject one over its limit.
    from components.policy_documents import size_problems

    oversize = size_problems(settings)
    if oversize:
        raise ConfigError([f"{PROJECT}:{problem}" for problem in oversize])
    return settings


STRUCTURED_KEYS = ("internalPrefixes", "secondaryAccountIds", "publishers", "tags")
SCALAR_KEYS = (
    "ownerAccountId", "domainName", "storeRepositoryName", "internalRepositoryName",
    "organizationId", "deployRoleName", "readerRoleName", "breakGlassRoleArn",
    "createGithubOidcProvider",
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
