"""The access proof sees every grant: every role, every way a policy reaches it, who may assume it.

Extra IAM resources are declared with the real SDKs, after the real program, under the same
mocks (`program_with`), so the proof reads the inputs exactly as Pulumi records them; or added
to a recorded rendering (`with_resources`), as an attacker's pull request would add them.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

import audit.__main__ as audit_cli
from audit.access import (
    BEARER_TOKEN_ACTION,
    SERVICE_NAME_KEY,
    AccessEvaluator,
    Principal,
    Registry,
    access_report,
    access_section,
    administrator,
    is_read_only,
    is_write,
    web_identity_may_assume,
)
from audit.grants import role_grants
from audit.render import RecordedResource, Rendering, render
from audit.sections import Section
from model.documents.actions import CODEARTIFACT_SERVICE, IRREVERSIBLE_ACTIONS
from model.stack_file import PROJECT_DIR
from tests.expected import (
    BREAK_GLASS,
    DEPLOYER,
    DOMAIN_ARN,
    DOMAIN_POLICY,
    GITHUB_OIDC_PROVIDER,
    INTERNAL_PACKAGES,
    OPERATOR,
    OWNER,
    OWNER_ADMIN,
    READER_ROLE_NAME,
    REGION,
    REPOSITORY_ARN,
    SECONDARIES,
)
from tests.moto_iam import deploy_iam, moto_aws, read_roles
from tests.renderings import recorded, with_resources

SECONDARY = SECONDARIES[0]
PUBLISHER_ROLE = f"arn:aws:iam::{OWNER}:role/gh-publish-acme-acme-core"
READER_ROLE = f"arn:aws:iam::{SECONDARY}:role/{READER_ROLE_NAME}"
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"


def program_with(tmp_path: Path, declarations: str) -> Rendering:
    """Render the real program followed by `declarations` (Python with `json`, `aws`, `aws_native`,
    `owner` and `native`, the owner account's resource options, in scope)."""
    for name in ("Pulumi.yaml", "Pulumi.prod.yaml"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    prologue = f"""\
        import json
        import runpy

        import pulumi
        import pulumi_aws as aws
        import pulumi_aws_native as aws_native

        program = runpy.run_path({str(PROJECT_DIR / "__main__.py")!r}, run_name="__main__")
        owner = pulumi.ResourceOptions(provider=program["owner"].aws)
        native = pulumi.ResourceOptions(provider=program["owner"].native)
        """
    (tmp_path / "__main__.py").write_text(textwrap.dedent(prologue) + textwrap.dedent(declarations))
    return render("prod", project_dir=tmp_path)


def attachment(name: str, role: str, policy_arn: str, account: str = OWNER) -> RecordedResource:
    return recorded("aws:iam/rolePolicyAttachment:RolePolicyAttachment", name,
                    {"role": role, "policyArn": policy_arn}, account)


def violators(section: Section) -> set[str]:
    return {line.removeprefix("VIOLATION: ").split(" (arn:")[0] for line in section.text.splitlines()
            if line.startswith("VIOLATION: ")}


def rows(rendering: Rendering) -> dict[str, dict[str, bool]]:
    report = access_report(rendering)
    return {subject.label: dict(zip(report.plan.columns, cells, strict=True)) for subject, cells in report.rows}


# --- an AWS-managed administrator policy on a publisher -----------------------------------


def test_administrator_access_on_a_publisher_fails_the_audit_naming_that_role(prod, monkeypatch, capsys):
    tampered = with_resources(prod, attachment("publisher-admin", "gh-publish-acme-acme-core", ADMINISTRATOR_ACCESS))
    monkeypatch.setattr(audit_cli, "render", lambda *args, **kwargs: tampered)
    assert audit_cli.main(["--stack", "prod"]) == 1
    out = capsys.readouterr().out
    assert f"VIOLATION: publisher acme/acme-core ({PUBLISHER_ROLE}) may codeartifact:DeleteRepository" not in out
    assert f"VIOLATION: publisher acme/acme-core ({PUBLISHER_ROLE}) may codeartifact:PublishPackageVersion on " \
           f"{INTERNAL_PACKAGES}/pypi//acme-data-tools" in out
    assert f"VIOLATION: publisher acme/acme-core ({PUBLISHER_ROLE}) may codeartifact:PutDomainPermissionsPolicy" in out
    row = rows(tampered)["publisher acme/acme-core"]
    assert row["any write"] and row["any permissions change"] and row["publish acme-data-tools"]
    # The Deny of irreversible deletes still holds for it, as for everyone.
    assert not row["irreversible delete"]
    assert violators(access_section(tampered)) == {"publisher acme/acme-core"}


def test_the_same_attachment_in_the_program_is_seen_too(tmp_path):
    rendering = program_with(tmp_path, """\
        aws.iam.RolePolicyAttachment("publisher-admin", role=program["publishers"].role_arns["acme/acme-core"],
                                     policy_arn="arn:aws:iam::aws:policy/AdministratorAccess", opts=owner)
        """)
    section = access_section(rendering)
    assert section.failed
    assert violators(section) == {"publisher acme/acme-core"}
    publisher = next(p for p in section.json_value["principals"] if p["principal"] == PUBLISHER_ROLE)
    assert ADMINISTRATOR_ACCESS in publisher["policies"]


# --- every way a policy reaches a role ------------------------------------------------------

WRITE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": "*"}]}
CODEARTIFACT_ADMIN = "arn:aws:iam::aws:policy/AWSCodeArtifactAdminAccess"

# Each case declares one role in the owner account that gets a write grant one way only:
# (role name, where the grant comes from in its row's policies).
GRANT_TYPES = {
    "aws:iam/rolePolicy:RolePolicy": ("via-role-policy", "inline:publish-anything"),
    "aws:iam/role:Role inlinePolicies": ("via-inline-policies", "inline:publish-anything"),
    "aws:iam/role:Role managedPolicyArns": ("via-managed-policy-arns", CODEARTIFACT_ADMIN),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("via-role-policy-attachment", "policy/publish-anything"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment by role ARN": ("via-attachment-by-arn", CODEARTIFACT_ADMIN),
    "aws:iam/policyAttachment:PolicyAttachment": ("via-policy-attachment", "policy/publish-anything"),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("via-exclusive", CODEARTIFACT_ADMIN),
    "aws-native:iam:Role policies": ("native-inline", "inline:publish-anything"),
    "aws-native:iam:Role managedPolicyArns": ("native-managed-arns", "policy/publish-anything"),
    "aws-native:iam:RolePolicy": ("native-role-policy", "inline:publish-anything"),
    "aws-native:iam:ManagedPolicy": ("native-managed-policy", "policy/native-publish-anything"),
}

TRUST_OWN_ACCOUNT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "sts:AssumeRole"}]}

