"""The access diff's third view: origin controls and upstreams, what keeps internal names off public PyPI.

Neither principalmapper nor Z3 sees these: they are not grants but settings of CodeArtifact
resources. Compared here between two audit JSON documents (`resources`):

- package groups (`aws-native:codeartifact:PackageGroup`), keyed by account, domain and pattern:
  each of the three origin restrictions (`publish`, `externalUpstream`, `internalUpstream`) made
  less strict (BLOCK < ALLOW_SPECIFIC_REPOSITORIES < ALLOW; INHERIT or no setting counts as ALLOW,
  since the parent may allow everything) or given another repository to allow; a group removed
  (its names fall back to a parent's controls); a group added inside one the stack already
  declares (the more specific group wins) that is less strict than it; anything not understood
  (another key, another mode, a pattern that cannot be read);
- repositories (`aws:codeartifact/repository:Repository`, `aws-native:codeartifact:Repository`),
  keyed by account, domain and name: a new external connection or a new upstream, a new
  repository's included.

Each of those is widening (reported by the diff and failing it until accepted); a change that
only tightens is listed as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PACKAGE_GROUP = "aws-native:codeartifact:PackageGroup"
REPOSITORY_TYPES = ("aws:codeartifact/repository:Repository", "aws-native:codeartifact:Repository")
RESTRICTIONS = ("publish", "externalUpstream", "internalUpstream")
# How much each restriction mode lets in; INHERIT (and no setting at all) may be anything up to ALLOW.
OPENNESS = {"BLOCK": 0, "ALLOW_SPECIFIC_REPOSITORIES": 1, "ALLOW": 2, "INHERIT": 2}
UNREADABLE = "(unreadable)"

Json = dict[str, Any]


@dataclass(frozen=True)
class OriginChange:
    where: str  # "package group /pypi//acme-~ (domain acme)", "repository internal (domain acme)"
    text: str
    widening: bool

    def as_json(self) -> Json:
        return {"where": self.where, "change": self.text, "widening": self.widening}

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


# --- reading the resources ------------------------------------------------------------------------


@dataclass(frozen=True)
class Restriction:
    mode: str  # one of OPENNESS, or UNREADABLE
    repositories: frozenset[str] = frozenset()

    @property
    def openness(self) -> int:
        return OPENNESS.get(self.mode, OPENNESS["ALLOW"])

    def __str__(self) -> str:
        listed = f" {sorted(self.repositories)}" if self.repositories else ""
        return f"{self.mode}{listed}"


@dataclass(frozen=True)
class Group:
    where: str
    domain: tuple[str, str]  # (account, domain name)
    pattern: str
    restrictions: Mapping[str, Restriction]
    problems: tuple[str, ...]  # what could not be read


def _restriction(value: Any) -> tuple[Restriction, list[str]]:
    if value is None:
        return Restriction("INHERIT"), []
    if not isinstance(value, Mapping) or set(value) - {"restrictionMode", "repositories"}:
        return Restriction(UNREADABLE), [f"unreadable restriction {json.dumps(value, sort_keys=True)}"]
    mode = value.get("restrictionMode")
    repositories = value.get("repositories") or []
    if mode not in OPENNESS or not isinstance(repositories, list) or not all(isinstance(r, str) for r in repositories):
        return Restriction(UNREADABLE), [f"unreadable restriction {json.dumps(value, sort_keys=True)}"]
    return Restriction(str(mode), frozenset(repositories)), []


def _domain(resource: Mapping[str, Any], inputs: Mapping[str, Any]) -> tuple[str, str]:
    owner = inputs.get("domainOwner") or resource.get("account", "")
    return str(owner), str(inputs.get("domainName", inputs.get("domain", "")))


def package_groups(resources: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], Group]:
    found = {}
    for resource in resources:
        if resource.get("type") != PACKAGE_GROUP:
            continue
        inputs = resource.get("inputs", {})
        domain, pattern = _domain(resource, inputs), str(inputs.get("pattern", ""))
        problems: list[str] = []
        configuration = inputs.get("originConfiguration")
        restrictions_in: Any = {}
        if configuration is not None:
            if not isinstance(configuration, Mapping) or set(configuration) - {"restrictions"}:
                problems.append(f"unreadable originConfiguration {json.dumps(configuration, sort_keys=True)}")
            else:
                restrictions_in = configuration.get("restrictions") or {}
        if not isinstance(restrictions_in, Mapping) or set(restrictions_in) - set(RESTRICTIONS):
            problems.append(f"unreadable restrictions {json.dumps(restrictions_in, sort_keys=True)}")
            restrictions_in = {}
        restrictions = {}
        for name in RESTRICTIONS:
            restrictions[name], unread = _restriction(restrictions_in.get(name))
            problems += unread
        if problems:
            # Fail closed: what cannot be read may let everything in.
            restrictions = {name: Restriction(UNREADABLE) for name in RESTRICTIONS}
        where = f"package group {pattern} (domain {domain[1]})"
        found[(domain[0], domain[1], pattern)] = Group(where, domain, pattern, restrictions, tuple(problems))
    return found


def _names(value: Any, key: str) -> set[str]:
    """Connection or upstream names from either provider's shape: a list of names, a list of
    objects with `key`, or one such object."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    names = set()
    for item in items:
        if isinstance(item, str):
            names.add(item)
        elif isinstance(item, Mapping) and isinstance(item.get(key), str) and set(item) == {key}:
            names.add(str(item[key]))
        else:
            names.add(f"{UNREADABLE} {json.dumps(item, sort_keys=True)}")
    return names


