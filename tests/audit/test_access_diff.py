"""The access diff (`python -m audit --diff-against REF`): both engines on the real prod stack.

Each widening kind (a new action, a wider resource, a dropped condition, a new principal) is made
in a copy of the prod rendering, and both engines must catch it: principalmapper through the
access decisions and trust entries, Z3 through the policy document that changed. Both must stay
quiet on a change that only reorders statements or reformats JSON. The last tests run the command
itself against a commit of a copy of this repository.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from audit import diff, smt
from audit.diff import decisions
from audit.render import Rendering, render
from policies import iam_actions
from tests.expected import DOMAIN_ARN, INTERNAL_PACKAGES, OWNER

ROOT = Path(__file__).resolve().parents[2]
NEW_ACCOUNT = "222233334444"
STRANGER = "999988887777"
PUBLISHER = f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core"
ADMIN_444 = "arn:aws:iam::444455556666:role/administrator"
SUB = "token.actions.githubusercontent.com:sub"
AUD = "token.actions.githubusercontent.com:aud"


def changed(rendering: Rendering, name: str, key: str, change: Callable[[dict], object],
            dump: Callable[[dict], str] = json.dumps) -> Rendering:
    """The rendering with one resource's JSON policy input changed (the shared one is left alone)."""
    resources = []
    for resource in rendering.resources:
        if resource.name == name:
            document = json.loads(resource.inputs[key])
            change(document)
            resource = dataclasses.replace(resource, inputs={**resource.inputs, key: dump(document)})
        resources.append(resource)
    assert resources != rendering.resources or name == "", f"no resource {name}"
    return dataclasses.replace(rendering, resources=resources)


def statement(document: dict, sid: str) -> dict:
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return found


def add_publish_to_secondaries(document: dict) -> None:
    statement(document, "SecondaryAccountsRead")["Action"].append("codeartifact:PublishPackageVersion")


def widen_publisher_resource(document: dict) -> None:
    statement(document, "PublishOwnPackages")["Resource"] = f"{INTERNAL_PACKAGES}/pypi//*"


def drop_subject(document: dict) -> None:
    for s in document["Statement"]:
        s["Condition"]["StringEquals"].pop(SUB)


def add_subject(document: dict) -> None:
    for s in document["Statement"]:
        s["Condition"]["StringEquals"][SUB] = [s["Condition"]["StringEquals"][SUB],
                                               "repo:acme/other:environment:pypi"]


def drop_deletes_deny(document: dict) -> None:
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "DenyIrreversibleDeletes"]


def reverse_statements(document: dict) -> None:
    document["Statement"].reverse()


def add_stranger(document: dict) -> None:
    statement(document, "SecondaryAccountsRead")["Principal"]["AWS"].append(f"arn:aws:iam::{STRANGER}:root")


def drop_organization(document: dict) -> None:
    for s in document["Statement"]:
        s.pop("Condition", None) if s["Effect"] == "Allow" else None


READER_444 = "reader-444455556666-reader-role"
GITHUB = f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"
WORKFLOW_REF = "token.actions.githubusercontent.com:job_workflow_ref"
ORGANIZATION = "o-abcdef1234"


def subject_like(document: dict) -> None:
    for s in document["Statement"]:
        s["Condition"]["StringLike"] = {SUB: "repo:acme/acme-core:*"}
        s["Condition"]["StringEquals"].pop(SUB)


def trust_organization(document: dict) -> None:
    document["Statement"][0]["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": ORGANIZATION}}


def pin_workflow(document: dict) -> None:
    document["Statement"][0]["Condition"]["StringEquals"][WORKFLOW_REF] = \
        "acme/workflows/.github/workflows/publish.yml@refs/heads/main"


def any_workflow_ref(document: dict) -> None:
    conditions = document["Statement"][0]["Condition"]
    conditions["StringLike"] = {WORKFLOW_REF: "acme/workflows/.github/workflows/publish.yml@*"}
    conditions["StringEquals"].pop(WORKFLOW_REF)


def drop_immutable_subject(document: dict) -> None:
    conditions = document["Statement"][0]["Condition"]["StringEquals"]
    conditions[SUB] = [s for s in conditions[SUB] if "@" not in s]


def deny_pull_requests(document: dict) -> None:
    document["Statement"].append({"Sid": "NoPullRequests", "Effect": "Deny", "Principal": {"Federated": GITHUB},
                                  "Action": "sts:AssumeRoleWithWebIdentity",
                                  "Condition": {"StringLike": {SUB: "repo:*:pull_request"}}})


def deny_every_token(document: dict) -> None:
    statement(document, "NoPullRequests").pop("Condition")


def deny_deletes_to_all_but_the_owner(document: dict) -> None:
    deny = statement(document, "DenyIrreversibleDeletes")
    del deny["Principal"]
    deny["NotPrincipal"] = {"AWS": f"arn:aws:iam::{OWNER}:root"}


def trust_all_but_the_account(document: dict) -> None:
    document["Statement"][0]["NotPrincipal"] = document["Statement"][0].pop("Principal")


def deny_every(document: dict, pattern: str) -> None:
    document["Statement"].append({"Sid": "DenyEveryDelete", "Effect": "Deny", "Principal": "*", "Action": pattern,
                                  "Resource": "*"})


def with_repository(rendering: Rendering, name: str) -> Rendering:
    """The rendering with one more repository, a copy of `internal` without upstreams whose policy
    also lets the secondary accounts publish: every check on it is one the base never made."""
    added = []
    for resource in rendering.resources:
        if resource.name not in ("registry-internal", "registry-internal-policy"):
            continue
        inputs = {k: v for k, v in resource.inputs.items() if k != "upstreams"}
        outputs = {k: v for k, v in resource.outputs.items() if k != "upstreams"}
        inputs["repository"] = outputs["repository"] = name
        if "arn" in outputs:
            outputs["arn"] = outputs["arn"].replace("/internal", f"/{name}")
        if "policyDocument" in inputs:
            policy = json.loads(inputs["policyDocument"])
            read = statement(policy, "SecondaryAccountsRead")
            read["Resource"] = [r.replace("/internal", f"/{name}") for r in read["Resource"]]
            read["Action"].append("codeartifact:PublishPackageVersion")
            inputs["policyDocument"] = outputs["policyDocument"] = json.dumps(policy)
        renamed = resource.name.replace("internal", name)
        added.append(dataclasses.replace(resource, urn=resource.urn.replace(resource.name, renamed), name=renamed,
                                         inputs=inputs, outputs=outputs))
    assert len(added) == 2
    return dataclasses.replace(rendering, resources=[*rendering.resources, *added])