DECLARATIONS = f"""\
    document = {WRITE_POLICY!r}
    trust = {TRUST_OWN_ACCOUNT!r}
    text = json.dumps(document)

    def role(resource_name, **args):
        return aws.iam.Role(resource_name, assume_role_policy=json.dumps(trust), opts=owner, **args)

    def native_role(resource_name, **args):
        return aws_native.iam.Role(resource_name, role_name=resource_name, assume_role_policy_document=trust,
                                   opts=native, **args)

    policy = aws.iam.Policy("publish-anything", name="publish-anything", policy=text, opts=owner)
    # Autonamed: its name comes from the provider, and the policy reaches it through role.id.
    aws.iam.RolePolicy("via-role-policy-grant", role=role("via-role-policy").id, name="publish-anything",
                       policy=text, opts=owner)
    role("via-inline-policies", name="via-inline-policies",
         inline_policies=[{{"name": "publish-anything", "policy": text}}])
    role("via-managed-policy-arns", name="via-managed-policy-arns", managed_policy_arns=[{CODEARTIFACT_ADMIN!r}])
    aws.iam.RolePolicyAttachment("via-role-policy-attachment-grant", role=role("via-role-policy-attachment").name,
                                 policy_arn=policy.arn, opts=owner)
    aws.iam.RolePolicyAttachment("via-attachment-by-arn-grant", role=role("via-attachment-by-arn").arn,
                                 policy_arn={CODEARTIFACT_ADMIN!r}, opts=owner)
    aws.iam.PolicyAttachment("via-policy-attachment-grant", roles=[role("via-policy-attachment").name],
                             policy_arn=policy.arn, opts=owner)
    aws.iam.RolePolicyAttachmentsExclusive("via-exclusive-grant", role_name=role("via-exclusive").name,
                                           policy_arns=[{CODEARTIFACT_ADMIN!r}], opts=owner)
    native_role("native-inline", policies=[{{"policy_name": "publish-anything", "policy_document": document}}])
    native_role("native-managed-arns", managed_policy_arns=[policy.arn])
    aws_native.iam.RolePolicy("native-role-policy-grant", role_name=native_role("native-role-policy").role_name,
                              policy_name="publish-anything", policy_document=document, opts=native)
    aws_native.iam.ManagedPolicy("native-publish-anything", roles=[native_role("native-managed-policy").role_name],
                                 policy_document=document, opts=native)
    """


