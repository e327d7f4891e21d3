"""Who may assume a role the stack declares: each principal its trust policy names for sts:AssumeRole*,
with the statement's effect and conditions. An unreadable trust policy is taken to let anyone in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audit.grants import ASSUME_ACTIONS, Role
from policies import iam_documents as iam


@dataclass(frozen=True)
class TrustEntry:
    """One principal a trust statement names for assuming the role, and its conditions."""

    effect: str
    kind: str  # AWS, Service, Federated, CanonicalUser, or NotPrincipal (everyone but it)
    principal: str
    actions: tuple[str, ...]
    conditions: tuple[str, ...]

    def text(self, own_account: str) -> str:
        if self.kind == "NotPrincipal":
            who = f"anyone but {self.principal}"
        elif self.kind == "AWS" and self.principal == "*":
            who = "anyone (AWS *)"
        elif self.kind == "AWS" and iam.principal_account(self.principal) and (
                self.principal.isdigit() or self.principal.endswith(":root")):
            account = iam.principal_account(self.principal)
            who = "principals of its own account" if account == own_account else f"principals of account {account}"
        elif self.kind == "AWS":
            who = self.principal
        else:
            who = f"{self.kind.lower()} {self.principal}"
        text = who + (f" if {'; '.join(self.conditions)}" if self.conditions else "")
        return text if self.effect == "Allow" else f"denied: {text}"

    def as_json(self) -> dict[str, Any]:
        return {"effect": self.effect, "type": self.kind, "principal": self.principal,
                "actions": list(self.actions), "conditions": list(self.conditions)}


def _assume_actions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    if "NotAction" in statement:
        return tuple(a for a in ASSUME_ACTIONS
                     if not any(iam.matches(p, a) for p in iam.as_list(statement["NotAction"])))
    return tuple(a for a in ASSUME_ACTIONS if any(iam.matches(p, a) for p in iam.actions(statement)))


def _condition_texts(statement: Mapping[str, Any]) -> tuple[str, ...]:
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return ()
    return tuple(f"{operator} {key}={','.join(str(v) for v in iam.as_list(values))}"
                 for operator, entries in block.items() if isinstance(entries, Mapping)
                 for key, values in entries.items())


def trusted_by(role: Role) -> list[TrustEntry]:
    """Who the trust policy lets assume the role (Allow) or stops (Deny). An unreadable trust
    policy is taken to let anyone in; a role the stack does not declare has no known trust."""
    if not role.declared:
        return []
    if role.trust_policy is None:
        reason = f"trust policy unreadable: {role.trust_problem}"
        return [TrustEntry("Allow", "AWS", "*", ASSUME_ACTIONS, (reason,))]
    entries = []
    for statement in iam.statements(role.trust_policy):
        actions = _assume_actions(statement)
        if not actions:
            continue
        conditions = _condition_texts(statement)
        effect = str(statement.get("Effect"))
        if "NotPrincipal" in statement:
            excluded = [f"{k} {v}" for k, v in iam.principals({"Principal": statement["NotPrincipal"]})]
            entries.append(TrustEntry(effect, "NotPrincipal", ", ".join(excluded), actions, conditions))
            continue
        entries += [TrustEntry(effect, kind, value, actions, conditions) for kind, value in iam.principals(statement)]
    return entries
