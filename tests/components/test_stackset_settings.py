"""StackSet mode's keys, validated: the organizational units (or the root), who creates the StackSet and how it
rolls out, its reader role's name and the organization's management account."""

from __future__ import annotations

import pytest

from audit.render import render
from model.parse import parse_settings
from model.settings import ConfigError
from tests.expected import ORG_READER_ROLE_NAME, OWNER, READER_ROLE_NAME, REGION
from tests.stacks import MANAGEMENT_ACCOUNT, ORGANIZATIONAL_UNITS, ORGSCALE_STACK, orgscale_config
from tests.stacks import orgscale_raw_settings as raw_settings


def problems(**changes: object) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw_settings(**changes), REGION)
    return raised.value.problems


# --- validation ---------------------------------------------------------------------------------------------


def test_the_fixture_is_valid_and_in_stack_set_mode():
    settings = parse_settings(raw_settings(), REGION)
    assert settings.stack_set_mode and settings.organizational_unit_ids == tuple(ORGANIZATIONAL_UNITS)
    assert (settings.stack_set_max_concurrent_percentage, settings.stack_set_failure_tolerance_percentage) == (25, 10)
    assert settings.retain_stacks_on_account_removal is False


def test_the_engine_passes_numbers_and_booleans_as_text():
    settings = parse_settings(raw_settings(stackSetMaxConcurrentPercentage="40", stackSetFailureTolerancePercentage="5",
                                           retainStacksOnAccountRemoval="true"), REGION)
    assert (settings.stack_set_max_concurrent_percentage, settings.stack_set_failure_tolerance_percentage,
            settings.retain_stacks_on_account_removal) == (40, 5, True)


@pytest.mark.parametrize("unit", [
    "ou-a1b2", "ou-A1B2-workload1", "ou-a1b-workload1", "ou-a1b2-work", "ou-a1b2-workload1\n", "o-a1b2c3d4e5",
    "r-a1b", "R-a1b2", "111122223333", "", 12,
])
def test_organizational_unit_ids_must_be_ou_or_root_ids(unit):
    found = problems(organizationalUnitIds=[unit])
    assert any(p.startswith("pypi-registry:organizationalUnitIds[0]: ") and "organizational unit ID" in p
               for p in found), found


def test_the_root_is_listed_alone():
    found = problems(organizationalUnitIds=["r-a1b2", ORGANIZATIONAL_UNITS[0]])
    assert any("is the organization's root, which already targets every account" in p for p in found)
    assert parse_settings(raw_settings(organizationalUnitIds=["r-a1b2"]), REGION).organizational_unit_ids == (
        "r-a1b2",)


def test_a_unit_is_listed_once():
    unit = ORGANIZATIONAL_UNITS[0]
    assert any("ou-a1b2-workload1 is listed twice" in p for p in problems(organizationalUnitIds=[unit, unit]))


def test_stack_set_mode_needs_units_and_the_organization():
    found = problems(organizationalUnitIds=[], organizationId=None)
    assert any(p.startswith("pypi-registry:organizationalUnitIds: must list at least one") for p in found)
    assert any(p.startswith("pypi-registry:organizationId: is required when readerDeployment is stackset")
               for p in found)


def test_units_and_the_management_account_are_refused_in_the_accounts_mode():
    found = problems(readerDeployment="accounts")
    assert found == ["pypi-registry:organizationalUnitIds: applies only with readerDeployment: stackset (the "
                     "accounts mode deploys a reader into each of secondaryAccountIds); set readerDeployment or "
                     "remove the list",
                     "pypi-registry:managementAccountId: applies only with readerDeployment: stackset (no StackSet, "
                     "no account it skips); set readerDeployment or remove the key"]


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("readerDeployment", "StackSet", "must be one of accounts, stackset"),
    ("readerDeployment", "organization", "must be one of accounts, stackset"),
    ("stackSetCallAs", "self", "must be SELF"),
    ("stackSetCallAs", "DELEGATED_ADMINISTRATOR", "must be SELF"),
    ("stackSetMaxConcurrentPercentage", 0, "must be a whole number from 1 to 100"),
    ("stackSetMaxConcurrentPercentage", 101, "must be a whole number from 1 to 100"),
    ("stackSetMaxConcurrentPercentage", 12.5, "must be a whole number from 1 to 100"),
    ("stackSetMaxConcurrentPercentage", True, "must be a whole number from 1 to 100"),
    ("stackSetFailureTolerancePercentage", -1, "must be a whole number from 0 to 100"),
    ("stackSetFailureTolerancePercentage", "ten", "must be a whole number from 0 to 100"),
    ("retainStacksOnAccountRemoval", "yes", "must be true or false"),
])
def test_each_stack_set_key_is_validated(key, value, expected):
    found = problems(**{key: value})
    assert any(p.startswith(f"pypi-registry:{key}: ") and expected in p for p in found), found


def test_a_bad_stack_set_config_declares_nothing():
    with pytest.raises(ConfigError):
        render(ORGSCALE_STACK, config=orgscale_config(stackSetCallAs="ME"))


# --- the StackSet's reader role name, and the management account ------------------------------------------


