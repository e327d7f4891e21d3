"""Dependabot: optional read-only roles (`dependabotReaders`) that Dependabot's OIDC proxy assumes, validated like
the CI readers (never a pull_request subject), held to read-only by the pack and the access proof, and the
`.github/dependabot.yml` that uses them printed by `python -m audit --dependabot-yml`."""

from __future__ import annotations

import io
import json
import shutil
from dataclasses import replace

import pytest
import yaml
from ruamel.yaml import YAML

from audit.__main__ import main
from audit.access import access_report, access_section, github_claims, web_identity_may_assume
from audit.dependabot import dependabot_registry, dependabot_yml
from audit.guardrails import rendering_violations
from audit.render import Rendering, render
from model.documents.readers import reader_identity_policy
from model.parse import parse_settings
from model.settings import ConfigError
from model.stack_file import PROJECT_DIR
from tests.expected import GITHUB_OIDC_PROVIDER, INTERNAL_PACKAGES, OWNER, REGION

BASE = {"ownerAccountId": OWNER, "domainName": "acme", "internalPrefixes": ["acme-"]}
CONFIG_KEY = "pypi-registry:dependabotReaders"
ROLE = f"arn:aws:iam::{OWNER}:role/dependabot-pypi-reader"
# What Dependabot's proxy sends (dependabot/proxy, internal/oidc): GitHub's token for the update job, which runs
# on the default branch, with the audience it asks for unless the registry entry names another.
DEPENDABOT_SUBJECT = "repo:acme/app:ref:refs/heads/main"
PROXY_AUDIENCE = "sts.amazonaws.com"


def settings_with(readers, **extra):
    return parse_settings({**BASE, "dependabotReaders": readers, **extra}, REGION)


def test_subjects_default_to_the_default_branch_in_the_form_the_ids_call_for():
    (reader,) = settings_with([{"repository": "acme/app"}]).dependabot_readers
    assert reader.subjects == (DEPENDABOT_SUBJECT,)
    with_ids = settings_with([{"repository": "acme/app", "ownerId": "1342004", "repositoryId": "77"}])
    (reader,) = with_ids.dependabot_readers
    assert reader.subjects == ("repo:acme@1342004/app@77:ref:refs/heads/main",)


@pytest.mark.parametrize(("readers", "key", "expected"), [
    ([{"repository": "acme/app", "subjects": ["repo:acme/app:pull_request"]}], "dependabotReaders[0].subjects[0]",
     "never as pull_request"),
    ([{"repository": "acme/app", "subjects": ["repo:acme/*:ref:refs/heads/main"]}], "dependabotReaders[0].subjects[0]",
     "wildcard"),
    ([{"repository": "acme/app", "subjects": ["repo:acme/other:ref:refs/heads/main"]}],
     "dependabotReaders[0].subjects[0]", "another repository"),
    ([{"repository": "acme/app"}, {"repository": "Acme/App"}], "dependabotReaders[1].repository", "listed twice"),
    ([{"repository": "acme/app", "packages": ["acme-x"]}], "dependabotReaders[0]", "unknown fields"),
    (["acme/app"], "dependabotReaders[0]", "must be an object"),
    ([{"repository": "acme/app"},
      {"repository": "acme/big", "subjects": [f"repo:acme/big:ref:refs/heads/b{i}" for i in range(60)]}],
     "dependabotReaders[1].subjects", "the subjects of acme/big alone make a trust policy of"),
], ids=["pull-request", "wildcard", "other-repo", "duplicate-repo", "unknown-field", "not-object", "too-large"])
def test_bad_dependabot_readers_are_refused_naming_the_key_and_the_rule(readers, key, expected):
    with pytest.raises(ConfigError) as error:
        settings_with(readers)
    assert any(p.startswith(f"pypi-registry:{key}:") and expected in p for p in error.value.problems), error.value


