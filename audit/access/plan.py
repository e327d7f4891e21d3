"""What is checked for every principal (AccessPlan): each codeartifact action on the registry's resources and
publishing on every claimed and unclaimed name; the access level of an action; the capabilities the report's
columns show, and what is allowed beyond a principal's kind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from audit.access.kinds import Subject
from audit.access.principals import (
    BEARER_TOKEN_ACTION,
    BEARER_TOKEN_CHECK,
    ENDPOINT_ACTION,
    PACKAGE_SEPARATOR,
    PUBLISH_ACTION,
    READ_ACTION,
    TOKEN_ACTION,
    Check,
    Registry,
    listify,
    statements,
)
from audit.grants import RoleGrants
from model.settings import Settings
from policies import iam_actions
from policies.aws_facts import (
    IRREVERSIBLE_ACTIONS,
    KEY_LOSS_ACTIONS,
    OVERWRITE_ACTIONS,
    REOPEN_ACTIONS,
    STATUS_ACTIONS,
)
from policies.iam_actions import READ_ONLY_LEVELS

WRITE_LEVELS = frozenset({"Write", "Tagging"})
PERMISSIONS_LEVEL = "Permissions management"
IRREVERSIBLE = frozenset(IRREVERSIBLE_ACTIONS)
OVERWRITE = frozenset(OVERWRITE_ACTIONS)
REOPEN = frozenset(REOPEN_ACTIONS)
STATUS = frozenset(STATUS_ACTIONS)
KEY_LOSS = frozenset(KEY_LOSS_ACTIONS)
# Losing or corrupting what is published: only the break-glass role may.
LOSS = IRREVERSIBLE | OVERWRITE | KEY_LOSS
# Public packages a publish grant must never reach: the first outside every internal prefix is checked.
PUBLIC_NAMES = ("requests", "numpy", "public-package")


access_level = iam_actions.access_level


@cache
def codeartifact_actions() -> tuple[str, ...]:
    """Every codeartifact action in the Service Authorization Reference, sorted."""
    return tuple(iam_actions.codeartifact_actions())


def is_read_only(action: str) -> bool:
    return access_level(action) in READ_ONLY_LEVELS


def is_write(action: str) -> bool:
    return access_level(action) in WRITE_LEVELS


def is_permissions_change(action: str) -> bool:
    """Permissions management actions, and the Put*PermissionsPolicy actions AWS files under Write."""
    level = access_level(action)
    return level == PERMISSIONS_LEVEL or (level == "Write" and "PermissionsPolicy" in action)


@dataclass(frozen=True)
class AccessPlan:
    """What is checked: every codeartifact action on the domain, each repository, and package
    ARNs in each repository (the principal's own packages, another claimed one and an unclaimed
    one), PublishPackageVersion on every claimed package, on an unclaimed name under every other
    internal prefix and on a public name in each repository (a publish grant there would shadow a
    public package for every consumer), and the bearer token."""

    registry: Registry
    internal: str
    store: str
    claimed: tuple[str, ...]
    unclaimed: str
    # Publishing is checked on these too: an unclaimed name under each other prefix, and a public name.
    publish_elsewhere: tuple[str, ...] = ()
    # Airlock mode: the repository of admitted versions (None in direct mode).
    vetted: str | None = None

    @classmethod
    def for_settings(cls, registry: Registry, settings: Settings, named: Iterable[str] = ()) -> AccessPlan:
        """`named`: package names the stack's policies spell out; publishing each is checked too, so an
        exact grant on a name no sample reaches is still decided."""
        claimed = tuple(name for p in settings.publishers for name in p.packages)

        def unclaimed_under(prefix: str) -> str:
            name = f"{prefix}unclaimed"
            while name in claimed:
                name += "-x"
            return name

        public = next(name for name in PUBLIC_NAMES if not name.startswith(settings.internal_prefixes))
        elsewhere = (*(unclaimed_under(p) for p in settings.internal_prefixes[1:]), public)
        elsewhere += tuple(sorted(set(named) - set(claimed) - set(elsewhere) - {unclaimed_under(
            settings.internal_prefixes[0])}))
        return cls(registry, settings.internal_repository, settings.store_repository, claimed,
                   unclaimed_under(settings.internal_prefixes[0]), elsewhere,
                   settings.vetted_repository if settings.airlock_mode else None)

    def _within(self, resource: str, *repositories: str) -> bool:
        """Is `resource` one of these repositories or a package in one of them?"""
        for repository in repositories:
            arn = self.registry.repository_arns.get(repository)
            if arn is not None and (resource == arn or resource.startswith(_packages_of(arn))):
                return True
        return False

    def checks(self, own: tuple[str, ...] = ()) -> tuple[Check, ...]:
        names = list(own) + [p for p in self.claimed if p not in own][:1] + [self.unclaimed]
        repositories = list(self.registry.repository_arns)
        resources = [self.registry.domain_arn] + [self.registry.repository_arns[r] for r in repositories]
        resources += [self.registry.package_arn(r, n) for r in repositories for n in names]
        resources += list(self.registry.package_group_arns)
        checks = [Check(action, resource) for resource in resources for action in codeartifact_actions()]
        checks += [Check(PUBLISH_ACTION, self.registry.package_arn(self.internal, n))
                   for n in self.claimed if n not in names]
        checks += [Check(PUBLISH_ACTION, self.registry.package_arn(r, n))
                   for r in repositories for n in self.publish_elsewhere]
        if self.registry.key_arn:
            checks += [Check(action, self.registry.key_arn) for action in KEY_LOSS_ACTIONS]
        checks.append(BEARER_TOKEN_CHECK)
        return tuple(checks)

    @property
    def columns(self) -> list[str]:
        return ([f"read {self.internal}", f"read {self.store}"] + [f"publish {n}" for n in self.claimed]
                + ["any write", "any permissions change", "irreversible delete", f"overwrite in {self.internal}",
                   "reopen names", "archive or unlist versions", "disable or delete key"])

    def capabilities(self, subject: Subject, decided: Mapping[tuple[str, str], bool]) -> list[bool]:
        registry = self.registry
        token = decided[(TOKEN_ACTION, registry.domain_arn)] and decided[(BEARER_TOKEN_ACTION, "*")]
        cells = []
        for repository in (self.internal, self.store):
            arn = registry.repository_arns[repository]
            cells.append(token and decided[(ENDPOINT_ACTION, arn)] and decided[(READ_ACTION, arn)])
        for name in self.claimed:
            cells.append(token and decided[(PUBLISH_ACTION, registry.package_arn(self.internal, name))])
        own = {registry.package_arn(self.internal, n) for n in subject.own_packages}
        allowed = [(a, r) for (a, r), ok in decided.items() if ok]
        cells.append(any(is_write(a) and not (a == PUBLISH_ACTION and r in own) for a, r in allowed))
        cells.append(any(is_permissions_change(a) for a, _ in allowed))
        cells.append(any(a in IRREVERSIBLE for a, _ in allowed))
        internal = registry.repository_arns[self.internal]
        cells.append(any(a in OVERWRITE and (r == internal or r.startswith(_packages_of(internal)))
                         for a, r in allowed))
        cells.append(any(a in REOPEN for a, _ in allowed))
        cells.append(any(a in STATUS for a, _ in allowed))
        cells.append(any(a in KEY_LOSS for a, _ in allowed))
        return cells

    def violations(self, subject: Subject, decided: Mapping[tuple[str, str], bool]) -> list[tuple[str, str]]:
        """The (action, resource) pairs allowed beyond the subject's role. Everyone may Read and
        List; a publisher may also publish its own packages into internal; an owner-account
        administrator may also write; a deploy role may also reopen names (package groups, origin
        controls, upstreams) and archive or unlist versions; only the break-glass role may delete,
        overwrite or lose the key."""
        own = {self.registry.package_arn(self.internal, n) for n in subject.own_packages}
        store = self.registry.repository_arns[self.store]
        found = []
        for (action, resource), ok in decided.items():
            if not ok:
                continue
            if self.vetted is not None and action == READ_ACTION and resource == store and not (
                    subject.may_copy or subject.may_lose):
                # Airlock mode: the store serves versions nobody admitted; only the promoter reads it.
                found.append((action, resource))
                continue
            if subject.may_copy and action in OVERWRITE and self.vetted and self._within(resource, self.vetted):
                continue
            if (subject.may_archive and action in STATUS and self.vetted
                    and self._within(resource, self.vetted, self.internal)):
                continue
            if subject.may_archive_internal and action in STATUS and self._within(resource, self.internal):
                continue
            if action in LOSS:
                if subject.may_lose:
                    continue
            elif action in REOPEN or action in STATUS:
                if subject.may_reopen or subject.may_lose:
                    continue
            elif is_read_only(action) or subject.may_write or (action == PUBLISH_ACTION and resource in own):
                continue
            found.append((action, resource))
        return found


def named_packages(grants: RoleGrants, registry: Registry) -> set[str]:
    """Every package name a Resource of the stack's identity or registry policies spells out exactly."""
    documents = [d for policies in grants.policies.values() for d in policies.values()]
    found = set()
    for statement in [s for d in documents for s in statements(d)] + registry.all_statements():
        for resource in listify(statement.get("Resource")) + listify(statement.get("NotResource")):
            if isinstance(resource, str) and PACKAGE_SEPARATOR in resource:
                name = resource.rsplit(PACKAGE_SEPARATOR, 1)[1]
                if name and not any(c in name for c in "*?$/"):
                    found.add(name)
    return found


def _packages_of(repository_arn: str) -> str:
    return repository_arn.replace(":repository/", ":package/", 1) + "/"
