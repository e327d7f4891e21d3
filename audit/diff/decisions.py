"""principalmapper's view of the diff: principals added and removed, what each gained or lost, and whose
trust let in someone new (GitHub tokens probed over every combination of the claims the trust names)."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.access import AUDIENCE_CLAIM, SUBJECT_CLAIM, web_identity_may_assume
from audit.diff.sides import Json, Side, is_read_only, short_action, short_resource
from audit.diff.widening import Widening
from policies import iam_documents as iam

PROBE_SUBJECT = "repo:access-diff-probe/any-repository:pull_request"
PROBE_AUDIENCE = "access-diff-probe"
PROBE_VALUE = "access-diff-probe"  # for any other condition key of a trust policy


@dataclass
class PrincipalChange:
    principal: str
    label: str
    kind: str
    status: str  # "added", "removed" or "changed"
    gained: list[tuple[str, str]] = field(default_factory=list)
    lost: list[tuple[str, str]] = field(default_factory=list)

    def as_json(self) -> Json:
        return {"principal": self.principal, "label": self.label, "kind": self.kind, "status": self.status,
                "gained": [{"action": a, "resource": r, "read_only": is_read_only(a)} for a, r in self.gained],
                "lost": [{"action": a, "resource": r} for a, r in self.lost]}


@dataclass
class TrustChange:
    principal: str
    label: str
    added: list[str]
    removed: list[str]
    wider: bool
    example: str = ""

    def as_json(self) -> Json:
        return {"principal": self.principal, "label": self.label, "trusted_now": self.added,
                "trusted_before": self.removed, "wider": self.wider, "example": self.example}


def _trust_text(entry: Mapping[str, Any]) -> str:
    who = f"{entry.get('type')} {entry.get('principal')}"
    conditions = entry.get("conditions") or []
    text = who + (f" if {'; '.join(conditions)}" if conditions else "")
    return text if entry.get("effect") == "Allow" else f"denied: {text}"


# More combinations of claims than this are not probed one by one: the change counts as wider.
MAX_PROBES = 4096


def _claim_candidates(*documents: Json | None) -> list[tuple[str, list[str | None]]]:
    """(condition key, values to probe it with) for GitHub's subject and audience and every other key
    either version's conditions name: each pattern filled in, each value a condition names (a pattern
    taken literally matches itself), a probe value no condition names, and the claim left out."""
    named: dict[str, set[str]] = {SUBJECT_CLAIM.lower(): set(), AUDIENCE_CLAIM.lower(): {"sts.amazonaws.com"}}
    for document in documents:
        for statement in iam.statements(document):
            for _, key, condition_values in iam.conditions(statement):
                named.setdefault(key, set()).update(condition_values)
    probes = {SUBJECT_CLAIM.lower(): PROBE_SUBJECT, AUDIENCE_CLAIM.lower(): PROBE_AUDIENCE}
    found: list[tuple[str, list[str | None]]] = []
    for key, values in named.items():
        # A pattern filled in first, so that an example reads as a token GitHub could issue.
        filled = {v.replace("*", PROBE_VALUE).replace("?", "x") for v in values if "*" in v or "?" in v}
        found.append((key, [*sorted(filled - values), *sorted(values), probes.get(key, PROBE_VALUE), None]))
    return found


def _newly_assumable(old: Json | None, new: Json | None, provider: str, role: str) -> str | None:
    """A token the new trust policy accepts from `provider` and the old one did not, decided by
    principalmapper (audit.access.web_identity_may_assume) over every combination of the claims
    _claim_candidates gives; more combinations than MAX_PROBES count as such a token."""
    candidates = _claim_candidates(old, new)
    combinations = math.prod(len(values) for _, values in candidates)
    if combinations > MAX_PROBES:
        return f"any of {combinations} combinations of claims (more than the {MAX_PROBES} probed one by one)"
    for values in itertools.product(*(values for _, values in candidates)):
        claims = {key: value for (key, _), value in zip(candidates, values, strict=True) if value is not None}
        now = new is not None and web_identity_may_assume(new, provider, claims, role)
        before = old is not None and web_identity_may_assume(old, provider, claims, role)
        if now and not before:
            return ", ".join(f"{key.rpartition(':')[2]}={value or '(absent)'}"
                             for (key, _), value in zip(candidates, values, strict=True)
                             if value is not None or key in (SUBJECT_CLAIM.lower(), AUDIENCE_CLAIM.lower()))
    return None


def _excluded(entry: Mapping[str, Any]) -> set[str]:
    """The principals a NotPrincipal entry leaves out (`AWS arn, Service name`)."""
    return set(str(entry.get("principal", "")).split(", "))


def _lets_in_at_least(wide: Mapping[str, Any], narrow: Mapping[str, Any]) -> bool:
    """Whether trust entry `wide` matches every request `narrow` matches: the same principal (for
    NotPrincipal, leaving out no more than `narrow` does), at least its actions, and only conditions
    `narrow` has too (each condition can only narrow a statement)."""
    if wide.get("type") != narrow.get("type"):
        return False
    if wide.get("type") == "NotPrincipal":
        same = _excluded(wide) <= _excluded(narrow)
    else:
        same = wide.get("principal") == narrow.get("principal")
    return (same and set(narrow.get("actions") or []) <= set(wide.get("actions") or [])
            and set(wide.get("conditions") or []) <= set(narrow.get("conditions") or []))


def _trust_change(old: Side, new: Side, arn: str) -> TrustChange | None:
    """How a role's trust changed; wider when an Allow lets in someone or something no Allow of the old
    version did (a new principal, or one already trusted with a condition dropped or changed, or with a
    new action), or a Deny of the old version no longer stops all it stopped."""
    before = old.principals[arn].get("trusted_by") or []
    after = new.principals[arn].get("trusted_by") or []
    texts_before = {json.dumps(e, sort_keys=True) for e in before}
    texts_after = {json.dumps(e, sort_keys=True) for e in after}
    if texts_before == texts_after:
        return None
    added = [e for e in after if json.dumps(e, sort_keys=True) not in texts_before]
    removed = [e for e in before if json.dumps(e, sort_keys=True) not in texts_after]
    wider, example = False, ""
    allows_before = [e for e in before if e.get("effect") == "Allow"]
    for entry in added:
        if entry.get("effect") != "Allow" or any(_lets_in_at_least(e, entry) for e in allows_before):
            continue
        same_principal = [e for e in allows_before
                          if (e["type"], e["principal"]) == (entry["type"], entry["principal"])]
        new_actions = set(entry.get("actions") or []) - {a for e in same_principal for a in e.get("actions") or []}
        if entry["type"] == "Federated" and not new_actions:
            # Only the conditions changed: principalmapper says whether some token gets in now.
            found = _newly_assumable(old.trust_document(arn), new.trust_document(arn), entry["principal"], arn)
            if found:
                wider, example = True, f"a token of {entry['principal']} with {found}"
        else:
            wider = True
            was = "; ".join(_trust_text(e) for e in same_principal)
            example = _trust_text(entry) + (f" (before: {was})" if was else "")
    denies_after = [e for e in after if e.get("effect") == "Deny"]
    dropped = [e for e in removed
               if e.get("effect") == "Deny" and not any(_lets_in_at_least(d, e) for d in denies_after)]
    if dropped:
        wider = True
        example = example or f"a Deny of assuming the role was dropped or narrowed ({_trust_text(dropped[0])})"
    return TrustChange(arn, new.label(arn), [_trust_text(e) for e in added], [_trust_text(e) for e in removed],
                       wider, example)


@dataclass
class AccessChanges:
    """principalmapper's side of the diff."""

    principals: list[PrincipalChange]
    trust: list[TrustChange]
    new_accounts: list[str]

    @property
    def widening(self) -> list[Widening]:
        found = [Widening("new account", f"new account {a} with access to the registry") for a in self.new_accounts]
        for change in self.principals:
            if change.status == "added":
                beyond = sorted({short_action(a) for a, _ in change.gained if not is_read_only(a)})
                text = f"new principal {change.label} ({change.principal})"
                found.append(Widening("new principal", text + (f", may also {', '.join(beyond)}" if beyond else "")))
            elif change.status == "changed":
                for line in group_lines([g for g in change.gained if not is_read_only(g[0])], "+"):
                    found.append(Widening("allowed", f"{change.label}: {line}"))
        found += [Widening("trusted", f"{t.label}: now trusted: {t.example}") for t in self.trust if t.wider]
        return found

    @property
    def grants_more(self) -> bool:
        return (any(c.status == "added" or c.gained for c in self.principals)
                or any(t.wider for t in self.trust) or bool(self.new_accounts))


