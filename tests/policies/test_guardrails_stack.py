"""The whole policy pack over what the real program records under mocks: the prod stack is
clean, a config weakened through the settings' back door is reported, the audit prints and
fails on it, the example pack config matches prod, and the pack serves the Pulumi CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy

import audit.__main__ as audit_main
import model.pulumi_config as pulumi_config
from audit.guardrails import guardrails_section, pack_config, rendering_violations, run_pack
from audit.render import Rendering, render
from model.stack_file import PROJECT_DIR
from policies.guardrails import PACK_NAME, POLICIES
from tests.expected import INTERNAL_PACKAGES, OWNER, REGION, STRANGER
from tests.policies.support import analyzer, struct

EXAMPLE_CONFIG = PROJECT_DIR / "policies" / "policy-config.prod.json"


def example_config() -> dict:
    return json.loads(EXAMPLE_CONFIG.read_text())


# --- the prod stack ----------------------------------------------------------------------------


def test_prod_stack_has_no_violation_at_all(prod):
    assert rendering_violations(prod) == []
    assert rendering_violations(prod, example_config()) == []


def test_every_recorded_resource_reaches_the_pack(prod):
    seen_resources: list[str] = []
    seen_stack: list[str] = []
    spies = [
        ResourceValidationPolicy("spy-resources", "records", lambda args, report: seen_resources.append(args.urn)),
        StackValidationPolicy("spy-stack", "records",
                              lambda args, report: seen_stack.extend(r.urn for r in args.resources)),
    ]
    run_pack(prod.resources, {}, prod.components, policies=spies)
    assert sorted(seen_resources) == sorted(r.urn for r in prod.resources)
    assert sorted(seen_stack) == sorted(r.urn for r in prod.resources + prod.components)
    # The documents the rules read are all there: 1 domain, 2 repository, 3 reader and 2 publisher policies.
    types = [r.type for r in prod.resources]
    assert types.count("aws:iam/role:Role") == 5 and types.count("aws:iam/rolePolicy:RolePolicy") == 2


# --- the example config for the Pulumi CLI ----------------------------------------------------------


def test_example_config_file_is_what_audit_derives_from_prod_settings(prod):
    assert example_config() == pack_config(prod.settings)


def test_example_config_file_fits_each_policy_schema():
    schemas = {p.name: p.config_schema for p in POLICIES if p.config_schema}
    for name, properties in example_config().items():
        schema = {"type": "object", "properties": schemas[name].properties, "additionalProperties": False}
        jsonschema.validate(properties, schema)


# --- a config weakened through the back door ------------------------------------------------------


def weakened(monkeypatch, change) -> Rendering:
    """Render prod with settings that parse_settings would never return.

    The program reads settings through model.pulumi_config's parse_settings; patching it
    hands the program the weakened settings while the pack keeps the reviewed config.
    """
    original = pulumi_config.parse_settings

    def parse_then_weaken(raw, region):
        return change(original(raw, region))

    monkeypatch.setattr(pulumi_config, "parse_settings", parse_then_weaken)
    return render("prod")


def with_subject(subject: str):
    def change(settings):
        first, *rest = settings.publishers
        return replace(settings, publishers=(replace(first, subjects=(*first.subjects, subject)), *rest))
    return change


@pytest.mark.parametrize(("change", "policy", "resource", "expected"), [
    (with_subject("repo:acme/*:environment:pypi"), "github-oidc-trust-pinned", "publishers-acme-acme-core",
     "has a wildcard"),
    (with_subject("repo:*/*:*"), "github-oidc-trust-pinned", "publishers-acme-acme-core", "wildcard"),
    (with_subject("repo:acme/acme-core:pull_request"), "github-roles-publish-only-own-packages",
     "publishers-acme-acme-core", "trusts pull_request subjects"),
    (lambda s: replace(s, secondary_account_ids=(*s.secondary_account_ids, STRANGER)),
     "codeartifact-grants-only-to-allowed-accounts", "registry-domain-policy", STRANGER),
    (lambda s: replace(s, organization_id="o-zzzzzzzzzz"),
     "codeartifact-grants-only-to-allowed-accounts", "registry-internal-policy", "o-zzzzzzzzzz"),
    (lambda s: replace(s, internal_prefixes=("acme-",)),
     "internal-prefixes-block-external-upstream", None, "'acmecorp-' has no package group"),
], ids=["wildcard-repository", "wildcard-everything", "pull-request", "unlisted-account", "other-organization",
        "dropped-prefix"])
def test_weakened_settings_are_reported(monkeypatch, change, policy, resource, expected):
    rendering = weakened(monkeypatch, change)
    found = [v for v in rendering_violations(rendering, example_config()) if v.policy == policy]
    assert found, f"{policy} reported nothing"
    assert all(v.mandatory for v in found)
    assert any(expected in v.message for v in found), found
    if resource:
        assert any(v.urn.endswith(f"::{resource}") for v in found), found


def test_audit_prints_mandatory_violations_and_fails(monkeypatch, capsys):
    rendering = weakened(monkeypatch, with_subject("repo:acme/*:environment:pypi"))
    monkeypatch.setattr(audit_main, "render", lambda stack, project_dir: rendering)
    monkeypatch.setattr(audit_main, "SECTIONS", [guardrails_section])

    assert audit_main.main(["--stack", "prod"]) == 1
    text = capsys.readouterr().out
    line = next(line for line in text.splitlines() if line.startswith("[mandatory] github-oidc-trust-pinned  "))
    assert "GithubPublishers$aws:iam/role:Role::publishers-acme-acme-core: trust policy" in line
    assert "FAILED: Guardrails" in text

    assert audit_main.main(["--stack", "prod", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["violations"] and set(document["violations"][0]) == {"policy", "enforcement", "urn", "message"}
    assert {v["enforcement"] for v in document["violations"]} == {"mandatory"}


def test_advisory_violations_do_not_fail_the_audit(monkeypatch, prod):
    key = next(r for r in prod.resources if r.type == "aws:kms/key:Key")
    without_rotation = replace(key, outputs={**key.outputs, "enableKeyRotation": False})
    rendering = replace(prod, resources=[without_rotation if r is key else r for r in prod.resources])
    section = guardrails_section(rendering)
    assert not section.failed
    assert section.text.startswith("[advisory] domain-key-customer-managed-with-rotation  ")
    assert section.json_value[0]["enforcement"] == "advisory"


# --- the audit CLI on the real prod stack -------------------------------------------------------------


def test_audit_cli_prints_the_guardrails_section_for_prod():
    result = subprocess.run([sys.executable, "-m", "audit", "--stack", "prod"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=False)
    assert f"== Guardrails ({PACK_NAME}, {len(POLICIES)} policies): 0 mandatory, 0 advisory violations" in result.stdout
    assert "policies over 28 resources: no violations." in result.stdout

    result = subprocess.run([sys.executable, "-m", "audit", "--stack", "prod", "--json"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, check=False)
    document = json.loads(result.stdout)
    assert document["violations"] == []
    assert not any(title.startswith("Guardrails") for title in document["failed"])


# --- the pack as the Pulumi CLI runs it ------------------------------------------------------------------


@pytest.fixture
def served_pack():
    """policies/__main__.py started the way the CLI starts it (cwd policies/), as a gRPC client."""
    yield from analyzer(subprocess.Popen([sys.executable, "__main__.py"], cwd=Path(PROJECT_DIR) / "policies",
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


def test_pack_serves_every_policy_and_reports_over_grpc(served_pack, prod):
    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == PACK_NAME
    assert [p.name for p in info.policies] == [p.name for p in POLICIES]

    served_pack.Configure(analyzer_pb2.ConfigureAnalyzerRequest(policyConfig={
        name: analyzer_pb2.PolicyConfig(properties=struct(properties), enforcementLevel=analyzer_pb2.MANDATORY)
        for name, properties in example_config().items()
    }))
    role = next(r for r in prod.resources if r.name == "publishers-acme-data-tools")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    trust["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] = "repo:acme/*:*"
    weakened_role = {**role.inputs, "assumeRolePolicy": json.dumps(trust)}

    def analyze(props: dict):
        request = analyzer_pb2.AnalyzeRequest(type=role.type, properties=struct(props), urn=role.urn, name=role.name)
        return served_pack.Analyze(request).diagnostics

    assert list(analyze(role.inputs)) == []
    diagnostics = analyze(weakened_role)
    assert {d.policyName for d in diagnostics} == {"github-oidc-trust-pinned"}
    assert all(d.enforcementLevel == analyzer_pb2.MANDATORY for d in diagnostics)
    assert any("has a wildcard" in d.message for d in diagnostics)


# --- attacks on the recorded program: each must draw a mandatory violation ----------------------------

from audit.render import RecordedResource  # noqa: E402

COGNITO = "cognito-identity.amazonaws.com"


def _edit_json(rendering: Rendering, name: str, key: str, edit) -> Rendering:
    """The rendering with one resource's JSON input (and state) changed by `edit(document)`."""
    def changed(resource: RecordedResource) -> RecordedResource:
        document = json.loads(resource.inputs[key])
        edit(document)
        text = json.dumps(document)
        return replace(resource, inputs={**resource.inputs, key: text}, outputs={**resource.outputs, key: text})
    resources = [changed(r) if r.name == name else r for r in rendering.resources]
    assert resources != rendering.resources, f"no resource named {name}"
    return replace(rendering, resources=resources)