READ_ONLY_MANAGED = "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccess"
UNRESOLVED_POLICIES = {
    "undeclared policy": f"arn:aws:iam::{OWNER}:policy/undeclared",
    "unknown AWS-managed policy": "arn:aws:iam::aws:policy/AWSCodeArtifactReadOnlyAccessV2",
    "policy of another account": "arn:aws:iam::012345678901:policy/codeartifact-pypi-reader-acme",
}


def attached(rendering: Rendering, policy_arn: str) -> Rendering:
    """The rendering with `policy_arn` attached to the acme-core publisher (an attachment like a reader's)."""
    (template,) = [r for r in rendering.resources if r.name == "reader-444455556666-read-policy-attachment"]
    name = "publishers-acme-acme-core-extra"
    arguments = {"policyArn": policy_arn, "role": PUBLISHER.rsplit("/", 1)[1]}
    extra = dataclasses.replace(template, urn=template.urn.replace(template.name, name), name=name, account=OWNER,
                                inputs=arguments, outputs=dict(arguments))
    return dataclasses.replace(rendering, resources=[*rendering.resources, extra])


@cache
def base(mode: str = "explicit") -> dict:
    overrides = {"pypi-registry:organizationId": "o-abcdef1234"} if mode == "organization" else None
    return diff.rendering_json(render("prod", overrides=overrides))


@cache
def scenario(name: str) -> diff.DiffReport:
    """The diff from the prod stack (or the stack `name` starts from) to the stack changed as `name` says."""
    prod = render("prod")
    mode = "explicit"
    old: Rendering | None = None  # the prod stack unless the scenario starts elsewhere
    if name == "new action":
        new = changed(prod, "registry-internal-policy", "policyDocument", add_publish_to_secondaries)
    elif name == "wider resource":
        new = changed(prod, "publishers-acme-acme-core-publish", "policy", widen_publisher_resource)
    elif name == "dropped condition":
        new = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", drop_subject)
    elif name == "dropped condition (organization)":
        mode = "organization"
        organization = render("prod", overrides={"pypi-registry:organizationId": "o-abcdef1234"})
        new = changed(organization, "registry-domain-policy", "policyDocument", drop_organization)
    elif name == "dropped deny":
        new = changed(prod, "registry-domain-policy", "policyDocument", drop_deletes_deny)
    elif name == "new principal":
        accounts = ["012345678901", "444455556666", "777788889999", NEW_ACCOUNT]
        new = render("prod", overrides={"pypi-registry:secondaryAccountIds": accounts})
    elif name == "new principal (trust)":
        new = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", add_subject)
    elif name == "reordered statements":
        new = changed(prod, "registry-domain-policy", "policyDocument", reverse_statements)
        new = changed(new, "registry-key", "policy", reverse_statements)
    elif name == "reformatted JSON":
        new = changed(prod, "registry-internal-policy", "policyDocument", lambda d: d,
                      dump=lambda d: json.dumps(dict(reversed(d.items())), indent=4))
    elif name == "principal added by hand":
        new = changed(prod, "registry-internal-policy", "policyDocument", add_stranger)
    elif name == "package added to a publisher":
        publishers = [{"repository": "acme/acme-core", "packages": ["acme-core", "acme-core-testing", "acme-extra"]},
                      {"repository": "acme/data-tools", "packages": ["acme-data-tools"],
                       "subjects": ["repo:acme/data-tools:environment:pypi",
                                    "repo:acme@1342004/data-tools@86712231:environment:pypi"]}]
        new = render("prod", overrides={"pypi-registry:publishers": publishers})
    elif name == "subject loosened to a pattern":
        new = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", subject_like)
    elif name == "organization dropped from a trust":
        old = changed(prod, READER_444, "assumeRolePolicy", trust_organization)
        new = prod
    elif name == "organization added to a trust":
        new = changed(prod, READER_444, "assumeRolePolicy", trust_organization)
    elif name == "third claim loosened":
        old = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", pin_workflow)
        new = changed(old, "publishers-acme-acme-core", "assumeRolePolicy", any_workflow_ref)
    elif name == "subject removed":
        new = changed(prod, "publishers-acme-data-tools", "assumeRolePolicy", drop_immutable_subject)
    elif name == "trust deny dropped":
        old = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", deny_pull_requests)
        new = prod
    elif name == "trust deny widened":
        old = changed(prod, "publishers-acme-acme-core", "assumeRolePolicy", deny_pull_requests)
        new = changed(old, "publishers-acme-acme-core", "assumeRolePolicy", deny_every_token)
    elif name == "new repository":
        new = with_repository(prod, "staging")
    elif name == "NotPrincipal (resource)":
        new = changed(prod, "registry-domain-policy", "policyDocument", deny_deletes_to_all_but_the_owner)
    elif name == "NotPrincipal (trust)":
        new = changed(prod, READER_444, "assumeRolePolicy", trust_all_but_the_account)
    elif name.startswith("Deny of ") and name.endswith(" dropped"):
        pattern = name.removeprefix("Deny of ").removesuffix(" dropped")
        old = changed(prod, "registry-domain-policy", "policyDocument", lambda d: deny_every(d, pattern))
        new = prod
    elif name.startswith("attached "):
        old = attached(prod, READ_ONLY_MANAGED)
        new = attached(prod, UNRESOLVED_POLICIES[name.removeprefix("attached ")])
    else:
        raise AssertionError(name)
    before = base(mode) if old is None else diff.rendering_json(old)
    return diff.compare_renderings(before, diff.rendering_json(new), base_ref="base", base_commit="0" * 40)


