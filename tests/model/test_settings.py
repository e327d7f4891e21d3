"""Every validation rule of the registry's own keys, fed its bad value: the error names the key and the rule,
and the program declares nothing. The GitHub keys, the roles and the Pulumi config path have files of their own
(test_settings_github.py, test_settings_roles.py, test_settings_config_path.py)."""

from __future__ import annotations

import re

import pytest

from model.parse import parse_settings
from model.rules import codeartifact_regions
from model.settings import ConfigError, Publisher
from model.stack_file import PROJECT_DIR
from tests.model.settings_cases import (
    VALID,
    assert_each_breaks_only_its_own_rule,
    assert_refused,
    publisher,
    settings_with,
)


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

NEW_BAD_CASES = [
    *[(f"newline-{name}", *rest) for name, *rest in TRAILING_NEWLINE_CASES],
    *[(f"tags-{name}", *rest) for name, *rest in TAG_CASES],
    *REGION_AND_NAME_CASES,
]
BAD_CASES += NEW_BAD_CASES


@pytest.mark.parametrize(("changes", "key", "rule"), [c[1:] for c in BAD_CASES],
                         ids=[c[0] for c in BAD_CASES])
def test_bad_value_is_rejected_naming_key_and_rule(changes, key, rule):
    assert_refused(changes, key, rule)


def test_new_bad_cases_each_break_only_their_own_rule():
    assert_each_breaks_only_its_own_rule(NEW_BAD_CASES)


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


def test_tags_within_every_aws_limit_are_accepted():
    tags = {f"key-{i:02d}": "v" for i in range(48)}
    tags["k" * 128] = "v" * 256
    tags["Équipe données_.:/=+-@ x"] = ""  # Unicode letters, a space, every allowed symbol, an empty value
    assert len(tags) == 50
    assert settings_with(tags=tags).tags == tags


def test_empty_optional_strings_mean_unset_and_quoted_booleans_are_read():
    settings = settings_with(organizationId="", breakGlassRoleArn="", createGithubOidcProvider="false")
    assert (settings.organization_id, settings.break_glass_role_arn) == (None, None)
    assert settings.create_github_oidc_provider is False
