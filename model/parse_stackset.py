"""The StackSet keys (readerDeployment: stackset): the organizational units (or the root) whose accounts get a
reader, who creates the StackSet and how it is rolled out, its reader role's name, and the organization's
management account, which no service-managed StackSet reaches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.names import DEFAULTS, READER_DEPLOYMENTS, STACK_SET_CALLERS
from model.parse_values import Problems, read_bool, read_list, read_percentage, read_string, valid_account_id
from model.rules import IAM_ROLE_NAME, ORGANIZATIONAL_UNIT_ID, ROOT_ID, reserved_role


@dataclass(frozen=True)
class StackSetSection:
    """None where a problem was added."""

    deployment: str | None
    organizational_unit_ids: tuple[str, ...]
    call_as: str | None
    max_concurrent_percentage: int
    failure_tolerance_percentage: int
    retain_stacks: bool
    reader_role_name: str | None
    management_account_id: str | None


def parse_stack_set(raw: Mapping[str, Any], problems: Problems, *, organization: str | None,
                    role_names: Mapping[str, str | None], domain: str | None, owner: str | None,
                    accounts: list[str]) -> StackSetSection:
    """readerDeployment and the keys of StackSet mode; `role_names` are the secondary accounts' role names by key."""
    deployment = read_string(raw, "readerDeployment", problems, default=DEFAULTS["readerDeployment"])
    if deployment is not None and deployment not in READER_DEPLOYMENTS:
        problems.add("readerDeployment", f"{deployment!r} must be one of {', '.join(READER_DEPLOYMENTS)}")
        deployment = None
    units = _organizational_units(raw, problems, deployment, organization)
    call_as = read_string(raw, "stackSetCallAs", problems, default=DEFAULTS["stackSetCallAs"])
    if call_as is not None and call_as not in STACK_SET_CALLERS:
        problems.add("stackSetCallAs", f"{call_as!r} must be SELF (the owner account is the organization's "
                     "management account) or DELEGATED_ADMIN (the owner account is registered as a delegated "
                     "administrator for StackSets)")
        call_as = None
    max_concurrent = read_percentage(raw, "stackSetMaxConcurrentPercentage", problems, low=1)
    failure_tolerance = read_percentage(raw, "stackSetFailureTolerancePercentage", problems, low=0)
    retain_stacks = read_bool(raw, "retainStacksOnAccountRemoval", problems, DEFAULTS["retainStacksOnAccountRemoval"])
    reader_role = _stack_set_reader_role(raw, problems, deployment, role_names, domain)
    management = _management_account(raw, problems, deployment, call_as, owner, accounts, units)
    return StackSetSection(deployment, units, call_as, max_concurrent, failure_tolerance, retain_stacks, reader_role,
                           management)


def _organizational_units(raw: Mapping[str, Any], problems: Problems, deployment: str | None,
                          organization: str | None) -> tuple[str, ...]:
    """The StackSet's deployment targets: OU IDs, or the root alone; only in StackSet mode."""
    units: list[str] = []
    listed = read_list(raw, "organizationalUnitIds", problems)
    for i, value in enumerate(listed):
        key = f"organizationalUnitIds[{i}]"
        if not isinstance(value, str) or not (ORGANIZATIONAL_UNIT_ID.fullmatch(value) or ROOT_ID.fullmatch(value)):
            problems.add(key, f"{value!r} must be an organizational unit ID ({ORGANIZATIONAL_UNIT_ID.pattern}) "
                              f"or the organization's root ID ({ROOT_ID.pattern})")
        elif value in units:
            problems.add(key, f"{value} is listed twice")
        else:
            units.append(value)
    roots = [unit for unit in units if ROOT_ID.fullmatch(unit)]
    if roots and len(units) > 1:
        problems.add("organizationalUnitIds", f"{roots[0]} is the organization's root, which already targets every "
                     "account of every OU: list the root alone, or OUs without it")
    if deployment == "stackset":
        if not listed:
            problems.add("organizationalUnitIds", "must list at least one organizational unit (or the root) when "
                         "readerDeployment is stackset: the StackSet deploys a reader into every account of them")
        if organization is None:
            problems.add("organizationId", "is required when readerDeployment is stackset: its readers live in "
                         "accounts no list names, so the resource policies must grant the organization "
                         "(aws:PrincipalOrgID)")
    elif units:
        problems.add("organizationalUnitIds", "applies only with readerDeployment: stackset (the accounts mode "
                     "deploys a reader into each of secondaryAccountIds); set readerDeployment or remove the list")
    return tuple(units)