def document(report: diff.DiffReport, name: str) -> diff.DocumentChange:
    (found,) = [d for d in report.documents if d.policy.name == name]
    return found


def gained(report: diff.DiffReport, label: str) -> list[str]:
    (change,) = [c for c in report.access.principals if c.label == label]
    return diff.group_lines(change.gained, "+")


# --- each widening kind, caught by each engine ---------------------------------------------------

WIDENING_KINDS = ["new action", "wider resource", "dropped condition", "dropped condition (organization)",
                  "dropped deny", "new principal", "new principal (trust)"]


@pytest.mark.parametrize("kind", WIDENING_KINDS)
def test_principalmapper_catches_the_widening(kind):
    report = scenario(kind)
    assert report.access.grants_more and report.access.widening, report.text()
    assert report.agree and report.exit_status == diff.EXIT_FAILED
    assert dataclasses.replace(report, accepted=True).exit_status == diff.EXIT_CLEAN


@pytest.mark.parametrize("kind", WIDENING_KINDS)
def test_z3_catches_the_widening(kind):
    report = scenario(kind)
    wider = [d for d in report.documents if d.comparison.wider]
    assert wider and report.z3_grants_more, report.text()
    assert all(d.comparison.example is not None for d in wider)


def test_a_new_action_reads_as_the_grant_on_each_package_for_each_secondary_admin():
    report = scenario("new action")
    assert gained(report, "admin in 444455556666") == [
        "+PublishPackageVersion on internal, internal/acme-core, internal/acme-core-testing, internal/acme-data-tools, "
        "internal/acme-unclaimed, internal/acmecorp-unclaimed, internal/requests"]
    # The readers' own identity policies still allow no publishing: they gain nothing.
    assert not [c for c in report.access.principals if c.label.startswith("reader ")]
    example = document(report, "registry-internal-policy").comparison.example
    assert example.action == "codeartifact:PublishPackageVersion" and example.account in (
        "012345678901", "444455556666", "777788889999")


def test_a_wider_resource_shows_the_packages_the_publisher_now_reaches():
    report = scenario("wider resource")
    lines = gained(report, "publisher acme/acme-core")
    assert any(line.startswith("+PublishPackageVersion") and "internal/acme-data-tools" in line for line in lines)
    assert any(w.text.startswith("publisher acme/acme-core: +PublishPackageVersion") for w in report.widening)
    example = document(report, "publishers-acme-acme-core-publish").comparison.example
    assert example.principal == PUBLISHER and example.resource.startswith(f"{INTERNAL_PACKAGES}/pypi//")
    own = (f"{INTERNAL_PACKAGES}/pypi//acme-core", f"{INTERNAL_PACKAGES}/pypi//acme-core-testing")
    assert example.resource not in own


def test_a_dropped_subject_lets_any_github_repository_assume_the_publisher():
    report = scenario("dropped condition")
    (trust,) = report.access.trust
    assert trust.wider and diff.PROBE_SUBJECT in trust.example
    example = document(report, "publishers-acme-acme-core").comparison.example
    assert example.principal_type == "Federated" and example.context[SUB] != ("repo:acme/acme-core:environment:pypi",)


def test_a_dropped_organization_condition_opens_the_registry_to_an_outsider():
    report = scenario("dropped condition (organization)")
    assert "999999999999" in report.access.new_accounts
    assert any(c.label.startswith("outsider") and c.gained for c in report.access.principals)
    example = document(report, "registry-domain-policy").comparison.example
    assert example.context.get("aws:principalorgid") != ("o-abcdef1234",)


def test_a_dropped_deny_lets_the_owner_admin_delete():
    report = scenario("dropped deny")
    assert any("DeleteDomain" in line for line in gained(report, f"admin in {OWNER} (owner)"))
    comparison = document(report, "registry-domain-policy").comparison
    assert comparison.wider and not comparison.read_only
    assert comparison.example.action in ("codeartifact:DeleteDomain", "codeartifact:DeleteRepository",
                                         "codeartifact:DeletePackage", "codeartifact:DeletePackageVersions",
                                         "codeartifact:DisposePackageVersions")


def test_a_new_github_subject_is_a_newly_trusted_principal():
    report = scenario("new principal (trust)")
    (trust,) = report.access.trust
    assert trust.wider and "repo:acme/other:environment:pypi" in trust.example
    example = document(report, "publishers-acme-acme-core").comparison.example
    assert example.context[SUB] == ("repo:acme/other:environment:pypi",)


def test_adding_a_secondary_account_shows_exactly_that_accounts_read_grants():
    report = scenario("new principal")
    assert {(c.label, c.status) for c in report.access.principals} == {
        (f"reader {NEW_ACCOUNT}", "added"), (f"admin in {NEW_ACCOUNT}", "added")}
    for change in report.access.principals:
        assert change.gained and all(diff.is_read_only(action) for action, _ in change.gained), change.gained
        assert {(a, r) for a, r in change.gained if r == DOMAIN_ARN} >= {("codeartifact:GetAuthorizationToken",
                                                                         DOMAIN_ARN)}
    assert report.access.new_accounts == [NEW_ACCOUNT]
    assert {w.kind for w in report.access.widening} == {"new account", "new principal"}
    assert not report.access.trust
    for change in report.documents:
        example = change.comparison.example
        assert change.comparison.wider and example is not None
        if change.policy.kind == "resource":
            assert change.comparison.read_only and example.account == NEW_ACCOUNT, change.text()
    assert {d.status for d in report.documents if d.policy.kind in ("trust", "identity", "managed")} == {"added"}


def flagged_by_both(report: diff.DiffReport) -> None:
    """Both engines see access gained, agree, and the diff fails on widening of its own."""
    assert report.access.grants_more and report.access.widening, report.text()
    assert any(d.widening for d in report.documents), report.text()
    assert report.agree and report.exit_status == diff.EXIT_FAILED, report.text()


def quiet(report: diff.DiffReport) -> None:
    """Neither engine sees anything gained, so the diff passes."""
    assert not report.access.grants_more and not report.z3_grants_more, report.text()
    assert report.agree and not report.widening and report.exit_status == diff.EXIT_CLEAN, report.text()


