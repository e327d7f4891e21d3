"""The rules that see every grant: trust policies of any role, KMS key policies, managed-policy
attachments, the scope of GitHub-assumable roles, the Deny of irreversible deletes, duplicate
JSON keys and unpinned providers. Each bad case draws a mandatory violation naming the rule's
concern; a plausible safe case passes."""

from __future__ import annotations

import copy
import json

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from model.documents.github import publisher_permissions_policy, publisher_trust_policy
from model.documents.readers import reader_trust_policy
from policies.guardrails import POLICIES
from tests.expected import (
    BREAK_GLASS,
    INTERNAL_PACKAGES,
    KMS_KEY,
    MANAGED_POLICY,
    OWNER,
    PACKAGE_ARN,
    ROLE,
    ROLE_POLICY,
    STRANGER,
)
from tests.policies.support import (
    CONFIG,
    PUBLISHER,
    SECONDARY,
    SETTINGS,
    domain_with_policy,
    options,
    policy_named,
    program_policy,
    stack_resource,
    stack_violations,
    violations,
)

NATIVE_ROLE = "aws-native:iam:Role"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
AWS_POLICY = "arn:aws:iam::aws:policy/"


def document(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal, actions, resource="*", condition=None, effect="Allow") -> dict:
    statement = {"Effect": effect, "Action": actions, "Resource": resource}
    if principal is not None:
        statement["Principal"] = principal
    if condition:
        statement["Condition"] = condition
    return statement


def test_every_new_rule_is_mandatory():
    names = {"role-trust-known-principals", "kms-key-policy-owner-only", "managed-policy-attachments-checked",
             "github-roles-publish-only-own-packages", "domain-denies-loss-and-reopening",
             "domain-key-has-explicit-policy"}
    assert {p.name for p in POLICIES} >= names
    assert all(policy_named(n).enforcement_level == EnforcementLevel.MANDATORY for n in names)


# --- trust policies of every role ---------------------------------------------------------------------

TRUST_RULE = "role-trust-known-principals"


def role(trust: dict) -> dict:
    return {"assumeRolePolicy": json.dumps(trust), "name": "r"}