@pytest.mark.parametrize("name", ["dependabot-pypi-reader", "Dependabot-PyPI-Reader-3"])
def test_a_deploy_principal_may_not_be_a_dependabot_reader_role(name):
    with pytest.raises(ConfigError, match=r"deployPrincipalArns\[0\]: .* names the Dependabot reader role"):
        settings_with([], deployPrincipalArns=[f"arn:aws:iam::{OWNER}:role/{name}"])
    settings_with([], deployPrincipalArns=[f"arn:aws:iam::{OWNER}:role/dependabot-pypi-reader-x"])  # not one


@pytest.fixture(scope="module")
def with_dependabot() -> Rendering:
    return render("prod", overrides={CONFIG_KEY: [{"repository": "acme/app"}, {"repository": "acme/web"}]})


def _role(rendering: Rendering):
    return rendering.one("aws:iam/role:Role", "publishers-dependabot-reader")


def test_the_program_declares_a_read_only_role_as_the_proxy_assumes_it(with_dependabot):
    role = _role(with_dependabot)
    # The proxy builds arn:aws:iam::ACCOUNT:role/NAME: no path, so none may be set.
    assert role.inputs["name"] == "dependabot-pypi-reader" and role.inputs.get("path", "/") == "/"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": PROXY_AUDIENCE,
        "token.actions.githubusercontent.com:sub": [DEPENDABOT_SUBJECT, "repo:acme/web:ref:refs/heads/main"],
    }}
    policy = with_dependabot.one("aws:iam/rolePolicy:RolePolicy", "publishers-dependabot-reader-read")
    assert json.loads(policy.inputs["policy"]) == reader_identity_policy(with_dependabot.settings)
    assert with_dependabot.outputs["dependabotRoleArns"] == {"acme/app": ROLE, "acme/web": ROLE}
    for subject, audience, expected in [
        (DEPENDABOT_SUBJECT, PROXY_AUDIENCE, True),
        ("repo:acme/app:pull_request", PROXY_AUDIENCE, False),
        ("repo:acme/other:ref:refs/heads/main", PROXY_AUDIENCE, False),
        (DEPENDABOT_SUBJECT, "https://github.com/acme", False),  # GitHub's default audience
    ]:
        assert web_identity_may_assume(trust, GITHUB_OIDC_PROVIDER, github_claims(subject, audience), ROLE) is expected


def test_without_dependabot_readers_there_is_no_role_and_no_output(prod):
    assert not [r for r in prod.resources if "dependabot" in r.name]
    assert "dependabotRoleArns" not in prod.outputs


def test_the_dependabot_role_passes_the_pack_and_only_reads(with_dependabot):
    assert [v for v in rendering_violations(with_dependabot) if v.mandatory] == []
    report = access_report(with_dependabot)
    (row,) = [cells for subject, cells in report.rows if subject.label == "Dependabot reader dependabot-pypi-reader"]
    columns = dict(zip(report.plan.columns, row, strict=True))
    assert columns["read internal"] and columns["read pypi-store"]
    assert not any(value for name, value in columns.items() if not name.startswith("read "))
    assert not access_section(with_dependabot).failed


def _changed(rendering: Rendering, name: str, key: str, document: dict) -> Rendering:
    text = json.dumps(document)
    return replace(rendering, resources=[
        replace(r, inputs={**r.inputs, key: text}, outputs={**r.outputs, key: text}) if r.name == name else r
        for r in rendering.resources])


def test_a_dependabot_role_that_may_publish_fails_the_proof(with_dependabot):
    document = reader_identity_policy(with_dependabot.settings)
    document["Statement"].append({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
                                  "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-core"})
    section = access_section(_changed(with_dependabot, "publishers-dependabot-reader-read", "policy", document))
    assert section.failed and "VIOLATION: Dependabot reader dependabot-pypi-reader" in section.text


