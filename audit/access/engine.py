"""principalmapper's decisions for principals against one registry (AccessEvaluator), evaluated once per
shape, and shared between the evaluators of an identical registry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.access.principals import Check, Document, Principal, Registry, condition_strings, listify, statements
from audit.pmapper_compat import (
    CaseInsensitiveDict,
    Node,
    condition_block_matches,
    local_check_authorization_full,
    value_matches,
)

ORGANIZATION_KEY = "aws:PrincipalOrgID"
# Keys AWS sets from the resource requested, for the identity and the resource policy alike.
RESOURCE_ACCOUNT_KEY = "aws:ResourceAccount"
RESOURCE_ORGANIZATION_KEY = "aws:ResourceOrgID"


@dataclass
class _RegistryMemory:
    """Decisions by shape, and the numbers shapes give resource signatures and check tuples: one
    per identical registry, so that a number means the same thing in every evaluator sharing it."""

    decisions: dict[tuple[Any, ...], tuple[bool, ...]] = field(default_factory=dict)
    signature_ids: dict[tuple[Any, ...], int] = field(default_factory=dict)
    part_keys: dict[tuple[Any, ...], int] = field(default_factory=dict)


# Decisions depend only on the registry's resource policies, the principal's shape and the
# checks, so evaluators of an identical registry share them: a report on a stack that differs
# only in identity policies re-evaluates only the principals whose policies changed.
_MEMORY_BY_REGISTRY: dict[str, _RegistryMemory] = {}
_REGISTRIES_KEPT = 32


def _shared_memory(registry: Registry) -> _RegistryMemory:
    key = json.dumps([registry.domain_arn, registry.repository_arns, registry.domain_policy,
                      registry.repository_policies, registry.key_arn, registry.key_policy,
                      registry.package_group_arns, registry.organization_id], sort_keys=True)
    if key not in _MEMORY_BY_REGISTRY and len(_MEMORY_BY_REGISTRY) >= _REGISTRIES_KEPT:
        del _MEMORY_BY_REGISTRY[next(iter(_MEMORY_BY_REGISTRY))]
    return _MEMORY_BY_REGISTRY.setdefault(key, _RegistryMemory())


# Context keys principalmapper infers from the principal itself: a condition on one of them is the
# only kind whose outcome differs between principals of one shape (with the account and ARN).
PRINCIPAL_CONTEXT_KEYS = frozenset({"aws:userid", "aws:principalaccount", "aws:principalarn", "aws:username"})
RESOURCE_FIELDS = ("Resource", "NotResource")
ACTION_FIELDS = ("Action", "NotAction")
# principalmapper lower-cases the service of SNS and SQS actions in resource policies: no classes there.
CASE_FOLDED_SERVICES = ("SNS", "SQS")

Condition = tuple[str, str, Any]  # (operator, key, values) of one condition entry


@dataclass(frozen=True)
class PolicyProfile:
    """A principal's identity policies with each Resource and NotResource value replaced by
    `{resource:K}`, and what was taken out: resources then enter a shape only as their matches."""

    documents: tuple[str, ...]  # the documents, canonical JSON, values replaced
    resource_patterns: tuple[str, ...]  # K -> the value taken out
    action_patterns: tuple[str, ...]
    conditions: tuple[Condition, ...]
    # ${...} policy variables (or values that are not strings): this principal shares nothing.
    literal: bool

    @classmethod
    def of(cls, policies: tuple[tuple[str, str], ...]) -> PolicyProfile:
        documents: list[str] = []
        patterns: list[str] = []
        actions: list[str] = []
        conditions: list[Condition] = []
        literal = False
        for _, text in policies:
            literal = literal or "${" in text
            document = condition_strings(json.loads(text))
            erased = []
            for statement in statements(document):
                statement = dict(statement)
                for element in RESOURCE_FIELDS:
                    if element in statement:
                        values = listify(statement[element])
                        literal = literal or not all(isinstance(v, str) for v in values)
                        statement[element] = [f"{{resource:{len(patterns) + i}}}" for i in range(len(values))]
                        patterns += [str(v) for v in values]
                for element in ACTION_FIELDS:
                    actions += [str(a) for a in listify(statement.get(element, []))]
                conditions += _conditions(statement)
                erased.append(statement)
            documents.append(json.dumps({**document, "Statement": erased}, sort_keys=True))
        return cls(tuple(documents), tuple(patterns), tuple(actions), tuple(conditions), literal)


def _conditions(statement: Document) -> list[Condition]:
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return []
    return [(operator, key, values) for operator, entries in block.items() if isinstance(entries, Mapping)
            for key, values in entries.items()]


@dataclass(frozen=True)
class _ChecksPart:
    """What a tuple of checks contributes to a shape, whoever the principal (computed once per tuple)."""

    checks: tuple[Check, ...]
    resources: tuple[str, ...]  # distinct, in check order
    key: int  # interned (action, resource index, context) per check, and the resource signatures
    owners: tuple[str, ...]  # distinct owner accounts of the resources
    contexts: tuple[tuple[tuple[str, str], ...], ...]  # distinct request contexts


def _owner(arn: str) -> str:
    """The account an ARN's resource belongs to, as principalmapper is told it."""
    return arn.split(":")[4]