@dataclass(frozen=True)
class Repository:
    where: str
    external_connections: frozenset[str]
    upstreams: frozenset[str]


def repositories(resources: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], Repository]:
    found = {}
    for resource in resources:
        if resource.get("type") not in REPOSITORY_TYPES:
            continue
        inputs = resource.get("inputs", {})
        domain = _domain(resource, inputs)
        name = str(inputs.get("repository", inputs.get("repositoryName", resource.get("name", ""))))
        found[(domain[0], domain[1], name)] = Repository(
            f"repository {name} (domain {domain[1]})",
            frozenset(_names(inputs.get("externalConnections"), "externalConnectionName")),
            frozenset(_names(inputs.get("upstreams"), "repositoryName")))
    return found


# --- patterns -------------------------------------------------------------------------------------


def _pattern_parts(pattern: str) -> tuple[str, str, str, str] | None:
    """(format, namespace, name, kind) of `/format/namespace/name` + `$` (exact), `~` (prefix) or
    `*` (every name); None when it is none of those."""
    parts = pattern.split("/")
    if len(parts) != 4 or parts[0] != "" or not parts[1]:
        return None
    name = parts[3]
    if name == "*":
        return parts[1], parts[2], "", "*"
    if len(name) > 1 and name[-1] in "$~" and "*" not in name and "~" not in name[:-1] and "$" not in name[:-1]:
        return parts[1], parts[2], name[:-1], name[-1]
    return None


def covers(parent: str, child: str) -> bool | None:
    """Whether every name `child` matches is matched by `parent` too (so `child` overrides it for
    them); None when either pattern cannot be read."""
    outer, inner = _pattern_parts(parent), _pattern_parts(child)
    if outer is None or inner is None:
        return None
    if outer[:2] != inner[:2]:
        return False
    if outer[3] == "*":
        return True
    if outer[3] == "$":
        return inner[3] == "$" and inner[2] == outer[2]
    return inner[3] != "*" and inner[2].startswith(outer[2])


# --- comparing ------------------------------------------------------------------------------------


def _looser(name: str, before: Restriction, after: Restriction) -> str | None:
    """Why `after` lets in more than `before`, or None."""
    if after.mode == UNREADABLE:
        return f"{name} cannot be read"
    if after.openness > before.openness:
        return f"{name} {before} -> {after}"
    if after.openness == before.openness == OPENNESS["ALLOW_SPECIFIC_REPOSITORIES"] and \
            after.repositories - before.repositories:
        return f"{name} also allows {sorted(after.repositories - before.repositories)}"
    return None


