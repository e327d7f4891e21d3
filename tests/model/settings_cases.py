"""What the settings tests share: a valid configuration, and one way to change it and parse it."""

from __future__ import annotations

import copy

import pytest

from model.parse import parse_settings
from model.settings import ConfigError

VALID = {
    "ownerAccountId": "111122223333",
    "domainName": "acme",
    "internalPrefixes": ["acme-"],
    "secondaryAccountIds": ["012345678901", "444455556666"],
    "publishers": [
        {"repository": "acme/lib-a", "packages": ["acme-lib-a"]},
        {"repository": "acme/lib-b", "packages": ["acme-lib-b"],
         "subjects": ["repo:acme/lib-b:environment:pypi"]},
    ],
}
OWNER_ROLE = "arn:aws:iam::111122223333:role"


def settings_with(**changes):
    raw = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return parse_settings(raw, "eu-west-1")


def publisher(**fields):
    return {"repository": "acme/lib-a", "packages": ["acme-lib-a"], **fields}


def assert_refused(changes, key, rule):
    """The change is refused, with a problem of `key` that names the rule."""
    with pytest.raises(ConfigError) as raised:
        settings_with(**changes)
    problems = [p for p in raised.value.problems if p.startswith(f"pypi-registry:{key}:")]
    assert problems, raised.value.problems
    assert any(rule in p for p in problems), problems


def assert_each_breaks_only_its_own_rule(cases):
    """One bad value at a time: a case passes because its own rule bites, not another one."""
    for name, changes, key, _ in cases:
        with pytest.raises(ConfigError) as raised:
            settings_with(**changes)
        assert all(p.startswith(f"pypi-registry:{key}:") for p in raised.value.problems), (name, raised.value.problems)
