"""The parser's common ground: the list of problems found so far, and the readers of one raw value each, which
return the value when it follows its rule and otherwise add why not and return a default or None."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from model.names import DEFAULTS, PROJECT
from model.rules import ACCOUNT_ID, role_arn_problem


class Problems:
    """Every problem found, each as `project:key: rule`, in the order the keys are checked."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, key: str, rule: str) -> None:
        self.items.append(f"{PROJECT}:{key}: {rule}")


def read_string(raw: Mapping[str, Any], key: str, problems: Problems, *, default: str | None = None,
                required: bool = False) -> str | None:
    """A string key: `default` when left out, refused when empty (but for an optional key without default)."""
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


def read_list(raw: Mapping[str, Any], key: str, problems: Problems) -> list[Any]:
    """A list key (or its JSON text); empty when left out or not a list."""
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


def read_bool(raw: Mapping[str, Any], key: str, problems: Problems, default: bool) -> bool:
    """A boolean key, or its text as the engine passes it."""
    value: object = raw.get(key, default)
    if isinstance(value, bool):
        return value
    # Exactly the spellings the Pulumi CLI accepts for a boolean key.
    if value in ("true", "false"):
        return value == "true"
    problems.add(key, f"must be true or false, got {value!r}")
    return default


def read_percentage(raw: Mapping[str, Any], key: str, problems: Problems, low: int) -> int:
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


def valid_account_id(value: Any, key: str, problems: Problems) -> str | None:
    """A 12-digit account ID as a string, or None after reporting why not."""
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


def valid_role_arn(value: Any, key: str, problems: Problems, owner: str | None) -> str | None:
    """A full IAM role ARN in the owner account, or None after reporting why not."""
    problem = role_arn_problem(value, owner, "only owner-account roles may be exempted in the owner's domain policy")
    if problem is None:
        return str(value)
    problems.add(key, problem)
    return None


def valid_whole_number(key: str, value: Any, problems: Problems, low: int, high: int,
                       what: str) -> int | None:
    """A whole number from `low` to `high`: an integer, or its decimal text as the engine passes it."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(key, f"must be a whole number from {low} to {high} ({what}), got {value!r}")
        return None
    return value