# --- trust: a principal already trusted, on looser terms ------------------------------------------


def test_a_subject_loosened_to_a_pattern_lets_another_workflow_of_the_repository_in():
    report = scenario("subject loosened to a pattern")
    flagged_by_both(report)
    (trust,) = report.access.trust
    assert trust.wider and "sub=repo:acme/acme-core:" in trust.example
    assert "sub=repo:acme/acme-core:environment:pypi," not in trust.example  # that one was allowed before
    example = document(report, "publishers-acme-acme-core").comparison.example
    assert example.context[SUB][0].startswith("repo:acme/acme-core:")
    assert example.context[SUB] != ("repo:acme/acme-core:environment:pypi",)


def test_a_dropped_organization_condition_lets_the_whole_account_assume_the_reader():
    report = scenario("organization dropped from a trust")
    flagged_by_both(report)
    (trust,) = report.access.trust
    assert trust.label == "reader 444455556666" and trust.wider
    assert trust.example == ("AWS arn:aws:iam::444455556666:root (before: AWS arn:aws:iam::444455556666:root if "
                             f"StringEquals aws:PrincipalOrgID={ORGANIZATION})")
    example = document(report, READER_444).comparison.example
    assert example.account == "444455556666" and example.context.get("aws:principalorgid") != (ORGANIZATION,)


def test_a_condition_on_a_claim_the_probes_did_not_carry_is_probed_too():
    report = scenario("third claim loosened")
    flagged_by_both(report)
    (trust,) = report.access.trust
    assert "job_workflow_ref=" in trust.example and "@refs/heads/main" not in trust.example, trust.example


@pytest.mark.parametrize("kind", ["organization added to a trust", "subject removed", "trust deny widened"])
def test_a_trust_that_only_narrows_is_not_widening(kind):
    report = scenario(kind)
    quiet(report)
    (trust,) = report.access.trust  # listed, as a change
    assert not trust.wider and trust.example == ""


def test_more_combinations_of_claims_than_are_probed_count_as_a_token_let_in(monkeypatch):
    def trust(*subjects: str) -> dict:
        return {"Statement": [{"Effect": "Allow", "Principal": {"Federated": GITHUB},
                               "Action": "sts:AssumeRoleWithWebIdentity",
                               "Condition": {"StringEquals": {SUB: list(subjects), AUD: "sts.amazonaws.com"}}}]}

    old = trust("repo:acme/a:environment:pypi", "repo:acme/b:environment:pypi")
    new = trust("repo:acme/a:environment:pypi")
    assert decisions._newly_assumable(old, new, GITHUB, PUBLISHER) is None  # 4 subjects x 3 audiences, one removed
    assert decisions._newly_assumable(new, old, GITHUB, PUBLISHER) == \
        "sub=repo:acme/b:environment:pypi, aud=sts.amazonaws.com"
    monkeypatch.setattr(decisions, "MAX_PROBES", 11)
    assert decisions._newly_assumable(old, new, GITHUB, PUBLISHER) == (
        "any of 12 combinations of claims (more than the 11 probed one by one)")


def test_a_dropped_trust_deny_lets_the_tokens_it_stopped_in():
    report = scenario("trust deny dropped")
    flagged_by_both(report)
    (trust,) = report.access.trust
    assert trust.wider and trust.added == [] and trust.removed == [
        f"denied: Federated {GITHUB} if StringLike {SUB}=repo:*:pull_request"]
    assert trust.example.startswith("a Deny of assuming the role was dropped")
    comparison = document(report, "publishers-acme-acme-core").comparison
    assert comparison.how == "no longer denies" and comparison.example.context[SUB][0].endswith(":pull_request")


# --- a resource the base never checked ------------------------------------------------------------


def test_an_allow_on_a_resource_the_base_never_checked_is_widening():
    report = scenario("new repository")
    flagged_by_both(report)
    assert not report.origin  # no upstream: only access widens
    for account in ("012345678901", "444455556666", "777788889999"):
        assert any(w.kind == "allowed" and w.text.startswith(f"admin in {account}: +PublishPackageVersion")
                   and "staging" in w.text for w in report.widening), report.text()
    assert document(report, "registry-staging-policy").status == "added"


# --- the second engine reads what the first reads -------------------------------------------------


def test_not_principal_in_a_resource_policy():
    report = scenario("NotPrincipal (resource)")
    flagged_by_both(report)
    assert any("DeleteDomain" in line for line in gained(report, f"admin in {OWNER} (owner)"))
    assert not [c for c in report.access.principals if c.label.startswith("admin in") and OWNER not in c.label]
    comparison = document(report, "registry-domain-policy").comparison
    assert comparison.how == "no longer denies" and comparison.example.account == OWNER


def test_not_principal_in_a_trust_policy():
    report = scenario("NotPrincipal (trust)")
    flagged_by_both(report)
    (trust,) = report.access.trust
    assert trust.wider and trust.example == "NotPrincipal AWS arn:aws:iam::444455556666:root"
    example = document(report, READER_444).comparison.example
    assert example.principal_type == "AWS" and example.account not in ("", "444455556666")


@pytest.mark.parametrize("pattern", ["code*:Delete*", "*:Delete*", "CodeArtifact:delete*"])
def test_a_wildcard_in_the_service_part_of_an_action_matches_codeartifact(pattern):
    report = scenario(f"Deny of {pattern} dropped")
    flagged_by_both(report)
    lines = gained(report, "role pypi-registry-ci-deploy in 111122223333")
    assert any("DeletePackageGroup" in line for line in lines), lines
    comparison = document(report, "registry-domain-policy").comparison
    assert comparison.how == "no longer denies" and comparison.example.action.startswith("codeartifact:Delete")


