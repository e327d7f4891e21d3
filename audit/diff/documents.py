"""Z3's view of the diff: every policy document of a rendering (identity policies bound to their roles,
attachments resolved, trust, resource, key and template policies), and each that changed compared by Z3."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audit import smt
from audit.diff.sides import Json, Side, is_read_only
from audit.grants import (
    EXCLUSIVE_ATTACHMENTS,
    INLINE_POLICY,
    MANAGED_POLICY,
    NATIVE_INLINE_POLICY,
    NATIVE_MANAGED_POLICY,
    NATIVE_ROLE,
    POLICY_ATTACHMENT,
    ROLE,
    ROLE_ATTACHMENT,
)
from policies import iam_documents as iam
from policies.aws_managed import aws_managed_document, is_aws_managed

KEY_TYPES = ("aws:kms/key:Key", "aws:kms/keyPolicy:KeyPolicy", "aws-native:kms:Key")
# Comparison.how of a new version that cannot be read (Comparison.undecided then says why).
UNREADABLE = "cannot be read"


@dataclass(frozen=True)
class PolicyInput:
    """One policy document a resource declares (or attaches, by ARN), as the diff compares it."""

    urn: str
    type: str
    name: str
    input: str  # which input: `policy`, `assumeRolePolicy`, `inlinePolicies[publish]`, `policyArn[...]`
    kind: str  # "identity", "trust", "resource", "key" or "managed"
    bound: smt.Bound
    signature: str  # equal on both sides when nothing about the document changed
    role: str = ""  # a trust policy's role

    def as_json(self) -> Json:
        return {"urn": self.urn, "type": self.type, "name": self.name, "input": self.input, "kind": self.kind}


def _role_arn(reference: Any, account: str) -> str:
    text = str(reference or "")
    return text if text.startswith("arn:") else f"arn:aws:iam::{account}:role/{text}"


def _bound(raw: Any, roles: tuple[str, ...] = ()) -> smt.Bound:
    try:
        return smt.Bound(smt.read_document(raw), roles)
    except smt.UnreadableDocumentError as error:
        return smt.Bound(smt.NOTHING, roles, unreadable=str(error))


def _managed_documents(resources: Sequence[Json]) -> dict[str, Any]:
    """Managed policy ARN -> its raw document, for the policies the stack declares (the ARN the
    mock engine gives them, from the same inputs)."""
    found = {}
    for resource in resources:
        inputs, account = resource.get("inputs", {}), resource.get("account", "")
        if resource.get("type") == MANAGED_POLICY:
            name = inputs.get("name") or resource.get("name")
            found[f"arn:aws:iam::{account}:policy{inputs.get('path') or '/'}{name}"] = inputs.get("policy")
        elif resource.get("type") == NATIVE_MANAGED_POLICY:
            name = inputs.get("managedPolicyName") or resource.get("name")
            found[f"arn:aws:iam::{account}:policy{inputs.get('path') or '/'}{name}"] = inputs.get("policyDocument")
    return found


def _unresolved(policy_arn: str, roles: Sequence[str], managed: Mapping[str, Any]) -> str:
    """Why an attached policy ARN names no document this diff can read, "" when it names one: an
    AWS-managed policy the table lacks, a policy the stack does not declare, or one of another account
    than its roles (IAM attaches a customer managed policy to its own account's roles only)."""
    if not policy_arn:
        return "is empty"
    if is_aws_managed(policy_arn):
        return "" if aws_managed_document(policy_arn) is not None else "is not in the table of AWS-managed policies"
    if policy_arn not in managed:
        return "is not declared by this stack"
    account = policy_arn.split(":")[4]
    others = sorted({r.split(":")[4] for r in roles if len(r.split(":")) > 4} - {account})
    return f"is in account {account}, its role in {', '.join(others)}" if others else ""


def policy_inputs(resources: Sequence[Json]) -> dict[tuple[str, str], PolicyInput]:
    """Every policy document of a rendering, by (URN, input): identity policies bound to their
    roles, attachments resolved to the document they attach, trust, resource and key policies."""
    managed = _managed_documents(resources)
    found: dict[tuple[str, str], PolicyInput] = {}

    def add(resource: Json, key: str, kind: str, raw: Any, roles: tuple[str, ...] = (), signature: Any = None,
            role: str = "", bound: smt.Bound | None = None) -> None:
        bound = bound or _bound(raw, roles)
        text = smt.canonical([signature if signature is not None else bound.document, bound.unreadable, roles])
        found[(resource["urn"], key)] = PolicyInput(resource["urn"], resource["type"], resource["name"], key, kind,
                                                    bound, text, role)

    def attach(resource: Json, key: str, policy_arn: Any, roles: tuple[str, ...]) -> None:
        # The attached document as the access proof resolves it (audit.grants.ManagedPolicies), and
        # like it, a policy it cannot resolve allows everything.
        arn = str(policy_arn or "")
        unresolved = _unresolved(arn, roles, managed)
        if unresolved:
            add(resource, key, "identity", None, roles, signature=arn,
                bound=smt.Bound(smt.NOTHING, roles, unreadable=f"the attached policy {arn or '(no ARN)'} {unresolved}"))
        else:
            add(resource, key, "identity", aws_managed_document(arn) if is_aws_managed(arn) else managed[arn], roles,
                signature=arn)

    for resource in resources:
        kind, inputs, account = resource.get("type", ""), resource.get("inputs", {}), resource.get("account", "")
        if kind in (ROLE, NATIVE_ROLE):
            native = kind == NATIVE_ROLE
            role = _role_arn((inputs.get("roleName") if native else inputs.get("name")) or resource["name"], account)
            add(resource, "assumeRolePolicyDocument" if native else "assumeRolePolicy", "trust",
                inputs.get("assumeRolePolicyDocument" if native else "assumeRolePolicy"), role=role)
            for index, entry in enumerate(iam.as_list(inputs.get("policies" if native else "inlinePolicies"))):
                if isinstance(entry, Mapping) and (entry.get("policyName") or entry.get("name") or
                                                   entry.get("policyDocument") or entry.get("policy")):
                    name = entry.get("policyName" if native else "name") or index
                    add(resource, f"{'policies' if native else 'inlinePolicies'}[{name}]", "identity",
                        entry.get("policyDocument" if native else "policy"), (role,))
            for policy_arn in iam.as_list(inputs.get("managedPolicyArns")):
                attach(resource, f"managedPolicyArns[{policy_arn}]", policy_arn, (role,))
        elif kind in (INLINE_POLICY, NATIVE_INLINE_POLICY):
            native = kind == NATIVE_INLINE_POLICY
            role = _role_arn(inputs.get("roleName" if native else "role"), account)
            add(resource, "policyDocument" if native else "policy", "identity",
                inputs.get("policyDocument" if native else "policy"), (role,))
        elif kind == MANAGED_POLICY:
            add(resource, "policy", "managed", inputs.get("policy"))
        elif kind == NATIVE_MANAGED_POLICY:
            roles = tuple(_role_arn(r, account) for r in iam.as_list(inputs.get("roles")))
            add(resource, "policyDocument", "identity" if roles else "managed", inputs.get("policyDocument"), roles)
        elif kind == ROLE_ATTACHMENT:
            attach(resource, "policyArn", inputs.get("policyArn"), (_role_arn(inputs.get("role"), account),))
        elif kind == POLICY_ATTACHMENT:
            roles = tuple(_role_arn(r, account) for r in iam.as_list(inputs.get("roles")))
            attach(resource, "policyArn", inputs.get("policyArn"), roles)
        elif kind == EXCLUSIVE_ATTACHMENTS:
            role = _role_arn(inputs.get("roleName"), account)
            for policy_arn in iam.as_list(inputs.get("policyArns")):
                attach(resource, f"policyArns[{policy_arn}]", policy_arn, (role,))
        else:
            # Any other input that holds a policy document, at any depth (a CloudFormation template's
            # roles and policies too): a resource policy, the key's, or one inside a template.
            for key, value in sorted(inputs.items()):
                for path, document in _nested_documents(key, value):
                    kind_of = "key" if kind in KEY_TYPES else "resource" if path == key else "template"
                    add(resource, path, kind_of, document)
    return found


def _nested_documents(path: str, value: Any) -> Iterator[tuple[str, Any]]:
    """(path, document) for every policy document in an input: itself, or inside JSON text, objects
    and lists."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return
    if isinstance(value, Mapping):
        if "Statement" in value:
            yield path, value
            return
        for key in sorted(value):
            yield from _nested_documents(f"{path}.{key}", value[key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nested_documents(f"{path}[{index}]", item)


@dataclass
class DocumentChange:
    policy: PolicyInput
    status: str  # "added", "removed" or "changed"
    comparison: smt.Comparison

    @property
    def widening(self) -> bool:
        return self.comparison.wider and not self.comparison.read_only

    def as_json(self) -> Json:
        return {**self.policy.as_json(), "status": self.status, **self.comparison.as_json()}

    def text(self, example: bool = True) -> str:
        """What changed, with Z3's counterexample or reason unless `example` is False."""
        where = f"{self.policy.kind} policy {self.policy.name} ({self.policy.type}, {self.policy.input}), {self.status}"
        c = self.comparison
        if c.how == UNREADABLE:
            return f"{where}: the new version cannot be read ({c.undecided}), taken to allow everything"
        if c.undecided:
            return f"{where}: Z3 could not decide" + (f" ({c.undecided})" if example else "") + ", counted as wider"
        if not c.wider:
            return f"{where}: allows no request it did not allow before"
        level = "Read/List only" if c.read_only else "beyond Read/List"
        verb = "no longer denies" if c.how == "no longer denies" else "now allows"
        if not example:
            return f"{where}: {verb} ({level})"
        caveat = f" (not a request AWS could make: {'; '.join(c.example_problems)})" if c.example_problems else ""
        return f"{where}: {verb} ({level}): {c.example}{caveat}"


def document_changes(old: Side, new: Side, hints: smt.Hints | None = None) -> tuple[list[DocumentChange], int]:
    """Z3's comparison of every document that changed; and how many documents the new side has."""
    before, after = policy_inputs(old.resources), policy_inputs(new.resources)
    changes = []
    for key in sorted(set(before) | set(after)):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was.signature == now.signature:
            continue
        status = "added" if was is None else "removed" if now is None else "changed"
        policy = now or was
        assert policy is not None  # noqa: S101 (the key came from one of the two sides)
        changes.append(DocumentChange(policy, status, _compare(was, now, hints or smt.Hints())))
    return changes, len(after)


def hints_for(old: Side, new: Side) -> smt.Hints:
    """The requests principalmapper decides, for Z3's counterexamples; beyond Read/List first."""
    keys = set(old.decisions) | set(new.decisions)
    actions = sorted({a for _, a, _ in keys}, key=lambda a: (is_read_only(a), a))
    resources_for: dict[str, set[str]] = {}
    for _, action, resource in keys:
        resources_for.setdefault(action.lower(), set()).add(resource)
    return smt.Hints(tuple(sorted({p for p, _, _ in keys})), tuple(actions),
                     tuple(sorted({r for _, _, r in keys if r != "*"})),
                     {a: tuple(sorted(r)) for a, r in resources_for.items()})


def _hints_for_document(policy: PolicyInput, hints: smt.Hints) -> smt.Hints:
    """A trust policy's requests are on its own role; a managed policy's come from whichever role
    it is attached to (so no principal is suggested)."""
    if policy.kind == "trust":
        return dataclasses.replace(hints, resources=(policy.role,), resources_for={})
    if policy.kind == "managed":
        return dataclasses.replace(hints, principals=())
    return hints


def _compare(was: PolicyInput | None, now: PolicyInput | None, hints: smt.Hints) -> smt.Comparison:
    policy = now or was
    assert policy is not None  # noqa: S101 (the key came from one of the two sides)
    if now is not None and now.bound.unreadable:
        # Fail closed: a changed document that cannot be read may allow anything.
        return smt.Comparison(True, UNREADABLE, None, now.bound.unreadable)
    comparison = smt.compare(was.bound if was else None, now.bound if now else None,
                             _hints_for_document(policy, hints))
    if policy.kind == "managed" and comparison.example is not None:
        example = dataclasses.replace(comparison.example, principal_type="AWS",
                                      principal="a role it is attached to", account="")
        problems = smt.request_problems(example, smt.resourceless_actions(hints), principal=False)
        comparison = dataclasses.replace(comparison, example=example, example_problems=tuple(problems))
    return comparison
