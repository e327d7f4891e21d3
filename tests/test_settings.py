"""Every validation rule, fed its bad value: the error names the key and the rule,
and the program declares nothing."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from audit.render import run_program
from audit.stack_config import PROJECT_DIR, load_stack_config
from components.settings import ConfigError, Publisher, parse_settings

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
     "publishers[0].subjects[0]", "must look like repo:OWNER/REPO"),
    ("no-packages", {"publishers": [publisher(packages=[])]}, "publishers[0].packages", "non-empty list"),
    ("unnormalised-package", {"publishers": [publisher(packages=["Acme_Lib_A"])]}, "publishers[0].packages[0]",
     "use 'acme-lib-a'"),
    ("package-outside-prefixes", {"publishers": [publisher(packages=["requests"])]}, "publishers[0].packages",
     "outside every internal prefix"),
    ("package-two-publishers", {"publishers": [publisher(), publisher(repository="acme/lib-b")]},
     "publishers[1].packages", "already published by acme/lib-a"),
    ("publisher-twice", {"publishers": [publisher(), publisher(packages=["acme-other"])]},
     "publishers[1].repository", "listed twice"),
    ("publisher-unknown-field", {"publishers": [publisher(branch="main")]}, "publishers[0]", "unknown fields"),
    ("tags-not-strings", {"tags": {"cost-centre": 42}}, "tags", "string to string"),
]


@pytest.mark.parametrize(("changes", "key", "rule"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES])
def test_bad_value_is_rejected_naming_key_and_rule(changes, key, rule):
    with pytest.raises(ConfigError) as raised:
        settings_with(**changes)
    problems = [p for p in raised.value.problems if p.startswith(f"pypi-registry:{key}:")]
    assert problems, raised.value.problems
    assert any(rule in p for p in problems), problems


def test_region_is_validated():
    with pytest.raises(ConfigError, match=r"aws:region: 'Ireland' is not an AWS region"):
        parse_settings(VALID, "Ireland")


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
