"""What an Allow statement grants, in access levels of the AWS Service Authorization Reference."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from functools import cache

from . import iam_documents as iam
from .iam_actions import READ_ONLY_LEVELS, actions_by_level, expand


@cache
def codeartifact_grant(pattern: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(codeartifact actions matched, those not Read/List) for an action pattern.

    None when the pattern cannot name a codeartifact action (another service).
    """
    if pattern != iam.WILDCARD and ":" not in pattern:
        return None
    service = pattern.split(":", 1)[0]
    if not fnmatchcase("codeartifact", service.lower()):
        return None
    matched = tuple(expand(pattern))
    levels = actions_by_level()
    return matched, tuple(a for a in matched if levels[a] not in READ_ONLY_LEVELS)


@cache
def codeartifact_writes() -> tuple[str, ...]:
    levels = actions_by_level()
    return tuple(a for a, level in levels.items() if level not in READ_ONLY_LEVELS)


def non_read_only(statement: Mapping[str, object]) -> list[str]:
    """Why an Allow statement grants more than Read/List codeartifact actions (empty when it does not)."""
    if "NotAction" in statement:
        granted = writes_granted(statement)
        return [f"NotAction, which grants {summary(granted)}"] if granted else []
    problems = []
    for pattern in iam.actions(statement):
        grant = codeartifact_grant(pattern)
        if grant is None:
            continue
        matched, writes = grant
        if not matched:
            problems.append(f"{pattern} (not a known codeartifact action)")
        elif writes:
            problems.append(pattern if writes == (pattern,) else f"{pattern} (matches {summary(writes)})")
    return problems


def writes_granted(statement: Mapping[str, object]) -> list[str]:
    """The codeartifact actions beyond Read/List that an Allow statement grants."""
    if "NotAction" in statement:
        excluded = iam.as_list(statement.get("NotAction"))
        return [w for w in codeartifact_writes() if not any(iam.matches(p, w) for p in excluded)]
    writes: list[str] = []
    for pattern in iam.actions(statement):
        grant = codeartifact_grant(pattern)
        if grant is None:
            continue
        matched, found = grant
        # A pattern that matches no documented action may name one the table does not know yet: a write.
        writes += [w for w in (found if matched else (pattern,)) if w not in writes]
    return writes


def summary(items: list[str] | tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
