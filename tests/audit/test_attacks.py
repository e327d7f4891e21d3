"""The attacks that once passed green, each tried as a pull request on top of the real prod program and
judged as CI judges it: the base commit's audit and pack over the pull request's program and config
(`--diff-against BASE --program-from PR`). Each must fail the judge, naming what it added.

Slow (each judgement renders twice in subprocesses): marked `judge`; `make test` runs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from audit import diff
from tests.audit.diff_support import audit, git

pytestmark = pytest.mark.judge

OWNER = "111122223333"
SECONDARY = "444455556666"
OWNER_PROVIDER = "pulumi.ResourceOptions(provider=owner.aws)"


def program(code: str) -> Callable[[Path], None]:
    """Append declarations to the pull request's __main__.py (the program the judge renders)."""
    def edit(tree: Path) -> None:
        main = tree / "__main__.py"
        main.write_text(main.read_text() + "\nimport json as _json\n" + code)
    return edit


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ADMIN_ROLE_TEMPLATE = json.dumps({"Resources": {"Admin": {"Type": "AWS::IAM::Role", "Properties": {
    "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                "Principal": {"Federated": "*"}}]},
    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}}})
SECONDARY_TRUST = document({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SECONDARY}:root"},
                            "Action": "sts:AssumeRole"})


def edit_file(name: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def edit(tree: Path) -> None:
        path = tree / name
        path.write_text(change(path.read_text()))
    return edit


ATTACKS = {
    "cloudformation-stack-with-admin-role": program(
        f"aws.cloudformation.Stack('sneaky', template_body={ADMIN_ROLE_TEMPLATE!r}, capabilities=['CAPABILITY_IAM'], "
        f"opts={OWNER_PROVIDER})\n"),
    "identity-center-permission-set": program(
        "aws.ssoadmin.PermissionSetInlinePolicy('sneaky', instance_arn='arn:aws:sso:::instance/ssoins-1', "
        "permission_set_arn='arn:aws:sso:::permissionSet/ssoins-1/ps-1', inline_policy="
        f"{document({'Effect': 'Allow', 'Action': 'codeartifact:*', 'Resource': '*'})!r}, opts={OWNER_PROVIDER})\n"),
    "iam-user-with-admin-and-key": program(
        f"user = aws.iam.User('sneaky', name='sneaky', opts={OWNER_PROVIDER})\n"
        "aws.iam.UserPolicyAttachment('sneaky-admin', user=user.name, "
        f"policy_arn='arn:aws:iam::aws:policy/AdministratorAccess', opts={OWNER_PROVIDER})\n"
        f"aws.iam.AccessKey('sneaky-key', user=user.name, opts={OWNER_PROVIDER})\n"),
    "secondary-assumes-iam-and-key-policy": program(
        f"role = aws.iam.Role('sneaky', name='sneaky', assume_role_policy={SECONDARY_TRUST!r}, opts={OWNER_PROVIDER})\n"
        "aws.iam.RolePolicy('sneaky-inline', role=role.name, policy="
        f"{document({'Effect': 'Allow', 'Action': ['iam:*', 'kms:PutKeyPolicy'], 'Resource': '*'})!r}, "
        f"opts={OWNER_PROVIDER})\n"),
    "publisher-publishes-a-public-name": program(
        "aws.iam.RolePolicy('sneaky-publish', role='gh-publish-acme-acme-core', policy="
        + repr(document({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                         "Resource": f"arn:aws:codeartifact:eu-west-1:{OWNER}:package/acme/internal/pypi//requests"}))
        + f", opts={OWNER_PROVIDER})\n"),
    "second-domain-policy-without-denies": program(
        "aws.codeartifact.DomainPermissions('sneaky-domain-policy', domain='acme', domain_owner='111122223333', "
        f"policy_document={document({'Effect': 'Allow', 'Principal': {'AWS': f'arn:aws:iam::{OWNER}:root'}, 'Action': 'codeartifact:*', 'Resource': '*'})!r}, "  # noqa: E501
        f"opts={OWNER_PROVIDER})\n"),
    "pack-config-all-disabled": edit_file(
        "policies/policy-config.prod.json", lambda text: json.dumps({"all": "disabled", **json.loads(text)})),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_fails_the_judge(repository, tmp_path, attack):
    tree = tmp_path / attack
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    try:
        ATTACKS[attack](tree)
        result = audit(repository, "--diff-against", "HEAD", "--program-from", str(tree), "--json")
        assert result.returncode == diff.EXIT_FAILED, result.stdout[-3000:] + result.stderr[-3000:]
        report = json.loads(result.stdout)
        assert report["failed_checks"] or report["widening"], report
        if attack != "pack-config-all-disabled":
            assert "sneaky" in json.dumps(report["failed_checks"]), report["failed_checks"]
    finally:
        git(repository, "worktree", "remove", "--force", str(tree))


# (edit, what the refusal names)
REFUSED = {
    "stack-file-esc-environment": (edit_file("Pulumi.prod.yaml", lambda text: text + "environment:\n  - prod-extras\n"),
                                   "environment: imports Pulumi ESC values"),
    "project-file-main": (edit_file("Pulumi.yaml", lambda text: text + "main: elsewhere/\n"),
                          "main: 'elsewhere/' makes the CLI run another program"),
    "stack-file-autonaming": (edit_file("Pulumi.prod.yaml", lambda text: text.replace(
        "config:\n", "config:\n  pulumi:autonaming:\n    mode: verbatim\n", 1)),
        "pulumi:autonaming: is an engine setting"),
}


@pytest.mark.parametrize("attack", sorted(REFUSED))
def test_a_deployment_the_audit_cannot_see_is_refused_by_the_judge(repository, tmp_path, attack):
    tree = tmp_path / attack
    git(repository, "worktree", "add", "--detach", "--quiet", str(tree), "HEAD")
    try:
        edit, named = REFUSED[attack]
        edit(tree)
        result = audit(repository, "--diff-against", "HEAD", "--program-from", str(tree))
        assert result.returncode == diff.EXIT_INVALID, result.stdout[-2000:] + result.stderr[-2000:]
        assert named in result.stderr, result.stderr[-2000:]
    finally:
        git(repository, "worktree", "remove", "--force", str(tree))
