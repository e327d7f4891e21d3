"""The access report of `python -m audit`: principals against capabilities, and its verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

import audit.__main__ as audit_cli
from audit.access import access_report, access_section, codeartifact_actions, expand_decisions
from audit.render import Rendering, render
from model.stack_file import PROJECT_DIR
from tests.expected import (
    CI_DEPLOY_ALLOWED,
    DEPLOY_COLUMNS,
    DEPLOYER,
    DOMAIN_ARN,
    INTERNAL_PACKAGES,
    LOSS_COLUMNS,
    OPERATOR,
    OWNER,
    OWNER_ADMIN,
    PACKAGE_ARN,
    PUBLISHED_PACKAGES,
    READER_ROLE_NAME,
    SECONDARIES,
)

OUTSIDER = "999999999999"  # the unlisted account the report adds, holding an administrator

READ_ONLY = {
    "read internal": True,
    "read pypi-store": True,
    **{f"publish {name}": False for name in PUBLISHED_PACKAGES},
    "any write": False,
    "any permissions change": False,
    "irreversible delete": False,
    "overwrite in internal": False,
    "reopen names": False,
    "archive or unlist versions": False,
    "disable or delete key": False,
}
NOTHING = dict.fromkeys(READ_ONLY, False)


def table(rendering: Rendering) -> dict[str, dict[str, bool]]:
    report = access_report(rendering)
    return {subject.label: dict(zip(report.plan.columns, cells, strict=True)) for subject, cells in report.rows}


def with_policy(rendering: Rendering, name: str, key: str, document: dict) -> Rendering:
    """The rendering with one recorded policy input replaced, as if the program had declared it."""
    resources = [replace(r, inputs={**r.inputs, key: json.dumps(document)}) if r.name == name else r
                 for r in rendering.resources]
    assert resources != rendering.resources, f"no resource named {name}"
    return replace(rendering, resources=resources)


@pytest.fixture(scope="module")
def prod_section(prod):
    return access_section(prod)


def test_prod_secondaries_read_only_outsider_nothing_publishers_their_own_packages(prod):
    rows = table(prod)
    for account in SECONDARIES:
        assert rows[f"reader {account}"] == READ_ONLY
        assert rows[f"admin in {account}"] == READ_ONLY
    assert rows[f"outsider {OUTSIDER}"] == NOTHING
    assert rows["publisher acme/acme-core"] == {
        **NOTHING, "read internal": True, "publish acme-core": True, "publish acme-core-testing": True,
    }
    assert rows["publisher acme/data-tools"] == {**NOTHING, "read internal": True, "publish acme-data-tools": True}
    # The owner's administrator may do anything but lose packages, reopen names or change version status;
    # the deploy CI role holds only what its resources' handlers need.
    assert rows[OWNER_ADMIN] == {**dict.fromkeys(READ_ONLY, True), **dict.fromkeys(LOSS_COLUMNS, False)}
    assert rows[DEPLOYER] == {**dict.fromkeys(rows[OWNER_ADMIN], False), **dict.fromkeys(CI_DEPLOY_ALLOWED, True)}
    # The operator, whose policies live outside the stack, is taken to allow everything: only the exemptions the
    # domain policy gives every deploy principal let it further than the owner's administrator.
    assert rows[OPERATOR] == {**rows[OWNER_ADMIN], **dict.fromkeys(DEPLOY_COLUMNS, True)}
    assert len(rows) == 3 + 3 + 1 + 2 + 1 + 2


def test_prod_section_passes_and_explains_itself(prod_section):
    section = prod_section
    assert not section.failed
    assert section.title == "Access: read-only secondaries, scoped publishers"
    assert "VIOLATION" not in section.text
    assert f"principalmapper decided {len(codeartifact_actions())} codeartifact actions" in section.text
    assert "organization mode: off" in section.text


def test_json_access_lists_every_action_for_every_principal(prod_section):
    decisions = expand_decisions(prod_section.json_value["decision_groups"])
    assert all(set(d) == {"principal", "action", "resource", "allowed"} for d in decisions)
    by_request = {(d["principal"], d["action"], d["resource"]): d["allowed"] for d in decisions}
    readers = [f"arn:aws:iam::{a}:role/{READER_ROLE_NAME}" for a in SECONDARIES]
    publishers = [f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core",
                  f"arn:aws:iam::{OWNER}:role/gh-publish-acme-data-tools"]
    for principal in readers + publishers:
        for action in codeartifact_actions():
            assert (principal, action, DOMAIN_ARN) in by_request, (principal, action)
    own_package = f"{INTERNAL_PACKAGES}/pypi//acme-core"
    assert by_request[(publishers[0], "codeartifact:PublishPackageVersion", own_package)] is True
    assert by_request[(publishers[1], "codeartifact:PublishPackageVersion", own_package)] is False
    assert by_request[(readers[0], "codeartifact:GetAuthorizationToken", DOMAIN_ARN)] is True
    assert by_request[(readers[0], "codeartifact:DeleteDomain", DOMAIN_ARN)] is False
    assert by_request[(readers[0], "sts:GetServiceBearerToken", "*")] is True


WRITE_FOR_EVERYONE = {
    "Sid": "Injected", "Effect": "Allow", "Principal": "*",
    "Action": "codeartifact:PublishPackageVersion", "Resource": "*",
}
WRITE_FOR_SECONDARIES = {**WRITE_FOR_EVERYONE, "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in SECONDARIES]}}


@pytest.mark.parametrize(("statement", "violators"), [
    (WRITE_FOR_SECONDARIES, [f"admin in {a}" for a in SECONDARIES]),
    # Principal "*" also reaches the publishers in the owner account, beyond their packages.
    (WRITE_FOR_EVERYONE, [f"admin in {a}" for a in SECONDARIES] + [f"outsider {OUTSIDER}"]
     + ["publisher acme/acme-core", "publisher acme/data-tools"]),
], ids=["secondaries", "everyone"])
def test_report_fails_when_the_domain_policy_lets_a_secondary_or_an_outsider_write(prod, statement, violators):
    domain_policy = prod.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    document = domain_policy.policy("policyDocument")
    document["Statement"].append(statement)
    section = access_section(with_policy(prod, domain_policy.name, "policyDocument", document))
    assert section.failed
    flagged = {line.split(" (")[0].removeprefix("VIOLATION: ") for line in section.text.splitlines()
               if line.startswith("VIOLATION: ")}
    assert flagged == set(violators)
    assert "may codeartifact:PublishPackageVersion on" in section.text


def test_report_fails_when_a_publisher_may_publish_beyond_its_packages(prod):
    inline = prod.one("aws:iam/rolePolicy:RolePolicy", "publishers-acme-acme-core-publish")
    document = inline.policy("policy")
    publish = next(s for s in document["Statement"] if s["Sid"] == "PublishOwnPackages")
    publish["Resource"] = f"{PACKAGE_ARN}/*"
    section = access_section(with_policy(prod, inline.name, "policy", document))
    assert section.failed
    assert "publisher acme/acme-core" in section.text
    assert f"PublishPackageVersion on {INTERNAL_PACKAGES}/pypi//acme-data-tools" in section.text
    assert "package/acme/pypi-store/pypi//acme-core" in section.text
    assert "publisher acme/data-tools (" not in section.text


def test_cli_exits_non_zero_when_the_access_report_fails(prod, monkeypatch, capsys):
    domain_policy = prod.one("aws:codeartifact/domainPermissions:DomainPermissions", "registry-domain-policy")
    document = domain_policy.policy("policyDocument")
    document["Statement"].append(WRITE_FOR_EVERYONE)
    tampered = with_policy(prod, domain_policy.name, "policyDocument", document)
    monkeypatch.setattr(audit_cli, "render", lambda *args, **kwargs: tampered)
    assert audit_cli.main(["--stack", "prod"]) == 1
    assert "FAILED:" in capsys.readouterr().out


def test_organization_mode_member_reads_outsider_gets_nothing():
    rendering = render("prod", overrides={"pypi-registry:organizationId": "o-abcdef1234"})
    rows = table(rendering)
    assert rows["o-abcdef1234 member 888888888888"] == READ_ONLY
    assert rows[f"outsider {OUTSIDER}"] == NOTHING
    section = access_section(rendering)
    assert not section.failed
    assert "organization mode: o-abcdef1234 (aws:PrincipalOrgID)" in section.text


def test_accounts_with_identical_policies_are_evaluated_once_and_shown_once():
    accounts = [f"{200000000000 + i:012d}" for i in range(40)]
    rendering = render("prod", overrides={"pypi-registry:secondaryAccountIds": accounts})
    report = access_report(rendering)
    # reader roles, their administrators, the outsider, the two publishers, the owner's administrator,
    # the deploy CI role, the operator
    assert report.shapes_evaluated == 8
    text = access_section(rendering).text
    assert "40 x reader role, e.g. reader 200000000000" in text
    assert "40 x admin (Action *), e.g. admin in 200000000000" in text


def test_audit_command_prints_the_access_report_and_adds_decisions_to_json(prod_section):
    command = [sys.executable, "-m", "audit", "--stack", "prod"]
    text = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert text.returncode == 0, text.stdout[-2000:] + text.stderr
    assert "== Access: read-only secondaries, scoped publishers" in text.stdout
    assert "reader 012345678901 [reader role]" in text.stdout
    result = subprocess.run([*command, "--json"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["failed"] == []
    assert document["access"] == prod_section.json_value