def _added(rendering: Rendering, resource_type: str, name: str, inputs: dict, parent: str = "") -> Rendering:
    owner_provider = next(r.urn for r in rendering.resources if r.name == "owner")
    resource = RecordedResource(
        urn=f"urn:pulumi:prod::pypi-registry::{resource_type}::{name}", type=resource_type, name=name, custom=True,
        parent=parent, provider=owner_provider, protect=False, retain_on_delete=False, inputs=inputs,
        outputs=dict(inputs), account=OWNER, region=REGION)
    return replace(rendering, resources=[*rendering.resources, resource])


def _set_statement(**changes):
    def edit(document):
        document["Statement"][0].update(changes)
    return edit


def _publish_on(resource: str):
    def edit(document):
        statement = next(s for s in document["Statement"] if s["Sid"] == "PublishOwnPackages")
        statement["Resource"] = resource
    return edit


def _add_statement(statement: dict):
    def edit(document):
        document["Statement"].append(statement)
    return edit


def _sub_like(value: str):
    def edit(document):
        condition = document["Statement"][0]["Condition"]
        condition["StringLike"] = {"token.actions.githubusercontent.com:sub": value}
        del condition["StringEquals"]["token.actions.githubusercontent.com:sub"]
    return edit


ATTACKS = {
    "admin-on-publisher": (lambda r: _added(r, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin", {
        "role": "gh-publish-acme-acme-core", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        {"managed-policy-attachments-checked", "github-roles-publish-only-own-packages"}),
    "trust-aws-star": (lambda r: _edit_json(r, "reader-444455556666-reader-role", "assumeRolePolicy",
                                            _set_statement(Principal={"AWS": "*"})), {"role-trust-known-principals"}),
    "trust-unlisted-account": (lambda r: _edit_json(r, "reader-444455556666-reader-role", "assumeRolePolicy",
                                                    _set_statement(Principal={"AWS": STRANGER})),
                               {"role-trust-known-principals"}),
    "trust-web-identity": (lambda r: _edit_json(r, "reader-444455556666-reader-role", "assumeRolePolicy",
                                                _set_statement(Principal={"Federated": COGNITO})),
                           {"role-trust-known-principals"}),
    "key-policy-public": (lambda r: _edit_json(
        replace(r, resources=[replace(x, inputs={**x.inputs, "policy": "{}"}, outputs={**x.outputs, "policy": "{}"})
                              if x.name == "registry-key" else x for x in r.resources]),
        "registry-key", "policy", lambda d: d.update(Statement=[
            {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}])),
        {"kms-key-policy-owner-only"}),
    "publish-internal-star": (lambda r: _edit_json(r, "publishers-acme-acme-core-publish", "policy",
                                                   _publish_on(f"{INTERNAL_PACKAGES}/*")),
                              {"github-roles-publish-only-own-packages"}),
    "publish-prefix-star": (lambda r: _edit_json(r, "publishers-acme-acme-core-publish", "policy",
                                                 _publish_on(f"{INTERNAL_PACKAGES}/pypi//acme-*")),
                            {"github-roles-publish-only-own-packages"}),
    "copy-and-status": (lambda r: _edit_json(r, "publishers-acme-acme-core-publish", "policy", _add_statement({
        "Effect": "Allow", "Action": ["codeartifact:CopyPackageVersions", "codeartifact:UpdatePackageVersionsStatus"],
        "Resource": f"{INTERNAL_PACKAGES}/pypi//acme-core"})), {"github-roles-publish-only-own-packages"}),
    "sub-like-environment-star": (lambda r: _edit_json(r, "publishers-acme-acme-core", "assumeRolePolicy",
                                                       _sub_like("repo:acme/acme-core:environment:*")),
                                  {"github-oidc-trust-pinned"}),
    "domain-policy-without-deny": (lambda r: _edit_json(r, "registry-domain-policy", "policyDocument",
                                                        lambda d: d.update(Statement=d["Statement"][:-1])),
                                   {"domain-denies-loss-and-reopening"}),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_each_attack_on_the_program_draws_a_mandatory_violation(prod, attack):
    change, expected = ATTACKS[attack]
    found = rendering_violations(change(prod), example_config())
    mandatory = {v.policy for v in found if v.mandatory}
    assert expected <= mandatory, [v for v in found if v.mandatory]