@pytest.fixture(scope="module")
def every_grant_type(tmp_path_factory) -> Section:
    return access_section(program_with(tmp_path_factory.mktemp("grants"), DECLARATIONS))


@pytest.mark.parametrize(("role_name", "source"), GRANT_TYPES.values(), ids=list(GRANT_TYPES))
def test_each_way_of_granting_a_policy_feeds_the_proof(every_grant_type, role_name, source):
    section = every_grant_type
    label = f"role {role_name} in {OWNER}"
    (principal,) = [p for p in section.json_value["principals"] if p["label"] == label]
    assert principal["kind"] == "other role"
    assert principal["principal"] == f"arn:aws:iam::{OWNER}:role/{role_name}"
    assert [s for s in principal["policies"] if s.endswith(source)], principal["policies"]
    assert principal["capabilities"]["any write"]
    assert f"VIOLATION: {label} ({principal['principal']}) may codeartifact:PublishPackageVersion on " in section.text
    assert section.json_value["unreadable"] == []


def test_every_declared_role_has_a_row_with_who_may_assume_it(every_grant_type):
    labels = {p["label"] for p in every_grant_type.json_value["principals"]}
    assert {f"role {name} in {OWNER}" for name, _ in GRANT_TYPES.values()} <= labels
    own_account = {"effect": "Allow", "type": "AWS", "principal": f"arn:aws:iam::{OWNER}:root",
                   "actions": ["sts:AssumeRole"], "conditions": []}
    for principal in every_grant_type.json_value["principals"]:
        if principal["kind"] == "other role":
            assert principal["trusted_by"] == [own_account]
    # More roles of one kind than the table lists one by one: one line per distinct trust.
    (line,) = [line for line in every_grant_type.text.splitlines()
               if line.startswith(f"  {len(GRANT_TYPES)} x other role, e.g. role ")]
    assert line.endswith(f" in {OWNER}: principals of its own account")


def test_roles_and_policies_gathered_from_the_prod_program_are_what_it_declares(prod):
    grants = role_grants(prod)
    assert set(grants.roles) == {*(f"arn:aws:iam::{a}:role/{READER_ROLE_NAME}" for a in SECONDARIES),
                                 PUBLISHER_ROLE, f"arn:aws:iam::{OWNER}:role/gh-publish-acme-data-tools"}
    assert set(grants.policies[READER_ROLE]) == {f"arn:aws:iam::{SECONDARY}:policy/codeartifact-pypi-reader-acme"}
    assert set(grants.policies[PUBLISHER_ROLE]) == {"inline:publish-own-packages"}
    assert grants.unreadable == grants.unplaced == grants.not_evaluated == []


@pytest.mark.moto
def test_what_the_proof_gathers_is_what_iam_holds_once_deployed(prod):
    """The recorded IAM side, created in moto and read back: the same roles, trust and policies."""
    grants = role_grants(prod)
    with moto_aws(REGION, prod.settings.deploy_role_name) as aws:
        deploy_iam(aws, prod)
        deployed = {arn: role for account in {r.account for r in grants.roles.values()}
                    for arn, role in read_roles(aws, account).items()}
    for arn, role in grants.roles.items():
        assert deployed[arn].policies == grants.policies[arn], arn
        assert deployed[arn].trust_policy == role.trust_policy, arn


# --- fail closed ---------------------------------------------------------------------------