def access_changes(old: Side, new: Side) -> AccessChanges:
    """Principals added and removed, and what each principal in both gained or lost."""
    changes = []
    old_arns, new_arns = old.arns(), new.arns()
    by_principal: dict[str, set[tuple[str, str]]] = {}
    for arn, action, resource in set(old.decisions) | set(new.decisions):
        by_principal.setdefault(arn, set()).add((action, resource))

    def kind(arn: str) -> str:
        return str((new.principals.get(arn) or old.principals.get(arn) or {}).get("kind", ""))

    for arn in sorted(old_arns | new_arns, key=lambda a: (new.label(a) if a in new_arns else old.label(a), a)):
        pairs = sorted(by_principal.get(arn, set()))
        if arn not in old_arns:
            gained = [(a, r) for a, r in pairs if new.decisions.get((arn, a, r))]
            changes.append(PrincipalChange(arn, new.label(arn), kind(arn), "added", gained=gained))
            continue
        if arn not in new_arns:
            lost = [(a, r) for a, r in pairs if old.decisions.get((arn, a, r))]
            changes.append(PrincipalChange(arn, old.label(arn), kind(arn), "removed", lost=lost))
            continue
        gained, lost = [], []
        for action, resource in pairs:
            before, after = old.allowed((arn, action, resource)), new.allowed((arn, action, resource))
            if after and not before:
                gained.append((action, resource))
            elif before and not after:
                lost.append((action, resource))
        if gained or lost:
            changes.append(PrincipalChange(arn, new.label(arn), kind(arn), "changed", gained, lost))
    trust = [t for arn in sorted(set(old.principals) & set(new.principals))
             if (t := _trust_change(old, new, arn)) is not None]
    accounts = sorted(new.accounts_with_access() - old.accounts_with_access())
    return AccessChanges(changes, trust, accounts)


def group_lines(pairs: Iterable[tuple[str, str]], sign: str) -> list[str]:
    """`+PublishPackageVersion on internal/acme-core, internal/acme-core-testing`: the resources
    that gained (or lost) the same actions on one line; beyond Read and List first."""
    by_resource: dict[str, set[str]] = {}
    for action, resource in pairs:
        by_resource.setdefault(resource, set()).add(action)
    by_actions: dict[frozenset[str], list[str]] = {}
    for resource, found in by_resource.items():
        by_actions.setdefault(frozenset(found), []).append(resource)
    lines = []
    for actions, resources in by_actions.items():
        writes = sorted(short_action(a) for a in actions if not is_read_only(a))
        reads = sorted(short_action(a) for a in actions if is_read_only(a))
        if len(reads) > 4:
            reads = [f"{len(reads)} Read/List actions ({', '.join(reads[:3])}, ...)"]
        named = writes + reads
        where = ", ".join(sorted(short_resource(r) for r in resources))
        lines.append((not writes, f"{sign}{', '.join(named)} on {where}"))
    return [text for _, text in sorted(lines)]
