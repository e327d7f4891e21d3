"""KMS keys: the domain's key is customer-managed and rotated, and no key policy lets anyone
outside the owner account in, or anyone but the break-glass role disable or delete a key."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ResourceValidationArgs,
    StackValidationArgs,
)

from . import config as cfg
from . import iam_documents as iam
from . import props as props_
from .aws_facts import KEY_LOSS_ACTIONS
from .props import DOMAIN_TYPES, KMS_KEY_TYPES

KEY_POLICY_RESOURCE = "aws:kms/keyPolicy:KeyPolicy"
# Conditions that narrow a `*` principal to callers of one account.
CALLER_ACCOUNT_KEYS = ("kms:calleraccount", "aws:principalaccount")


def _scoped_to(statement: Mapping[str, object], owner: str | None) -> bool:
    """A `*` grant narrowed by StringEquals to callers of the owner account only."""
    return owner is not None and any(
        operator == "StringEquals" and key in CALLER_ACCOUNT_KEYS and values == [owner]
        for operator, key, values in iam.conditions(statement)
    )


def validate_key_policy(args: ResourceValidationArgs, report: cfg.Report) -> None:
    documents = props_.key_policy(args.resource_type, args.props)
    if not documents:
        return
    owner = cfg.owner_account(args)
    break_glass = cfg.config_str(args, "breakGlassRoleArn") or None
    exempt: set[str] = {break_glass} if break_glass else set()
    for what, document in documents:
        denied = {action for action in KEY_LOSS_ACTIONS
                  if any(iam.denies_everyone(s, action, exempt) for s in iam.statements(document))}
        for index, statement in enumerate(iam.allow_statements(document)):
            where = f"{what} {iam.label(statement, index)}"
            if "NotPrincipal" in statement:
                report(f"{where} allows everyone outside NotPrincipal; name the owner account's principals")
            principals = iam.principals(statement)
            for kind, value in principals:
                if kind == "AWS" and value == iam.WILDCARD:
                    if not _scoped_to(statement, owner):
                        report(f'{where} grants to "*" without StringEquals kms:CallerAccount = the owner account '
                               f"{owner or '(unknown: set ownerAccountId)'}")
                elif kind == "AWS" and (owner is None or iam.principal_account(value) != owner):
                    report(f"{where} grants to {value}, outside the owner account "
                           f"{owner or '(unknown: set ownerAccountId)'}")
                elif kind not in ("AWS", "Service"):
                    report(f"{where} grants to the {kind} principal {value}; only the owner account's principals")
            others = [value for _, value in principals if value != break_glass]
            if "NotPrincipal" in statement:
                others = ["everyone outside NotPrincipal"]
            for action in KEY_LOSS_ACTIONS:
                if others and action not in denied and iam.grants_action(statement, action):
                    report(f"{where} allows {action} to {others[0]}: disabling or deleting the domain's key loses "
                           "every package; only the break-glass role may, and a Deny for everyone else must say so")


def _domain_keys(args: StackValidationArgs, domain: PolicyResource) -> tuple[object, list[PolicyResource]]:
    """(the domain's encryptionKey value, the stack's keys it refers to)."""
    key_ref = props_.known(domain.props, "encryptionKey")
    candidates = [r for r in domain.property_dependencies.get("encryptionKey", []) if r.resource_type in KMS_KEY_TYPES]
    candidates += [k for k in props_.of_type(args, KMS_KEY_TYPES)
                   if key_ref and key_ref in (props_.known(k.props, "arn"), props_.known(k.props, "keyId"))]
    return key_ref, list({k.urn: k for k in candidates}.values())


def validate_domain_key(args: StackValidationArgs, report: cfg.Report) -> None:
    for domain in props_.of_type(args, DOMAIN_TYPES):
        key_ref, keys = _domain_keys(args, domain)
        if not key_ref and not keys:
            report(f"{domain.name} has no encryptionKey: it is encrypted with the AWS managed key, which "
                   "cannot be rotated or restricted by key policy", domain.urn)
        elif not keys:
            report(f"{domain.name} uses key {key_ref}, which this stack does not manage: its rotation "
                   "cannot be checked", domain.urn)
        for key in keys:
            if props_.known(key.props, "enableKeyRotation") is not True:
                report(f"{domain.name} uses KMS key {key.name}, which does not have enableKeyRotation", key.urn)


def _own_key_policy(key: PolicyResource) -> tuple[object]:
    # A 1-tuple, so that an absent policy (None) is told apart from an unknown one.
    return (props_.raw_key_policy(key.resource_type, key.props)[0][1],)


def validate_domain_key_policy(args: StackValidationArgs, report: cfg.Report) -> None:
    key_policies = props_.of_type(args, KEY_POLICY_RESOURCE)
    for domain in props_.of_type(args, DOMAIN_TYPES):
        for key in _domain_keys(args, domain)[1]:
            own = cfg.when_known(partial(_own_key_policy, key), report, key, "key policy")
            if own is None:
                continue
            has_policy = bool(own[0]) or any(
                any(dep.urn == key.urn for dep in p.property_dependencies.get("keyId", [])) for p in key_policies
            )
            if not has_policy:
                report(f"{domain.name} uses KMS key {key.name}, which has no key policy: the default lets every "
                       "owner-account principal with KMS rights disable it or schedule its deletion", key.urn)


POLICIES: list[cfg.Guardrail] = [
    cfg.resource_policy(
        "kms-key-policy-owner-only",
        'KMS key policies grant nothing to "*" unless narrowed to the owner account, nothing to other accounts, '
        "and kms:ScheduleKeyDeletion and kms:DisableKey to nobody but the break-glass role.",
        validate_key_policy, "ownerAccountId", "breakGlassRoleArn",
    ),
    cfg.stack_policy(
        "domain-key-has-explicit-policy",
        "The CodeArtifact domain's KMS key has an explicit key policy (the default lets any owner-account "
        "principal with KMS rights disable or delete it).",
        validate_domain_key_policy,
    ),
    cfg.stack_policy(
        "domain-key-customer-managed-with-rotation",
        "The CodeArtifact domain is encrypted with a customer-managed KMS key that has rotation on.",
        validate_domain_key, enforcement=EnforcementLevel.ADVISORY,
    ),
]