def test_the_stack_set_reader_has_a_name_of_its_own_by_default():
    settings = parse_settings(raw_settings(), REGION)
    assert (settings.reader_role_name, settings.stack_set_reader_role_name) == (READER_ROLE_NAME, ORG_READER_ROLE_NAME)


@pytest.mark.parametrize(("other_key", "name"), [
    ("readerRoleName", ORG_READER_ROLE_NAME), ("readerRoleName", ORG_READER_ROLE_NAME.upper()),
    ("deployRoleName", "Codeartifact-Pypi-Org-Reader"), ("previewRoleName", ORG_READER_ROLE_NAME),
])
def test_the_stack_set_reader_name_never_meets_a_role_a_secondary_account_holds(other_key, name):
    found = problems(**{other_key: name})
    assert any(p.startswith(f"pypi-registry:stackSetReaderRoleName: must differ from {other_key}, ignoring case")
               and "EntityAlreadyExists" in p for p in found), found


def test_the_stack_set_reader_name_may_equal_another_role_only_without_a_stack_set():
    settings = parse_settings(raw_settings(readerDeployment="accounts", organizationalUnitIds=None,
                                           managementAccountId=None, readerRoleName=ORG_READER_ROLE_NAME), REGION)
    assert not settings.stack_set_mode


def test_the_stack_set_policy_name_never_meets_the_per_account_policy_names():
    # reader "a" with domain "acme": per-account policy "a-acme", boundary "a-permissions-boundary".
    found = problems(readerRoleName="a", stackSetReaderRoleName="a-permissions", domainName="boundary")
    assert any("its policy a-permissions-boundary would have the name of the per-account reader's permissions "
               "boundary" in p for p in found), found
    assert parse_settings(raw_settings(readerRoleName="a", stackSetReaderRoleName="b"), REGION)


@pytest.mark.parametrize(("name", "expected"), [
    ("", "must not be empty"), ("bad name", "is not a valid IAM role name"), ("x" * 65, "is not a valid IAM role name"),
    ("OrganizationAccountAccessRole", "AWS Organizations administrator role"), (7, "must be a string"),
])
def test_the_stack_set_reader_name_is_validated(name, expected):
    found = problems(stackSetReaderRoleName=name)
    assert any(p.startswith("pypi-registry:stackSetReaderRoleName: ") and expected in p for p in found), found


def test_the_management_account_is_the_owner_with_self_and_given_with_a_delegated_administrator():
    assert parse_settings(raw_settings(), REGION).management_account_id == MANAGEMENT_ACCOUNT
    assert parse_settings(raw_settings(stackSetCallAs="SELF", managementAccountId=None),
                          REGION).management_account_id == OWNER
    assert parse_settings(raw_settings(stackSetCallAs="SELF", managementAccountId=OWNER),
                          REGION).management_account_id == OWNER
    assert parse_settings(raw_settings(managementAccountId=None), REGION).management_account_id is None


@pytest.mark.parametrize(("changes", "expected"), [
    ({"stackSetCallAs": "SELF"}, f"{MANAGEMENT_ACCOUNT} is not ownerAccountId {OWNER}: with stackSetCallAs SELF"),
    ({"managementAccountId": OWNER}, f"{OWNER} is ownerAccountId: the management account creates StackSets as SELF"),
    ({"managementAccountId": "12345678901"}, "must be exactly 12 digits"),
    ({"managementAccountId": 12345678901}, "must be a string (quote it in YAML)"),
])
def test_the_management_account_must_match_who_creates_the_stack_set(changes, expected):
    found = problems(**changes)
    assert any(p.startswith("pypi-registry:managementAccountId: ") and expected in p for p in found), found


def test_the_root_promises_every_account_so_the_management_account_must_read_the_per_account_way():
    # The root holds the management account, which AWS leaves out of every service-managed StackSet.
    found = problems(organizationalUnitIds=["r-a1b2"], secondaryAccountIds=[])
    assert any(p.startswith(f"pypi-registry:managementAccountId: {MANAGEMENT_ACCOUNT} is not in secondaryAccountIds: "
                            "the root r-a1b2 holds every account") for p in found), found
    found = problems(organizationalUnitIds=["r-a1b2"], managementAccountId=None)
    assert any(p.startswith("pypi-registry:managementAccountId: is required when organizationalUnitIds targets the "
                            "root r-a1b2") for p in found), found
    # Listed, it gets its reader through its own provider; with OUs it reads only if listed; with SELF it is the owner.
    assert parse_settings(raw_settings(organizationalUnitIds=["r-a1b2"]), REGION)
    assert parse_settings(raw_settings(secondaryAccountIds=[]), REGION).management_account_id == MANAGEMENT_ACCOUNT
    assert parse_settings(raw_settings(organizationalUnitIds=["r-a1b2"], secondaryAccountIds=[], stackSetCallAs="SELF",
                                       managementAccountId=None), REGION)


def test_every_problem_of_the_new_keys_is_reported_at_once():
    found = problems(stackSetReaderRoleName=READER_ROLE_NAME, managementAccountId=OWNER)
    assert [p.split(":")[1] for p in found] == ["stackSetReaderRoleName", "managementAccountId"]
