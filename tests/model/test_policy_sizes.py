"""Every document stays under its AWS size limit, or the config is rejected saying what fits."""

from __future__ import annotations

import re

import pytest

from model.documents.codeartifact import domain_permissions_policy, repository_permissions_policy
from model.documents.readers import reader_identity_policy
from model.names import MANAGED_POLICY_LIMIT, RESOURCE_POLICY_LIMIT
from model.parse import parse_settings
from model.settings import ConfigError
from model.trust_policy import to_json
from tests.expected import BREAK_GLASS, OWNER, REGION

BASE = {"ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"]}


def accounts(count: int) -> list[str]:
    return [f"{200000000000 + i:012d}" for i in range(count)]


def settings_for(count: int, **extra):
    return parse_settings({**BASE, "secondaryAccountIds": accounts(count), **extra}, REGION)


def resource_policy_sizes(settings) -> list[int]:
    documents = [domain_permissions_policy(settings)] + [
        repository_permissions_policy(settings, r) for r in settings.repositories
    ]
    return [len(to_json(d)) for d in documents]


def test_explicit_list_rejects_the_first_account_that_does_not_fit_and_says_how_many_fit():
    with pytest.raises(ConfigError) as raised:
        settings_for(1000)
    message = raised.value.problems[0]
    assert message.startswith(
        "pypi-registry:secondaryAccountIds: 1000 accounts do not fit in an explicit list (the domain"
    )
    assert "set organizationId" in message
    fits = int(re.search(r"at most (\d+) accounts fit:", message).group(1))
    # The number is exact: that many accounts are accepted, one more is not.
    largest = settings_for(fits)
    assert max(resource_policy_sizes(largest)) <= RESOURCE_POLICY_LIMIT
    with pytest.raises(ConfigError):
        settings_for(fits + 1)


def test_break_glass_condition_counts_against_the_limit():
    plain = settings_for(3)
    with_role = settings_for(3, breakGlassRoleArn=BREAK_GLASS)
    assert resource_policy_sizes(with_role)[0] > resource_policy_sizes(plain)[0]


@pytest.mark.parametrize("count", [1, 10, 100, 1000])
def test_organization_mode_keeps_resource_policies_constant(count):
    organization = {"organizationId": "o-a1b2c3d4e5"}
    assert resource_policy_sizes(settings_for(count, **organization)) == resource_policy_sizes(
        settings_for(1, **organization)
    )


def test_too_many_subjects_overflow_the_trust_policy_and_are_rejected():
    subjects = [f"repo:acme/lib-a:ref:refs/tags/v{i}.0.0" for i in range(60)]
    publisher = {"repository": "acme/lib-a", "packages": ["acme-lib-a"], "subjects": subjects}
    with pytest.raises(ConfigError, match=r"publishers\[0\]\.subjects: the trust policy of acme/lib-a is \d+ "
                                          r"characters, over the 2048 limit"):
        parse_settings({**BASE, "publishers": [publisher]}, REGION)


def test_reader_policy_does_not_grow_with_accounts():
    small, large = settings_for(1), settings_for(100)
    assert reader_identity_policy(small) == reader_identity_policy(large)
    assert len(to_json(reader_identity_policy(large))) <= MANAGED_POLICY_LIMIT