@pytest.mark.parametrize("unresolved", sorted(UNRESOLVED_POLICIES))
def test_an_attached_policy_that_cannot_be_resolved_allows_everything(unresolved):
    report = scenario(f"attached {unresolved}")
    flagged_by_both(report)
    assert any(line.startswith("+") and "PublishPackageVersion" in line
               for line in gained(report, "publisher acme/acme-core"))
    change = document(report, "publishers-acme-acme-core-extra")
    assert change.widening and change.comparison.how == diff.UNREADABLE
    text = change.text()
    assert f"{UNRESOLVED_POLICIES[unresolved]} " in text and text.endswith("taken to allow everything")


def test_an_attached_policy_of_the_table_or_declared_in_the_roles_own_account_is_read():
    resources = diff.rendering_json(attached(render("prod"), READ_ONLY_MANAGED))["resources"]
    attachments = [p for p in diff.policy_inputs(resources).values() if p.type.endswith("RolePolicyAttachment")]
    assert len(attachments) == 4  # three readers' own policies, and the AWS-managed one
    assert all(p.bound.unreadable is None and p.bound.document["Statement"] for p in attachments)


# --- both quiet ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["reordered statements", "reformatted JSON"])
def test_both_engines_stay_quiet_on_a_change_that_says_the_same(kind):
    report = scenario(kind)
    assert not report.access.principals and not report.access.trust and not report.access.new_accounts
    assert not any(d.comparison.wider for d in report.documents)
    assert report.agree and not report.widening and report.exit_status == diff.EXIT_CLEAN


def test_a_reformatted_document_is_not_even_a_changed_one_and_a_reordered_one_is():
    assert scenario("reformatted JSON").documents == []
    assert {d.policy.name for d in scenario("reordered statements").documents} == {"registry-domain-policy",
                                                                                 "registry-key"}


def test_a_package_added_to_a_publisher_is_one_grant_not_a_new_resource_for_everyone():
    report = scenario("package added to a publisher")
    assert [(c.label, c.status) for c in report.access.principals] == [("publisher acme/acme-core", "changed")]
    assert gained(report, "publisher acme/acme-core") == [
        "+PublishPackageVersion, DescribePackageVersion, ListPackageVersionAssets, ListPackageVersions "
        "on internal/acme-extra"]


# --- disagreement --------------------------------------------------------------------------------


def test_a_principal_the_settings_do_not_name_is_seen_by_z3_only_and_the_diff_fails_even_when_accepted():
    report = scenario("principal added by hand")
    assert not report.access.grants_more
    example = document(report, "registry-internal-policy").comparison.example
    assert example.account == STRANGER
    assert not report.agree and "ENGINES DISAGREE" in report.text()
    assert dataclasses.replace(report, accepted=True).exit_status == diff.EXIT_FAILED
    assert report.as_json()["engines"] == {
        "principalmapper": {"grants_more": False}, "z3": {"grants_more": True}, "agree": False,
        "disagreement": report.disagreement}


def test_principalmapper_seeing_more_than_z3_is_a_disagreement_too():
    report = scenario("new principal")
    quiet_z3 = dataclasses.replace(report, documents=[])
    assert not quiet_z3.agree and quiet_z3.exit_status == diff.EXIT_FAILED
    assert "principalmapper finds access gained" in quiet_z3.disagreement


# --- the report ----------------------------------------------------------------------------------


def test_the_text_groups_changes_per_principal_and_marks_widening():
    text = scenario("new action").text()
    assert "WIDENING" in text
    assert "  ! admin in 444455556666: +PublishPackageVersion on internal, internal/acme-core" in text
    markdown = scenario("new action").markdown()
    assert markdown.startswith("### Access diff") and "#### Widening" in markdown
    assert "- admin in 444455556666: +PublishPackageVersion on internal, internal/acme-core" in markdown


def test_the_json_is_the_same_diff_as_data():
    document_ = json.loads(json.dumps(scenario("wider resource").as_json()))
    assert document_["exit_status"] == diff.EXIT_FAILED and document_["engines"]["agree"] is True
    (publisher,) = [p for p in document_["principals"] if p["label"] == "publisher acme/acme-core"]
    assert {"action": "codeartifact:PublishPackageVersion", "resource": f"{INTERNAL_PACKAGES}/pypi//acme-data-tools",
            "read_only": False} in publisher["gained"]
    (changed_document,) = document_["documents"]
    assert changed_document["wider"] and changed_document["example"]["principal"] == PUBLISHER


def test_short_resource_names():
    assert diff.short_resource(DOMAIN_ARN) == "domain acme"
    assert diff.short_resource(f"{INTERNAL_PACKAGES}/pypi//acme-core") == "internal/acme-core"
    assert diff.short_resource(DOMAIN_ARN.replace(":domain/acme", ":repository/acme/internal")) == "internal"
    assert diff.short_resource("*") == "*"


# --- the command, on a commit of a copy of this repository ----------------------------------------


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """A git repository holding this working tree as one commit."""
    root = tmp_path_factory.mktemp("repository")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not name.startswith(".venv/"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    git(root, "init", "--quiet")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "--message", "base")
    return root


def git(root: Path, *args: str) -> str:
    environment = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                   "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True,
                          env=environment).stdout


def audit(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audit", "--stack", "prod", *args], cwd=root, capture_output=True,
                          text=True, check=False, timeout=300)


def test_the_command_diffs_a_config_change_against_the_commit_without_touching_the_working_tree(repository):
    stack_file = repository / "Pulumi.prod.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace('    - "777788889999"   # ml training\n',
                                           f'    - "777788889999"   # ml training\n    - "{NEW_ACCOUNT}"\n'))
    try:
        status_before = git(repository, "status", "--porcelain")
        markdown = repository / "access-diff.md"
        result = audit(repository, "--diff-against", "HEAD", "--json", "--markdown", str(markdown))
        assert result.returncode == diff.EXIT_FAILED, result.stderr
        report = json.loads(result.stdout)
        assert {p["label"] for p in report["principals"]} == {f"reader {NEW_ACCOUNT}", f"admin in {NEW_ACCOUNT}"}
        assert report["new_accounts"] == [NEW_ACCOUNT] and report["engines"]["agree"] is True
        assert report["base"]["commit"] == git(repository, "rev-parse", "HEAD").strip()
        assert f"reader {NEW_ACCOUNT}" in markdown.read_text()
        # Nothing left behind: no worktree, the same status (the Markdown file aside).
        assert git(repository, "worktree", "list").count("\n") == 1
        assert git(repository, "status", "--porcelain").replace("?? access-diff.md\n", "") == status_before
        accepted = audit(repository, "--diff-against", "HEAD", "--accept-widening")
        assert accepted.returncode == diff.EXIT_CLEAN, accepted.stdout + accepted.stderr
        assert f"+ reader {NEW_ACCOUNT}" in accepted.stdout and "accepted" in accepted.stdout
    finally:
        stack_file.write_text(original)
        (repository / "access-diff.md").unlink(missing_ok=True)


