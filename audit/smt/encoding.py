"""The encoding: one symbolic request, and each version of a document turned into a formula over it
(actions in classes every pattern treats alike, condition keys with AWS's rules for absent and
multi-valued keys, any other clause an opaque proposition named by its text)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import z3

from audit.smt.documents import EVERYTHING, Bound, Request, canonical, statements
from policies import iam_actions
from policies import iam_documents as iam

# Any one character. (z3.Range(" ", "~"), printable ASCII only, leaves Z3 undecided on plain
# prefix patterns; the full alphabet costs nothing and loses nothing: a wildcard matches anything.)
_ANY = z3.AllChar(z3.ReSort(z3.StringSort()))
# Stands for every action of a service that no pattern names.
OTHER_ACTION = "other-service:other-action"
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
# How many values a multi-valued condition key may carry in a request.
KEY_VALUES = 3


@cache
def _pattern(pattern: str) -> z3.ReRef:
    """An IAM wildcard pattern (`*` any run, `?` one character) as a regular expression."""
    parts: list[z3.ReRef] = []
    literal = ""
    for char in pattern:
        if char in "*?":
            if literal:
                parts.append(z3.Re(z3.StringVal(literal)))
                literal = ""
            parts.append(z3.Star(_ANY) if char == "*" else _ANY)
        else:
            literal += char
    if literal or not parts:
        parts.append(z3.Re(z3.StringVal(literal)))
    return parts[0] if len(parts) == 1 else z3.Concat(*parts)


def _matches(value: z3.SeqRef, pattern: str) -> z3.BoolRef:
    if "*" not in pattern and "?" not in pattern:
        return value == z3.StringVal(pattern)
    return z3.InRe(value, _pattern(pattern))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@cache
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def action_patterns(*documents: Mapping[str, Any]) -> list[str]:
    found = []
    for document in documents:
        for statement in statements(document):
            found += [str(p).lower() for p in iam.as_list(statement.get("Action", statement.get("NotAction")))]
    return sorted(set(found))


def _known_actions(patterns: Iterable[str]) -> set[str]:
    """Every action of each service a pattern names (every service when a pattern's service part
    has a wildcard), in lower case."""
    services: set[str] = set()
    everything = False
    for pattern in patterns:
        service, colon, _ = pattern.partition(":")
        if not colon or "*" in service or "?" in service:
            everything = True
        else:
            services.add(service)
    levels = iam_actions.all_actions_by_level()
    chosen = levels if everything else {s: levels.get(s, {}) for s in services}
    return {action.lower() for actions in chosen.values() for action in actions}


class Actions:
    """The actions a request may carry, in classes that every pattern of the two documents treats
    alike: the action is one symbolic class, which keeps Z3 away from strings for it.

    The universe is every action the Service Authorization Reference lists for the services the
    patterns name, the patterns' own literal actions, the hints, and one action of no listed
    service."""

    def __init__(self, patterns: Sequence[str], hints: Sequence[str]) -> None:
        literal = {p for p in patterns if "*" not in p and "?" not in p}
        preferred = [h.lower() for h in hints] + sorted(literal)
        universe = _known_actions(patterns) | literal | set(preferred) | {OTHER_ACTION}
        rank = {action: i for i, action in reversed(list(enumerate(preferred)))}
        classes: dict[tuple[bool, ...], list[str]] = {}
        for action in sorted(universe, key=lambda a: (rank.get(a, len(rank)), a)):
            read = iam_actions.access_level(action) in iam_actions.READ_ONLY_LEVELS
            signature = (*(bool(_wildcard(p).fullmatch(action)) for p in patterns), read)
            classes.setdefault(signature, []).append(action)
        self.patterns = list(patterns)
        self.members = [_real_first(members, signature, self.patterns) for signature, members in classes.items()]
        self.matching = {p: [i for i, signature in enumerate(classes) if signature[n]]
                         for n, p in enumerate(self.patterns)}
        # Classes of Read and List actions only (the rest may widen beyond reading).
        self.read_only = [signature[-1] for signature in classes]
        self.hinted = [i for i, members in enumerate(self.members) if members[0] in set(preferred[:len(hints)])]


def _real_first(members: list[str], signature: tuple[bool, ...], patterns: Sequence[str]) -> list[str]:
    """A class's members with a real action first (counterexamples name `members[0]`): the first
    that the action table lists, else, for the class that holds OTHER_ACTION, a real action that
    every pattern treats as it (what OTHER_ACTION stands for); as they were when neither exists."""
    known = [m for m in members if iam_actions.access_level(m) is not None]
    if known:
        return [known[0], *[m for m in members if m != known[0]]]
    if OTHER_ACTION in members:
        stand_in = _stand_in_action(signature, tuple(patterns))
        if stand_in:
            return [stand_in, *members]
    return members


@cache
def _stand_in_action(signature: tuple[bool, ...], patterns: tuple[str, ...]) -> str | None:
    """The first action of the table, of a service no pattern names literally, with `signature`."""
    named = {p.partition(":")[0] for p in patterns}
    for service in iam_actions.services():
        if service in named:
            continue
        for action, level in iam_actions.actions_by_level(service).items():
            lowered = action.lower()
            found = (*(bool(_wildcard(p).fullmatch(lowered)) for p in patterns), level in iam_actions.READ_ONLY_LEVELS)
            if found == signature:
                return action
    return None


class _Key:
    """One condition key of the request: how many values it carries (0 = absent), and them."""

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self.count = z3.Int(f"k{index}#count")
        self.values = [z3.String(f"k{index}#{i}") for i in range(KEY_VALUES)]

    @property
    def present(self) -> z3.BoolRef:
        return self.count > 0


class Encoding:
    """One symbolic request, and the documents turned into formulas over it."""

    def __init__(self, actions: Actions) -> None:
        self.actions = actions
        self.principal_type = z3.String("principal_type")
        self.principal = z3.String("principal")
        self.account = z3.String("principal_account")
        self.action = z3.Int("action")
        self.resource = z3.String("resource")
        self.keys: dict[str, _Key] = {}
        self.opaque: dict[str, z3.BoolRef] = {}
        self.facts: list[z3.BoolRef] = [
            z3.Or(*[self.principal_type == z3.StringVal(t) for t in PRINCIPAL_TYPES]),
            z3.And(self.action >= 0, self.action < len(actions.members)),
        ]

    # -- condition keys --

    def key(self, name: str) -> _Key:
        name = name.lower()
        if name not in self.keys:
            key = _Key(name, len(self.keys))
            self.keys[name] = key
            self.facts.append(z3.And(key.count >= 0, key.count <= KEY_VALUES))
            is_aws = self.principal_type == z3.StringVal("AWS")
            if name in ("aws:principalarn", "aws:principalaccount"):
                own = self.principal if name == "aws:principalarn" else self.account
                self.facts.append(z3.If(is_aws, z3.And(key.count == 1, key.values[0] == own), key.count == 0))
        return self.keys[name]

    def _opaque(self, clause: object) -> z3.BoolRef:
        text = canonical(clause)
        if text not in self.opaque:
            self.opaque[text] = z3.Bool(f"opaque {text}")
        return self.opaque[text]

    # -- statements --

    def principal_matches(self, element: Any) -> z3.BoolRef:
        if element == "*":
            return z3.BoolVal(True)
        if not isinstance(element, Mapping):
            return self._opaque({"Principal": element})
        alternatives = []
        for kind, values in element.items():
            for value in iam.as_list(values):
                if not isinstance(value, str):
                    alternatives.append(self._opaque({"Principal": {kind: value}}))
                elif kind == "AWS":
                    alternatives.append(self._aws_principal(value))
                else:
                    alternatives.append(z3.And(self.principal_type == z3.StringVal(kind),
                                               self.principal == z3.StringVal(value)))
        return z3.Or(*alternatives) if alternatives else z3.BoolVal(False)

    def _aws_principal(self, value: str) -> z3.BoolRef:
        is_aws = self.principal_type == z3.StringVal("AWS")
        if value == "*":
            return is_aws
        account = value if value.isdigit() and len(value) == 12 else iam.principal_account(value)
        if account and (value.isdigit() or value.endswith(":root")):
            return z3.And(is_aws, self.account == z3.StringVal(account))
        exact = z3.And(is_aws, self.principal == z3.StringVal(value))
        # An ARN names a principal of its account.
        return z3.And(exact, self.account == z3.StringVal(account)) if account else exact

    def statement(self, statement: Mapping[str, Any]) -> z3.BoolRef:
        parts: list[z3.BoolRef] = []
        if "Principal" in statement:
            parts.append(self.principal_matches(statement["Principal"]))
        elif "NotPrincipal" in statement:
            parts.append(z3.Not(self.principal_matches(statement["NotPrincipal"])))
        if "Action" in statement:
            parts.append(self._actions(iam.as_list(statement["Action"])))
        else:
            parts.append(z3.Not(self._actions(iam.as_list(statement["NotAction"]))))
        if "Resource" in statement:
            parts.append(self._resources(iam.as_list(statement["Resource"])))
        elif "NotResource" in statement:
            parts.append(z3.Not(self._resources(iam.as_list(statement["NotResource"]))))
        for operator, block in statement.get("Condition", {}).items():
            for key, values in block.items():
                parts.append(self.condition(operator, key, values))
        return z3.And(*parts)

    def _actions(self, patterns: Sequence[Any]) -> z3.BoolRef:
        classes = sorted({i for p in patterns for i in self.actions.matching[p.lower()]})
        return z3.Or(*[self.action == i for i in classes]) if classes else z3.BoolVal(False)

    def _resources(self, patterns: Sequence[Any]) -> z3.BoolRef:
        found = [self._opaque({"Resource": p}) if "${" in p else _matches(self.resource, p) for p in patterns]
        return z3.Or(*found) if found else z3.BoolVal(False)

    def condition(self, operator: str, key_name: str, raw: Any) -> z3.BoolRef:
        """One (operator, key, values) clause, with AWS's rules for absent and multi-valued keys."""
        values = [_text(v) for v in iam.as_list(raw)]
        base, qualifier = operator, ""
        for prefix in ("ForAnyValue:", "ForAllValues:"):
            if base.startswith(prefix):
                qualifier, base = prefix[:-1], base[len(prefix):]
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if base == "Null" and not qualifier and not if_exists and len(values) == 1 and values[0] in ("true", "false"):
            key = self.key(key_name)
            return z3.Not(key.present) if values[0] == "true" else key.present
        kinds = {"StringEquals": ("eq", False), "StringNotEquals": ("eq", True),
                 "StringLike": ("like", False), "StringNotLike": ("like", True),
                 "ArnEquals": ("like", False), "ArnLike": ("like", False),
                 "ArnNotEquals": ("like", True), "ArnNotLike": ("like", True),
                 "Bool": ("bool", False)}
        if base not in kinds or any("${" in v for v in values) or not values:
            return self._opaque({operator: {key_name.lower(): values}})
        kind, negated = kinds[base]
        key = self.key(key_name)

        def one(value: z3.SeqRef) -> z3.BoolRef:
            if kind == "bool":
                matched = z3.Or(*[value == z3.StringVal(v.lower()) for v in values])
            elif kind == "eq":
                matched = z3.Or(*[value == z3.StringVal(v) for v in values])
            else:
                matched = z3.Or(*[_matches(value, v) for v in values])
            return z3.Not(matched) if negated else matched

        slots = [(key.count > i, key.values[i]) for i in range(KEY_VALUES)]
        if qualifier == "ForAnyValue":
            return z3.Or(*[z3.And(used, one(v)) for used, v in slots])
        if qualifier == "ForAllValues":
            return z3.And(*[z3.Implies(used, one(v)) for used, v in slots])
        # A single-valued operator: an absent key fails it, unless the operator is negated or IfExists.
        absent = z3.BoolVal(if_exists or negated)
        return z3.If(key.present, one(key.values[0]), absent)

    def document(self, bound: Bound) -> tuple[z3.BoolRef, z3.BoolRef]:
        """(allows, denies) of one version: some Allow statement matches, some Deny statement matches."""
        document = EVERYTHING if bound.unreadable else bound.document
        allows: list[z3.BoolRef] = []
        denies: list[z3.BoolRef] = []
        for statement in statements(document):
            (allows if statement["Effect"] == "Allow" else denies).append(self.statement(statement))
        allow = z3.Or(*allows) if allows else z3.BoolVal(False)
        deny = z3.Or(*denies) if denies else z3.BoolVal(False)
        if bound.roles:
            # An identity policy speaks only for the roles it is attached to.
            mine = z3.And(self.principal_type == z3.StringVal("AWS"),
                          z3.Or(*[self.principal == z3.StringVal(r) for r in bound.roles]))
            allow, deny = z3.And(mine, allow), z3.And(mine, deny)
        return allow, deny

    # -- reading a model back --

    def request(self, model: z3.ModelRef, spelled: Mapping[str, str]) -> Request:
        def text(value: z3.SeqRef) -> str:
            return str(model.eval(value, model_completion=True).as_string())

        context = {}
        for name, key in self.keys.items():
            count = model.eval(key.count, model_completion=True).as_long()
            context[name] = tuple(text(v) for v in key.values[:count])
        action = self.actions.members[model.eval(self.action, model_completion=True).as_long()][0]
        return Request(text(self.principal_type), text(self.principal), spelled.get(action) or _spelling(action),
                       text(self.resource), context, text(self.account))


def _spelling(action: str) -> str:
    """The action as the action table spells it (`s3:GetObject` for `s3:getobject`), else as given."""
    service = action.partition(":")[0]
    return next((a for a in iam_actions.actions_by_level(service) if a.lower() == action.lower()), action)
