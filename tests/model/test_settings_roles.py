"""The IAM role keys' rules: deployPrincipalArns, breakGlassRoleArn and the CI roles are roles of the owner account,
never one GitHub can assume."""

from __future__ import annotations

import json

import pytest

from tests.model.settings_cases import (
    OWNER_ROLE,
    assert_each_breaks_only_its_own_rule,
    assert_refused,
    settings_with,
)

DEPLOY_PRINCIPAL_CASES = [
    ("other-account", {"deployPrincipalArns": ["arn:aws:iam::444455556666:role/deploy"]}, "deployPrincipalArns[0]",
     "not in the owner account 111122223333"),
    ("user", {"deployPrincipalArns": ["arn:aws:iam::111122223333:user/deploy"]}, "deployPrincipalArns[0]",
     "must be an IAM role ARN in the aws partition"),
    ("govcloud", {"deployPrincipalArns": ["arn:aws-us-gov:iam::111122223333:role/deploy"]}, "deployPrincipalArns[0]",
     "must be an IAM role ARN in the aws partition"),
    ("wildcard", {"deployPrincipalArns": [f"{OWNER_ROLE}/deploy-*"]}, "deployPrincipalArns[0]", "no wildcards"),
    ("role-name-only", {"deployPrincipalArns": ["deploy"]}, "deployPrincipalArns[0]", "IAM role ARN"),
    ("name-too-long", {"deployPrincipalArns": [f"{OWNER_ROLE}/{'d' * 65}"]}, "deployPrincipalArns[0]",
     "IAM role ARN"),
    ("path-too-long", {"deployPrincipalArns": [f"{OWNER_ROLE}/{'p/' * 256}deploy"]}, "deployPrincipalArns[0]",
     "role path longer than IAM's 512 characters"),
    ("not-a-string", {"deployPrincipalArns": [111122223333]}, "deployPrincipalArns[0]", "as a string"),
    ("not-a-list", {"deployPrincipalArns": {"role": f"{OWNER_ROLE}/deploy"}}, "deployPrincipalArns",
     "must be a list"),
    ("twice", {"deployPrincipalArns": [f"{OWNER_ROLE}/deploy", f"{OWNER_ROLE}/deploy"]}, "deployPrincipalArns[1]",
     "names the same role as deployPrincipalArns[0]"),
    ("twice-ignoring-case", {"deployPrincipalArns": [f"{OWNER_ROLE}/deploy", f"{OWNER_ROLE}/Deploy"]},
     "deployPrincipalArns[1]", "names the same role as deployPrincipalArns[0]"),
    ("twice-other-path", {"deployPrincipalArns": [f"{OWNER_ROLE}/deploy", f"{OWNER_ROLE}/ci/deploy"]},
     "deployPrincipalArns[1]", "ignoring case and path"),
    ("publisher-role", {"deployPrincipalArns": [f"{OWNER_ROLE}/gh-publish-acme-lib-a"]}, "deployPrincipalArns[0]",
     "names the publisher role of acme/lib-a, which GitHub can assume"),
    ("break-glass-other-account", {"breakGlassRoleArn": "arn:aws:iam::444455556666:role/break-glass"},
     "breakGlassRoleArn", "not in the owner account 111122223333"),
    ("break-glass-publisher-role", {"breakGlassRoleArn": f"{OWNER_ROLE}/GH-Publish-Acme-Lib-B"},
     "breakGlassRoleArn", "names the publisher role of acme/lib-b"),
    ("break-glass-china", {"breakGlassRoleArn": "arn:aws-cn:iam::111122223333:role/break-glass"},
     "breakGlassRoleArn", "in the aws partition"),
    ("ci-reader-role", {"deployPrincipalArns": [f"{OWNER_ROLE}/gh-pypi-reader"]}, "deployPrincipalArns[0]",
     "names the GitHub CI reader role (gh-pypi-reader), which pull request jobs"),
    ("break-glass-ci-reader-role", {"breakGlassRoleArn": f"{OWNER_ROLE}/ci/GH-PyPI-Reader"}, "breakGlassRoleArn",
     "names the GitHub CI reader role"),
]