def test_the_command_exits_2_for_a_ref_that_names_no_commit(repository):
    result = audit(repository, "--diff-against", "no-such-branch")
    assert result.returncode == diff.EXIT_INVALID
    assert "names no commit" in result.stderr


def test_the_command_exits_2_when_the_base_does_not_render(repository):
    stack_file = repository / "Pulumi.prod.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace('"111122223333"', '"not-an-account"', 1))
    git(repository, "commit", "--quiet", "--all", "--message", "broken")
    stack_file.write_text(original)
    try:
        result = audit(repository, "--diff-against", "HEAD")
        assert result.returncode == diff.EXIT_INVALID
        assert "does not render at HEAD" in result.stderr
    finally:
        git(repository, "reset", "--quiet", "--hard", "HEAD~1")


def test_accept_widening_and_markdown_need_diff_against():
    from audit.__main__ import main

    with pytest.raises(SystemExit) as raised:
        main(["--accept-widening"])
    assert raised.value.code == diff.EXIT_INVALID


# --- the judge: the base's audit and action table over the pull request's program -----------------


def relabel_publishing_as_a_read(table_path: Path) -> None:
    table = json.loads(table_path.read_text())
    levels = table["services"]["codeartifact"]
    levels["Write"].remove("PublishPackageVersion")
    levels["Read"].append("PublishPackageVersion")
    table_path.write_text(json.dumps(table))


@pytest.fixture
def pull_request(repository, tmp_path) -> Path:
    """A pull request's checkout of the base commit: its stack file gives a publisher one more
    package (a new publish grant), and its own action table calls publishing a Read."""
    tree = tmp_path / "pull-request"
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    stack_file = tree / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace("        - acme-core-testing\n",
                                                         "        - acme-core-testing\n        - acme-extra\n"))
    config_path = tree / "policies" / "policy-config.prod.json"
    config = json.loads(config_path.read_text())
    for properties in config.values():
        if isinstance(properties, dict) and "publisherPackages" in properties:
            properties["publisherPackages"]["acme/acme-core"].append("acme-extra")
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    relabel_publishing_as_a_read(tree / "policies" / "iam_action_levels.json")
    git(tree, "commit", "--quiet", "--all", "--message", "one more package, publishing relabelled")
    yield tree
    git(repository, "worktree", "remove", "--force", str(tree))


def test_the_pull_requests_own_table_would_wave_a_new_publish_grant_through(repository, pull_request):
    # The hole the judge closes: judged by its own audit, the pull request calls publishing a read.
    result = audit(pull_request, "--diff-against", git(repository, "rev-parse", "HEAD").strip(), "--json")
    assert result.returncode == diff.EXIT_CLEAN, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["widening"] == [] and report["new_side"] == "working tree"
    (publisher,) = [p for p in report["principals"] if p["label"] == "publisher acme/acme-core"]
    assert {"action": "codeartifact:PublishPackageVersion", "resource": f"{INTERNAL_PACKAGES}/pypi//acme-extra",
            "read_only": True} in publisher["gained"]


def test_the_base_judges_the_pull_requests_program_with_its_own_audit_and_table(repository, pull_request):
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(pull_request), "--json")
    assert result.returncode == diff.EXIT_FAILED, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["new_side"] == f"the program of {pull_request}"
    assert report["engines"]["agree"] is True and report["failed_checks"] == []  # it fails on the widening alone
    # The pull request's stack file was rendered (the new package), the base's table judged it.
    assert any(w["kind"] == "allowed" and "+PublishPackageVersion" in w["text"] and "internal/acme-extra" in w["text"]
               for w in report["widening"]), report["widening"]
    (publisher,) = [p for p in report["principals"] if p["label"] == "publisher acme/acme-core"]
    assert {"action": "codeartifact:PublishPackageVersion", "resource": f"{INTERNAL_PACKAGES}/pypi//acme-extra",
            "read_only": False} in publisher["gained"]
    # Both renderings came from worktrees that are gone again.
    assert git(repository, "worktree", "list").count("\n") == 2  # the repository and the pull request


def test_the_judge_exits_2_when_the_pull_requests_program_does_not_render(repository, pull_request):
    (pull_request / "Pulumi.prod.yaml").write_text("config:\n  pypi-registry:ownerAccountId: 42\n")
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(pull_request))
    assert result.returncode == diff.EXIT_INVALID
    assert f"does not render with the program of {pull_request}" in result.stderr


