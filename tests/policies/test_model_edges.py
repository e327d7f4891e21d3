"""The model's edges: a resource type the checks do not evaluate, a second permissions policy for one
domain or repository, and a StackSet template section that rewrites or filters what is deployed are each
refused by the pack and fail the audit, naming the resource; the prod stack passes in both reader modes."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from audit.access import access_section
from audit.render import render
from policies.inventory import EVALUATED_TYPES, INERT_TYPES
from policies.templates import read_template
from tests.expected import DOMAIN, DOMAIN_POLICY, OWNER, REPOSITORY, REPOSITORY_POLICY
from tests.policies.support import mandatory, stack_resource, stack_violations
from tests.renderings import with_resource
from tests.stacks import STACKSET_OVERRIDES

TYPES_RULE = "resource-types-evaluated"
ONE_POLICY_RULE = "one-permissions-policy-per-domain-and-repository"
ADMIN_TEMPLATE = json.dumps({"Resources": {"Admin": {"Type": "AWS::IAM::Role", "Properties": {
    "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                "Principal": {"Federated": "*"}}]},
    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}}}})

# Each can create a principal, grant a permission, deploy a template or run code, and no rule reads it.
OUTSIDE_TYPES = {
    "aws:cloudformation/stack:Stack": {"templateBody": ADMIN_TEMPLATE},
    "aws-native:cloudformation:Stack": {"templateUrl": "https://example.invalid/admin.yaml"},
    "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy": {
        "inlinePolicy": json.dumps({"Statement": [{"Effect": "Allow", "Action": "codeartifact:*", "Resource": "*"}]})},
    "aws:iam/user:User": {"name": "ci"},
    "aws:iam/accessKey:AccessKey": {"user": "ci"},
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": {
        "user": "ci", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    "aws:iam/group:Group": {"name": "admins"},
    "aws:lambda/permission:Permission": {"action": "lambda:InvokeFunction", "principal": "*"},
    "aws:organizations/policy:Policy": {"content": "{}"},
    "aws:kms/keyPolicy:KeyPolicy": {"keyId": "k", "policy": "{}"},
    "aws-native:codeartifact:Domain": {"domainName": "other"},
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": {"awsServiceName": "ecs.amazonaws.com"},
    "pulumi:providers:command": {},
    "pulumi-python:dynamic:Resource": {"__provider": "..."},
    "command:local:Command": {"create": "aws iam attach-user-policy ..."},
}


# --- resource types ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{}, STACKSET_OVERRIDES], ids=["accounts", "stackset"])
def test_every_type_the_program_declares_is_evaluated_or_inert(overrides):
    rendering = render("prod", overrides=overrides)
    types = {r.type for r in rendering.resources}
    assert types <= EVALUATED_TYPES | INERT_TYPES, types - EVALUATED_TYPES - INERT_TYPES
    assert mandatory(rendering, TYPES_RULE) == []
    assert not access_section(rendering).failed


@pytest.mark.parametrize("resource_type", sorted(OUTSIDE_TYPES))
def test_a_type_outside_the_model_fails_the_pack_and_the_audit(prod, resource_type):
    tampered = with_resource(prod, resource_type, OUTSIDE_TYPES[resource_type], name="sneaky")
    found = mandatory(tampered, TYPES_RULE)
    assert len(found) == 1 and "::sneaky: sneaky: its type " + resource_type in found[0], found
    section = access_section(tampered)
    assert section.failed
    assert any("sneaky" in line and resource_type in line for line in section.text.splitlines()
               if line.startswith("VIOLATION: ")), section.text[-2000:]


def test_a_component_of_this_program_is_understood_and_a_foreign_one_is_not():
    ours = stack_resource("pypi-registry:index:Registry", "registry", {})
    theirs = stack_resource("acme:index:Anything", "anything", {})
    assert stack_violations(TYPES_RULE, [ours]) == []
    assert len(stack_violations(TYPES_RULE, [theirs])) == 1


@pytest.mark.parametrize("key", ["users", "groups"])
def test_a_policy_attachment_to_users_or_groups_is_outside_the_model(prod, key):
    props = {"policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess", key: ["ci"], "roles": []}
    found = stack_violations(TYPES_RULE, [stack_resource("aws:iam/policyAttachment:PolicyAttachment", "a", props)])
    assert len(found) == 1 and f"IAM {key}" in found[0][0]
    tampered = with_resource(prod, "aws:iam/policyAttachment:PolicyAttachment", props, name="to-people")
    assert access_section(tampered).failed
    # The same attachment to roles only is evaluated like any other.
    roles_only = stack_resource("aws:iam/policyAttachment:PolicyAttachment", "a", {**props, key: []})
    assert stack_violations(TYPES_RULE, [roles_only]) == []


# --- one permissions policy per domain and per repository ---------------------------------------------


def _policy(resource_type: str, name: str, **props) -> dict:
    return {"policyDocument": json.dumps({"Statement": []}), **props}


def test_one_policy_per_domain_and_repository_passes_one_each():
    domain = stack_resource(DOMAIN, "domain", {"domain": "acme"})
    internal = stack_resource(REPOSITORY, "internal", {"domain": "acme", "repository": "internal"})
    store = stack_resource(REPOSITORY, "store", {"domain": "acme", "repository": "pypi-store"})
    resources = [
        domain, internal, store,
        stack_resource(DOMAIN_POLICY, "dp", _policy(DOMAIN_POLICY, "dp", domain="acme"),
                       dependencies={"domain": [domain]}),
        stack_resource(REPOSITORY_POLICY, "rp1", {"domain": "acme", "repository": "internal", "policyDocument": "{}"}),
        stack_resource(REPOSITORY_POLICY, "rp2", {"domain": "acme", "repository": "pypi-store",
                                                  "policyDocument": "{}"}),
    ]
    assert stack_violations(ONE_POLICY_RULE, resources) == []


@pytest.mark.parametrize("second", [
    # The same domain, named in plain text beside one wired by dependency.
    {"type": DOMAIN_POLICY, "props": {"domain": "acme", "policyDocument": "{}"}},
    {"type": DOMAIN_POLICY, "props": {"domain": "acme", "policyDocument": "{}"}, "depends": "domain"},
    {"type": REPOSITORY_POLICY, "props": {"domain": "acme", "repository": "internal", "policyDocument": "{}"}},
], ids=["domain-by-name", "domain-by-dependency", "repository"])
def test_a_second_permissions_policy_is_refused(second):
    domain = stack_resource(DOMAIN, "domain", {"domain": "acme"})
    internal = stack_resource(REPOSITORY, "internal", {"domain": "acme", "repository": "internal"})
    first_domain = stack_resource(DOMAIN_POLICY, "first", {"domain": "acme", "policyDocument": "{}"},
                                  dependencies={"domain": [domain]})
    first_repository = stack_resource(REPOSITORY_POLICY, "first-repo",
                                      {"domain": "acme", "repository": "internal", "policyDocument": "{}"},
                                      dependencies={"repository": [internal]})
    dependencies = {"domain": [domain]} if second.get("depends") else None
    extra = stack_resource(second["type"], "second", second["props"], dependencies=dependencies)
    found = stack_violations(ONE_POLICY_RULE, [domain, internal, first_domain, first_repository, extra])
    assert len(found) == 1 and "second" in found[0][0] and "AWS keeps only the last one" in found[0][0], found


def test_a_permissions_policy_whose_target_is_unknown_is_reported():
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    unknown = stack_resource(DOMAIN_POLICY, "dp", {"domain": UNKNOWN_STRING_VALUE, "policyDocument": "{}"})
    found = stack_violations(ONE_POLICY_RULE, [unknown])
    assert len(found) == 1 and "unknown during preview" in found[0][0]


@pytest.mark.parametrize(("resource_type", "inputs"), [
    (DOMAIN_POLICY, {"domain": "acme", "domainOwner": OWNER,
                     "policyDocument": json.dumps({"Version": "2012-10-17", "Statement": [
                         {"Effect": "Allow", "Principal": "*", "Action": "codeartifact:*", "Resource": "*"}]})}),
    (REPOSITORY_POLICY, {"domain": "acme", "repository": "internal", "policyDocument": json.dumps(
        {"Version": "2012-10-17", "Statement": []})}),
], ids=["domain", "repository"])
def test_a_second_permissions_policy_fails_the_pack_and_the_audit(prod, resource_type, inputs):
    tampered = with_resource(prod, resource_type, inputs, name="second-policy")
    assert any("second-policy" in v for v in mandatory(tampered, ONE_POLICY_RULE))
    section = access_section(tampered)
    assert section.failed and "AWS keeps only the last one written" in section.text


def test_a_second_domain_fails_the_audit(prod):
    domain = next(r for r in prod.resources if r.type == DOMAIN)
    tampered = replace(prod, resources=[*prod.resources, replace(domain, urn=domain.urn + "-2", name="other")])
    assert "the stack declares 2 CodeArtifact domains" in access_section(tampered).text


# --- StackSet template sections ------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["Transform", "Conditions", "Mappings", "Rules", "Hooks", "Surprise"])
def test_a_template_section_that_changes_what_is_deployed_is_refused(section):
    template = {"Resources": {}, section: "AWS::Serverless-2016-10-31" if section == "Transform" else {}}
    problems = read_template(json.dumps(template)).problems
    assert any(f"declares {section}" in p for p in problems), problems
    assert read_template(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Description": "d",
                                     "Resources": {}, "Outputs": {}})).problems == ()


# --- publishers publish exactly their configured names -------------------------------------------------


@pytest.mark.parametrize("name", ["requests", "acmecorp-secrets", "acme-data-tools"],
                         ids=["public", "unclaimed-other-prefix", "another-publishers"])
def test_a_publish_grant_beyond_the_configured_names_fails_the_pack_and_the_audit(prod, name):
    arn = f"arn:aws:codeartifact:eu-west-1:{OWNER}:package/acme/internal/pypi//{name}"
    grant = {"role": "gh-publish-acme-acme-core", "name": "more", "policy": json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion", "Resource": arn}]})}
    tampered = with_resource(prod, "aws:iam/rolePolicy:RolePolicy", grant, name="more-names")
    assert any(f"'{name}'" in v for v in mandatory(tampered, "github-roles-publish-only-own-packages"))
    section = access_section(tampered)
    assert section.failed
    assert any(line.startswith("VIOLATION: publisher acme/acme-core ") and line.endswith(arn)
               for line in section.text.splitlines()), section.text[-1500:]


# --- package groups belong to the registry -------------------------------------------------------------

GROUP_RULE = "package-groups-guard-the-registry"
PACKAGE_GROUP = "aws-native:codeartifact:PackageGroup"


def registry_with_group(**publish) -> list:
    domain = stack_resource(DOMAIN, "domain", {"domain": "acme"})
    internal = stack_resource(REPOSITORY, "internal", {"domain": "acme", "repository": "internal"})
    store = stack_resource(REPOSITORY, "store", {"domain": "acme", "repository": "pypi-store",
                                                 "externalConnections": [{"externalConnectionName": "public:pypi"}]})
    group_props = {"domainName": publish.pop("domain", "acme"), "domainOwner": publish.pop("owner", OWNER),
                   "pattern": "/pypi//acme-~", "originConfiguration": {"restrictions": {
                       "externalUpstream": {"restrictionMode": "BLOCK"}, "publish": publish}}}
    return [domain, internal, store, stack_resource(PACKAGE_GROUP, "group", group_props)]


def test_the_programs_package_groups_pass():
    assert stack_violations(GROUP_RULE, registry_with_group(
        restrictionMode="ALLOW_SPECIFIC_REPOSITORIES", repositories=["internal"])) == []
    assert stack_violations(GROUP_RULE, registry_with_group(restrictionMode="BLOCK")) == []


@pytest.mark.parametrize(("publish", "expected"), [
    ({"restrictionMode": "ALLOW"}, "sets publishing to ALLOW"),
    ({"restrictionMode": "INHERIT"}, "sets publishing to INHERIT"),
    ({}, "sets publishing to nothing (the parent group decides)"),
    ({"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": []}, "ALLOW_SPECIFIC_REPOSITORIES"),
    ({"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["internal", "pypi-store"]},
     "allows publishing into ['pypi-store'], which is not a repository of domain acme without an external"),
    ({"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["elsewhere"]}, "['elsewhere']"),
    ({"restrictionMode": "BLOCK", "domain": "other"}, "declared in domain other, not in a domain this stack"),
    ({"restrictionMode": "BLOCK", "owner": "999988887777"}, "names domain owner 999988887777"),
    ({"restrictionMode": "BLOCK", "domain": None}, "names no domain"),
], ids=["allow", "inherit", "unset", "no-repositories", "into-the-store", "unknown-repository", "other-domain",
        "other-owner", "no-domain"])
def test_a_package_group_outside_the_registry_or_open_to_publishing_is_refused(publish, expected):
    found = stack_violations(GROUP_RULE, registry_with_group(**publish))
    assert len(found) == 1 and expected in found[0][0], found
