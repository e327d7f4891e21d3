"""The audit checks the stack against the checked-in pack config, not against itself, and applies
it as the Pulumi CLI does: `all` and each policy's `enforcementLevel` set the levels the policies
run at, and a config that lowers a policy, or names what the pack does not declare, fails."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from audit.guardrails import (
    PackConfigError,
    apply_pack_config,
    guardrails_section,
    pack_config,
    pack_config_problems,
    rendering_violations,
    run_pack,
    stack_pack_config,
)
from audit.render import Rendering, render
from model.stack_file import PROJECT_DIR
from policies.guardrails import POLICIES
from tests.expected import SECONDARIES, STRANGER

CHECKED_IN = PROJECT_DIR / "policies" / "policy-config.prod.json"
SOURCE = "policies/policy-config.prod.json"
ADVISORY_POLICY = "domain-key-customer-managed-with-rotation"  # the pack's one advisory policy
TRUST_POLICY = "role-trust-known-principals"
MANDATORY = [p.name for p in POLICIES if (p.enforcement_level or EnforcementLevel.MANDATORY).value == "mandatory"]


def checked_in() -> dict:
    return json.loads(CHECKED_IN.read_text())


def test_prod_audit_uses_the_checked_in_pack_config(prod):
    config = stack_pack_config(prod)
    assert (config.source, config.problems, config.document) == (SOURCE, [], checked_in())
    assert not guardrails_section(prod).failed


def test_the_pack_has_one_advisory_policy_and_the_rest_mandatory():
    # The cases below lean on it; a change of the pack's levels shows here first.
    assert set(MANDATORY) == {p.name for p in POLICIES} - {ADVISORY_POLICY}


def test_account_added_to_the_stack_but_not_to_the_pack_config_is_reported():
    rendering = render("prod", overrides={"pypi-registry:secondaryAccountIds": [*SECONDARIES, STRANGER]})
    section = guardrails_section(rendering)
    assert section.failed
    assert any(STRANGER in v["message"] and v["enforcement"] == "mandatory" for v in section.json_value)


def test_the_derived_pack_config_allows_the_owners_of_github_readers_too():
    # A consuming repository of another GitHub owner than any publisher's: the settings accept it,
    # so the pack config derived from them must too.
    rendering = render("prod", overrides={"pypi-registry:githubReaders": [{"repository": "partner/app"}]})
    assert "partner" in pack_config(rendering.settings)["github-oidc-trust-pinned"]["allowedGithubOwners"]
    assert [v for v in rendering_violations(rendering) if v.mandatory] == []


# --- the levels, as the CLI applies them ---------------------------------------------------------


def levels(document: dict) -> dict[str, str]:
    return {name: level.value for name, level in apply_pack_config(document).levels.items()}


def test_without_levels_every_policy_keeps_its_own():
    assert levels(checked_in()) == {p.name: "mandatory" for p in POLICIES} | {ADVISORY_POLICY: "advisory"}


@pytest.mark.parametrize("everyone", ["disabled", {"enforcementLevel": "disabled"}])
def test_all_sets_every_policy_and_a_policys_own_entry_overrides_it(everyone):
    found = levels({"all": everyone, TRUST_POLICY: "mandatory",
                    "kms-key-policy-owner-only": {"enforcementLevel": "advisory", "ownerAccountId": "111122223333"},
                    "github-oidc-trust-pinned": {"allowedGithubOwners": ["acme"]}})
    assert found == ({p.name: "disabled" for p in POLICIES}
                     | {TRUST_POLICY: "mandatory", "kms-key-policy-owner-only": "advisory"})


def test_properties_are_the_schema_defaults_with_the_file_over_them():
    applied = apply_pack_config({"github-oidc-trust-pinned": {"enforcementLevel": "mandatory",
                                                              "allowedGithubOwners": ["acme"]}})
    assert applied.properties["github-oidc-trust-pinned"] == {"allowedGithubOwners": ["acme"]}
    assert applied.properties["codeartifact-grants-only-to-allowed-accounts"] == {
        "allowedAccountIds": [], "allowedOrganizationId": ""}


@pytest.mark.parametrize(("document", "message"), [
    ({"all": "off"}, "all: 'off' is not an enforcement level (advisory, mandatory, remediate, disabled)"),
    ({TRUST_POLICY: "Mandatory"}, f"{TRUST_POLICY}: 'Mandatory' is not an enforcement level"),
    ({TRUST_POLICY: {"enforcementLevel": 2}}, f"{TRUST_POLICY}.enforcementLevel: 2 is not an enforcement level"),
    ({TRUST_POLICY: None}, f"{TRUST_POLICY}: None is neither an enforcement level nor an object"),
    ({TRUST_POLICY: ["disabled"]}, f"{TRUST_POLICY}: ['disabled'] is neither an enforcement level nor an object"),
    ({"environments": "prod"}, "environments: must be a list of strings"),
])
def test_what_the_cli_refuses_is_refused(document, message):
    with pytest.raises(PackConfigError) as raised:
        apply_pack_config(document)
    assert str(raised.value).startswith(message)


def trusting_anyone(prod: Rendering) -> Rendering:
    """prod with one reader role trusting every AWS principal: role-trust-known-principals must report it."""
    def changed(resource):
        document = json.loads(resource.inputs["assumeRolePolicy"])
        document["Statement"][0]["Principal"] = {"AWS": "*"}
        text = json.dumps(document)
        return replace(resource, inputs={**resource.inputs, "assumeRolePolicy": text},
                       outputs={**resource.outputs, "assumeRolePolicy": text})
    return replace(prod, resources=[changed(r) if r.name == "reader-444455556666-reader-role" else r
                                    for r in prod.resources])


@pytest.mark.parametrize(("level", "reported"), [
    (None, "mandatory"), ("mandatory", "mandatory"), ("remediate", "mandatory"), ("advisory", "advisory"),
    ("disabled", None),
])
def test_the_pack_runs_each_policy_at_the_level_the_config_gives_it(prod, level, reported):
    config = checked_in() | ({"all": level} if level else {})
    found = {v.enforcement for v in rendering_violations(trusting_anyone(prod), config) if v.policy == TRUST_POLICY}
    assert found == ({reported} if reported else set())


def test_run_pack_still_runs_with_a_derived_config(prod):
    assert rendering_violations(prod, pack_config(prod.settings)) == []
    assert {v.policy for v in run_pack(trusting_anyone(prod).resources, pack_config(prod.settings))} == {TRUST_POLICY}


# --- a checked-in config that weakens the pack fails the audit -------------------------------------


def with_pack_config(prod: Rendering, tmp_path: Path, text: str) -> Rendering:
    """prod, its checked-in pack config replaced by `text` (in a copy of the project folder)."""
    (tmp_path / "policies").mkdir(exist_ok=True)
    (tmp_path / "policies" / "policy-config.prod.json").write_text(text)
    return replace(prod, project_dir=tmp_path)


DERIVED = "says other than the stack's settings derive"


def problems(prod: Rendering, tmp_path: Path, document: object, *, derived: bool = False) -> list[str]:
    """The pack config problems of prod with this config; those of its difference from what the settings
    derive only when `derived` (most cases here are about levels and names)."""
    section = guardrails_section(with_pack_config(prod, tmp_path, json.dumps(document)))
    found = [v["message"] for v in section.json_value if v["urn"] == "" and v["message"].startswith(SOURCE)]
    assert section.failed == (bool(found) or any(v["enforcement"] == "mandatory" for v in section.json_value))
    return [message.removeprefix(f"{SOURCE}: ") for message in found if derived or DERIVED not in message]


def test_a_config_that_says_other_than_the_settings_derive_fails_naming_each_property(prod, tmp_path):
    document = checked_in()
    document["github-oidc-trust-pinned"]["allowedGithubOwners"].append("someone-else")
    del document["kms-key-policy-owner-only"]["breakGlassRoleArn"]
    assert problems(prod, tmp_path, document, derived=True) == [
        f"{DERIVED} (github-oidc-trust-pinned.allowedGithubOwners, kms-key-policy-owner-only.breakGlassRoleArn): "
        "run `make pack-config` (one source: the stack file)"]
    assert problems(prod, tmp_path, checked_in(), derived=True) == []


def test_write_pack_config_writes_what_the_settings_derive(tmp_path):
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "policies").mkdir()
    result = subprocess.run([sys.executable, "-m", "audit", "--stack", "prod", "--project-dir", str(tmp_path),
                             "--write-pack-config"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "policies" / "policy-config.prod.json").read_text() == CHECKED_IN.read_text()


def lowered(policy: str, level: str, own: str = "mandatory", via: str = "") -> str:
    effect = "not run it" if level == "disabled" else "only warn"
    return f"{policy}: {level}{via} is below its own level, {own}: pulumi up would {effect}"


@pytest.mark.parametrize("everyone", ["disabled", {"enforcementLevel": "disabled"}])
def test_all_disabled_fails_naming_every_policy(prod, tmp_path, everyone):
    section = guardrails_section(with_pack_config(prod, tmp_path, json.dumps(checked_in() | {"all": everyone})))
    assert section.failed
    assert [v["message"].removeprefix(f"{SOURCE}: ") for v in section.json_value] == [
        lowered(p.name, "disabled", "advisory" if p.name == ADVISORY_POLICY else "mandatory", ' (from "all")')
        for p in POLICIES]
    assert f'[pack config] {SOURCE}: {TRUST_POLICY}: disabled (from "all") is below its own level' in section.text
    # Run as the CLI would run it, the pack reports nothing at all: only the config check stands.
    assert rendering_violations(trusting_anyone(prod), checked_in() | {"all": everyone}) == []


def test_all_advisory_fails_for_every_mandatory_policy(prod, tmp_path):
    assert problems(prod, tmp_path, checked_in() | {"all": "advisory"}) == [
        lowered(name, "advisory", via=' (from "all")') for name in MANDATORY]


@pytest.mark.parametrize(("entry", "level"), [
    ("disabled", "disabled"), ("advisory", "advisory"),
    ({"enforcementLevel": "disabled"}, "disabled"),
])
def test_one_policy_lowered_fails_naming_it(prod, tmp_path, entry, level):
    assert problems(prod, tmp_path, checked_in() | {TRUST_POLICY: entry}) == [lowered(TRUST_POLICY, level)]


def test_lowering_with_its_properties_kept_fails_too(prod, tmp_path):
    document = checked_in()
    document[TRUST_POLICY] = {**document[TRUST_POLICY], "enforcementLevel": "advisory"}
    assert problems(prod, tmp_path, document) == [lowered(TRUST_POLICY, "advisory")]


def test_the_advisory_policy_disabled_fails_and_raised_passes(prod, tmp_path):
    assert problems(prod, tmp_path, checked_in() | {ADVISORY_POLICY: "disabled"}) == [
        lowered(ADVISORY_POLICY, "disabled", "advisory")]
    assert problems(prod, tmp_path, checked_in() | {ADVISORY_POLICY: "mandatory"}) == []


def test_all_lowered_but_every_policy_set_back_passes(prod, tmp_path):
    document = checked_in() | {"all": "disabled"} | {name: "mandatory" for name in MANDATORY}
    assert problems(prod, tmp_path, document | {ADVISORY_POLICY: "advisory"}) == []


def test_remediate_is_mandatory_for_a_policy_without_a_remediation(prod, tmp_path):
    # pulumi_policy reports a validation at `remediate` as mandatory; the pack has no remediation.
    assert problems(prod, tmp_path, checked_in() | {"all": "remediate"}) == []


def test_remediate_is_refused_for_a_policy_that_has_a_remediation():
    fixing = ResourceValidationPolicy("fixes-things", "remediates", validate=lambda args, report: None,
                                      remediate=lambda args: None)
    assert [p.reason for p in pack_config_problems({"all": "remediate"}, [fixing])] == [
        'remediate (from "all") runs its remediation, which the audit does not run']
    assert pack_config_problems({"all": "mandatory"}, [fixing]) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"typo-policy": "disabled"}, "typo-policy: is not a policy of the pack; remove it or correct the name"),
    ({"typo-policy": {"allowedAccountIds": []}},
     "typo-policy: is not a policy of the pack; remove it or correct the name"),
    ({TRUST_POLICY: {"ownerAccountId": "111122223333", "allowedAccountIds": [], "allowedOrganizationId": ""}},
     f"{TRUST_POLICY}: allowedOrganizationId is not a property of this policy (it declares ownerAccountId, "
     "allowedAccountIds)"),
    ({"domain-key-has-explicit-policy": {"ownerAccountId": "111122223333"}},
     "domain-key-has-explicit-policy: ownerAccountId is not a property of this policy (it declares none)"),
    ({"all": {"enforcementLevel": "mandatory", "ownerAccountId": "111122223333"}},
     "all: takes only enforcementLevel; ownerAccountId would reach no policy"),
    ({"environments": ["prod-policy-values"]},
     "environments: imports Pulumi ESC environments (prod-policy-values) the audit cannot read; remove it"),
    ({"github-oidc-trust-pinned": {"allowedGithubOwners": "acme"}},
     "github-oidc-trust-pinned: allowedGithubOwners: 'acme' is not of type 'array'"),
    ({TRUST_POLICY: {"ownerAccountId": "11112222333", "allowedAccountIds": SECONDARIES}},
     f"{TRUST_POLICY}: ownerAccountId: '11112222333' does not match '^[0-9]{{12}}$'"),
], ids=["unknown-policy", "unknown-policy-properties", "undeclared-property", "policy-without-properties",
        "all-with-properties", "environments", "wrong-type", "bad-pattern"])
def test_a_config_naming_what_the_pack_does_not_declare_fails(prod, tmp_path, change, expected):
    assert problems(prod, tmp_path, checked_in() | change) == [expected]


@pytest.mark.parametrize(("text", "expected"), [
    ('{"all": "disabled", "all": "mandatory"}', "all: given twice"),
    ('{"all": "mandatory",}', "is not valid JSON (Expecting property name enclosed in double quotes"),
    ('["all"]', "must be a JSON object of policy names, got list"),
    ('{"all": "none"}', "all: 'none' is not an enforcement level"),
])
def test_a_config_the_cli_cannot_run_fails_and_runs_no_policy(prod, tmp_path, text, expected):
    section = guardrails_section(with_pack_config(trusting_anyone(prod), tmp_path, text))
    assert section.failed
    (problem,) = section.json_value  # the problem only: the CLI would not run the pack with it
    assert problem["message"].startswith(f"{SOURCE}: {expected}"), problem
    assert section.text.startswith(f"[pack config] {SOURCE}: {expected}")


def test_an_empty_file_is_no_config_as_for_the_cli(prod, tmp_path):
    # The CLI runs an empty file as no config: every cross-account grant is then refused.
    section = guardrails_section(with_pack_config(prod, tmp_path, "\n"))
    assert section.failed
    assert "codeartifact-grants-only-to-allowed-accounts" in {v["policy"] for v in section.json_value}
    # Violations, and one config problem: no config is not what the settings derive.
    (problem,) = [v["message"] for v in section.json_value if v["message"].startswith(SOURCE)]
    assert DERIVED in problem


def test_the_audit_exits_1_naming_the_file_and_the_lowered_policy(tmp_path):
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml", "__main__.py"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "policies").mkdir()
    lowering = checked_in()
    lowering[TRUST_POLICY] = {**lowering[TRUST_POLICY], "enforcementLevel": "advisory"}  # its properties kept
    (tmp_path / "policies" / "policy-config.prod.json").write_text(json.dumps(lowering))
    result = subprocess.run([sys.executable, "-m", "audit", "--stack", "prod", "--project-dir", str(tmp_path)],
                            cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert f"[pack config] {SOURCE}: {lowered(TRUST_POLICY, 'advisory')}\n" in result.stdout
    assert "FAILED: Guardrails" in result.stdout and "1 pack config problems" in result.stdout
