"""Who is who, as the pack and the access proof rest on it, each pinned with its worst case and a good case,
the pack and the audit side by side: an account that cannot be told is no other account, a role any pull
request can assume may only read, and the secondary deploy role names the reader policy's exact ARN."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from pulumi_policy import PolicyProviderResource, PolicyResource, ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from audit.access import Principal, access_report, access_section
from audit.pmapper_compat import local_check_authorization_full
from audit.render import Rendering
from bootstrap import documents as bootstrap
from policies import iam_documents as iam
from tests.audit.semantics_support import (
    DENY_RULE,
    OWN_PACKAGE,
    PUBLISHER_ROW,
    PUBLISHER_TRUST,
    SCOPE_RULE,
    publisher_role_resources,
    violation_lines,
    with_document,
)
from tests.expected import DOMAIN, DOMAIN_POLICY, GITHUB_OIDC_PROVIDER, OWNER, ROLE, ROLE_POLICY
from tests.policies.support import CONFIG, SECONDARY, options, policy_named, program_policy, stack_violations

# --- an account that cannot be told is no other account ---------------------------------------

UNPINNED = {"no-provider": None, "two-accounts": [OWNER, SECONDARY]}


def provider_for(accounts: list[str] | None) -> PolicyProviderResource | None:
    """A provider pinned to `accounts` (one account pins it; None: the default provider)."""
    if accounts is None:
        return None
    props = {"allowedAccountIds": json.dumps(accounts), "region": "eu-west-1"}
    return PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy(props),
                                  f"urn:pulumi:test::p::pulumi:providers:aws::{'-'.join(accounts)}", "p")


def resource_in(accounts: list[str] | None, resource_type: str, name: str, props: dict[str, Any],
                dependencies: dict[str, Any] | None = None) -> PolicyResource:
    return PolicyResource(resource_type, unknown_checking_proxy(props), f"urn:pulumi:test::p::{resource_type}::{name}",
                          name, options(True), provider_for(accounts), None, [], dependencies or {})


def cross_account_violations(accounts: list[str] | None, config: dict[str, Any]) -> list[str]:
    publish = {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": OWN_PACKAGE}
    props = {"policy": json.dumps({"Version": "2012-10-17", "Statement": [publish]})}
    args = ResourceValidationArgs(ROLE_POLICY, unknown_checking_proxy(props), "urn:x", "x", options(),
                                  provider_for(accounts), config)
    found: list[str] = []
    policy_named("cross-account-codeartifact-read-only").validate(args, lambda message, urn=None: found.append(message))
    return found


@pytest.mark.parametrize("accounts", UNPINNED.values(), ids=UNPINNED.keys())
def test_pack_an_identity_policy_in_an_unknown_account_is_held_read_only_without_an_owner_either(accounts):
    assert cross_account_violations([OWNER], {"ownerAccountId": OWNER}) == []
    for config in ({"ownerAccountId": OWNER}, {}):
        found = cross_account_violations(accounts, config)
        assert found and "provider not pinned to one account" in found[0], (config, found)


def test_pack_an_identity_policy_is_the_owners_only_when_the_owner_is_configured():
    # Without ownerAccountId, the account a provider is pinned to says nothing about the owner.
    found = cross_account_violations([SECONDARY], {})
    assert found and "(not the owner (unknown: set ownerAccountId))" in found[0], found
    assert cross_account_violations([SECONDARY], {"ownerAccountId": SECONDARY}) == []


def test_pack_a_trust_of_an_unreadable_principal_in_an_unknown_account_is_refused():
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "AROAEXAMPLEROLEID12345"}, "Action": "sts:AssumeRole"}]}
    args = ResourceValidationArgs(ROLE, unknown_checking_proxy({"assumeRolePolicy": json.dumps(trust)}), "urn:r",
                                  "r", options(), None, {})
    found: list[str] = []
    policy_named("role-trust-known-principals").validate(args, lambda message, urn=None: found.append(message))
    assert found and "trusts AROAEXAMPLEROLEID12345" in found[0], found


DENYING = {"domain": "acme", "policyDocument": json.dumps(program_policy())}
NOT_DENYING = {"domain": "acme", "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})}


def test_pack_a_deny_in_a_policy_named_alike_in_the_domains_account_is_the_domains():
    domain = resource_in([OWNER], DOMAIN, "domain", {"domain": "acme"})
    assert stack_violations(DENY_RULE, [domain, resource_in([OWNER], DOMAIN_POLICY, "named", DENYING)]) == []


@pytest.mark.parametrize(("domain_accounts", "policy_accounts"), [
    ([OWNER], [SECONDARY]),
    (None, None),
    ([OWNER, SECONDARY], [OWNER, SECONDARY]),
    ([OWNER], None),
], ids=["other-account", "both-default-provider", "both-unpinned", "policy-unpinned"])
def test_pack_a_deny_in_a_policy_named_alike_elsewhere_is_not_the_domains(domain_accounts, policy_accounts):
    domain = resource_in(domain_accounts, DOMAIN, "domain", {"domain": "acme"})
    own = resource_in(domain_accounts, DOMAIN_POLICY, "own", NOT_DENYING, {"domain": [domain]})
    elsewhere = resource_in(policy_accounts, DOMAIN_POLICY, "elsewhere", DENYING)
    found = stack_violations(DENY_RULE, [domain, own, elsewhere])
    assert any("could be deleted" in message for message, _ in found), found


@pytest.mark.parametrize(("domain_accounts", "policy_accounts"), [
    ([OWNER], [OWNER]), (None, [OWNER]), ([OWNER], None), (None, None),
], ids=["same-account", "domain-unpinned", "policy-unpinned", "both-unpinned"])
def test_pack_two_policies_for_a_domain_whose_accounts_may_be_one_are_refused(domain_accounts, policy_accounts):
    domain = resource_in(domain_accounts, DOMAIN, "domain", {"domain": "acme"})
    wired = resource_in(domain_accounts, DOMAIN_POLICY, "wired", NOT_DENYING, {"domain": [domain]})
    named = resource_in(policy_accounts, DOMAIN_POLICY, "named", NOT_DENYING)
    found = stack_violations("one-permissions-policy-per-domain-and-repository", [domain, wired, named])
    assert len(found) == 1 and "wired, named are 2 permissions policies" in found[0][0], found
    elsewhere = resource_in([SECONDARY], DOMAIN_POLICY, "named", NOT_DENYING)
    if domain_accounts is not None:
        assert stack_violations("one-permissions-policy-per-domain-and-repository", [domain, wired, elsewhere]) == []


def test_audit_a_resource_in_no_known_account_fails_the_audit(prod, monkeypatch, capsys):
    import audit.__main__ as audit_cli

    # The domain and its policy, both in whatever account the ambient credentials point at.
    moved = replace(prod, resources=[
        replace(r, account="") if r.name in ("registry-domain", "registry-domain-policy") else r
        for r in prod.resources])
    monkeypatch.setattr(audit_cli, "render", lambda *args, **kwargs: moved)
    assert audit_cli.main(["--stack", "prod"]) == 1
    out = capsys.readouterr().out
    assert "resources without an account-pinned provider: registry-domain, registry-domain-policy" in out


# --- a role any pull request can assume may only read ---------------------------------------------

PULL_REQUEST = "repo:acme/acme-core:pull_request"
AUDIENCE = {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}


def github_statement(condition: dict[str, Any]) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"Federated": GITHUB_OIDC_PROVIDER},
            "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition}


def sub(operator: str, *values: str) -> dict[str, Any]:
    return {operator: {"token.actions.githubusercontent.com:sub": list(values)}}


PULL_REQUEST_TRUSTS = {
    # A second statement for pull requests beside the publishing one.
    "second-statement": [*PUBLISHER_TRUST["Statement"],
                         github_statement({"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub":
                                                            PULL_REQUEST}})],
    "listed-beside": [github_statement({"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub": [
        "repo:acme/acme-core:environment:pypi", PULL_REQUEST]}})],
    "like-any-context": [github_statement({**sub("StringLike", "repo:acme/acme-core:*"),
                                           "StringEquals": AUDIENCE})],
    "like-any-repository": [github_statement({**sub("StringLike", "repo:acme/*"), "StringEquals": AUDIENCE})],
    "not-equals": [github_statement({**sub("StringNotEquals", "repo:acme/acme-core:environment:pypi"),
                                     "StringEquals": AUDIENCE})],
    "no-subject": [github_statement({"StringEquals": AUDIENCE})],
}


@pytest.mark.parametrize("trust", PULL_REQUEST_TRUSTS.values(), ids=PULL_REQUEST_TRUSTS.keys())
def test_pack_a_publisher_any_trust_statement_opens_to_pull_requests_may_only_read(trust):
    assert stack_violations(SCOPE_RULE, publisher_role_resources(PUBLISHER_TRUST["Statement"])) == []
    found = stack_violations(SCOPE_RULE, publisher_role_resources(trust))
    assert found and "trusts pull_request subjects" in found[0][0], found


@pytest.mark.parametrize("condition", [
    sub("StringEquals", "repo:acme/acme-core:environment:pypi", "repo:acme/acme-core:ref:refs/tags/v1"),
    sub("StringLike", "repo:acme/acme-core:environment:pypi"),
    # A branch may be named after pull requests; only the `pull_request` context is a pull request job.
    sub("StringEquals", "repo:acme/acme-core:ref:refs/heads/pull_request"),
], ids=["exact", "like-without-wildcard", "branch-named-pull_request"])
def test_pack_a_publisher_whose_trust_keeps_pull_requests_out_may_publish(condition):
    # Every subject is one the publisher declares (publisherSubjects): only whether pull requests get in is at issue.
    subjects = [v for values in condition.values() for v in values["token.actions.githubusercontent.com:sub"]]
    statement = github_statement(condition)
    statement["Condition"].setdefault("StringEquals", {}).update(AUDIENCE)
    declared = {**CONFIG[SCOPE_RULE], "publisherSubjects": {"acme/acme-core": subjects}}
    assert stack_violations(SCOPE_RULE, publisher_role_resources([statement]), config=declared) == []


def test_pack_a_wildcard_subject_that_cannot_end_in_pull_request_keeps_pull_requests_out():
    # Refused for naming no one repository (so no package is its own), but not as a pull request role.
    statement = github_statement({**sub("StringLike", "repo:acme/*:environment:pypi"), "StringEquals": AUDIENCE})
    found = stack_violations(SCOPE_RULE, publisher_role_resources([statement]))
    assert found and not any("pull_request" in message for message, _ in found), found


def with_trust_statement(rendering: Rendering, statement: dict[str, Any]) -> Rendering:
    return with_document(rendering, "publishers-acme-acme-core", "assumeRolePolicy",
                         lambda document: document["Statement"].append(statement))


@pytest.mark.parametrize("condition", [
    {"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub": PULL_REQUEST}},
    {"StringEquals": {**AUDIENCE, "token.actions.githubusercontent.com:sub": "repo:acme/other:pull_request"}},
    {**sub("StringLike", "repo:acme/*"), "StringEquals": AUDIENCE},
    {"StringEquals": AUDIENCE},
], ids=["own-pull-requests", "another-repositorys", "like-any-repository", "no-subject"])
def test_audit_a_publisher_a_pull_request_can_assume_is_held_to_read_and_list(prod, condition):
    tampered = with_trust_statement(prod, github_statement(condition))
    found = violation_lines(access_section(tampered), PUBLISHER_ROW)
    assert any(f"may codeartifact:PublishPackageVersion on {OWN_PACKAGE}" in line for line in found), found


def test_audit_a_publisher_trusted_by_its_environment_and_a_tag_publishes_its_own_packages(prod):
    tag = sub("StringEquals", "repo:acme/acme-core:ref:refs/tags/v1")
    tag["StringEquals"].update(AUDIENCE)
    tampered = with_trust_statement(prod, github_statement(tag))
    assert not violation_lines(access_section(tampered), PUBLISHER_ROW)
    report = access_report(tampered)
    row = next(cells for subject, cells in report.rows if subject.label == PUBLISHER_ROW)
    assert dict(zip(report.plan.columns, row, strict=True))["publish acme-core"]


@pytest.mark.parametrize("trust", [
    json.dumps({"Version": "2012-10-17", "Statement": [github_statement({"StringEquals": AUDIENCE})]}),
    "{not json",
], ids=["no-subject-anywhere", "unreadable"])
def test_audit_a_publisher_whose_trust_names_no_subject_or_cannot_be_read_is_held_to_read_and_list(prod, trust):
    tampered = replace(prod, resources=[
        replace(r, inputs={**r.inputs, "assumeRolePolicy": trust}) if r.name == "publishers-acme-acme-core" else r
        for r in prod.resources])
    found = violation_lines(access_section(tampered), PUBLISHER_ROW)
    assert any(f"may codeartifact:PublishPackageVersion on {OWN_PACKAGE}" in line for line in found), found


# --- the secondary deploy role names the reader policy's exact ARN -----------------------------------


def test_bootstrap_the_secondary_deploy_role_manages_exactly_the_reader_policy_the_program_declares(prod):
    settings = prod.settings
    ci_deploy = f"arn:aws:iam::{OWNER}:role/ci-deploy"
    documents = bootstrap.documents(settings, "acme/pypi-registry", f"arn:aws:iam::{OWNER}:role/ci-preview", ci_deploy)
    for account in settings.secondary_account_ids:
        reader_policy = prod.one("aws:iam/policy:Policy", f"reader-{account}-read-policy").outputs["arn"]
        policy = documents[account][settings.deploy_role_name]["policy"]
        named = [str(value) for statement in policy["Statement"]
                 for value in [*iam.as_list(statement.get("Resource")),
                               *(v for _, _, values in iam.conditions(statement) for v in values)]]
        assert not [value for value in named if "*" in value or "?" in value], named
        boundary = settings.reader_boundary_arn(account)
        # The reader policy, and the boundary only in the condition that the reader role must carry it.
        assert {value for value in named if ":policy/" in value} == {reader_policy, boundary}
        deployer = Principal.role(settings.deploy_role_arn(account), {"inline:deploy": policy})
        node = deployer.node()
        for target, allowed in [(reader_policy, True), (f"{reader_policy}-other", False),
                                (f"arn:aws:iam::{account}:policy/other", False), (boundary, False)]:
            assert bool(local_check_authorization_full(node, "iam:CreatePolicyVersion", target, {})) is allowed
            attach = {"iam:PolicyARN": target}
            assert bool(local_check_authorization_full(node, "iam:AttachRolePolicy",
                                                       settings.reader_role_arn(account), attach)) is allowed