def _compare_groups(old: Mapping[tuple[str, str, str], Group], new: Mapping[tuple[str, str, str], Group]
                    ) -> list[OriginChange]:
    changes = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if was == now:
            continue
        if now is None:
            assert was is not None  # noqa: S101 (the key came from one of the two sides)
            changes.append(OriginChange(was.where, "removed: its names fall back to a parent group's origin "
                                        "controls (public PyPI unless a parent blocks it)", True))
            continue
        if now.problems:
            changes.append(OriginChange(now.where, "cannot be read: " + "; ".join(now.problems), True))
            continue
        if was is None:
            changes.append(_added_group(now, old))
            continue
        looser = [why for name in RESTRICTIONS if (why := _looser(name, was.restrictions[name],
                                                                  now.restrictions[name]))]
        if looser:
            changes.append(OriginChange(now.where, "; ".join(looser), True))
        elif was.restrictions != now.restrictions:
            tighter = [f"{name} {was.restrictions[name]} -> {now.restrictions[name]}" for name in RESTRICTIONS
                       if was.restrictions[name] != now.restrictions[name]]
            changes.append(OriginChange(now.where, "tighter: " + "; ".join(tighter), False))
    return changes


def _added_group(group: Group, old: Mapping[tuple[str, str, str], Group]) -> OriginChange:
    """A new group overrides, for its names, every group of the same domain that covers it."""
    parents = []
    for other in old.values():
        if other.domain != group.domain:
            continue
        covered = covers(other.pattern, group.pattern)
        if covered is None:
            return OriginChange(group.where, f"added, and whether it overrides {other.pattern} cannot be told", True)
        if covered:
            parents.append(other)
    looser = [f"inside {parent.pattern}: {why}" for parent in parents for name in RESTRICTIONS
              if (why := _looser(name, parent.restrictions[name], group.restrictions[name]))]
    if looser:
        return OriginChange(group.where, "added, less strict than the group it overrides: " + "; ".join(looser), True)
    restrictions = ", ".join(f"{name} {group.restrictions[name]}" for name in RESTRICTIONS)
    return OriginChange(group.where, f"added ({restrictions}), overriding no less strict group", False)


def _compare_repositories(old: Mapping[tuple[str, str, str], Repository],
                          new: Mapping[tuple[str, str, str], Repository]) -> list[OriginChange]:
    changes = []
    for key in sorted(set(old) | set(new)):
        was, now = old.get(key), new.get(key)
        if now is None:
            continue  # a repository removed lets nothing new in
        before_connections = was.external_connections if was else frozenset()
        before_upstreams = was.upstreams if was else frozenset()
        status = "" if was else "added, with "
        for connection in sorted(now.external_connections - before_connections):
            changes.append(OriginChange(now.where, f"{status}new external connection {connection}", True))
        for upstream in sorted(now.upstreams - before_upstreams):
            changes.append(OriginChange(now.where, f"{status}new upstream {upstream}", True))
        if was is not None:
            for connection in sorted(before_connections - now.external_connections):
                changes.append(OriginChange(now.where, f"external connection {connection} removed", False))
            for upstream in sorted(before_upstreams - now.upstreams):
                changes.append(OriginChange(now.where, f"upstream {upstream} removed", False))
    return changes


def origin_changes(old_resources: Sequence[Mapping[str, Any]], new_resources: Sequence[Mapping[str, Any]]
                   ) -> list[OriginChange]:
    """Every change to package groups' origin controls and to repositories' connections and
    upstreams between two renderings, widening first."""
    changes = _compare_groups(package_groups(old_resources), package_groups(new_resources))
    changes += _compare_repositories(repositories(old_resources), repositories(new_resources))
    return sorted(changes, key=lambda c: not c.widening)