def test_the_overlay_takes_only_the_program_and_its_configuration(tmp_path):
    judge, pull = tmp_path / "judge", tmp_path / "pull-request"
    files = {"__main__.py": "judge program", "components/settings.py": "judge", "components/gone.py": "judge",
             "Pulumi.yaml": "judge", "Pulumi.prod.yaml": "judge", "Pulumi.dev.yaml": "judge",
             "policies/policy-config.prod.json": "judge", "policies/iam_action_levels.json": "judge",
             "audit/diff.py": "judge"}
    for name, text in files.items():
        (judge / name).parent.mkdir(parents=True, exist_ok=True)
        (judge / name).write_text(text)
    pulled = {"__main__.py": "pr program", "components/settings.py": "pr", "components/new.py": "pr",
              "components/__pycache__/settings.cpython-311.pyc": "pr", "Pulumi.yaml": "pr",
              "Pulumi.prod.yaml": "pr", "Pulumi.dev.yaml": "pr", "policies/policy-config.prod.json": "pr",
              "policies/iam_action_levels.json": "pr", "audit/diff.py": "pr", "z3.py": "pr shadowing a library"}
    for name, text in pulled.items():
        (pull / name).parent.mkdir(parents=True, exist_ok=True)
        (pull / name).write_text(text)
    diff.overlay_program(pull, judge, "prod")
    found = {str(p.relative_to(judge)): p.read_text() for p in judge.rglob("*") if p.is_file()}
    assert found == {"__main__.py": "pr program", "components/settings.py": "pr", "components/new.py": "pr",
                     "Pulumi.yaml": "pr", "Pulumi.prod.yaml": "pr", "Pulumi.dev.yaml": "judge",
                     "policies/policy-config.prod.json": "pr", "policies/iam_action_levels.json": "judge",
                     "audit/diff.py": "judge"}
    # A program file the pull request deletes is gone on its side too.
    (pull / "Pulumi.prod.yaml").unlink()
    diff.overlay_program(pull, judge, "prod")
    assert not (judge / "Pulumi.prod.yaml").exists()


def test_program_from_needs_diff_against():
    from audit.__main__ import main

    with pytest.raises(SystemExit) as raised:
        main(["--program-from", "."])
    assert raised.value.code == diff.EXIT_INVALID


# --- accepting a reviewed widening: a digest of exactly that widening ------------------------------


def test_the_digest_covers_the_stack_and_the_widening_not_z3s_example():
    report = scenario("new action")
    digest = report.widening_sha256
    assert len(digest) == 64 and digest == diff.widening_digest("prod", reversed(report.widening))
    assert diff.widening_digest("dev", report.widening) != digest
    assert scenario("wider resource").widening_sha256 != digest
    # Another valid counterexample for the same document does not change it.
    (change,) = [d for d in report.documents if d.widening]
    other = dataclasses.replace(change.comparison.example, principal="arn:aws:iam::012345678901:root",
                                account="012345678901")
    moved = dataclasses.replace(change, comparison=dataclasses.replace(change.comparison, example=other))
    again = dataclasses.replace(report, documents=[moved if d is change else d for d in report.documents])
    assert again.widening_sha256 == digest and again.text() != report.text()


def test_an_added_entry_with_the_digest_accepts_exactly_that_widening():
    report = scenario("new action")
    entry = diff.Acceptance(report.widening_sha256, "secondary admins publish the mirror, reviewed by platform")
    accepted = dataclasses.replace(report, acceptances=[entry])
    assert accepted.accepted_by == entry and accepted.exit_status == diff.EXIT_CLEAN
    assert "accepted by policies/accepted-widening.prod.json (secondary admins publish" in accepted.verdict
    assert accepted.as_json()["accepted_by"] == entry.as_json() and accepted.unused_acceptances == []
    # The same entry does not accept another widening, and says it matches nothing.
    other = dataclasses.replace(scenario("wider resource"), acceptances=[entry])
    assert other.accepted_by is None and other.exit_status == diff.EXIT_FAILED
    assert other.unused_acceptances == [entry] and f"Unused acceptance (matches no widening of this diff): " \
        f"{entry.sha256}" in other.text()
    # Nor does it accept a disagreement of the engines.
    stranger = scenario("principal added by hand")
    assert dataclasses.replace(stranger, acceptances=[entry]).exit_status == diff.EXIT_FAILED


def test_the_report_says_how_to_accept_the_widening():
    report = scenario("new principal")
    assert f'add {{"sha256": "{report.widening_sha256}", "reason": "why this is wanted"}} to ' \
           "policies/accepted-widening.prod.json" in report.text()
    assert report.widening_sha256 in report.markdown() and report.as_json()["widening_sha256"] == report.widening_sha256


@pytest.mark.parametrize("text", [
    "not json", "[]", '{"accepted": {}}', '{"accepted": [], "extra": 1}',
    '{"accepted": [{"sha256": "ABC", "reason": "x"}]}',
    '{"accepted": [{"sha256": "' + "a" * 64 + '", "reason": "  "}]}',
    '{"accepted": [{"sha256": "' + "a" * 64 + '", "reason": "x", "stack": "prod"}]}',
])
def test_a_malformed_acceptance_file_stops_the_diff(tmp_path, text):
    path = tmp_path / "accepted-widening.prod.json"
    path.write_text(text)
    with pytest.raises(diff.DiffError):
        diff.read_acceptances(path)


def test_only_entries_the_change_adds_can_accept(tmp_path):
    base, changed_file = tmp_path / "base.json", tmp_path / "changed.json"
    old = {"sha256": "a" * 64, "reason": "accepted last month"}
    again = {"sha256": "a" * 64, "reason": "re-added after the revert, reviewed again"}
    base.write_text(json.dumps({"accepted": [old]}))
    changed_file.write_text(json.dumps({"accepted": [old, again]}))
    assert diff.new_acceptances(base, changed_file) == [diff.Acceptance(**again)]
    assert diff.new_acceptances(tmp_path / "absent.json", changed_file) == [diff.Acceptance(**old),
                                                                             diff.Acceptance(**again)]
    assert diff.new_acceptances(base, tmp_path / "absent.json") == []


def allow_in_pack_config(tree: Path, account: str) -> None:
    path = tree / "policies" / "policy-config.prod.json"
    config = json.loads(path.read_text())
    for properties in config.values():
        if isinstance(properties, dict) and "allowedAccountIds" in properties:
            properties["allowedAccountIds"].append(account)
    path.write_text(json.dumps(config, indent=2) + "\n")


def write_acceptances(tree: Path, *entries: dict) -> None:
    (tree / diff.acceptance_path("prod")).write_text(json.dumps({"accepted": list(entries)}, indent=2) + "\n")


@pytest.fixture
def widening_pull_request(repository, tmp_path) -> Path:
    """A pull request's checkout that adds a secondary account (widening), in the stack file and in
    the pack config's allowed accounts, and nothing else."""
    tree = tmp_path / "widening-pull-request"
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    stack_file = tree / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace('    - "777788889999"   # ml training\n',
                                                         f'    - "777788889999"   # ml training\n'
                                                         f'    - "{NEW_ACCOUNT}"\n'))
    allow_in_pack_config(tree, NEW_ACCOUNT)
    yield tree
    git(repository, "worktree", "remove", "--force", str(tree))