def _stack_set_reader_role(raw: Mapping[str, Any], problems: Problems, deployment: str | None,
                           role_names: Mapping[str, str | None], domain: str | None) -> str | None:
    """The StackSet's reader role name: never the per-account reader's (nor the deploy or preview role's), so
    that an account holding both (while it moves between the modes) never meets a name that already exists."""
    key = "stackSetReaderRoleName"
    name = read_string(raw, key, problems, default=DEFAULTS[key])
    if name is None:
        return None
    if not IAM_ROLE_NAME.fullmatch(name):
        problems.add(key, f"{name!r} is not a valid IAM role name ({IAM_ROLE_NAME.pattern})")
        return None
    if reserved := reserved_role(name):
        problems.add(key, f"{name!r} is {reserved}: this stack would rewrite or delete a role it does not own; "
                          "choose a name of its own")
        return None
    if deployment != "stackset":
        return name
    same = [other_key for other_key, other in role_names.items() if other is not None and name.lower() == other.lower()]
    for other_key in same:
        problems.add(key, f"must differ from {other_key}, ignoring case: an account can hold both roles (the "
                     "per-account reader while it moves to or from the StackSet, the deploy and preview roles "
                     "of a secondary account), and the StackSet would fail with EntityAlreadyExists")
    reader = role_names.get("readerRoleName")
    if domain is not None and reader is not None and not same:
        # The template's managed policy is named like the per-account one: `<role>-<domain>`.
        ours = f"{name}-{domain}".lower()
        theirs = {f"{reader}-{domain}".lower(): "the per-account reader's policy",
                  f"{reader}-permissions-boundary".lower(): "the per-account reader's permissions boundary"}
        if ours in theirs:
            problems.add(key, f"its policy {name}-{domain} would have the name of {theirs[ours]}, and IAM policy "
                              "names are unique in an account ignoring case; choose another name")
    return name


def _management_account(raw: Mapping[str, Any], problems: Problems, deployment: str | None, call_as: str | None,
                        owner: str | None, accounts: list[str], units: tuple[str, ...]) -> str | None:
    """The organization's management account, which AWS never deploys a service-managed StackSet into, even
    when it sits in a targeted OU or under the targeted root: it reads only through secondaryAccountIds."""
    key = "managementAccountId"
    given = read_string(raw, key, problems)
    management = valid_account_id(given, key, problems) if given is not None else None
    if deployment != "stackset":
        if given is not None:
            problems.add(key, "applies only with readerDeployment: stackset (no StackSet, no account it skips); "
                              "set readerDeployment or remove the key")
        return None
    if call_as == "SELF":
        if management is not None and owner is not None and management != owner:
            problems.add(key, f"{management} is not ownerAccountId {owner}: with stackSetCallAs SELF the owner "
                              "account creates the StackSet as the organization's management account")
        # The owner reads as the owner: it needs no reader.
        return owner
    if management is not None and management == owner:
        problems.add(key, f"{management} is ownerAccountId: the management account creates StackSets as SELF, "
                          "never as a delegated administrator; set stackSetCallAs: SELF")
    roots = [unit for unit in units if ROOT_ID.fullmatch(unit)]
    if call_as == "DELEGATED_ADMIN" and roots:
        # The root promises every account; the management account is the one AWS leaves out.
        if given is None:
            problems.add(key, f"is required when organizationalUnitIds targets the root {roots[0]} with "
                              "stackSetCallAs DELEGATED_ADMIN: the root holds every account, but AWS never deploys "
                              "the StackSet into the management account, so name it and list it in "
                              "secondaryAccountIds (or target organizational units instead of the root)")
        elif management is not None and management not in accounts:
            problems.add(key, f"{management} is not in secondaryAccountIds: the root {roots[0]} holds every "
                              "account, but AWS never deploys the StackSet into the management account, so it "
                              "would be the one account without a reader; list it in secondaryAccountIds (or "
                              "target organizational units instead of the root)")
    return management