@pytest.mark.parametrize(("policy_arn", "reason"), [
    ("arn:aws:iam::aws:policy/NoSuchPolicy", "not in policies/aws_managed_policies.json"),
    (f"arn:aws:iam::{OWNER}:policy/created-by-hand", "this stack does not declare that policy"),
    (f"arn:aws:iam::{SECONDARY}:policy/codeartifact-pypi-reader-acme", f"the policy is in account {SECONDARY}"),
], ids=["unknown-aws-managed", "undeclared", "other-account"])
def test_an_unresolvable_policy_counts_as_allowing_everything_and_is_named(prod, policy_arn, reason):
    section = access_section(with_resources(prod, attachment("mystery", "gh-publish-acme-acme-core", policy_arn)))
    assert ("UNREADABLE (taken to allow everything): aws:iam/rolePolicyAttachment:RolePolicyAttachment mystery: "
            f"{policy_arn} on {PUBLISHER_ROLE}: ") in section.text
    assert reason in section.text
    assert section.json_value["unreadable"] == [{
        "resource": "aws:iam/rolePolicyAttachment:RolePolicyAttachment mystery", "role": PUBLISHER_ROLE,
        "policy": policy_arn, "reason": section.json_value["unreadable"][0]["reason"]}]
    assert section.failed
    assert violators(section) == {"publisher acme/acme-core"}


@pytest.mark.parametrize("document", [
    "{not json",
    json.dumps({"Statement": [{"Action": "codeartifact:DescribeDomain", "Resource": "*"}]}),
    json.dumps({"Statement": [{"Effect": "Allow", "Action": ["codeartifact:DescribeDomain", 7]}]}),
], ids=["not-json", "no-effect", "non-string-action"])
def test_an_unparsable_inline_policy_counts_as_allowing_everything(prod, document):
    inline = recorded("aws:iam/rolePolicy:RolePolicy", "broken", {"role": "gh-publish-acme-data-tools",
                                                                 "name": "broken", "policy": document})
    section = access_section(with_resources(prod, inline))
    assert "UNREADABLE (taken to allow everything): aws:iam/rolePolicy:RolePolicy broken: inline:broken on " \
           f"arn:aws:iam::{OWNER}:role/gh-publish-acme-data-tools" in section.text
    assert violators(section) == {"publisher acme/data-tools"}


def test_an_unreadable_policy_on_a_secondary_reader_fails_outside_codeartifact_only(prod):
    # Taken as Allow *, the reader is still held by the owner's resource policies in CodeArtifact (read
    # only), but in every other service of its own account it could do anything: the proof fails there.
    tampered = with_resources(prod, attachment("mystery", "codeartifact-pypi-reader",
                                               "arn:aws:iam::aws:policy/NoSuchPolicy", account=SECONDARY))
    section = access_section(tampered)
    assert f"mystery: arn:aws:iam::aws:policy/NoSuchPolicy on {READER_ROLE}" in section.text
    assert section.failed
    found = [v for v in section.json_value["violations"] if v.startswith(f"reader {SECONDARY} ")]
    assert found and all("beyond Read and List outside CodeArtifact" in v or "on every resource" in v for v in found)
    row = rows(tampered)[f"reader {SECONDARY}"]
    assert row["read internal"] and not row["any write"]


def test_a_grant_whose_role_cannot_be_told_fails(prod):
    section = access_section(with_resources(prod, attachment("nameless", "", ADMINISTRATOR_ACCESS)))
    assert section.failed
    assert ("VIOLATION: aws:iam/rolePolicyAttachment:RolePolicyAttachment nameless puts "
            f"{ADMINISTRATOR_ACCESS} on a role it does not name ('')") in section.text


# --- roles the settings do not know ---------------------------------------------------------


def test_a_role_the_settings_do_not_know_with_a_write_grant_fails(prod):
    trust = json.dumps(TRUST_OWN_ACCOUNT)
    role = recorded("aws:iam/role:Role", "ci-deployer", {"name": "ci-deployer", "assumeRolePolicy": trust},
                    outputs={"arn": f"arn:aws:iam::{OWNER}:role/ci-deployer"})
    inline = recorded("aws:iam/rolePolicy:RolePolicy", "ci-deployer-publish",
                      {"role": "ci-deployer", "name": "publish", "policy": json.dumps(WRITE_POLICY)})
    section = access_section(with_resources(prod, role, inline))
    assert violators(section) == {f"role ci-deployer in {OWNER}"}
    read_only = access_section(with_resources(prod, role))
    assert not read_only.failed
    assert f"role ci-deployer in {OWNER} [other role]" in read_only.text


def test_a_policy_attached_to_a_role_the_stack_does_not_declare_gets_a_row(prod):
    existing = f"arn:aws:iam::{OWNER}:role/existing"
    section = access_section(with_resources(prod, attachment("grant-existing", existing, CODEARTIFACT_ADMIN)))
    label = f"role existing in {OWNER}, not declared here"
    assert violators(section) == {label}
    assert f"  {label} [other role]: unknown: the stack does not declare this role" in section.text