class AccessEvaluator:
    """principalmapper decisions for principals against one registry, cached per shape.

    A shape is everything principalmapper's decision depends on, with the principal's account,
    ARN and resource names taken out: its identity policies with the account and ARN made generic
    and every Resource value replaced by which checked resources it matches; which resource-policy
    statements name the principal, its account or its unique ID; the outcome of each condition on
    the principal's own keys (aws:PrincipalArn, aws:PrincipalAccount, aws:userid) or naming its
    account; its organization; and, for each check, the action, its context and the resource as
    the resource policies see it (which statements apply and which of their Resource values match,
    its service and owner, whether the principal is in the owner account). Principals of one shape
    get the same decisions; each shape is evaluated once. 1000 reader roles are one shape, and so
    are 100 publishers whose policies differ only in their own package names; a publisher whose
    Resource also matches a package it does not own is a shape of its own.

    Within an evaluation, actions that match the same Action and NotAction patterns of every
    policy in play, on resources alike for every Resource value in play, are decided once.
    Policy variables (${...}) turn all of this off.
    """

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        everything = registry.all_statements()
        self._statement_texts = [json.dumps(s, sort_keys=True) for s in everything]
        self._literal = any("${" in text for text in self._statement_texts)
        converted = statements(condition_strings({"Statement": everything}))
        self._action_patterns = tuple(str(a) for s in converted for f in ACTION_FIELDS
                                      for a in listify(s.get(f, [])))
        self._principal_conditions = tuple(c for s in converted for c in _conditions(s)
                                           if c[1].lower() in PRINCIPAL_CONTEXT_KEYS)
        self._resource_policies: dict[str, Document] = {}
        self._memory = _shared_memory(registry)
        self._decisions = self._memory.decisions
        self._shapes: set[tuple[Any, ...]] = set()
        self._profiles: dict[tuple[tuple[str, str], ...], PolicyProfile] = {}
        self._matches: dict[tuple[str, str], bool] = {}
        self._resource_signatures: dict[str, int] = {}
        self._statement_ids = {id(s): i for i, s in enumerate(everything)}
        self._check_parts: dict[int, _ChecksPart] = {}
        self._by_action: dict[tuple[str, str], Document] = {}
        self._matrices: dict[tuple[tuple[str, ...], int], tuple[tuple[Check, ...], tuple[tuple[bool, ...], ...]]] = {}

    @property
    def shapes_evaluated(self) -> int:
        """How many distinct shapes (with their checks) this evaluator's callers needed."""
        return len(self._shapes)

    def allowed(self, principal: Principal, action: str, resource: str = "*",
                context: Mapping[str, str] | None = None) -> bool:
        check = Check(action, resource, tuple(sorted((context or {}).items())))
        return self.decide(principal, (check,))[0]

    def decide(self, principal: Principal, checks: tuple[Check, ...]) -> tuple[bool, ...]:
        key = self.shape(principal, checks)
        if key not in self._decisions:
            self._decisions[key] = self._evaluate(principal, checks)
        self._shapes.add(key)
        return self._decisions[key]

    def decide_one_by_one(self, principal: Principal, checks: tuple[Check, ...]) -> tuple[bool, ...]:
        """principalmapper on every check of this principal, sharing nothing (to compare against)."""
        node = principal.node()
        return tuple(self._authorize(node, principal, check) for check in checks)

    def _profile(self, principal: Principal) -> PolicyProfile:
        profile = self._profiles.get(principal.policies)
        if profile is None:
            profile = self._profiles[principal.policies] = PolicyProfile.of(principal.policies)
        return profile

    def _match(self, pattern: str, value: str) -> bool:
        """principalmapper's Resource (and Action) matching: wildcards, case-insensitive."""
        key = (pattern, value)
        found = self._matches.get(key)
        if found is None:
            found = self._matches[key] = bool(value_matches(value, pattern))
        return found

    def _resource_signature(self, resource: str) -> int:
        """The resource as principalmapper sees it apart from the principal: its service and owner,
        and each statement of its resource policy with which of its Resource values match it."""
        found = self._resource_signatures.get(resource)
        if found is None:
            signature: tuple[Any, ...] = ("*",)
            if resource.startswith("arn:"):
                # The registry's own statement objects: their position among all of them names them.
                signature = (resource.split(":")[2], _owner(resource), tuple(
                    (self._statement_ids[id(s)],
                     tuple(tuple(self._match(str(v), resource) for v in listify(s[f])) if f in s else None
                           for f in RESOURCE_FIELDS))
                    for s in statements(self.registry.resource_policy(resource))))
            ids = self._memory.signature_ids
            found = ids.setdefault(signature, len(ids))
            self._resource_signatures[resource] = found
        return found

    def _checks_part(self, checks: tuple[Check, ...]) -> _ChecksPart:
        cached = self._check_parts.get(id(checks))
        if cached is None or cached.checks is not checks:
            resources = tuple(dict.fromkeys(c.resource for c in checks))
            index = {r: i for i, r in enumerate(resources)}
            # The signatures hold each resource's service and owner account.
            key = (tuple((c.action, index[c.resource], c.context) for c in checks),
                   tuple(self._resource_signature(r) for r in resources))
            cached = self._check_parts[id(checks)] = _ChecksPart(
                checks=checks,
                resources=resources,
                # Interned: a shape is hashed at every decision, and this part is the largest.
                key=self._memory.part_keys.setdefault(key, len(self._memory.part_keys)),
                owners=tuple(dict.fromkeys(_owner(r) for r in resources if r.startswith("arn:"))),
                contexts=tuple(dict.fromkeys(c.context for c in checks)),
            )
        return cached

    def _matrix(self, patterns: tuple[str, ...], part: _ChecksPart) -> tuple[tuple[bool, ...], ...]:
        """Which of the checked resources each Resource value matches (readers share one)."""
        key = (patterns, id(part.checks))
        cached = self._matrices.get(key)
        if cached is None or cached[0] is not part.checks:
            matrix = tuple(tuple(self._match(pattern, r) for r in part.resources) for pattern in patterns)
            cached = self._matrices[key] = (part.checks, matrix)
        return cached[1]

    def shape(self, principal: Principal, checks: tuple[Check, ...]) -> tuple[Any, ...]:
        """What the decisions of `principal` on `checks` depend on (see the class docstring)."""
        profile = self._profile(principal)
        if profile.literal or self._literal:
            return ("literal", principal, checks)
        part = self._checks_part(checks)
        account, arn, unique_id = principal.account, principal.arn, principal.unique_id

        def generic(text: str) -> str:
            return text.replace(arn, "{principal}").replace(unique_id, "{userid}").replace(account, "{account}")

        # Conditions whose outcome may differ between principals, under each context checked.
        own = [c for c in profile.conditions
               if c[1].lower() in PRINCIPAL_CONTEXT_KEYS or any(x in json.dumps(c[2]) for x in (account, unique_id))]
        outcomes: tuple[bool, ...] = ()
        if own or self._principal_conditions:
            base = {"aws:userid": unique_id, "aws:PrincipalAccount": account, "aws:PrincipalArn": arn}
            if principal.org_id:
                base[ORGANIZATION_KEY] = principal.org_id
            contexts = [CaseInsensitiveDict({**base, **dict(context)}) for context in part.contexts]
            outcomes = tuple(bool(condition_block_matches({operator: {key: values}}, context))
                             for context in contexts for operator, key, values in [*self._principal_conditions, *own])
        return (
            tuple(generic(document) for document in profile.documents),
            principal.org_id,
            tuple((arn in text, account in text, unique_id in text) for text in self._statement_texts),
            outcomes,
            # checks, resources as the resource policies see them, and which the principal's account owns
            part.key,
            tuple(owner == account for owner in part.owners),
            self._matrix(profile.resource_patterns, part),
        )

    def _resource_policy(self, resource: str) -> Document:
        if resource not in self._resource_policies:
            self._resource_policies[resource] = condition_strings(self.registry.resource_policy(resource))
        return self._resource_policies[resource]

    def _evaluate(self, principal: Principal, checks: tuple[Check, ...]) -> tuple[bool, ...]:
        node = principal.node()
        profile = self._profile(principal)
        patterns = self._action_patterns + profile.action_patterns
        literal = profile.literal or self._literal or any(p.upper().startswith(CASE_FOLDED_SERVICES) for p in patterns)
        classes: dict[str, Any] = {}

        def exact(action: str) -> bool:
            return literal or action.upper().startswith(CASE_FOLDED_SERVICES)

        def action_class(action: str) -> Any:
            """Actions alike for every Action and NotAction pattern in play are decided alike."""
            if exact(action):
                return action
            if action not in classes:
                classes[action] = tuple(self._match(p, action) for p in patterns)
            return classes[action]

        # Resources alike for the resource policies (signature: service, owner, statements and their
        # Resource matches) and for each of the principal's Resource values are decided alike.
        part = self._checks_part(checks)
        matrix = self._matrix(profile.resource_patterns, part)
        resource_class: dict[str, Any] = {
            r: r if literal else (self._resource_signature(r), tuple(row[i] for row in matrix))
            for i, r in enumerate(part.resources)
        }
        decided: dict[tuple[Any, Any, tuple[tuple[str, str], ...]], bool] = {}
        results = []
        for check in checks:
            key = (action_class(check.action), resource_class[check.resource], check.context)
            if key not in decided:
                decided[key] = self._authorize(node, principal, check, exact(check.action))
            results.append(decided[key])
        return tuple(results)

    def _authorize(self, node: Node, principal: Principal, check: Check, literal: bool = True) -> bool:
        context = dict(check.context)
        if principal.org_id:
            context.setdefault(ORGANIZATION_KEY, principal.org_id)
        if check.resource.startswith("arn:"):
            # Always a resource policy (empty when there is none) and its owner, so that a
            # call from another account needs an Allow on both sides.
            owner = _owner(check.resource)
            context.setdefault(RESOURCE_ACCOUNT_KEY, owner)
            if self.registry.organization_id and owner == self.registry.owner_account_id:
                context.setdefault(RESOURCE_ORGANIZATION_KEY, self.registry.organization_id)
            policy = self._resource_policy(check.resource)
            if not literal:
                policy = self._for_action(check.resource, check.action, policy)
            return bool(local_check_authorization_full(node, check.action, check.resource, context, policy, owner))
        # No resource ARN (sts:GetServiceBearerToken): only the caller's own policies apply.
        return bool(local_check_authorization_full(node, check.action, check.resource, context))

    def _for_action(self, resource: str, action: str, policy: Document) -> Document:
        """The resource policy without the statements whose Action or NotAction leaves `action` out:
        principalmapper would skip them, after expanding variables in each pattern (there are none)."""
        key = (resource, action)
        found = self._by_action.get(key)
        if found is None:
            def concerns(statement: Document) -> bool:
                if "Action" in statement:
                    return any(self._match(str(p), action) for p in listify(statement["Action"]))
                if "NotAction" in statement:
                    return not any(self._match(str(p), action) for p in listify(statement["NotAction"]))
                return True

            found = self._by_action[key] = {**policy, "Statement": [s for s in statements(policy) if concerns(s)]}
        return found
