"""CI consumers: optional, read-only GitHub OIDC roles (`githubReaders`) for the repositories
whose CI installs packages. Validated like publishers (but a pull request may read), declared by
the program, held to read-only by the pack and by the access proof."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import pytest

from audit.access import access_report, access_section, github_claims, web_identity_may_assume
from audit.guardrails import rendering_violations
from audit.render import RecordedResource, Rendering, render
from model.documents.github import github_reader_trust_policy
from model.documents.readers import reader_identity_policy
from model.names import READER_ROLES_MAX, TRUST_POLICY_LIMIT
from model.parse import parse_settings
from model.settings import ConfigError
from model.trust_policy import to_json
from tests.expected import GITHUB_OIDC_PROVIDER, INTERNAL_PACKAGES, OWNER, REGION

BASE = {"ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"]}
READER_ROLE = f"arn:aws:iam::{OWNER}:role/gh-pypi-reader"
CONFIG_KEY = "pypi-registry:githubReaders"


def settings_with(readers):
    return parse_settings({**BASE, "githubReaders": readers}, REGION)


def test_subjects_default_to_pull_requests_and_main_of_the_repository():
    (reader,) = settings_with([{"repository": "acme/service-a"}]).github_readers
    assert reader.subjects == ("repo:acme/service-a:pull_request", "repo:acme/service-a:ref:refs/heads/main")


@pytest.mark.parametrize(("readers", "expected"), [
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/*:pull_request"]}], "wildcard"),
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/service-a:*"]}], "wildcard"),
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/other:pull_request"]}], "another repository"),
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/service-a:environment:pull_request"]}],
     "pull_request"),
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/service-a:ref:refs/pull/1/merge"]}], "must end in"),
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/service-a:pull_request\n"]}], "repo:acme"),
    ([{"repository": "acme/service-a", "subjects": []}], "non-empty list"),
    ([{"repository": "acme/service-a", "subjects": ["repo:acme/service-a:pull_request"] * 2}], "twice"),
    ([{"repository": "acme/service-a"}, {"repository": "ACME/service-a"}], "listed twice"),
    ([{"repository": "acme"}], "owner/name"),
    ([{"repository": "acme/service-a", "packages": ["acme-x"]}], "unknown fields"),
    (["acme/service-a"], "must be an object"),
    ([{"repository": "acme/service-a", "subjects": [f"repo:acme/service-a:ref:refs/tags/v{i}" for i in range(60)]}],
     "githubReaders[0].subjects: the subjects of acme/service-a alone make a trust policy of"),
], ids=["wildcard-repo", "wildcard-context", "other-repo", "environment-pull-request", "pull-ref", "newline",
        "empty", "duplicate-subject", "duplicate-repo", "not-owner-name", "unknown-field", "not-object",
        "trust-too-large"])
def test_bad_readers_are_refused_naming_the_key_and_the_rule(readers, expected):
    with pytest.raises(ConfigError) as error:
        settings_with(readers)
    assert "githubReaders" in str(error.value) and expected in str(error.value)


@pytest.fixture(scope="module")
def with_readers() -> Rendering:
    return render("prod", overrides={CONFIG_KEY: [{"repository": "acme/service-a"},
                                                  {"repository": "acme/service-b",
                                                   "subjects": ["repo:acme/service-b:environment:ci"]}]})


def test_the_program_declares_one_read_only_role_trusting_exactly_those_subjects(with_readers):
    role = with_readers.one("aws:iam/role:Role", "publishers-ci-reader")
    assert role.inputs["name"] == "gh-pypi-reader" and role.inputs["maxSessionDuration"] == 3600
    trust = json.loads(role.inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Federated": GITHUB_OIDC_PROVIDER}
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": ["repo:acme/service-a:pull_request",
                                                    "repo:acme/service-a:ref:refs/heads/main",
                                                    "repo:acme/service-b:environment:ci"],
    }}
    policy = with_readers.one("aws:iam/rolePolicy:RolePolicy", "publishers-ci-reader-read")
    assert json.loads(policy.inputs["policy"]) == reader_identity_policy(with_readers.settings)
    assert with_readers.outputs["githubReaderRoleArn"] == READER_ROLE
    for subject, expected in [("repo:acme/service-a:pull_request", True), ("repo:acme/service-b:pull_request", False),
                              ("repo:acme/service-c:ref:refs/heads/main", False)]:
        assert web_identity_may_assume(trust, GITHUB_OIDC_PROVIDER, github_claims(subject), READER_ROLE) is expected


def test_without_readers_there_is_no_reader_role_and_no_output(prod):
    assert not [r for r in prod.resources if r.name == "publishers-ci-reader"]
    assert "githubReaderRoleArn" not in prod.outputs


def test_readers_alone_still_get_the_oidc_provider():
    rendering = render("prod", overrides={"pypi-registry:publishers": [], CONFIG_KEY: [{"repository": "acme/a"}],
                                          "pypi-registry:createGithubOidcProvider": True})
    assert rendering.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")


def test_the_reader_reads_both_repositories_and_nothing_more_and_the_stack_passes_the_pack(with_readers):
    report = access_report(with_readers)
    (row,) = [cells for subject, cells in report.rows if subject.label == "GitHub CI reader gh-pypi-reader"]
    columns = dict(zip(report.plan.columns, row, strict=True))
    assert columns["read internal"] and columns["read pypi-store"]
    assert not any(value for name, value in columns.items() if not name.startswith("read "))
    assert not access_section(with_readers).failed
    assert [v for v in rendering_violations(with_readers) if v.mandatory] == []


def _with_policy(rendering: Rendering, document: dict) -> Rendering:
    def changed(resource: RecordedResource) -> RecordedResource:
        text = json.dumps(document)
        return replace(resource, inputs={**resource.inputs, "policy": text},
                       outputs={**resource.outputs, "policy": text})
    return replace(rendering, resources=[changed(r) if r.name == "publishers-ci-reader-read" else r
                                         for r in rendering.resources])


def test_a_reader_role_trusting_pull_requests_that_may_publish_fails_the_pack_and_the_proof(with_readers):
    document = reader_identity_policy(with_readers.settings)
    document["Statement"].append({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                                  "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-core"})
    tampered = _with_policy(with_readers, document)
    found = [v for v in rendering_violations(tampered) if v.policy == "github-roles-publish-only-own-packages"]
    assert found and all(v.mandatory for v in found)
    assert any("trusts pull_request subjects" in v.message and "PublishPackageVersion" in v.message for v in found)
    section = access_section(tampered)
    assert section.failed and "VIOLATION: GitHub CI reader" in section.text


def test_the_audit_warns_for_a_github_trust_in_the_classic_form_only():
    prod = render("prod")
    warnings = [line for line in access_section(prod).text.splitlines() if line.startswith("WARNING: ")]
    # acme/data-tools lists its immutable subject too; acme/acme-core only the classic one.
    assert [w.split(" trusts ")[0] for w in warnings] == ["WARNING: role gh-publish-acme-acme-core"]
    assert not access_section(prod).failed  # shown, not failed
    with_ids = render("prod", overrides={"pypi-registry:publishers": [
        {"repository": "acme/acme-core", "packages": ["acme-core"], "ownerId": "1342004", "repositoryId": "1"}]})
    assert not [line for line in access_section(with_ids).text.splitlines() if line.startswith("WARNING: ")]


# --- at organization size: many roles, each trust policy within IAM's limit ---------------------------------

ORGANIZATION = 1000


def organization_readers(count: int, *, ids: bool) -> list[dict]:
    """`count` repositories of one organization, in the immutable form (longer subjects) or the classic one."""
    return [{"repository": f"acme/service-{i:04d}", **({"ownerId": "1342004", "repositoryId": str(700000000 + i)}
                                                      if ids else {})} for i in range(count)]


def trust_size(settings, role) -> int:
    return len(to_json(github_reader_trust_policy(settings, role)))


@pytest.mark.parametrize("ids", [False, True], ids=["classic", "immutable"])
def test_a_thousand_repositories_fill_reader_roles_each_trust_policy_within_the_limit(ids):
    settings = settings_with(organization_readers(ORGANIZATION, ids=ids))
    roles = settings.github_reader_roles
    assert all(trust_size(settings, role) <= TRUST_POLICY_LIMIT for role in roles)
    # Filled: no role could have taken the next repository in.
    for role, following in itertools.pairwise(roles):
        fuller = replace(role, readers=(*role.readers, following.readers[0]))
        assert trust_size(settings, fuller) > TRUST_POLICY_LIMIT
    assert [role.name for role in roles[:3]] == ["gh-pypi-reader", "gh-pypi-reader-2", "gh-pypi-reader-3"]
    assert [r.repository for role in roles for r in role.readers] == [r.repository for r in settings.github_readers]
    # Two subjects take 83 characters per repository in the classic form, 119 in the immutable one, next to the
    # 388 the rest of the policy takes: 20 or 14 repositories per role, 50 or 72 roles (far below the 200 allowed).
    per_role = 14 if ids else 20
    assert {len(role.readers) for role in roles[:-1]} == {per_role}
    assert len(roles) == -(-ORGANIZATION // per_role)


def test_appending_repositories_moves_none_of_the_earlier_ones():
    before = settings_with(organization_readers(300, ids=True)).reader_role_arns_by_repository["github"]
    after = settings_with(organization_readers(ORGANIZATION, ids=True)).reader_role_arns_by_repository["github"]
    assert {repository: after[repository] for repository in before} == before
    assert len(set(after.values())) > len(set(before.values()))


def test_more_reader_roles_than_allowed_are_refused_naming_the_key():
    # Each repository's subjects fill most of a trust policy, so each needs a role of its own.
    readers = [{"repository": f"acme/s{i}", "subjects": [f"repo:acme/s{i}:ref:refs/tags/v{t}" for t in range(40)]}
               for i in range(READER_ROLES_MAX + 1)]
    with pytest.raises(ConfigError, match=r"githubReaders: 201 repositories would need 201 reader roles, more than "
                                          r"200"):
        settings_with(readers)
    assert len(settings_with(readers[:-1]).github_reader_roles) == READER_ROLES_MAX


@pytest.fixture(scope="module")
def organization() -> Rendering:
    return render("prod", overrides={CONFIG_KEY: organization_readers(ORGANIZATION, ids=True)})


def test_at_a_thousand_repositories_each_maps_to_the_one_role_that_trusts_it(organization):
    roles = {role.inputs["name"]: json.loads(role.inputs["assumeRolePolicy"])
             for role in organization.of_type("aws:iam/role:Role") if role.inputs["name"].startswith("gh-pypi-reader")}
    assert len(roles) == len(organization.settings.github_reader_roles)
    assert all(len(to_json(trust)) <= TRUST_POLICY_LIMIT for trust in roles.values())
    mapping = organization.outputs["githubReaderRoleArns"]
    assert len(mapping) == ORGANIZATION and organization.outputs["githubReaderRoleArn"] == READER_ROLE
    for reader in organization.settings.github_readers[::37]:  # a sample through every role; each check is a proof
        for subject in reader.subjects:
            trusting = {name for name, trust in roles.items()
                        if web_identity_may_assume(trust, GITHUB_OIDC_PROVIDER, github_claims(subject),
                                                   f"arn:aws:iam::{OWNER}:role/{name}")}
            assert {f"arn:aws:iam::{OWNER}:role/{name}" for name in trusting} == {mapping[reader.repository]}
    # Every repository's subjects are listed in exactly one trust policy.
    listed = [s for trust in roles.values() for s in trust["Statement"][0]["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"]]
    assert sorted(listed) == sorted(s for r in organization.settings.github_readers for s in r.subjects)


def test_at_a_thousand_repositories_the_pack_and_the_access_proof_pass_and_every_role_only_reads(organization):
    assert [v for v in rendering_violations(organization) if v.mandatory] == []
    section = access_section(organization)
    assert not section.failed
    report = access_report(organization)
    rows = [(subject, cells) for subject, cells in report.rows if subject.kind == "GitHub CI reader"]
    assert len(rows) == len(organization.settings.github_reader_roles)
    for _, cells in rows:
        columns = dict(zip(report.plan.columns, cells, strict=True))
        assert columns["read internal"] and columns["read pypi-store"]
        assert not any(value for name, value in columns.items() if not name.startswith("read "))


def test_a_later_reader_role_that_may_publish_fails_the_pack_and_the_proof(organization):
    document = reader_identity_policy(organization.settings)
    document["Statement"].append({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                                  "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-core"})
    text = json.dumps(document)
    tampered = replace(organization, resources=[
        replace(r, inputs={**r.inputs, "policy": text}, outputs={**r.outputs, "policy": text})
        if r.name == "publishers-ci-reader-7-read" else r for r in organization.resources])
    found = [v for v in rendering_violations(tampered) if v.policy == "github-roles-publish-only-own-packages"]
    assert found and all(v.mandatory and "publishers-ci-reader-7" in v.message for v in found)
    section = access_section(tampered)
    assert section.failed and "VIOLATION: GitHub CI reader gh-pypi-reader-7" in section.text
