"""The access diff's report on the real prod stack: its text, Markdown and JSON; the digest of exactly
one widening and the acceptance entries that accept it; every counterexample a request AWS could make;
and the failed checks of an audit's JSON."""

from __future__ import annotations

import dataclasses
import json

import pytest

from audit import diff, smt
from policies import iam_actions
from tests.audit.diff_support import PUBLISHER, WIDENING_KINDS, base, scenario
from tests.expected import DOMAIN_ARN, INTERNAL_PACKAGES

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


def test_failed_checks_come_from_the_audits_failed_sections_and_mandatory_violations():
    audit_json = {"failed": ["Guardrails (x): 1 mandatory"], "violations": [
        {"policy": "github-oidc-trust-pinned", "enforcement": "mandatory", "message": "has a wildcard"},
        {"policy": "domain-key-customer-managed-with-rotation", "enforcement": "advisory", "message": "rotate"}]}
    assert diff.failed_checks(audit_json) == ["Guardrails (x): 1 mandatory", "github-oidc-trust-pinned: has a wildcard"]
    report = dataclasses.replace(scenario("reformatted JSON"), failed_checks=["Guardrails (x): 1 mandatory"])
    assert report.exit_status == diff.EXIT_FAILED and report.verdict.startswith("THE BASE'S CHECKS FAIL")
    assert dataclasses.replace(report, accepted=True).exit_status == diff.EXIT_FAILED
