"""The access proof of every way to lose or reopen packages: the owner admin is denied deletes,
overwrites, reopening internal names and disabling or deleting the key; a deploy role may
reopen names (pulumi up manages package groups) and archive or unlist versions, and nothing more;
only the break-glass role may do the rest. Each Deny taken away shows up as a violation naming the principal."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from audit.access import access_report, access_section
from audit.render import Rendering, render
from tests.expected import BREAK_GLASS, CI_DEPLOY_ALLOWED, DEPLOY_COLUMNS, DEPLOYER, LOSS_COLUMNS, OWNER, OWNER_ADMIN


def table(rendering: Rendering) -> dict[str, dict[str, bool]]:
    report = access_report(rendering)
    return {s.label: dict(zip(report.plan.columns, cells, strict=True)) for s, cells in report.rows}


def losses(row: dict[str, bool]) -> dict[str, bool]:
    return {column: row[column] for column in LOSS_COLUMNS}


def without_statement(rendering: Rendering, name: str, key: str, sid: str) -> Rendering:
    """The rendering with one statement taken out of a recorded policy document."""
    def changed(resource):
        document = json.loads(resource.inputs[key])
        kept = [s for s in document["Statement"] if s.get("Sid") != sid]
        assert len(kept) < len(document["Statement"]), f"no statement {sid} in {name}"
        text = json.dumps({**document, "Statement": kept})
        return replace(resource, inputs={**resource.inputs, key: text}, outputs={**resource.outputs, key: text})
    return replace(rendering, resources=[changed(r) if r.name == name else r for r in rendering.resources])


CI_DEPLOY_LOSSES = {column: column in CI_DEPLOY_ALLOWED for column in LOSS_COLUMNS}
OPERATOR = f"arn:aws:iam::{OWNER}:role/platform-admin"


def test_prod_owner_admin_loses_nothing_and_the_deploy_role_only_reopens(prod):
    rows = table(prod)
    assert losses(rows[OWNER_ADMIN]) == dict.fromkeys(LOSS_COLUMNS, False)
    # Held to its derived permissions, the deploy CI role reopens names (package groups) and does no other loss.
    assert losses(rows[DEPLOYER]) == CI_DEPLOY_LOSSES == {**dict.fromkeys(LOSS_COLUMNS, False), "reopen names": True}
    # Nobody outside the owner account can lose or reopen anything either.
    for label, row in rows.items():
        if OWNER not in label:
            assert losses(row) == dict.fromkeys(LOSS_COLUMNS, False), label
    assert not access_section(prod).failed


def test_the_break_glass_role_may_do_every_loss_and_nobody_else_gains_it():
    rows = table(render("prod", overrides={"pypi-registry:breakGlassRoleArn": BREAK_GLASS}))
    assert losses(rows[f"role break-glass in {OWNER}"]) == dict.fromkeys(LOSS_COLUMNS, True)
    assert losses(rows[OWNER_ADMIN]) == dict.fromkeys(LOSS_COLUMNS, False)
    assert losses(rows[DEPLOYER]) == CI_DEPLOY_LOSSES


def test_an_operator_is_taken_to_allow_everything_and_only_the_deploy_exemptions_let_it_through():
    """A deploy principal whose policies live outside the stack and outside python -m bootstrap (an operator's SSO
    role) is taken as Action "*": the domain and key policies alone must stop every loss it is not exempt from."""
    principals = ["arn:aws:iam::111122223333:role/pypi-registry-ci-deploy", OPERATOR]
    rows = table(render("prod", overrides={"pypi-registry:deployPrincipalArns": principals}))
    operator = rows[f"role platform-admin in {OWNER}"]
    assert losses(operator) == {**dict.fromkeys(LOSS_COLUMNS, False), **dict.fromkeys(DEPLOY_COLUMNS, True)}
    assert operator["read internal"] and operator["publish acme-core"]
    assert losses(rows[DEPLOYER]) == CI_DEPLOY_LOSSES


@pytest.mark.parametrize(("name", "key", "sid", "column", "action"), [
    ("registry-domain-policy", "policyDocument", "DenyIrreversibleDeletes", "irreversible delete",
     "codeartifact:DeletePackageVersions"),
    ("registry-domain-policy", "policyDocument", "DenyOverwritingVersions", "overwrite in internal",
     "codeartifact:CopyPackageVersions"),
    ("registry-domain-policy", "policyDocument", "DenyReopeningInternalNames", "reopen names",
     "codeartifact:UpdatePackageGroupOriginConfiguration"),
    ("registry-domain-policy", "policyDocument", "DenyChangingVersionStatus", "archive or unlist versions",
     "codeartifact:UpdatePackageVersionsStatus"),
    ("registry-key", "policy", "DenyKeyLoss", "disable or delete key", "kms:ScheduleKeyDeletion"),
], ids=["deletes", "overwrite", "reopen", "status", "key"])
def test_each_deny_taken_away_is_a_violation_of_the_owner_admin(prod, name, key, sid, column, action):
    tampered = without_statement(prod, name, key, sid)
    assert table(tampered)[OWNER_ADMIN][column]
    section = access_section(tampered)
    assert section.failed
    found = [line for line in section.text.splitlines() if line.startswith(f"VIOLATION: {OWNER_ADMIN} ")]
    assert any(f" may {action} on " in line for line in found), found


def test_without_the_reopen_deny_the_deploy_role_is_still_within_its_rights(prod):
    tampered = without_statement(prod, "registry-domain-policy", "policyDocument", "DenyReopeningInternalNames")
    violations = access_report(tampered).violations
    assert violations and not any(v.startswith(DEPLOYER) for v in violations)


def test_a_key_without_a_key_policy_gets_the_kms_default_and_fails(prod):
    no_policy = replace(prod, resources=[
        replace(r, inputs={k: v for k, v in r.inputs.items() if k != "policy"}) if r.name == "registry-key" else r
        for r in prod.resources])
    rows = table(no_policy)
    assert rows[OWNER_ADMIN]["disable or delete key"] and rows[DEPLOYER]["disable or delete key"]
    assert not rows["reader 444455556666"]["disable or delete key"]  # other accounts: the key policy must allow
    assert any("kms:DisableKey" in v for v in access_report(no_policy).violations)
