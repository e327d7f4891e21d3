"""The access diff's two engines on the real prod stack.

Each widening kind (a new action, a wider resource, a dropped condition, a new principal) is made
in a copy of the prod rendering, and both engines must catch it: principalmapper through the
access decisions and trust entries, Z3 through the policy document that changed. Both must stay
quiet on a change that only reorders statements or reformats JSON, and the diff fails when they
disagree.
"""

from __future__ import annotations

import dataclasses

import pytest

from audit import diff
from audit.diff import decisions
from audit.render import render
from tests.audit.diff_support import (
    AUD,
    GITHUB,
    NEW_ACCOUNT,
    ORGANIZATION,
    PUBLISHER,
    READ_ONLY_MANAGED,
    READER_444,
    STRANGER,
    SUB,
    UNRESOLVED_POLICIES,
    WIDENING_KINDS,
    attached,
    document,
    flagged_by_both,
    gained,
    quiet,
    scenario,
)
from tests.expected import DOMAIN_ARN, INTERNAL_PACKAGES, OWNER

# --- each widening kind, caught by each engine ---------------------------------------------------


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
