"""The access report over the airlock stack: the promoter copies from the store into the vetted repository only,
the pull-back job changes statuses in the vetted and internal repositories only, nobody else reads the store,
and each widening is found."""

from __future__ import annotations

import json

import pytest

from audit.access import PROMOTER, PULL_BACK, SCHEDULE_ROLE, access_report
from audit.render import Rendering
from tests.expected import OWNER, REGION
from tests.renderings import add_statement, changed, drop_statement
from tests.stacks import airlock

PREFIX = f"arn:aws:codeartifact:{REGION}:{OWNER}"
PROMOTER_ARN = f"arn:aws:iam::{OWNER}:role/pypi-registry-promoter"


@pytest.fixture(scope="module")
def pristine() -> Rendering:
    return airlock()


def _decided(report, principal: str) -> dict[tuple[str, str], bool]:
    rows = {}
    for group in report.decisions.as_json()["groups"]:
        if principal in group["principals"]:
            rows.update({(c["action"], c["resource"]): c["allowed"] for c in group["checks"]})
    return rows


def test_the_airlock_roles_do_their_jobs_and_nothing_more(pristine):
    report = access_report(pristine)
    assert report.violations == []
    kinds = {s.kind: dict(zip(report.plan.columns, cells, strict=True)) for s, cells in report.rows
             if s.kind in (PROMOTER, PULL_BACK)}
    assert kinds[PROMOTER]["read pypi-store"] and not kinds[PROMOTER]["read internal"]
    assert not kinds[PROMOTER]["archive or unlist versions"] and not kinds[PROMOTER]["overwrite in internal"]
    assert kinds[PULL_BACK]["archive or unlist versions"] and not kinds[PULL_BACK]["read pypi-store"]
    assert sum(s.kind == SCHEDULE_ROLE for s, _ in report.rows) == 2
    readers = [dict(zip(report.plan.columns, cells, strict=True)) for s, cells in report.rows
               if s.kind not in (PROMOTER,)]
    assert not any(row["read pypi-store"] for row in readers)
    decided = _decided(report, PROMOTER_ARN)
    copy = "codeartifact:CopyPackageVersions"
    assert decided[(copy, f"{PREFIX}:repository/acme/pypi-vetted")]
    assert not decided[(copy, f"{PREFIX}:repository/acme/internal")]
    assert not decided[(copy, f"{PREFIX}:repository/acme/pypi-store")]
    assert not decided[("codeartifact:ReadFromRepository", f"{PREFIX}:repository/acme/internal")]


def test_a_promoter_that_could_copy_into_internal_is_found(pristine):
    widened = changed(pristine, "registry-domain-policy",
                      drop_statement("policyDocument", "DenyPromoterCopyingOutsideVetted"))
    widened = changed(widened, "airlock-pypi-registry-promoter-role-policy", add_statement("policy", {
        "Effect": "Allow", "Action": "codeartifact:CopyPackageVersions",
        "Resource": [f"{PREFIX}:repository/acme/internal", f"{PREFIX}:package/acme/internal/*"]}))
    found = access_report(widened).violations
    assert any("pypi-registry-promoter" in v and f"CopyPackageVersions on {PREFIX}:repository/acme/internal" in v
               for v in found), found


def test_the_store_read_by_anyone_but_the_promoter_is_found(pristine):
    opened = changed(pristine, "registry-domain-policy", drop_statement("policyDocument", "DenyReadingTheStore"))
    found = access_report(opened).violations
    assert any(f"may codeartifact:ReadFromRepository on {PREFIX}:repository/acme/pypi-store" in v and "admin" in v
               for v in found), found


def test_a_pull_back_job_archiving_in_the_store_is_found(pristine):
    widened = changed(pristine, "registry-domain-policy",
                      drop_statement("policyDocument", "DenyPullBackOutsideVettedAndInternal"))
    widened = changed(widened, "airlock-pypi-registry-pull-back-role-policy", add_statement("policy", {
        "Effect": "Allow", "Action": "codeartifact:UpdatePackageVersionsStatus",
        "Resource": f"{PREFIX}:package/acme/pypi-store/*"}))
    found = access_report(widened).violations
    assert any("pypi-registry-pull-back" in v and "UpdatePackageVersionsStatus on" in v and "/pypi-store/" in v
               for v in found), found


@pytest.mark.parametrize(("policy", "action"), [
    ("airlock-pypi-registry-pull-back-role-policy", "iam:PassRole"),
    ("airlock-pypi-registry-promoter-schedule-role-policy", "s3:PutObject"),
])
def test_an_airlock_role_beyond_its_job_outside_codeartifact_is_found(pristine, policy, action):
    widened = changed(pristine, policy, add_statement("policy", {"Effect": "Allow", "Action": action, "Resource": "*"}))
    found = access_report(widened).violations
    assert any(f"holds {action}" in v for v in found), found


def test_the_report_json_names_the_airlock_kinds(pristine):
    from audit.access import access_section

    section = access_section(pristine)
    assert not section.failed
    kinds = {p["kind"] for p in json.loads(json.dumps(section.json_value))["principals"]}
    assert {PROMOTER, PULL_BACK, SCHEDULE_ROLE} <= kinds