def test_iam_users_and_groups_are_not_evaluated_and_fail_the_proof(prod):
    user = recorded("aws:iam/user:User", "someone", {"name": "someone"})
    to_user = recorded("aws:iam/policyAttachment:PolicyAttachment", "to-someone",
                       {"users": ["someone"], "policyArn": CODEARTIFACT_ADMIN})
    section = access_section(with_resources(prod, user, to_user))
    assert section.failed
    assert [entry.split(":", 3)[:3] for entry in section.json_value["not_evaluated"]] == [
        ["aws", "iam/user", "User someone"], ["aws", "iam/policyAttachment", "PolicyAttachment to-someone"]]
    assert "IAM users, which the checks do not evaluate" in section.json_value["not_evaluated"][1]
    assert any(v.startswith("aws:iam/user:User someone: its type aws:iam/user:User is not evaluated")
               for v in section.json_value["violations"])


# --- who may assume a role -------------------------------------------------------------------


def test_a_trust_policy_open_to_everyone_shows_in_trusted_by(prod):
    anyone = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    role = recorded("aws:iam/role:Role", "open-door", {"name": "open-door", "assumeRolePolicy": json.dumps(anyone)},
                    outputs={"arn": f"arn:aws:iam::{OWNER}:role/open-door"})
    section = access_section(with_resources(prod, role))
    assert f"  role open-door in {OWNER} [other role]: anyone (AWS *)" in section.text
    (principal,) = [p for p in section.json_value["principals"] if p["label"] == f"role open-door in {OWNER}"]
    assert principal["trusted_by"] == [{"effect": "Allow", "type": "AWS", "principal": "*",
                                        "actions": ["sts:AssumeRole"], "conditions": []}]
    assert "anyone" not in next(line for line in section.text.splitlines()
                                if line.startswith(f"  reader {SECONDARY} [reader role]:"))


def test_trusted_by_shows_the_github_subjects_of_each_publisher(prod):
    section = access_section(prod)
    line = next(line for line in section.text.splitlines() if line.startswith("  publisher acme/data-tools"))
    assert f"federated {GITHUB_OIDC_PROVIDER} if " in line
    assert "token.actions.githubusercontent.com:sub=repo:acme/data-tools:environment:pypi," \
           "repo:acme@1342004/data-tools@86712231:environment:pypi" in line
    (reader,) = [p for p in section.json_value["principals"] if p["principal"] == READER_ROLE]
    assert reader["trusted_by"] == [{"effect": "Allow", "type": "AWS", "principal": f"arn:aws:iam::{SECONDARY}:root",
                                     "actions": ["sts:AssumeRole"], "conditions": []}]


def test_an_unreadable_trust_policy_counts_as_open_to_anyone(prod):
    role = recorded("aws:iam/role:Role", "garbled", {"name": "garbled", "assumeRolePolicy": "{"},
                    outputs={"arn": f"arn:aws:iam::{OWNER}:role/garbled"})
    section = access_section(with_resources(prod, role))
    assert f"  role garbled in {OWNER} [other role]: anyone (AWS *) if trust policy unreadable: " in section.text


# --- the owner account: irreversible deletes ----------------------------------------------


def without_deny(rendering: Rendering) -> Rendering:
    resources = []
    for resource in rendering.resources:
        if resource.type == DOMAIN_POLICY:
            document = resource.policy("policyDocument")
            document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "DenyIrreversibleDeletes"]
            resource = replace(resource, inputs={**resource.inputs, "policyDocument": json.dumps(document)})
        resources.append(resource)
    assert resources != rendering.resources
    return replace(rendering, resources=resources)


def test_removing_the_deny_of_irreversible_deletes_fails_naming_the_owner_admin(prod, monkeypatch, capsys):
    tampered = without_deny(prod)
    section = access_section(tampered)
    # The owner's administrator, the deploy CI role (its derived permissions include the delete handlers') and the
    # operator, whose policies the stack does not declare.
    assert violators(section) == {OWNER_ADMIN, DEPLOYER, OPERATOR}
    for action in IRREVERSIBLE_ACTIONS:
        assert f"VIOLATION: {OWNER_ADMIN} (arn:aws:iam::{OWNER}:role/administrator) may {action} on " in section.text
    assert rows(tampered)[OWNER_ADMIN]["irreversible delete"]
    monkeypatch.setattr(audit_cli, "render", lambda *args, **kwargs: tampered)
    assert audit_cli.main(["--stack", "prod"]) == 1
    assert f"VIOLATION: {OWNER_ADMIN}" in capsys.readouterr().out