def judged(repository: Path, pull: Path) -> tuple[int, dict]:
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(pull), "--json")
    assert result.returncode in (diff.EXIT_CLEAN, diff.EXIT_FAILED), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_the_judge_accepts_a_widening_the_pull_request_lists_and_nothing_more(repository, widening_pull_request):
    status, report = judged(repository, widening_pull_request)
    assert status == diff.EXIT_FAILED and report["accepted_by"] is None
    digest = report["widening_sha256"]
    entry = {"sha256": digest, "reason": "the ML account reads the registry (ticket OPS-42)"}
    write_acceptances(widening_pull_request, entry)
    status, report = judged(repository, widening_pull_request)
    assert status == diff.EXIT_CLEAN and report["accepted_by"] == entry and report["failed_checks"] == []
    assert report["widening_sha256"] == digest  # the same widening, the same digest, run after run
    # Any further change to the widening needs a new entry: one more account fails again.
    stack_file = widening_pull_request / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace(f'    - "{NEW_ACCOUNT}"\n',
                                                         f'    - "{NEW_ACCOUNT}"\n    - "{STRANGER}"\n'))
    allow_in_pack_config(widening_pull_request, STRANGER)
    status, report = judged(repository, widening_pull_request)
    assert status == diff.EXIT_FAILED and report["accepted_by"] is None and report["failed_checks"] == []
    assert report["unused_acceptances"] == [entry]


def test_an_entry_already_on_the_base_branch_accepts_nothing(repository, widening_pull_request):
    _, report = judged(repository, widening_pull_request)
    entry = {"sha256": report["widening_sha256"], "reason": "accepted once, long ago"}
    write_acceptances(repository, entry)
    git(repository, "commit", "--quiet", "--all", "--message", "an old acceptance")
    try:
        write_acceptances(widening_pull_request, entry)
        status, report = judged(repository, widening_pull_request)
        assert status == diff.EXIT_FAILED and report["accepted_by"] is None
    finally:
        git(repository, "reset", "--quiet", "--hard", "HEAD~1")


def test_a_malformed_acceptance_file_in_the_pull_request_exits_2(repository, widening_pull_request):
    (widening_pull_request / diff.acceptance_path("prod")).write_text('{"accepted": ["yes"]}')
    result = audit(repository, "--diff-against", "HEAD", "--program-from", str(widening_pull_request))
    assert result.returncode == diff.EXIT_INVALID and "entry 0 is not" in result.stderr


# --- every counterexample the diff prints is a request AWS could make --------------------------------


@pytest.mark.parametrize("kind", [*WIDENING_KINDS, "principal added by hand", "package added to a publisher"])
def test_every_counterexample_is_a_possible_request(kind):
    report = scenario(kind)
    examples = [d for d in report.documents if d.comparison.example is not None]
    assert examples
    resourceless = smt.resourceless_actions(diff.hints_for(diff.Side.from_audit(base()), diff.Side.from_audit(base())))
    for change in examples:
        example = change.comparison.example
        assert change.comparison.example_problems == (), change.text()
        assert iam_actions.access_level(example.action) is not None, change.text()
        assert (example.resource == "*" and example.action.lower() in resourceless) or \
            smt.well_formed_arn(example.resource), change.text()
        if example.principal_type == "AWS" and change.policy.kind != "managed":
            assert smt.request_problems(example, resourceless) == [], change.text()
        assert "not a request AWS could make" not in change.text()


def test_a_counterexample_aws_could_not_receive_is_shown_with_why():
    change = next(d for d in scenario("new action").documents if d.widening)
    odd = dataclasses.replace(change, comparison=dataclasses.replace(
        change.comparison, example_problems=("codeartifact:LaunchRockets is no action the action table lists",)))
    assert odd.text().endswith("(not a request AWS could make: codeartifact:LaunchRockets is no action the "
                               "action table lists)")
    assert odd.widening and odd.text(example=False) == change.text(example=False)


# --- the base's own checks over the pull request's program ----------------------------------------------


def test_the_judge_fails_when_the_bases_checks_refuse_the_pull_request(repository, tmp_path):
    # A pull request that turns the pack off in its own pack config: no access changes, but the
    # base's audit (which applies the pack config as the CLI does) refuses it, and no acceptance helps.
    tree = tmp_path / "pack-off"
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    try:
        config_path = tree / "policies" / "policy-config.prod.json"
        config_path.write_text(json.dumps({"all": "disabled", **json.loads(config_path.read_text())}))
        status, report = judged(repository, tree)
        assert status == diff.EXIT_FAILED and report["widening"] == []
        assert report["failed_checks"] and any(f.startswith("Guardrails") for f in report["failed_checks"])
        result = audit(repository, "--diff-against", "HEAD", "--program-from", str(tree))
        assert "THE BASE'S CHECKS FAIL on the program of" in result.stdout
    finally:
        git(repository, "worktree", "remove", "--force", str(tree))


def test_failed_checks_come_from_the_audits_failed_sections_and_mandatory_violations():
    audit_json = {"failed": ["Guardrails (x): 1 mandatory"], "violations": [
        {"policy": "github-oidc-trust-pinned", "enforcement": "mandatory", "message": "has a wildcard"},
        {"policy": "domain-key-customer-managed-with-rotation", "enforcement": "advisory", "message": "rotate"}]}
    assert diff.failed_checks(audit_json) == ["Guardrails (x): 1 mandatory", "github-oidc-trust-pinned: has a wildcard"]
    report = dataclasses.replace(scenario("reformatted JSON"), failed_checks=["Guardrails (x): 1 mandatory"])
    assert report.exit_status == diff.EXIT_FAILED and report.verdict.startswith("THE BASE'S CHECKS FAIL")
    assert dataclasses.replace(report, accepted=True).exit_status == diff.EXIT_FAILED
