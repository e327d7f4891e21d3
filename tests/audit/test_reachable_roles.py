"""Every action of every service is decided for roles reachable from outside the owner account: a role
another account, anyone, GitHub, or a role so reachable can assume holds Read and List only, and no data
or secret read on every resource, through every policy in force for it (inline or a declared managed
policy, judged by what it grants). The pack refuses it; the audit fails on it."""

from __future__ import annotations

import json

import pytest

from audit.access import access_section
from model.documents.github import publisher_permissions_policy, publisher_trust_policy
from tests.expected import MANAGED_POLICY, OWNER, ROLE, ROLE_POLICY
from tests.policies.support import (
    PUBLISHER,
    SECONDARY,
    SETTINGS,
    mandatory,
    provider,
    stack_resource,
    stack_violations,
)
from tests.renderings import with_resource

RULE = "reachable-roles-read-only"
ADMIN_PATH = [{"Effect": "Allow", "Action": ["iam:*", "kms:PutKeyPolicy"], "Resource": "*"}]
SECRETS = [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]
READS = [{"Effect": "Allow", "Action": ["codeartifact:ReadFromRepository", "s3:ListAllMyBuckets"], "Resource": "*"}]


def trust(*principals: dict, **condition) -> str:
    statements = [{"Effect": "Allow", "Principal": p, "Action": "sts:AssumeRole"} for p in principals]
    for statement in statements:
        if condition:
            statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def role(name: str, trust_policy: str, account: str = OWNER, **props):
    resource = stack_resource(ROLE, name, {"name": name, "arn": f"arn:aws:iam::{account}:role/{name}",
                                           "assumeRolePolicy": trust_policy, **props})
    resource.provider = provider(account)
    return resource


def inline(target, statements: list[dict], name: str = "inline"):
    """An inline policy on `target`, declared through the provider of the target's account."""
    policy = stack_resource(ROLE_POLICY, f"{target.name}-{name}", {"role": target.props["name"], "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": statements})})
    policy.provider = target.provider
    return policy


GITHUB_PULL_REQUESTS = json.dumps(publisher_trust_policy(SETTINGS, PUBLISHER)).replace(
    "environment:pypi", "pull_request")


@pytest.mark.parametrize(("target", "statements", "expected"), [
    (role("from-secondary", trust({"AWS": f"arn:aws:iam::{SECONDARY}:root"})), ADMIN_PATH, "iam:"),
    (role("from-anyone", trust({"AWS": "*"})), ADMIN_PATH, "through anyone (AWS *)"),
    (role("federated", trust({"Federated": f"arn:aws:iam::{OWNER}:saml-provider/idp"})), ADMIN_PATH, "iam:"),
    (role("in-secondary", trust({"AWS": f"arn:aws:iam::{SECONDARY}:root"}), account=SECONDARY),
     [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}], "s3:PutObject"),
    (role("pull-requests", GITHUB_PULL_REQUESTS), SECRETS, "secretsmanager:getsecretvalue on every resource"),
    (role("not-action", trust({"AWS": f"arn:aws:iam::{SECONDARY}:root"})),
     [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}], "NotAction"),
], ids=["another-account", "anyone", "saml", "role-in-a-secondary-account", "github-secrets", "not-action"])
def test_a_reachable_role_beyond_read_only_or_reading_secrets_is_refused(target, statements, expected):
    found = stack_violations(RULE, [target, inline(target, statements)])
    assert found and all(urn == target.urn for _, urn in found)
    assert any(expected in message for message, _ in found), found


def test_the_same_grant_in_a_declared_managed_policy_is_judged_by_what_it_grants():
    target = role("from-secondary", trust({"AWS": f"arn:aws:iam::{SECONDARY}:root"}))
    arn = f"arn:aws:iam::{OWNER}:policy/iam-everything"
    policy = stack_resource(MANAGED_POLICY, "iam-everything", {"arn": arn, "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": ADMIN_PATH})})
    attachment = stack_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "attach",
                                {"role": "from-secondary", "policyArn": arn})
    found = stack_violations(RULE, [target, policy, attachment])
    assert found and "attach attaching " + arn in found[0][0] and "iam:" in found[0][0]


