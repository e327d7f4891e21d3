"""Every validation rule, fed its bad value: the error names the key and the rule,
and the program declares nothing."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from audit.render import run_program
from model.parse import parse_settings
from model.rules import codeartifact_regions
from model.settings import ConfigError, Publisher
from model.stack_file import PROJECT_DIR, load_stack_config

VALID = {
    "ownerAccountId": "111122223333",
    "domainName": "acme",
    "internalPrefixes": ["acme-"],
    "secondaryAccountIds": ["012345678901", "444455556666"],
    "publishers": [
        {"repository": "acme/lib-a", "packages": ["acme-lib-a"]},
        {"repository": "acme/lib-b", "packages": ["acme-lib-b"],
         "subjects": ["repo:acme/lib-b:environment:pypi"]},
    ],
}


def settings_with(**changes):
    raw = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return parse_settings(raw, "eu-west-1")


def publisher(**fields):
    return {"repository": "acme/lib-a", "packages": ["acme-lib-a"], **fields}


def test_valid_config_parses_with_defaults():
    settings = settings_with()
    assert settings.secondary_account_ids == ("012345678901", "444455556666")
    assert settings.store_repository == "pypi-store"
    assert settings.internal_repository == "internal"
    assert settings.publishers[0] == Publisher(
        repository="acme/lib-a", packages=("acme-lib-a",), subjects=("repo:acme/lib-a:environment:pypi",)
    )
    assert settings.organization_id is None
    assert settings.break_glass_role_arn is None
    assert settings.deploy_principal_arns == ()
    assert settings.tags == {}


BAD_CASES = [
    # (id, changes, key named in the error, words of the rule)
    ("owner-as-number", {"ownerAccountId": 111122223333}, "ownerAccountId", "must be a string"),
    ("owner-short", {"ownerAccountId": "11112222333"}, "ownerAccountId", "exactly 12 digits"),
    ("owner-missing", {"ownerAccountId": None}, "ownerAccountId", "is required"),
    ("secondary-yaml-number", {"secondaryAccountIds": [12345678901]}, "secondaryAccountIds[0]",
     "12-digit string; quote it in YAML"),
    ("secondary-letters", {"secondaryAccountIds": ["01234567890a"]}, "secondaryAccountIds[0]", "exactly 12 digits"),
    ("owner-as-secondary", {"secondaryAccountIds": ["111122223333"]}, "secondaryAccountIds[0]",
     "is the owner account"),
    ("secondary-twice", {"secondaryAccountIds": ["012345678901", "012345678901"]}, "secondaryAccountIds[1]",
     "listed twice"),
    ("domain-upper", {"domainName": "Acme"}, "domainName", "must match"),
    ("domain-trailing-dash", {"domainName": "acme-"}, "domainName", "must match"),
    ("domain-too-long", {"domainName": "a" * 51}, "domainName", "must match"),
    ("domain-missing", {"domainName": None}, "domainName", "is required"),
    ("store-name", {"storeRepositoryName": "-store"}, "storeRepositoryName", "must match"),
    ("internal-name", {"internalRepositoryName": "a"}, "internalRepositoryName", "must match"),
    ("same-repositories", {"internalRepositoryName": "pypi-store"}, "internalRepositoryName",
     "must differ from storeRepositoryName"),
    ("no-prefix", {"internalPrefixes": []}, "internalPrefixes", "at least one"),
    ("empty-prefix", {"internalPrefixes": [""]}, "internalPrefixes[0]", "non-empty normalised"),
    ("unnormalised-prefix", {"internalPrefixes": ["Acme_"]}, "internalPrefixes[0]", "normalised Python name prefix"),
    ("prefix-twice", {"internalPrefixes": ["acme-", "acme-"]}, "internalPrefixes", "twice"),
    ("org-id", {"organizationId": "org-123"}, "organizationId", "o-xxxxxxxxxx"),
    ("break-glass", {"breakGlassRoleArn": "arn:aws:iam::111122223333:user/admin"}, "breakGlassRoleArn",
     "IAM role ARN"),
    ("reader-role-name", {"readerRoleName": "reader role"}, "readerRoleName", "valid IAM role name"),
    ("repository-no-owner", {"publishers": [publisher(repository="lib-a")]}, "publishers[0].repository",
     "owner/name form"),
    ("repository-three-parts", {"publishers": [publisher(repository="acme/lib-a/x")]}, "publishers[0].repository",
     "owner/name form"),
    ("repository-bad-owner", {"publishers": [publisher(repository="-acme/lib-a")]}, "publishers[0].repository",
     "owner/name form"),
    ("subject-wildcard-repo", {"publishers": [publisher(subjects=["repo:acme/*:environment:pypi"])]},
     "publishers[0].subjects[0]", "wildcard"),
    ("subject-wildcard-context", {"publishers": [publisher(subjects=["repo:acme/lib-a:*"])]},
     "publishers[0].subjects[0]", "wildcard"),
    ("subject-pull-request", {"publishers": [publisher(subjects=["repo:acme/lib-a:pull_request"])]},
     "publishers[0].subjects[0]", "pull_request"),
    ("subject-other-repo", {"publishers": [publisher(subjects=["repo:acme/lib-b:environment:pypi"])]},
     "publishers[0].subjects[0]", "belongs to another repository"),
    ("subject-other-owner", {"publishers": [publisher(subjects=["repo:evil/lib-a:environment:pypi"])]},
     "publishers[0].subjects[0]", "belongs to another repository"),
    ("subject-not-a-subject", {"publishers": [publisher(subjects=["acme/lib-a"])]},
     "publishers[0].subjects[0]", "must look like repo:OWNER/REPO"),
    ("subject-branch-without-ref", {"publishers": [publisher(subjects=["repo:acme/lib-a:main"])]},
     "publishers[0].subjects[0]", "must end in :environment:NAME, :ref:refs/heads/BRANCH or :ref:refs/tags/TAG"),
    ("no-packages", {"publishers": [publisher(packages=[])]}, "publishers[0].packages", "non-empty list"),
    ("unnormalised-package", {"publishers": [publisher(packages=["Acme_Lib_A"])]}, "publishers[0].packages[0]",
     "use 'acme-lib-a'"),
    ("wildcard-package", {"publishers": [publisher(packages=["acme-*"])]}, "publishers[0].packages[0]",
     "'acme-*' is not a normalised Python package name: lower-case letters and digits joined by single hyphens"),
    ("package-outside-prefixes", {"publishers": [publisher(packages=["requests"])]}, "publishers[0].packages",
     "outside every internal prefix"),
    ("package-two-publishers", {"publishers": [publisher(), publisher(repository="acme/lib-b")]},
     "publishers[1].packages", "already published by acme/lib-a"),
    ("publisher-twice", {"publishers": [publisher(), publisher(packages=["acme-other"])]},
     "publishers[1].repository", "listed twice"),
    ("publisher-unknown-field", {"publishers": [publisher(branch="main")]}, "publishers[0]", "unknown fields"),
    ("tags-not-strings", {"tags": {"cost-centre": 42}}, "tags", "string to string"),
]

# Every pattern is applied whole: a value with a trailing newline is refused, key by key.
NL = "\n"
TRAILING_NEWLINE_CASES = [
    ("owner", {"ownerAccountId": "111122223333" + NL}, "ownerAccountId", "exactly 12 digits"),
    ("secondary", {"secondaryAccountIds": ["012345678901" + NL]}, "secondaryAccountIds[0]", "exactly 12 digits"),
    ("domain", {"domainName": "acme" + NL}, "domainName", "must match"),
    ("store", {"storeRepositoryName": "pypi-store" + NL}, "storeRepositoryName", "must match"),
    ("internal", {"internalRepositoryName": "internal" + NL}, "internalRepositoryName", "must match"),
    ("prefix", {"internalPrefixes": ["acme-" + NL]}, "internalPrefixes[0]", "normalised Python name prefix"),
    ("organization", {"organizationId": "o-a1b2c3d4e5" + NL}, "organizationId", "o-xxxxxxxxxx"),
    ("deploy-role-name", {"deployRoleName": "pypi-registry-deploy" + NL}, "deployRoleName", "valid IAM role name"),
    ("reader-role-name", {"readerRoleName": "reader" + NL}, "readerRoleName", "valid IAM role name"),
    ("break-glass", {"breakGlassRoleArn": "arn:aws:iam::111122223333:role/break-glass" + NL}, "breakGlassRoleArn",
     "IAM role ARN"),
    ("deploy-principal", {"deployPrincipalArns": ["arn:aws:iam::111122223333:role/deploy" + NL]},
     "deployPrincipalArns[0]", "IAM role ARN"),
    ("repository", {"publishers": [publisher(repository="acme/lib-a" + NL)]}, "publishers[0].repository",
     "owner/name form"),
    ("package", {"publishers": [publisher(packages=["acme-lib-a" + NL])]}, "publishers[0].packages[0]",
     "not a normalised Python package name"),
    ("subject-environment", {"publishers": [publisher(subjects=["repo:acme/lib-a:environment:pypi" + NL])]},
     "publishers[0].subjects[0]", "control character"),
    ("subject-branch", {"publishers": [publisher(subjects=["repo:acme/lib-a:ref:refs/heads/main" + NL])]},
     "publishers[0].subjects[0]", "not a valid git branch or tag name"),
    ("tag-key", {"tags": {"owner" + NL: "platform"}}, "tags", "contains '\\n'"),
    ("tag-value", {"tags": {"owner": "platform" + NL}}, "tags", "contains '\\n'"),
]

OWNER_ROLE = "arn:aws:iam::111122223333:role"
TAG_CASES = [
    ("too-many", {"tags": {f"k{i}": "v" for i in range(51)}}, "tags", "IAM allows at most 50"),
    ("empty-key", {"tags": {"": "v"}}, "tags", "must be 1-128 characters long, not 0"),
    ("long-key", {"tags": {"k" * 129: "v"}}, "tags", "must be 1-128 characters long, not 129"),
    ("long-value", {"tags": {"owner": "v" * 257}}, "tags", "must be 0-256 characters long, not 257"),
    ("key-character", {"tags": {"cost!centre": "v"}}, "tags", "contains '!'"),
    ("value-character", {"tags": {"owner": "platform*"}}, "tags", "contains '*'"),
    ("value-tab", {"tags": {"owner": "plat\tform"}}, "tags", "contains '\\t'"),
    ("aws-prefix", {"tags": {"aws:owner": "v"}}, "tags", "starts with 'aws:', which AWS reserves"),
    ("aws-prefix-upper-case", {"tags": {"AWS:Owner": "v"}}, "tags", "starts with 'aws:', which AWS reserves"),
    ("keys-differing-in-case", {"tags": {"Owner": "a", "owner": "b"}}, "tags", "differ only in case"),
    ("not-a-map", {"tags": ["owner"]}, "tags", "map of string to string"),
]

REGION_AND_NAME_CASES = [
    ("preview-is-the-organizations-admin", {"previewRoleName": "OrganizationAccountAccessRole"}, "previewRoleName",
     "the AWS Organizations administrator role of member accounts"),
    ("deploy-is-control-towers", {"deployRoleName": "awscontroltowerexecution"}, "deployRoleName",
     "AWS Control Tower's administrator role"),
    ("reader-is-service-linked", {"readerRoleName": "AWSServiceRoleForSupport"}, "readerRoleName",
     "a service-linked role name"),
    ("deploy-is-identity-centers", {"deployRoleName": "AWSReservedSSO_Admin_0123"}, "deployRoleName",
     "an IAM Identity Center role name"),
    ("preview-is-a-stackset-execution-role", {"previewRoleName": "stacksets-exec-0123456789abcdef"},
     "previewRoleName", "a service-managed StackSet execution role name"),
    ("repositories-same-ignoring-case", {"storeRepositoryName": "PyPI-Store", "internalRepositoryName": "pypi-store"},
     "internalRepositoryName", "must differ from storeRepositoryName, ignoring case"),
    ("reader-is-deploy-role", {"readerRoleName": "PyPI-Registry-Deploy"}, "readerRoleName",
     "must differ from deployRoleName, ignoring case"),
    ("publisher-roles-collide", {"publishers": [publisher(repository="acme-x/lib"),
                                                publisher(repository="acme/x-lib", packages=["acme-x-lib"])]},
     "publishers[1].repository", "role name gh-publish-acme-x-lib collides with the one of acme-x/lib"),
    ("publisher-roles-collide-ignoring-case",
     {"publishers": [publisher(repository="acme-X/lib"), publisher(repository="acme/x-lib", packages=["acme-x-lib"])]},
     "publishers[1].repository", "collides with the one of acme-X/lib (IAM role names are unique ignoring case)"),
    ("empty-store-name", {"storeRepositoryName": ""}, "storeRepositoryName", "must not be empty"),
    ("oidc-flag-capitalised", {"createGithubOidcProvider": "True"}, "createGithubOidcProvider",
     "must be true or false"),
]

SUBJECT_AND_PREFIX_CASES = [
    ("pull-request-context", "repo:acme/lib-a:pull_request", "names pull_request"),
    ("pull-request-target", "repo:acme/lib-a:pull_request_target", "names pull_request"),
    ("pull-request-environment", "repo:acme/lib-a:environment:pull_request", "names pull_request in its environment"),
    ("pull-request-in-environment-name", "repo:acme/lib-a:environment:Preview-Pull_Request",
     "names pull_request in its environment"),
    ("pull-request-ref", "repo:acme/lib-a:ref:refs/pull/1/merge", "its context 'ref:refs/pull/1/merge' is none"),
    ("workflow-dispatch", "repo:acme/lib-a:workflow_dispatch", "must end in :environment:NAME"),
    ("remote-ref", "repo:acme/lib-a:ref:refs/remotes/origin/main", "must end in :environment:NAME"),
    ("empty-environment", "repo:acme/lib-a:environment:", "names an empty environment"),
    ("colon-in-environment", "repo:acme/lib-a:environment:prod:eu", "containing ':'"),
    ("padded-environment", "repo:acme/lib-a:environment: pypi", "surrounding white space"),
    ("empty-branch", "repo:acme/lib-a:ref:refs/heads/", "not a valid git branch or tag name"),
    ("branch-with-space", "repo:acme/lib-a:ref:refs/heads/my branch", "not a valid git branch or tag name"),
    ("branch-with-dots", "repo:acme/lib-a:ref:refs/heads/a..b", "not a valid git branch or tag name"),
    ("branch-ending-lock", "repo:acme/lib-a:ref:refs/heads/main.lock", "not a valid git branch or tag name"),
    ("tag-with-caret", "repo:acme/lib-a:ref:refs/tags/v1^0", "not a valid git branch or tag name"),
]

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

NEW_BAD_CASES = [
    *[(f"newline-{name}", *rest) for name, *rest in TRAILING_NEWLINE_CASES],
    *[(f"tags-{name}", *rest) for name, *rest in TAG_CASES],
    *REGION_AND_NAME_CASES,
    *[(f"subject-{name}", {"publishers": [publisher(subjects=[subject])]}, "publishers[0].subjects[0]", rule)
      for name, subject, rule in SUBJECT_AND_PREFIX_CASES],
    ("package-prefix-without-its-dash", {"publishers": [publisher(packages=["acmefoo"])]}, "publishers[0].packages",
     "'acmefoo' is outside every internal prefix ['acme-']"),
    *[(f"deploy-principal-{name}", *rest) for name, *rest in DEPLOY_PRINCIPAL_CASES],
]
BAD_CASES += NEW_BAD_CASES

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
BAD_CASES += CI_ROLE_CASES


def test_ci_roles_are_read_when_the_deploy_one_is_a_deploy_principal():
    settings = settings_with(deployPrincipalArns=[CI_DEPLOY], ciDeployRoleArn=CI_DEPLOY, ciPreviewRoleArn=CI_PREVIEW)
    assert (settings.ci_deploy_role_arn, settings.ci_preview_role_arn) == (CI_DEPLOY, CI_PREVIEW)
    assert (settings_with().ci_deploy_role_arn, settings_with().ci_preview_role_arn) == (None, None)


@pytest.mark.parametrize(("changes", "key", "rule"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_value_is_rejected_naming_key_and_rule(changes, key, rule):
    with pytest.raises(ConfigError) as raised:
        settings_with(**changes)
    problems = [p for p in raised.value.problems if p.startswith(f"pypi-registry:{key}:")]
    assert problems, raised.value.problems
    assert any(rule in p for p in problems), problems


def test_new_bad_cases_each_break_only_their_own_rule():
    # One bad value at a time: a case passes because its own rule bites, not another one.
    for name, changes, key, _ in NEW_BAD_CASES:
        with pytest.raises(ConfigError) as raised:
            settings_with(**changes)
        assert all(p.startswith(f"pypi-registry:{key}:") for p in raised.value.problems), (name, raised.value.problems)


@pytest.mark.parametrize(("region", "rule"), [
    ("Ireland", "'Ireland' is not a region where CodeArtifact is offered, one of ap-northeast-1"),
    ("eu-west-1\n", "'eu-west-1\\n' is not a region where CodeArtifact is offered"),
    ("ap-east-1", "'ap-east-1' is not a region where CodeArtifact is offered"),  # an AWS region without it
    ("us-gov-west-1", "'us-gov-west-1' is in the aws-us-gov partition; every ARN here is arn:aws:"),
    ("cn-north-1", "'cn-north-1' is in the aws-cn partition; every ARN here is arn:aws:"),
    (None, "is required: a region where CodeArtifact is offered"),
])
def test_region_must_offer_codeartifact_in_the_aws_partition(region, rule):
    with pytest.raises(ConfigError) as raised:
        parse_settings(VALID, region)
    (problem,) = raised.value.problems
    assert problem.startswith(f"aws:region: {rule}")
    if "partition" in rule:
        assert "no GovCloud, no China" in problem


def test_regions_come_from_botocores_endpoint_data():
    import botocore.session

    regions = botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")
    assert codeartifact_regions() == tuple(sorted(regions))
    assert "eu-west-1" in regions and not any(r.startswith(("us-gov-", "cn-")) for r in regions)


@pytest.mark.parametrize("region", codeartifact_regions())
def test_every_codeartifact_region_is_accepted(region):
    assert parse_settings(VALID, region).region == region


def test_patterns_are_applied_whole_never_with_match():
    # re.match(r"^...$") accepts "111122223333\n": validation uses fullmatch only.
    for path in [*sorted((PROJECT_DIR / "model").rglob("*.py")), PROJECT_DIR / "pypi_login" / "cli.py"]:
        source = path.read_text()
        assert not re.search(r"[A-Z_]+\.match\(", source), path
        assert not re.search(r're\.compile\(r"\^', source), path


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        settings_with(domainName="Bad", secondaryAccountIds=[1])
    assert len(raised.value.problems) == 2


@pytest.mark.parametrize(
    "subject",
    [
        "repo:acme/lib-a:environment:pypi",
        "repo:acme/lib-a:ref:refs/heads/main",
        "repo:acme/lib-a:ref:refs/tags/v1.2.3",
        "repo:acme@1342004/lib-a@86712231:environment:pypi",
    ],
)
def test_exact_subject_forms_are_accepted(subject):
    settings = settings_with(publishers=[publisher(subjects=[subject])])
    assert settings.publishers[0].subjects == (subject,)


@pytest.mark.parametrize(
    "subject",
    [
        # A pull request event never yields a ref: subject, so a branch may mention pull_request.
        "repo:acme/lib-a:ref:refs/heads/fix-pull_request-parsing",
        "repo:acme/lib-a:ref:refs/heads/release/1.x",
        "repo:acme/lib-a:ref:refs/tags/v1.2.3-pull_request-fix",
        "repo:acme/lib-a:environment:Production EU",
        "repo:acme@1342004/lib-a@86712231:ref:refs/tags/v2",
    ],
)
def test_branch_tag_and_environment_subjects_that_look_unusual_are_accepted(subject):
    assert settings_with(publishers=[publisher(subjects=[subject])]).publishers[0].subjects == (subject,)


def test_a_prefix_without_a_dash_is_a_plain_string_prefix():
    # The package group /pypi//acme~ covers acmefoo too, so the publisher is inside it.
    settings = settings_with(internalPrefixes=["acme"], publishers=[publisher(packages=["acmefoo", "acme-lib-a"])])
    assert settings.publishers[0].packages == ("acmefoo", "acme-lib-a")


def test_tags_within_every_aws_limit_are_accepted():
    tags = {f"key-{i:02d}": "v" for i in range(48)}
    tags["k" * 128] = "v" * 256
    tags["Équipe données_.:/=+-@ x"] = ""  # Unicode letters, a space, every allowed symbol, an empty value
    assert len(tags) == 50
    assert settings_with(tags=tags).tags == tags


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


def test_empty_optional_strings_mean_unset_and_quoted_booleans_are_read():
    settings = settings_with(organizationId="", breakGlassRoleArn="", createGithubOidcProvider="false")
    assert (settings.organization_id, settings.break_glass_role_arn) == (None, None)
    assert settings.create_github_oidc_provider is False


def test_long_repository_gets_a_short_unique_role_name():
    long_repo = "acme/" + "x" * 90
    settings = settings_with(publishers=[publisher(repository=long_repo)])
    name = settings.publishers[0].role_name
    assert len(name) <= 64
    assert name != Publisher(repository="acme/" + "x" * 91, packages=(), subjects=()).role_name


# --- the same rules through the Pulumi config path --------------------------------


def _engine_values(**changes):
    values = {f"pypi-registry:{k}": v for k, v in copy.deepcopy(VALID).items()}
    values["aws:region"] = "eu-west-1"
    values.update({f"pypi-registry:{k}": v for k, v in changes.items()})
    return values


def test_program_fails_before_declaring_anything_on_bad_config():
    recorded = []
    with pytest.raises(pulumi.RunError, match=r"pypi-registry:secondaryAccountIds\[1\]: .* is the owner account"):
        run_program(_engine_values(secondaryAccountIds=["012345678901", "111122223333"]), recorded=recorded)
    assert recorded == []


def test_program_declares_resources_on_good_config():
    recorded, _ = run_program(_engine_values())
    assert any(r.type == "aws:codeartifact/domain:Domain" for r in recorded)


def _project_with_stack(tmp_path: Path, stack_yaml: str) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "Pulumi.bad.yaml").write_text(stack_yaml)
    return tmp_path


def test_yaml_number_for_an_account_id_is_rejected_not_reformatted(tmp_path):
    project = _project_with_stack(
        tmp_path,
        "config:\n  aws:region: eu-west-1\n  pypi-registry:ownerAccountId: 011122223333\n"
        "  pypi-registry:domainName: acme\n  pypi-registry:internalPrefixes: [acme-]\n",
    )
    with pytest.raises(ConfigError, match=r"pypi-registry:ownerAccountId: must be of type string \(quote it"):
        load_stack_config("bad", project)


def test_undeclared_key_is_rejected(tmp_path):
    project = _project_with_stack(tmp_path, "config:\n  pypi-registry:secondaryAccounts: ['012345678901']\n")
    with pytest.raises(ConfigError, match=r"secondaryAccounts: is not declared in Pulumi\.yaml"):
        load_stack_config("bad", project)


def test_audit_exits_2_with_the_message_and_no_traceback(tmp_path):
    project = _project_with_stack(
        tmp_path,
        "config:\n  aws:region: eu-west-1\n  pypi-registry:ownerAccountId: '111122223333'\n"
        "  pypi-registry:domainName: acme\n  pypi-registry:internalPrefixes: [acme-]\n"
        "  pypi-registry:secondaryAccountIds: ['111122223333']\n",
    )
    result = subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "bad", "--project-dir", str(project)],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "pypi-registry:secondaryAccountIds[0]: 111122223333 is the owner account" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- immutable GitHub subjects --------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [{"ownerId": "1342004", "repositoryId": "86712231"},
                                 {"ownerId": 1342004, "repositoryId": 86712231}], ids=["strings", "numbers"])
def test_with_the_ids_given_the_default_subjects_are_the_immutable_form(ids):
    settings = settings_with(publishers=[publisher(**ids)], githubReaders=[{"repository": "acme/app", **ids}])
    assert settings.publishers[0].subjects == ("repo:acme@1342004/lib-a@86712231:environment:pypi",)
    assert settings.github_readers[0].subjects == (
        "repo:acme@1342004/app@86712231:pull_request", "repo:acme@1342004/app@86712231:ref:refs/heads/main")


@pytest.mark.parametrize(("ids", "subjects", "where", "expected"), [
    ({"ownerId": "1342004"}, None, "publishers[0].repositoryId", "both ownerId and repositoryId, or neither"),
    ({"ownerId": "0", "repositoryId": "1"}, None, "publishers[0].ownerId", "whole numbers"),
    ({"ownerId": True, "repositoryId": "1"}, None, "publishers[0].ownerId", "whole numbers"),
    ({"ownerId": "1", "repositoryId": "2"}, ["repo:acme/lib-a:environment:pypi"], "publishers[0].subjects[0]",
     "is not the immutable form with ownerId 1 and repositoryId 2"),
    ({"ownerId": "1", "repositoryId": "2"}, ["repo:acme@1/lib-a@3:environment:pypi"], "publishers[0].subjects[0]",
     "is not the immutable form"),
], ids=["one-id", "zero", "boolean", "classic-subject", "other-repository-id"])
def test_ids_that_cannot_be_used_are_refused(ids, subjects, where, expected):
    entry = publisher(**ids) if subjects is None else publisher(subjects=subjects, **ids)
    with pytest.raises(ConfigError) as raised:
        settings_with(publishers=[entry])
    assert any(p.startswith(f"pypi-registry:{where}: ") and expected in p for p in raised.value.problems), \
        raised.value.problems