def test_the_break_glass_role_may_delete_and_the_owner_admin_still_may_not(prod):
    rendering = render("prod", overrides={"pypi-registry:breakGlassRoleArn": BREAK_GLASS})
    table = rows(rendering)
    assert table[f"role break-glass in {OWNER}"]["irreversible delete"]
    assert not table[OWNER_ADMIN]["irreversible delete"]
    section = access_section(rendering)
    assert not section.failed
    assert f"role break-glass in {OWNER} [break-glass role]" in section.text
    assert "role break-glass" not in access_section(prod).text


def test_owner_and_secondary_administrators_do_not_share_decisions(prod):
    table = rows(prod)
    assert table[OWNER_ADMIN]["any write"]
    assert not table[f"admin in {SECONDARY}"]["any write"]
    # A registry whose resource policies name no account: identity policies and ARNs identical up
    # to the account, so only where the checked resources live tells the two administrators apart.
    deny_everyone = {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": list(IRREVERSIBLE_ACTIONS),
                                    "Resource": "*"}]}
    registry = Registry(DOMAIN_ARN, {"internal": f"{REPOSITORY_ARN}/internal"}, deny_everyone, {})
    evaluator = AccessEvaluator(registry)
    publish = "codeartifact:PublishPackageVersion"
    package = f"{INTERNAL_PACKAGES}/pypi//acme-core"
    assert not evaluator.allowed(administrator(SECONDARY), publish, package)
    assert evaluator.allowed(administrator(OWNER), publish, package)
    assert not evaluator.allowed(administrator(OWNER), "codeartifact:DeletePackage", package)
    assert evaluator.shapes_evaluated == 3


# --- evaluator semantics ---------------------------------------------------------------------


def test_tagging_is_a_write_never_read_only(prod):
    assert is_write("codeartifact:TagResource") and not is_read_only("codeartifact:TagResource")
    domain_policy = prod.one(DOMAIN_POLICY, "registry-domain-policy")
    document = domain_policy.policy("policyDocument")
    document["Statement"].append({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SECONDARY}:root"},
                                  "Action": "codeartifact:TagResource", "Resource": DOMAIN_ARN})
    resources = [replace(r, inputs={**r.inputs, "policyDocument": json.dumps(document)}) if r is domain_policy else r
                 for r in prod.resources]
    section = access_section(replace(prod, resources=resources))
    assert violators(section) == {f"admin in {SECONDARY}"}
    assert f"may codeartifact:TagResource on {DOMAIN_ARN}" in section.text


def test_a_deny_in_a_trust_policy_wins_over_an_allow():
    provider = GITHUB_OIDC_PROVIDER
    claim = "token.actions.githubusercontent.com:sub"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {claim: "repo:acme/*"}}},
        {"Effect": "Deny", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {claim: "repo:acme/evil:*"}}},
    ]}
    assert web_identity_may_assume(trust, provider, {claim: "repo:acme/lib:ref:refs/heads/main"}, PUBLISHER_ROLE)
    assert not web_identity_may_assume(trust, provider, {claim: "repo:acme/evil:ref:refs/heads/main"}, PUBLISHER_ROLE)


def test_an_explicit_deny_in_an_identity_policy_wins_over_administrator_access(prod):
    evaluator = AccessEvaluator(Registry.from_rendering(prod))
    deny_bearer = {"Statement": [{"Effect": "Deny", "Action": BEARER_TOKEN_ACTION, "Resource": "*"}]}
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    context = {SERVICE_NAME_KEY: CODEARTIFACT_SERVICE}
    admin = Principal.role(PUBLISHER_ROLE, {"inline:all": allow_all})
    denied = Principal.role(PUBLISHER_ROLE, {"inline:all": allow_all, "inline:deny": deny_bearer})
    assert evaluator.allowed(admin, BEARER_TOKEN_ACTION, "*", context)
    assert not evaluator.allowed(denied, BEARER_TOKEN_ACTION, "*", context)