def test_a_role_that_trusts_a_reachable_role_is_reachable_too():
    ci_reader = role("gh-pypi-reader", GITHUB_PULL_REQUESTS)
    chained = role("chained", trust({"AWS": f"arn:aws:iam::{OWNER}:role/gh-pypi-reader"}))
    publish = [{"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                "Resource": f"arn:aws:codeartifact:eu-west-1:{OWNER}:package/acme/internal/pypi//acme-data-tools"}]
    found = stack_violations(RULE, [ci_reader, chained, inline(chained, publish)])
    assert len(found) == 1 and found[0][1] == chained.urn
    assert "gh-pypi-reader, which can be assumed through the federated identity" in found[0][0]
    assert "PublishPackageVersion" in found[0][0]
    # Two steps away is reached as well.
    second = role("second", trust({"AWS": f"arn:aws:iam::{OWNER}:role/chained"}))
    found = stack_violations(RULE, [ci_reader, chained, second, inline(second, ADMIN_PATH)])
    assert [urn for _, urn in found] == [second.urn]


def test_roles_only_the_owner_account_can_assume_and_read_only_roles_pass():
    owner_only = role("owner-only", trust({"AWS": f"arn:aws:iam::{OWNER}:root"}))
    reader = role("reader", trust({"AWS": f"arn:aws:iam::{SECONDARY}:root"}))
    publisher = role("gh", json.dumps(publisher_trust_policy(SETTINGS, PUBLISHER)))
    resources = [owner_only, inline(owner_only, ADMIN_PATH), reader, inline(reader, READS), publisher,
                 inline(publisher, publisher_permissions_policy(SETTINGS, PUBLISHER)["Statement"])]
    assert stack_violations(RULE, resources) == []
    # A data read named by ARN is not a read of everything.
    named = [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
              "Resource": f"arn:aws:secretsmanager:eu-west-1:{OWNER}:secret:pypi-*"}]
    assert stack_violations(RULE, [reader, inline(reader, named)]) == []


def test_without_the_owner_account_every_role_counts_as_reachable():
    owner_only = role("owner-only", trust({"AWS": f"arn:aws:iam::{OWNER}:root"}))
    found = stack_violations(RULE, [owner_only, inline(owner_only, ADMIN_PATH)], config={})
    assert found and "not the owner account (not configured)" in found[0][0]


# --- on the prod stack: the pack and the audit ------------------------------------------------------


@pytest.mark.parametrize(("trusted", "statements", "audit_says"), [
    ({"AWS": f"arn:aws:iam::{SECONDARY}:root"}, ADMIN_PATH, "beyond Read and List outside CodeArtifact"),
    ({"AWS": f"arn:aws:iam::{SECONDARY}:root"}, SECRETS, "secretsmanager:getsecretvalue on every resource"),
], ids=["iam-and-key-policy", "secrets"])
def test_an_owner_role_a_secondary_can_assume_fails_the_pack_and_the_audit(prod, trusted, statements, audit_says):
    owner_provider = next(r for r in prod.resources if r.type == "aws:codeartifact/domain:Domain").provider
    tampered = with_resource(prod, ROLE, {"name": "escalate", "assumeRolePolicy": trust(trusted)}, name="escalate")
    tampered.resources[-1].outputs["arn"] = f"arn:aws:iam::{OWNER}:role/escalate"
    tampered.resources[-1].provider = owner_provider
    tampered = with_resource(tampered, ROLE_POLICY, {"role": "escalate", "name": "more", "policy": json.dumps(
        {"Version": "2012-10-17", "Statement": statements})}, name="escalate-more")
    assert any("escalate" in v for v in mandatory(tampered, RULE))
    section = access_section(tampered)
    assert section.failed
    assert any(line.startswith("VIOLATION: role escalate in ") and audit_says in line
               for line in section.text.splitlines()), section.text[-1500:]


@pytest.mark.parametrize("key", ["deployPrincipalArns", "breakGlassRoleArn"])
def test_a_role_pull_requests_reach_is_refused_as_a_deploy_or_break_glass_role(key):
    ci_reader = role("gh-pypi-reader", GITHUB_PULL_REQUESTS)
    arn = f"arn:aws:iam::{OWNER}:role/gh-pypi-reader"
    config = {"ownerAccountId": OWNER, key: [arn] if key == "deployPrincipalArns" else arn}
    found = stack_violations(RULE, [ci_reader, inline(ci_reader, READS)], config=config)
    assert [m for m, _ in found] == [
        f"role gh-pypi-reader is named by {key}, so the domain's Denies exempt it, yet it is reachable from "
        "outside the owner account through the federated identity "
        f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"]
    assert stack_violations(RULE, [ci_reader, inline(ci_reader, READS)], config={"ownerAccountId": OWNER}) == []


def test_a_role_name_reaches_the_role_of_its_own_account_only():
    """Readers of many accounts share one name: a policy put on the name in one account is that account's."""
    here = role("reader", trust({"AWS": f"arn:aws:iam::{SECONDARY}:root"}), account=SECONDARY)
    there = role("reader", trust({"AWS": "arn:aws:iam::777788889999:root"}), account="777788889999")
    there.urn += "-there"
    grant = inline(there, ADMIN_PATH)
    grant.provider = provider("777788889999")
    found = stack_violations(RULE, [here, there, grant])
    assert [urn for _, urn in found] == [there.urn]
    # From a provider pinned to no account, the name could mean either role: both are judged by it.
    grant.provider = None
    assert {urn for _, urn in stack_violations(RULE, [here, there, grant])} == {here.urn, there.urn}
