"""The pack holds a Dependabot reader role (dependabotReaders) to reading, like a CI reader: a role GitHub can assume
is a publisher only when every subject it trusts is one publisherSubjects gives a publisher. Dependabot's update jobs
run on a branch, which a publisher's repository may share with it, so the repository alone cannot tell them apart."""

from __future__ import annotations

import json

import pytest

from audit.guardrails import pack_config, rendering_violations
from audit.render import Rendering, render
from model.documents.github import github_trust_policy, publisher_permissions_policy
from model.documents.readers import reader_identity_policy
from tests.expected import INTERNAL_PACKAGES, OWNER, ROLE, ROLE_POLICY
from tests.policies.support import CONFIG, SETTINGS, stack_resource, stack_violations
from tests.renderings import add_statement, changed, with_resource

RULE = "github-roles-publish-only-own-packages"
READER_ROLE = "publishers-dependabot-reader"
READER_POLICY = "publishers-dependabot-reader-read"
# A publisher of prod (acme/acme-core publishes acme-core) whose Dependabot updates read through the registry.
PUBLISHER_REPOSITORY = "acme/acme-core"
PUBLISH_OWN = {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
               "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-core"}
MANAGED_ARN = f"arn:aws:iam::{OWNER}:policy/dependabot-publish"


@pytest.fixture(scope="module")
def with_dependabot() -> Rendering:
    return render("prod", overrides={"pypi-registry:dependabotReaders": [{"repository": PUBLISHER_REPOSITORY}]})


def refusals(rendering: Rendering) -> list[str]:
    return [v.message for v in rendering_violations(rendering) if v.policy == RULE and v.mandatory]


def test_the_declared_dependabot_role_of_a_publishers_repository_passes(with_dependabot):
    role = with_dependabot.one("aws:iam/role:Role", READER_ROLE)
    assert role.inputs["name"] == "dependabot-pypi-reader"
    assert "repo:acme/acme-core:ref:refs/heads/main" in role.inputs["assumeRolePolicy"]
    assert pack_config(with_dependabot.settings)[RULE]["publisherPackages"][PUBLISHER_REPOSITORY][0] == "acme-core"
    assert [v for v in rendering_violations(with_dependabot) if v.mandatory] == []


def test_a_publish_grant_in_the_dependabot_roles_inline_policy_is_refused(with_dependabot):
    found = refusals(changed(with_dependabot, READER_POLICY, add_statement("policy", PUBLISH_OWN)))
    assert found and all("dependabot-reader" in m for m in found), found
    assert any("trusts 'repo:acme/acme-core:ref:refs/heads/main', which publisherSubjects gives no publisher" in m
               and "PublishPackageVersion: a role that is not a publisher (a CI or Dependabot reader) may only read"
               in m for m in found), found


def test_a_publish_grant_in_a_managed_policy_attached_to_the_dependabot_role_is_refused(with_dependabot):
    document = {"Version": "2012-10-17", "Statement": [PUBLISH_OWN]}
    declared = with_resource(with_dependabot, "aws:iam/policy:Policy",
                             {"arn": MANAGED_ARN, "name": "dependabot-publish", "policy": json.dumps(document)},
                             name="dependabot-publish")
    attached = with_resource(declared, "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                             {"role": "dependabot-pypi-reader", "policyArn": MANAGED_ARN}, name="dependabot-attach")
    found = refusals(attached)
    assert any(f"attaching {MANAGED_ARN}" in m and "may only read" in m for m in found), found


def test_the_publisher_of_the_same_repository_still_publishes_its_own_packages(with_dependabot):
    # Its trust names only publisherSubjects' subjects: the prod rendering passes with both roles declared.
    publisher = with_dependabot.one("aws:iam/role:Role", "publishers-acme-acme-core")
    assert json.loads(publisher.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"] in ("repo:acme/acme-core:environment:pypi",
                                                       ["repo:acme/acme-core:environment:pypi"])
    assert refusals(with_dependabot) == []


# --- the rule alone, on a role and its policy -------------------------------------------------------------------


def reader_role(subjects: list[str]) -> object:
    trust = github_trust_policy(SETTINGS, subjects)
    return stack_resource(ROLE, "dependabot", {"name": "dependabot-pypi-reader", "assumeRolePolicy": json.dumps(trust)})


def inline(policy: dict) -> object:
    return stack_resource(ROLE_POLICY, "dependabot-read", {"role": "dependabot-pypi-reader",
                                                           "policy": json.dumps(policy)})


@pytest.mark.parametrize("subjects", [
    ["repo:acme/acme-core:ref:refs/heads/main"],
    # A publisher's subject beside a branch's: the role still lets a job in that no publisher trusts.
    ["repo:acme/acme-core:environment:pypi", "repo:acme/acme-core:ref:refs/heads/main"],
], ids=["branch", "publisher-and-branch"])
def test_a_role_trusting_a_subject_no_publisher_declares_may_only_read(subjects):
    role = reader_role(subjects)
    assert stack_violations(RULE, [role, inline(reader_identity_policy(SETTINGS))]) == []
    found = stack_violations(RULE, [role, inline(publisher_permissions_policy(SETTINGS, SETTINGS.publishers[0]))])
    assert found and all("which publisherSubjects gives no publisher" in m for m, _ in found), found


def test_a_role_trusting_only_publishers_subjects_is_a_publisher():
    role = reader_role(["repo:acme/acme-core:environment:pypi"])
    assert stack_violations(RULE, [role, inline(publisher_permissions_policy(SETTINGS, SETTINGS.publishers[0]))]) == []


def test_a_subject_filed_under_another_repository_makes_no_publisher():
    role = reader_role(["repo:acme/acme-core:environment:pypi"])
    misfiled = {**CONFIG[RULE], "publisherSubjects": {"acme/data-tools": ["repo:acme/acme-core:environment:pypi"]}}
    found = stack_violations(RULE, [role, inline(publisher_permissions_policy(SETTINGS, SETTINGS.publishers[0]))],
                             config=misfiled)
    assert found and "which publisherSubjects gives no publisher" in found[0][0]