@pytest.mark.parametrize("props", [
    role(reader_trust_policy(SECONDARY)),
    role(publisher_trust_policy(SETTINGS, PUBLISHER)),
    role(document(allow({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole"))),
    role(document(allow({"AWS": f"arn:aws:iam::{OWNER}:role/deploy"}, "sts:AssumeRole"))),
], ids=["reader", "publisher", "service", "owner-role"])
def test_trust_passes_known_principals(props):
    assert violations(TRUST_RULE, ROLE, props) == []


@pytest.mark.parametrize(("statement", "expected"), [
    (allow({"AWS": "*"}, "sts:AssumeRole"), 'trusts "*"'),
    (allow("*", "sts:AssumeRole"), 'trusts "*"'),
    (allow({"AWS": "*"}, "sts:AssumeRole", condition={"StringEquals": {"aws:PrincipalAccount": OWNER}}),
     'trusts "*"'),
    (allow({"AWS": f"arn:aws:iam::{STRANGER}:root"}, "sts:AssumeRole"), f"trusts arn:aws:iam::{STRANGER}:root"),
    (allow({"AWS": STRANGER}, "sts:AssumeRole"), f"trusts {STRANGER}"),
    (allow({"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity"),
     "web identity or SAML provider cognito-identity.amazonaws.com"),
    (allow({"Federated": f"arn:aws:iam::{OWNER}:oidc-provider/accounts.google.com"},
           "sts:AssumeRoleWithWebIdentity"), "oidc-provider/accounts.google.com"),
    (allow({"Federated": f"arn:aws:iam::{STRANGER}:oidc-provider/token.actions.githubusercontent.com"},
           "sts:AssumeRoleWithWebIdentity"), "only the GitHub OIDC provider of the owner account"),
    (allow({"Federated": f"arn:aws:iam::{OWNER}:saml-provider/okta"}, "sts:AssumeRoleWithSAML"),
     "saml-provider/okta"),
    (allow({"CanonicalUser": "abc"}, "sts:AssumeRole"), "unknown kind CanonicalUser"),
], ids=["aws-star", "star", "aws-star-conditioned", "stranger-root", "stranger-id", "cognito", "other-oidc",
        "github-elsewhere", "saml", "canonical-user"])
def test_trust_reports_unknown_principals(statement, expected):
    found = violations(TRUST_RULE, ROLE, role(document(statement)))
    assert found and any(expected in m for m in found), found


def test_trust_reports_not_principal_and_reads_aws_native_roles():
    not_principal = {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{OWNER}:root"},
                     "Action": "sts:AssumeRole"}
    assert "NotPrincipal" in violations(TRUST_RULE, ROLE, role(document(not_principal)))[0]
    native = {"assumeRolePolicyDocument": document(allow({"AWS": "*"}, "sts:AssumeRole"))}
    assert violations(TRUST_RULE, NATIVE_ROLE, native)


def test_trust_without_config_refuses_other_accounts_but_not_the_roles_own():
    reader = role(reader_trust_policy(SECONDARY))
    assert violations(TRUST_RULE, ROLE, reader, account=SECONDARY, config={}) == []
    assert violations(TRUST_RULE, ROLE, reader, account=OWNER, config={})


# --- KMS key policies -----------------------------------------------------------------------------------

KMS_RULE = "kms-key-policy-owner-only"
ROOT = {"AWS": f"arn:aws:iam::{OWNER}:root"}
KEY_LOSS = ["kms:ScheduleKeyDeletion", "kms:DisableKey"]


def key(*statements: dict) -> dict:
    return {"policy": json.dumps(document(*statements)), "enableKeyRotation": True}


def deny_key_loss(condition=None) -> dict:
    return allow("*", KEY_LOSS, condition=condition, effect="Deny")


EXEMPT_BREAK_GLASS = {"ArnNotEquals": {"aws:PrincipalArn": BREAK_GLASS}}
KMS_CONFIG = {"ownerAccountId": OWNER, "breakGlassRoleArn": BREAK_GLASS}


@pytest.mark.parametrize(("props", "config"), [
    (key(allow(ROOT, "kms:*"), deny_key_loss()), None),
    (key(allow(ROOT, "kms:*"), deny_key_loss(EXEMPT_BREAK_GLASS)), KMS_CONFIG),
    (key(allow({"AWS": BREAK_GLASS}, KEY_LOSS), allow(ROOT, ["kms:Decrypt", "kms:DescribeKey"])), KMS_CONFIG),
    (key(allow("*", ["kms:Decrypt", "kms:DescribeKey"], condition={"StringEquals": {"kms:CallerAccount": OWNER}})),
     None),
], ids=["root-with-deny", "break-glass-exempt", "break-glass-allowed", "star-narrowed-to-owner"])
def test_key_policy_passes_owner_only_and_denied_key_loss(props, config):
    assert violations(KMS_RULE, KMS_KEY, props, config=config) == []


@pytest.mark.parametrize(("props", "expected"), [
    (key(allow("*", "kms:*")), 'grants to "*"'),
    (key(allow({"AWS": "*"}, "kms:Decrypt", condition={"StringEquals": {"kms:CallerAccount": STRANGER}})),
     'grants to "*"'),
    (key(allow({"AWS": f"arn:aws:iam::{STRANGER}:root"}, "kms:Decrypt")), "outside the owner account"),
    (key(allow({"Federated": "cognito-identity.amazonaws.com"}, "kms:Decrypt")), "Federated principal"),
    (key(allow(ROOT, "kms:*")), "allows kms:ScheduleKeyDeletion"),
    (key(allow(ROOT, "kms:Disable*")), "allows kms:DisableKey"),
    (key(allow(ROOT, "kms:*"), deny_key_loss({"ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{OWNER}:role/x"}})),
     "allows kms:ScheduleKeyDeletion"),
    (key(allow(ROOT, "kms:*"), deny_key_loss({"StringEquals": {"aws:PrincipalTag/team": "x"}})),
     "allows kms:DisableKey"),
    (key({"Effect": "Allow", "NotPrincipal": ROOT, "Action": "kms:Decrypt", "Resource": "*"}), "NotPrincipal"),
], ids=["star-everything", "star-other-account", "other-account", "federated", "root-unrestricted",
        "disable-wildcard", "exempts-another-role", "deny-with-other-condition", "not-principal"])
def test_key_policy_reports_public_foreign_and_key_loss_grants(props, expected):
    found = violations(KMS_RULE, KMS_KEY, props, config=KMS_CONFIG)
    assert found and any(expected in m for m in found), found


def test_key_policy_is_read_from_the_key_policy_resource_too():
    assert violations(KMS_RULE, KEY_POLICY, {"keyId": "k", **key(allow("*", "kms:*"))}, config=KMS_CONFIG)
    assert violations(KMS_RULE, "aws-native:kms:Key", {"keyPolicy": document(allow("*", "kms:*"))},
                      config=KMS_CONFIG)


def test_key_policy_exemption_needs_the_configured_break_glass_role():
    props = key(allow(ROOT, "kms:*"), deny_key_loss(EXEMPT_BREAK_GLASS))
    assert violations(KMS_RULE, KMS_KEY, props, config={"ownerAccountId": OWNER})


# --- managed-policy attachments -----------------------------------------------------------------------

ATTACH_RULE = "managed-policy-attachments-checked"
DECLARED_ARN = f"arn:aws:iam::{OWNER}:policy/declared"


def declared_policy() -> object:
    return stack_resource(MANAGED_POLICY, "declared", {"arn": DECLARED_ARN, "policy": json.dumps(
        document(allow(None, "codeartifact:ReadFromRepository", f"{INTERNAL_PACKAGES}/*")))})


ATTACHMENTS = {
    "role-policy-attachment": ("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                               lambda arn: {"role": "r", "policyArn": arn}),
    "policy-attachment": ("aws:iam/policyAttachment:PolicyAttachment",
                          lambda arn: {"roles": ["r"], "policyArn": arn}),
    "role-managed-policy-arns": (ROLE, lambda arn: {"name": "r", "managedPolicyArns": [arn]}),
    "exclusive": ("aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
                  lambda arn: {"roleName": "r", "policyArns": [arn]}),
    "native-role": (NATIVE_ROLE, lambda arn: {"roleName": "r", "managedPolicyArns": [arn]}),
    "user-attachment": ("aws:iam/userPolicyAttachment:UserPolicyAttachment",
                        lambda arn: {"user": "u", "policyArn": arn}),
}


@pytest.mark.parametrize("kind", sorted(ATTACHMENTS))
@pytest.mark.parametrize(("policy_arn", "expected"), [
    (f"{AWS_POLICY}AdministratorAccess", "grants write or admin access"),
    (f"{AWS_POLICY}PowerUserAccess", "grants write or admin access"),
    (f"{AWS_POLICY}AWSCodeArtifactAdminAccess", "grants write or admin access"),
    (f"{AWS_POLICY}IAMFullAccess", "grants write or admin access"),
    (f"{AWS_POLICY}NoSuchPolicyAnywhere", "cannot be read here"),
    (f"arn:aws:iam::{OWNER}:policy/not-in-this-stack", "does not declare"),
], ids=["admin", "power-user", "codeartifact-admin", "iam-full", "unknown-aws-managed", "undeclared"])
def test_attachments_report_write_unreadable_and_undeclared_policies(kind, policy_arn, expected):
    resource_type, props = ATTACHMENTS[kind]
    found = stack_violations(ATTACH_RULE, [declared_policy(), stack_resource(resource_type, "a", props(policy_arn))])
    assert len(found) == 1 and expected in found[0][0] and policy_arn in found[0][0], found


@pytest.mark.parametrize("kind", sorted(ATTACHMENTS))
@pytest.mark.parametrize("policy_arn", [DECLARED_ARN, f"{AWS_POLICY}AWSCodeArtifactReadOnlyAccess"],
                         ids=["declared", "aws-managed-read-only"])
def test_attachments_pass_declared_and_read_only_policies(kind, policy_arn):
    resource_type, props = ATTACHMENTS[kind]
    attachment = stack_resource(resource_type, "a", props(policy_arn))
    assert stack_violations(ATTACH_RULE, [declared_policy(), attachment]) == []


def test_attachment_unknown_at_preview_passes_only_when_it_comes_from_a_declared_policy():
    policy = declared_policy()
    props = {"role": "r", "policyArn": UNKNOWN_STRING_VALUE}
    attachment = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
    linked = stack_resource(attachment, "a", props, dependencies={"policyArn": [policy]})
    assert stack_violations(ATTACH_RULE, [policy, linked]) == []
    unlinked = stack_resource(attachment, "a", props)
    found = stack_violations(ATTACH_RULE, [policy, unlinked])
    assert len(found) == 1 and "unknown during preview" in found[0][0]


# --- what a GitHub-assumable role may do ---------------------------------------------------------------

SCOPE_RULE = "github-roles-publish-only-own-packages"


def publisher_role(**extra) -> object:
    props = {"name": "gh", "arn": f"arn:aws:iam::{OWNER}:role/gh",
             "assumeRolePolicy": json.dumps(publisher_trust_policy(SETTINGS, PUBLISHER)), **extra}
    return stack_resource(ROLE, "gh", props)


def inline(target, policy: dict) -> object:
    return stack_resource(ROLE_POLICY, "gh-inline", {"role": "gh", "policy": json.dumps(policy)},
                          dependencies={"role": [target]})


def test_scope_passes_the_real_publisher_policy_and_ignores_roles_github_cannot_assume():
    target = publisher_role()
    assert stack_violations(SCOPE_RULE, [target, inline(target, publisher_permissions_policy(
        SETTINGS, PUBLISHER))]) == []
    reader = stack_resource(ROLE, "reader", {"name": "reader", "assumeRolePolicy": json.dumps(
        reader_trust_policy(OWNER))})
    writes = stack_resource(ROLE_POLICY, "reader-inline", {"role": "reader", "policy": json.dumps(
        document(allow(None, "codeartifact:CopyPackageVersions", f"{INTERNAL_PACKAGES}/pypi//acme-x")))})
    assert stack_violations(SCOPE_RULE, [reader, writes]) == []


@pytest.mark.parametrize(("statement", "expected"), [
    (allow(None, "codeartifact:PublishPackageVersion", f"{INTERNAL_PACKAGES}/*"), "PublishPackageVersion on"),
    (allow(None, "codeartifact:PublishPackageVersion", f"{INTERNAL_PACKAGES}/pypi//acme-*"),
     "PublishPackageVersion on"),
    (allow(None, "codeartifact:PublishPackageVersion", f"{PACKAGE_ARN}/*/pypi//acme-data-tools"),
     "PublishPackageVersion on"),
    (allow(None, "codeartifact:CopyPackageVersions", f"{INTERNAL_PACKAGES}/pypi//acme-data-tools"),
     "CopyPackageVersions"),
    (allow(None, "codeartifact:UpdatePackageVersionsStatus", f"{INTERNAL_PACKAGES}/pypi//acme-data-tools"),
     "UpdatePackageVersionsStatus"),
    (allow(None, "codeartifact:PutPackageOriginConfiguration", f"{INTERNAL_PACKAGES}/pypi//acme-data-tools"),
     "PutPackageOriginConfiguration"),
    (allow(None, "codeartifact:DeletePackageVersions", f"{INTERNAL_PACKAGES}/pypi//acme-data-tools"),
     "DeletePackageVersions"),
    (allow(None, "codeartifact:PutRepositoryPermissionsPolicy", "*"), "PutRepositoryPermissionsPolicy"),
    (allow(None, "codeartifact:P*", f"{INTERNAL_PACKAGES}/pypi//acme-data-tools"), "PutPackageOriginConfiguration"),
    (allow(None, "s3:PutObject"), "s3:PutObject"),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "NotAction"),
    ({"Effect": "Allow", "Action": "codeartifact:PublishPackageVersion",
      "NotResource": f"{INTERNAL_PACKAGES}/pypi//acme-core"}, "NotResource"),
    # Exact ARNs, but not this repository's names: a public name, an unclaimed internal one, another's.
    (allow(None, "codeartifact:PublishPackageVersion", f"{INTERNAL_PACKAGES}/pypi//requests"), "'requests'"),
    (allow(None, "codeartifact:PublishPackageVersion", f"{INTERNAL_PACKAGES}/pypi//acmecorp-secrets"),
     "'acmecorp-secrets', which is not one of the packages"),
    (allow(None, "codeartifact:PublishPackageVersion", f"{INTERNAL_PACKAGES}/pypi//acme-core"),
     "'acme-core', which is not one of the packages publisherPackages gives the repositories it trusts "
     "(acme-data-tools)"),
], ids=["internal-star", "prefix-star", "any-repository", "copy", "status", "origin", "delete", "permissions",
        "publish-wildcard-action", "other-service-write", "not-action", "not-resource", "public-name", "unclaimed",
        "another-publishers"])
def test_scope_reports_everything_beyond_publishing_exact_packages(statement, expected):
    target = publisher_role()
    found = stack_violations(SCOPE_RULE, [target, inline(target, document(statement))])
    assert found and all(urn == target.urn for _, urn in found)
    assert any(expected in message for message, _ in found), found


def test_scope_holds_a_configured_name_outside_every_prefix_and_fails_closed_without_config():
    target = publisher_role()
    own = inline(target, publisher_permissions_policy(SETTINGS, PUBLISHER))
    outside = {**CONFIG[SCOPE_RULE], "publisherPackages": {"acme/data-tools": ["acme-data-tools"]},
               "internalPrefixes": ["other-"]}
    found = stack_violations(SCOPE_RULE, [target, own], config=outside)
    assert found and "outside every internal prefix" in found[0][0]
    # Without publisherPackages, no name is the role's own: every publish grant is refused.
    found = stack_violations(SCOPE_RULE, [target, own], config={**CONFIG[SCOPE_RULE], "publisherPackages": {}})
    assert found and "(none)" in found[0][0]
    # Without publisherSubjects, no role is a publisher: every GitHub role may only read.
    found = stack_violations(SCOPE_RULE, [target, own], config={})
    assert found and "which publisherSubjects gives no publisher" in found[0][0]
    assert "PublishPackageVersion: a role that is not a publisher (a CI or Dependabot reader) may only read" in (
        found[0][0])


def test_a_role_two_repositories_share_publishes_only_what_both_claim():
    shared = publisher_trust_policy(SETTINGS, PUBLISHER)
    other = publisher_trust_policy(SETTINGS, SETTINGS.publishers[0])
    statement = shared["Statement"][0]
    subjects = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    other_subject = other["Statement"][0]["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] = [
        *([subjects] if isinstance(subjects, str) else subjects), other_subject]
    target = stack_resource(ROLE, "gh", {"name": "gh", "arn": f"arn:aws:iam::{OWNER}:role/gh",
                                         "assumeRolePolicy": json.dumps(shared)})
    found = stack_violations(SCOPE_RULE, [target, inline(target, publisher_permissions_policy(SETTINGS,
                                                                                                 PUBLISHER))])
    assert found and "'acme-data-tools', which is not one of the packages" in found[0][0]


def test_scope_follows_every_way_a_policy_reaches_the_role():
    copy_grant = document(allow(None, "codeartifact:CopyPackageVersions", f"{INTERNAL_PACKAGES}/pypi//acme-data-tools"))
    in_role = publisher_role(inlinePolicies=[{"name": "extra", "policy": json.dumps(copy_grant)}])
    assert stack_violations(SCOPE_RULE, [in_role])

    target = publisher_role()
    admin = stack_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "admin",
                           {"role": "gh", "policyArn": f"{AWS_POLICY}AdministratorAccess"})
    found = stack_violations(SCOPE_RULE, [target, admin])
    assert found and "AdministratorAccess" in found[0][0]

    managed = stack_resource(MANAGED_POLICY, "m", {"arn": DECLARED_ARN, "policy": json.dumps(copy_grant)})
    attached = stack_resource("aws:iam/policyAttachment:PolicyAttachment", "att",
                              {"roles": ["gh"], "policyArn": DECLARED_ARN})
    assert any("CopyPackageVersions" in m for m, _ in stack_violations(SCOPE_RULE, [target, managed, attached]))

    native = stack_resource("aws-native:iam:ManagedPolicy", "n", {"roles": ["gh"], "policyDocument": copy_grant,
                                                                 "policyArn": "arn:aws:iam::1:policy/n"})
    assert stack_violations(SCOPE_RULE, [target, native])

    undeclared = stack_resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "u",
                                {"role": "gh", "policyArn": f"arn:aws:iam::{OWNER}:policy/elsewhere"})
    found = stack_violations(SCOPE_RULE, [target, undeclared])
    assert found and "cannot be read" in found[0][0]


# --- the Denies of loss and reopening ---------------------------------------------------------------

DENY_RULE = "domain-denies-loss-and-reopening"
DEPLOYER = f"arn:aws:iam::{OWNER}:role/deploy"


def changed(sid: str, **changes) -> dict:
    """The program's domain policy with one statement changed (None removes a key)."""
    policy = copy.deepcopy(program_policy())
    statement = next(s for s in policy["Statement"] if s.get("Sid") == sid)
    for key, value in changes.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return policy


def without(sid: str, *actions: str) -> dict:
    policy = program_policy()
    statement = next(s for s in policy["Statement"] if s.get("Sid") == sid)
    return changed(sid, Action=[a for a in statement["Action"] if a not in actions])


def test_deny_rule_passes_the_program_domain_policy_and_honours_only_configured_exemptions():
    assert stack_violations(DENY_RULE, domain_with_policy(program_policy())) == []
    exempting = program_policy(break_glass_role_arn=BREAK_GLASS, deploy_principal_arns=(DEPLOYER,))
    config = {"breakGlassRoleArn": BREAK_GLASS, "deployPrincipalArns": [DEPLOYER]}
    assert stack_violations(DENY_RULE, domain_with_policy(exempting), config=config) == []
    # Exemptions the pack config does not name are refused, one message per Deny they weaken.
    assert len(stack_violations(DENY_RULE, domain_with_policy(exempting), config={})) == 4
    # The deploy role may be exempt from reopening and status changes only, never from deletes or overwrites.
    deploy_everywhere = program_policy(break_glass_role_arn=DEPLOYER, deploy_principal_arns=(DEPLOYER,))
    found = stack_violations(DENY_RULE, domain_with_policy(deploy_everywhere),
                             config={"deployPrincipalArns": [DEPLOYER]})
    assert [m.split(": ")[-1] for m, _ in found] == ["a published version could be deleted",
                                                     "a published version could be overwritten"]


@pytest.mark.parametrize(("policy", "expected"), [
    (None, "has no domain permissions policy"),
    (document(program_policy()["Statement"][0]), "could be deleted"),
    (without("DenyIrreversibleDeletes", "codeartifact:DisposePackageVersions"), "DisposePackageVersions"),
    (changed("DenyIrreversibleDeletes", Principal={"AWS": f"arn:aws:iam::{OWNER}:root"}), "could be deleted"),
    (changed("DenyIrreversibleDeletes", Resource=f"{INTERNAL_PACKAGES}/*"), "could be deleted"),
    (changed("DenyIrreversibleDeletes", Condition={"StringEquals": {"aws:PrincipalAccount": STRANGER}}),
     "could be deleted"),
    (changed("DenyOverwritingVersions", Effect="Allow"), "could be overwritten"),
    (without("DenyReopeningInternalNames", "codeartifact:UpdatePackageGroupOriginConfiguration"),
     "UpdatePackageGroupOriginConfiguration"),
    (without("DenyReopeningInternalNames", "codeartifact:DeletePackageGroup"), "DeletePackageGroup"),
    (without("DenyReopeningInternalNames", "codeartifact:PutPackageOriginConfiguration"),
     "PutPackageOriginConfiguration"),
    (changed("DenyReopeningInternalNames", Condition={"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*"}}),
     "could be reopened"),
    (changed("DenyChangingVersionStatus", Effect="Allow"), "could be archived or unlisted"),
    (without("DenyChangingVersionStatus", "codeartifact:UpdatePackageVersionsStatus"),
     "UpdatePackageVersionsStatus"),
], ids=["no-policy", "no-deny", "missing-dispose", "deny-only-root", "deny-narrow-resource", "deny-conditioned",
        "overwrite-allowed", "origin-config", "delete-group", "package-origin", "exempts-everyone", "status-allowed",
        "status-missing"])
def test_deny_rule_reports_a_missing_or_narrowed_deny(policy, expected):
    found = stack_violations(DENY_RULE, domain_with_policy(policy))
    assert found and all(urn.endswith("::domain") for _, urn in found), found
    assert any(expected in message for message, _ in found), found


# --- fail closed without config, duplicate keys, unpinned providers ------------------------------------


def test_prefix_rule_without_config_reports_that_it_cannot_check():
    found = stack_violations("internal-prefixes-block-external-upstream", [], config={})
    assert len(found) == 1 and "internalPrefixes is not configured" in found[0][0]


def test_duplicate_json_keys_are_refused():
    text = '{"Statement": [{"Effect": "Deny", "Effect": "Allow", "Action": "*", "Resource": "*"}]}'
    found = violations("policy-documents-within-aws-limits", ROLE_POLICY, {"policy": text})
    assert len(found) == 1 and "duplicate JSON keys ['Effect']" in found[0]


@pytest.mark.parametrize("allowed", [None, json.dumps([OWNER, SECONDARY])], ids=["no-provider", "two-accounts"])
def test_identity_policy_from_an_unpinned_provider_counts_as_cross_account(allowed):
    from pulumi_policy import PolicyProviderResource

    provider = None if allowed is None else PolicyProviderResource(
        "pulumi:providers:aws", unknown_checking_proxy({"allowedAccountIds": allowed}), "urn:p", "p")
    publish = allow(None, "codeartifact:PublishPackageVersion", f"{INTERNAL_PACKAGES}/pypi//x")
    write = {"policy": json.dumps(document(publish))}
    policy = policy_named("cross-account-codeartifact-read-only")
    found: list[str] = []
    args = ResourceValidationArgs(MANAGED_POLICY, unknown_checking_proxy(write), "urn:x", "x", options(), provider,
                                  CONFIG["cross-account-codeartifact-read-only"])
    policy.validate(args, lambda message, urn=None: found.append(message))
    assert found and "provider not pinned to one account" in found[0]