@pytest.mark.parametrize(("condition", "expected"), [
    ({"StringEquals": {"token.actions.githubusercontent.com:aud": PROXY_AUDIENCE},
      "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*:ref:refs/heads/main"}}, "wildcard"),
    ({"StringEquals": {"token.actions.githubusercontent.com:sub": DEPENDABOT_SUBJECT}}, "does not pin"),
    ({"StringEquals": {"token.actions.githubusercontent.com:aud": PROXY_AUDIENCE,
                       "token.actions.githubusercontent.com:sub": "repo:stranger/app:ref:refs/heads/main"}},
     "not one of allowedGithubOwners"),
], ids=["wildcard-subject", "no-audience", "other-owner"])
def test_a_looser_dependabot_trust_is_refused_by_the_pack(with_dependabot, condition, expected):
    trust = json.loads(_role(with_dependabot).inputs["assumeRolePolicy"])
    trust["Statement"][0]["Condition"] = condition
    found = [v for v in rendering_violations(_changed(with_dependabot, "publishers-dependabot-reader",
                                                      "assumeRolePolicy", trust))
             if v.policy == "github-oidc-trust-pinned"]
    assert found and all(v.mandatory for v in found) and any(expected in v.message for v in found)


# --- .github/dependabot.yml -----------------------------------------------------------------------------------


def test_the_registry_entry_names_what_the_proxy_needs_and_the_role_that_trusts_the_repository(with_dependabot):
    entry = dependabot_registry(with_dependabot.settings, "ACME/App")
    assert entry == {
        "type": "python-index",
        "url": with_dependabot.outputs["indexUrl"],
        "replaces-base": True,
        "aws-region": REGION,
        "account-id": OWNER,
        "role-name": "dependabot-pypi-reader",
        "domain": "acme",
        "domain-owner": OWNER,
    }
    # The role ARN as the proxy builds it is the one the stack exports for the repository.
    assert f"arn:aws:iam::{entry['account-id']}:role/{entry['role-name']}" == (
        with_dependabot.outputs["dependabotRoleArns"]["acme/app"])
    with pytest.raises(ValueError, match="acme/other is not one of dependabotReaders"):
        dependabot_registry(with_dependabot.settings, "acme/other")


def test_the_file_keeps_account_ids_strings_for_a_yaml_1_2_reader_too():
    settings = parse_settings({**BASE, "ownerAccountId": "012345678901", "dependabotReaders": [
        {"repository": "acme/app"}]}, REGION)
    text = dependabot_yml(settings, "acme/app")
    for document in (yaml.safe_load(text), YAML(typ="safe").load(io.StringIO(text))):
        entry = document["registries"]["codeartifact"]
        assert entry["account-id"] == entry["domain-owner"] == "012345678901"
        assert entry == dependabot_registry(settings, "acme/app")
        assert document["updates"] == [{"package-ecosystem": "pip", "directory": "/", "registries": ["codeartifact"],
                                        "schedule": {"interval": "weekly"}}]


def test_the_audit_prints_the_file_for_a_listed_repository_and_refuses_another(tmp_path, capsys):
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack = (PROJECT_DIR / "Pulumi.prod.yaml").read_text()
    listed = "  pypi-registry:dependabotReaders:\n    - repository: acme/app\n"
    (tmp_path / "Pulumi.prod.yaml").write_text(stack + listed)
    assert main(["--stack", "prod", "--project-dir", str(tmp_path), "--dependabot-yml", "acme/app"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["registries"]["codeartifact"] == {
        **dependabot_registry(settings_with([{"repository": "acme/app"}]), "acme/app"),
        "url": "https://acme-111122223333.d.codeartifact.eu-west-1.amazonaws.com/pypi/internal/simple/"}
    assert main(["--stack", "prod", "--project-dir", str(tmp_path), "--dependabot-yml", "acme/web"]) == 2
    assert "acme/web is not one of dependabotReaders (acme/app)" in capsys.readouterr().err


def test_the_readme_shows_the_entry_the_audit_prints_for_the_prod_stack():
    text = (PROJECT_DIR / "docs" / "consuming.md").read_text()
    command = "python -m audit --stack prod --dependabot-yml acme/service-a\n```\n\n```yaml\n"
    shown = text[text.index(command) + len(command):]
    shown = yaml.safe_load(shown[:shown.index("```")])
    prod = render("prod", overrides={CONFIG_KEY: [{"repository": "acme/service-a"}]})
    assert shown == {"registries": {"codeartifact": dependabot_registry(prod.settings, "acme/service-a")}}
