"""The state bucket's policy (bootstrap/documents.py `state_bucket_policy`) under principalmapper, which evaluates
it as the bucket's resource policy in the owner account: the preview CI role reads the state and can neither
overwrite nor delete it, even holding `s3:*` itself; whoever runs `pulumi up` writes it; nobody deletes a version
but the break-glass role; a stranger reads nothing; no request without TLS and no customer-provided key passes.
cfn-lint checks the document against AWS's schema for a bucket policy."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

from audit.access import Principal
from audit.pmapper_compat import local_check_authorization_full
from bootstrap import documents as bootstrap
from model.parse import parse_settings

OWNER = "111122223333"
REGION = "eu-west-1"
BUCKET = "acme-pulumi-state"
CI_PREVIEW = f"arn:aws:iam::{OWNER}:role/ci-preview"
CI_DEPLOY = f"arn:aws:iam::{OWNER}:role/ci-deploy"
OPERATOR = f"arn:aws:iam::{OWNER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef"
BREAK_GLASS = f"arn:aws:iam::{OWNER}:role/break-glass"
OWNER_ADMIN = f"arn:aws:iam::{OWNER}:role/AdministratorAccess"
BASE = {"ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"],
        "secondaryAccountIds": ["444455556666"], "deployPrincipalArns": [OPERATOR]}
SETTINGS = parse_settings(BASE, REGION)
POLICY = bootstrap.state_bucket_policy(SETTINGS, BUCKET, CI_PREVIEW, CI_DEPLOY)
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
STATE = f"{BUCKET_ARN}/.pulumi/stacks/pypi-registry/prod.json"
LOCK = f"{BUCKET_ARN}/.pulumi/locks/organization/pypi-registry/prod/0b6f.json"
WRITES = ("s3:PutObject", "s3:DeleteObject")
LOSSES = ("s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration", "s3:PutBucketVersioning", "s3:DeleteBucket")


def role(arn: str, everything: bool = False) -> Principal:
    """A role holding nothing of its own, or everything (`s3:*` and more): then only the bucket policy's Denies
    stand between it and the state."""
    policies = {"inline:admin": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}} if everything \
        else {}
    return Principal.role(arn, policies)


def may(principal: Principal, action: str, resource: str, policy: dict = POLICY, **context: str) -> bool:
    return bool(local_check_authorization_full(principal.node(), action, resource, context, policy, OWNER))


def resource_for(action: str) -> str:
    return BUCKET_ARN if action in ("s3:ListBucket", "s3:GetBucketLocation", *LOSSES[1:]) else STATE


@pytest.mark.parametrize("everything", [False, True], ids=["own-policies-empty", "own-policies-allow-everything"])
def test_the_preview_ci_role_reads_the_state_and_writes_nothing(everything):
    preview = role(CI_PREVIEW, everything)
    assert may(preview, "s3:GetObject", STATE) and may(preview, "s3:ListBucket", BUCKET_ARN)
    for action in (*WRITES, *LOSSES, "s3:PutObjectAcl"):
        for resource in (STATE, LOCK):
            assert not may(preview, action, resource_for(action) if action in LOSSES else resource), (action, resource)


@pytest.mark.parametrize("deployer", [CI_DEPLOY, OPERATOR], ids=["ci-deploy", "operator"])
def test_whoever_runs_pulumi_up_writes_the_state_and_its_lock(deployer):
    principal = role(deployer)  # the bucket policy alone grants it: same account, named by ARN
    assert may(principal, "s3:GetObject", STATE) and may(principal, "s3:ListBucket", BUCKET_ARN)
    for resource in (STATE, LOCK):
        assert may(principal, "s3:PutObject", resource) and may(principal, "s3:DeleteObject", resource)


@pytest.mark.parametrize("who", [CI_PREVIEW, CI_DEPLOY, OPERATOR, OWNER_ADMIN])
def test_nobody_loses_a_version_without_a_break_glass_role(who):
    for action in LOSSES:
        assert not may(role(who, everything=True), action, resource_for(action)), (who, action)


def test_the_break_glass_role_alone_may_delete_versions_when_there_is_one():
    policy = bootstrap.state_bucket_policy(parse_settings({**BASE, "breakGlassRoleArn": BREAK_GLASS}, REGION), BUCKET,
                                           CI_PREVIEW, CI_DEPLOY)
    for action in LOSSES:
        assert may(role(BREAK_GLASS, everything=True), action, resource_for(action), policy), action
        assert not may(role(OPERATOR, everything=True), action, resource_for(action), policy), action
    # It is exempt from the Denies, not granted anything: without its own policies it holds nothing.
    assert not may(role(BREAK_GLASS), "s3:DeleteObjectVersion", STATE, policy)


def test_an_administrator_of_the_owner_account_who_is_not_listed_cannot_overwrite_the_state():
    admin = role(OWNER_ADMIN, everything=True)
    assert may(admin, "s3:GetObject", STATE)  # IAM grants it reads in its own account; the policy only denies writes
    for action in (*WRITES, "s3:PutObjectAcl"):
        assert not may(admin, action, STATE), action


@pytest.mark.parametrize("stranger", [
    "arn:aws:iam::999988887777:role/admin",  # another account's administrator: no grant in the bucket policy
    f"arn:aws:iam::{OWNER}:role/some-app",  # a role of the owner account holding no S3 permission
    "arn:aws:iam::444455556666:role/pypi-registry-deploy",  # a secondary account's deploy role
])
def test_a_stranger_reads_nothing(stranger):
    principal = role(stranger, everything=not stranger.endswith("some-app"))
    for action, resource in (("s3:GetObject", STATE), ("s3:ListBucket", BUCKET_ARN), ("s3:PutObject", STATE)):
        assert not may(principal, action, resource), (stranger, action)


def test_without_tls_nobody_reads_or_writes():
    for who, action in ((CI_PREVIEW, "s3:GetObject"), (CI_DEPLOY, "s3:PutObject"), (OPERATOR, "s3:GetObject")):
        assert may(role(who), action, STATE, **{"aws:SecureTransport": "true"})
        assert not may(role(who), action, STATE, **{"aws:SecureTransport": "false"}), (who, action)


def test_a_customer_provided_key_is_refused_and_the_bucket_default_encryption_is_not():
    assert not may(role(CI_DEPLOY), "s3:PutObject", STATE, **{bootstrap.SSE_C_HEADER: "AES256"})
    assert may(role(CI_DEPLOY), "s3:PutObject", STATE)  # Pulumi sends no encryption header
    assert may(role(CI_DEPLOY), "s3:PutObject", STATE, **{"s3:x-amz-server-side-encryption": "aws:kms"})


def test_an_operator_listed_as_the_ci_role_is_named_once():
    settings = parse_settings({**BASE, "deployPrincipalArns": [CI_DEPLOY]}, REGION)
    policy = bootstrap.state_bucket_policy(settings, BUCKET, CI_PREVIEW, CI_DEPLOY)
    (writers,) = [s for s in policy["Statement"] if s["Sid"] == "DeployersWriteTheState"]
    assert writers["Principal"] == {"AWS": CI_DEPLOY}


def test_the_policy_passes_cfn_lint_and_fits_the_bucket_policy_limit():
    template = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"StatePolicy": {
        "Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": BUCKET, "PolicyDocument": POLICY}}}}
    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    assert [f"{m.rule.id} {m.message}" for m in matches] == []
    broken = json.loads(json.dumps(template))
    broken["Resources"]["StatePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Effect"] = "Permit"
    assert lint(json.dumps(broken), config=ManualArgs(regions=[REGION]))
    assert len(json.dumps(POLICY, separators=(",", ":"))) < 20 * 1024  # S3's bucket policy limit: 20 KB