CI_DEPLOY = f"{OWNER_ROLE}/ci-deploy"
CI_PREVIEW = f"{OWNER_ROLE}/ci-preview"
CI_ROLE_CASES = [
    ("ci-deploy-not-a-deploy-principal", {"ciDeployRoleArn": CI_DEPLOY}, "ciDeployRoleArn",
     "must also be listed in deployPrincipalArns"),
    ("ci-deploy-other-account", {"ciDeployRoleArn": "arn:aws:iam::999988887777:role/ci-deploy"}, "ciDeployRoleArn",
     "not in the owner account 111122223333; the CI roles live in the owner account"),
    ("ci-preview-root", {"ciPreviewRoleArn": "arn:aws:iam::111122223333:root"}, "ciPreviewRoleArn",
     "must be an IAM role ARN"),
    ("ci-preview-is-ci-deploy", {"deployPrincipalArns": [CI_DEPLOY], "ciDeployRoleArn": CI_DEPLOY,
                                 "ciPreviewRoleArn": f"{OWNER_ROLE}/ops/CI-Deploy"}, "ciPreviewRoleArn",
     "names the same role as ciDeployRoleArn"),
    ("ci-preview-is-a-deploy-principal", {"deployPrincipalArns": [CI_PREVIEW], "ciPreviewRoleArn": CI_PREVIEW},
     "ciPreviewRoleArn", "is listed in deployPrincipalArns"),
    ("ci-preview-is-break-glass", {"breakGlassRoleArn": CI_PREVIEW, "ciPreviewRoleArn": CI_PREVIEW},
     "ciPreviewRoleArn", "names the same role as breakGlassRoleArn"),
    ("ci-preview-is-a-publisher", {"ciPreviewRoleArn": f"{OWNER_ROLE}/gh-publish-acme-lib-a"}, "ciPreviewRoleArn",
     "names the publisher role of acme/lib-a"),
]
ROLE_BAD_CASES = [*[(f"deploy-principal-{name}", *rest) for name, *rest in DEPLOY_PRINCIPAL_CASES], *CI_ROLE_CASES]


@pytest.mark.parametrize(("changes", "key", "rule"), [c[1:] for c in ROLE_BAD_CASES],
                         ids=[c[0] for c in ROLE_BAD_CASES])
def test_bad_role_value_is_rejected_naming_key_and_rule(changes, key, rule):
    assert_refused(changes, key, rule)


def test_deploy_principal_cases_each_break_only_their_own_rule():
    assert_each_breaks_only_its_own_rule(ROLE_BAD_CASES[:len(DEPLOY_PRINCIPAL_CASES)])


def test_ci_roles_are_read_when_the_deploy_one_is_a_deploy_principal():
    settings = settings_with(deployPrincipalArns=[CI_DEPLOY], ciDeployRoleArn=CI_DEPLOY, ciPreviewRoleArn=CI_PREVIEW)
    assert (settings.ci_deploy_role_arn, settings.ci_preview_role_arn) == (CI_DEPLOY, CI_PREVIEW)
    assert (settings_with().ci_deploy_role_arn, settings_with().ci_preview_role_arn) == (None, None)


def test_deploy_principals_are_owner_account_roles_with_or_without_a_path():
    arns = [
        f"{OWNER_ROLE}/pypi-registry-ci-deploy",
        f"{OWNER_ROLE}/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PlatformAdmin_0123456789abcdef",
    ]
    settings = settings_with(deployPrincipalArns=arns, breakGlassRoleArn=f"{OWNER_ROLE}/break-glass")
    assert settings.deploy_principal_arns == tuple(arns)
    assert settings.break_glass_role_arn == f"{OWNER_ROLE}/break-glass"
    # The engine hands structured config to the program as JSON text.
    assert settings_with(deployPrincipalArns=json.dumps(arns)).deploy_principal_arns == tuple(arns)
