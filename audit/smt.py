"""The access diff's second engine: two versions of one policy document, compared by Z3.

principalmapper (audit/access.py) decides a fixed list of requests: the codeartifact actions on
the registry's ARNs, for the principals the settings name. This module shares none of that: it
turns each version of a policy document into a formula over one symbolic request (principal,
action, resource and condition keys) and asks Z3 whether some request satisfies the new version
and not the old one. A `sat` answer comes with a concrete request: the counterexample.

A document is wider when some request is allowed by the new version and not the old one, or
explicitly denied by the old version and not the new one (a Deny dropped in one document lets
through what another document allows).

The model (README, "Access diff"):
- an action is one the Service Authorization Reference lists for a service the documents name
  (or an action of no listed service), matched without case as IAM does; resources, principals
  and condition values are any strings, matched with case;
- `Principal` and `NotPrincipal`: `*`, `{"AWS": "*"}`, an account (`123456789012`,
  `arn:aws:iam::123456789012:root`) matching every principal of that account, an exact ARN;
  `Service`, `Federated` and `CanonicalUser` by exact value. An identity policy applies to the
  roles it is attached to, so its requests come from one of them;
- conditions: the String, Arn and Bool operators, `Null`, `...IfExists` and the `ForAnyValue:`
  and `ForAllValues:` qualifiers (a key with up to three values), with AWS's rules for an absent
  key; `aws:PrincipalArn` and `aws:PrincipalAccount` follow the request's principal. Any other
  clause (numeric, date, IP address, case-insensitive strings, policy variables) is an opaque
  proposition named by its text: the same clause in both versions is the same proposition,
  a changed one is a new one, so a change there counts as wider;
- a document that cannot be read is taken to allow everything.

Every counterexample is a request AWS could make where one shows the widening: an action the
action table lists (an action of a service no pattern names is stood in for by a real one), a
well-formed resource ARN (or `*` for an action the access proof decides on no resource), an AWS
principal whose ARN and account agree. What still falls short is said with it
(`Comparison.example_problems`, `request_problems`): the widening stands either way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import z3

from policies import iam_actions
from policies import iam_documents as iam

Document = dict[str, Any]

# Any one character. (z3.Range(" ", "~"), printable ASCII only, leaves Z3 undecided on plain
# prefix patterns; the full alphabet costs nothing and loses nothing: a wildcard matches anything.)
_ANY = z3.AllChar(z3.ReSort(z3.StringSort()))
# Stands for every action of a service that no pattern names.
OTHER_ACTION = "other-service:other-action"
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
# A resource ARN as requests carry one: partition, service, region (or none), account (or none, or
# `aws`), and a resource part of printable characters that does not end in a separator.
_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):((?:[a-z]{2}(?:-[a-z]+)+-[0-9]+)?):"
                  r"([0-9]{12}|aws)?:([!-~]*[!-.0-~])")
# An AWS principal's ARN: an account's root, a role, a user or an assumed-role session.
_PRINCIPAL_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):(iam|sts)::([0-9]{12}):"
                            r"(root|(?:role|user)/[!-~]*[!-.0-~]|assumed-role/[!-.0-~]+/[!-~]+)")
# How many values a multi-valued condition key may carry in a request.
KEY_VALUES = 3
TIMEOUT_MS = 20_000
# Per attempt to make a counterexample use a known value.
HINT_TIMEOUT_MS = 500
# At most this many hinted values are tried per part of a counterexample.
HINT_ATTEMPTS = 24

EVERYTHING: Document = {"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}
NOTHING: Document = {"Version": "2012-10-17", "Statement": []}


class UnreadableDocumentError(ValueError):
    """A document this engine cannot read; the caller takes it to allow everything."""


@dataclass(frozen=True)
class Bound:
    """One version of a document, and the roles it is attached to when it is an identity policy
    (empty for resource, trust and key policies: their `Principal` says who)."""

    document: Document
    roles: tuple[str, ...] = ()
    unreadable: str | None = None  # why the document could not be read (then it allows everything)


@dataclass(frozen=True)
class Request:
    """A concrete request: who, what, on which resource, with which condition keys."""

    principal_type: str
    principal: str
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    account: str = ""  # of an AWS principal

    @property
    def who(self) -> str:
        if self.principal_type != "AWS":
            return f"{self.principal_type} {self.principal}"
        if self.account and not self.principal.startswith(f"arn:aws:iam::{self.account}:"):
            return f"a principal of account {self.account}"
        if self.principal == f"arn:aws:iam::{self.account}:root":
            return f"any principal of account {self.account}"
        return self.principal

    def as_json(self) -> dict[str, Any]:
        return {"principal_type": self.principal_type, "principal": self.who, "action": self.action,
                "resource": self.resource, "context": {k: list(v) for k, v in self.context.items()}}

    def __str__(self) -> str:
        text = f"{self.who} may {self.action} on {self.resource}"
        if self.context:
            text += " with " + ", ".join(f"{k}={'|'.join(v) if v else '(absent)'}"
                                         for k, v in sorted(self.context.items()))
        return text


@dataclass(frozen=True)
class Comparison:
    """Whether the new version is wider, how, and a request that shows it."""

    wider: bool
    how: str = ""  # "allows" (a request the old did not allow) or "no longer denies"
    example: Request | None = None
    undecided: str | None = None  # Z3 gave no answer: counted as wider (fail closed)
    read_only: bool = False  # every request that shows it is a Read or List action
    example_problems: tuple[str, ...] = ()  # why the example is not a request AWS could make

    def as_json(self) -> dict[str, Any]:
        return {"wider": self.wider, "how": self.how, "read_only": self.read_only,
                "example": self.example.as_json() if self.example else None, "undecided": self.undecided,
                "example_problems": list(self.example_problems)}


def well_formed_arn(resource: str) -> bool:
    return _ARN.fullmatch(resource) is not None


def request_problems(request: Request, resourceless: Iterable[str] = (), principal: bool = True) -> list[str]:
    """Why `request` is not one AWS could make, [] when it is: its action must be one the action
    table lists; its resource a well-formed ARN, or `*` for an action in `resourceless` (the
    actions the access proof decides on no resource); an AWS principal's ARN must be well-formed
    and of the request's account (unless `principal` is False: a managed policy's example names
    no principal)."""
    problems = []
    if iam_actions.access_level(request.action) is None:
        problems.append(f"{request.action} is no action the action table lists")
    if request.resource == "*":
        if request.action.lower() not in {a.lower() for a in resourceless}:
            problems.append(f"resource * for {request.action}, an action decided on resources")
    elif not well_formed_arn(request.resource):
        problems.append(f"resource {json.dumps(request.resource)} is not a well-formed ARN")
    if principal and request.principal_type == "AWS":
        match = _PRINCIPAL_ARN.fullmatch(request.principal)
        if match is None:
            problems.append(f"principal {json.dumps(request.principal)} is not a well-formed principal ARN")
        elif match.group(3) != request.account:
            problems.append(f"principal {request.principal} is not of account {request.account or '(none)'}")
    return problems


@dataclass(frozen=True)
class Hints:
    """Values a counterexample should use where it can (the requests the access proof decides),
    so that it reads as a real request rather than an arbitrary string."""

    principals: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    # The resources decided for an action (lower case), tried first for a counterexample with it.
    resources_for: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# --- reading documents ----------------------------------------------------------------------


def read_document(value: object) -> Document:
    """A policy document (JSON text or object) checked for what this engine needs, else
    UnreadableDocumentError."""
    try:
        document = iam.parse_document(value)
    except iam.InvalidDocumentError as error:
        raise UnreadableDocumentError(f"the document {error}") from None
    if document is None:
        raise UnreadableDocumentError("there is no document")
    for statement in _statements(document):
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise UnreadableDocumentError("a statement is not an object with Effect Allow or Deny")
        if ("Action" in statement) == ("NotAction" in statement):
            raise UnreadableDocumentError("a statement needs exactly one of Action and NotAction")
        if "Principal" in statement and "NotPrincipal" in statement:
            raise UnreadableDocumentError("a statement has both Principal and NotPrincipal")
        if "Resource" in statement and "NotResource" in statement:
            raise UnreadableDocumentError("a statement has both Resource and NotResource")
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement and not all(isinstance(p, str) for p in iam.as_list(statement[key])):
                raise UnreadableDocumentError(f"a statement's {key} is not strings")
        condition = statement.get("Condition", {})
        if not isinstance(condition, dict) or not all(isinstance(block, dict) for block in condition.values()):
            raise UnreadableDocumentError("a statement's Condition is not an object of objects")
    return document


def _statements(document: Mapping[str, Any]) -> list[Any]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def canonical(document: object) -> str:
    """Equal for documents that say the same in the same order (formatting and key order aside)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


# --- the encoding -----------------------------------------------------------------------------


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


def _action_patterns(*documents: Mapping[str, Any]) -> list[str]:
    found = []
    for document in documents:
        for statement in _statements(document):
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
        for statement in _statements(document):
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


# --- the comparison ---------------------------------------------------------------------------


def _spellings(*documents: Mapping[str, Any], hints: Hints) -> dict[str, str]:
    """Lower-case action -> the spelling a document or the hints use (counterexamples read better)."""
    spelled = {a.lower(): a for a in iam_actions.codeartifact_actions()}
    spelled.update({a.lower(): a for a in hints.actions})
    for document in documents:
        for statement in _statements(document):
            if isinstance(statement, Mapping):
                for pattern in iam.as_list(statement.get("Action", statement.get("NotAction"))):
                    if isinstance(pattern, str) and "*" not in pattern and "?" not in pattern:
                        spelled[pattern.lower()] = pattern
    return spelled


def compare(old: Bound | None, new: Bound | None, hints: Hints | None = None,
            timeout_ms: int = TIMEOUT_MS) -> Comparison:
    """Whether `new` allows a request `old` did not, or stops denying one it denied.

    None stands for a document that does not exist on that side (it allows and denies nothing)."""
    hints = hints or Hints()
    old = old if old is not None else Bound(NOTHING)
    new = new if new is not None else Bound(NOTHING)
    old_document = EVERYTHING if old.unreadable else old.document
    new_document = EVERYTHING if new.unreadable else new.document
    encoding = Encoding(Actions(_action_patterns(old_document, new_document), hints.actions))
    old_allow, old_deny = encoding.document(old)
    new_allow, new_deny = encoding.document(new)
    spelled = _spellings(old_document, new_document, hints=hints)
    questions = [
        ("allows", z3.And(new_allow, z3.Not(new_deny), z3.Not(z3.And(old_allow, z3.Not(old_deny))))),
        ("no longer denies", z3.And(old_deny, z3.Not(new_deny))),
    ]
    undecided = []
    beyond_reading = z3.Or(*[encoding.action == i for i, read in enumerate(encoding.actions.read_only) if not read])
    for how, question in questions:
        # A fresh solver for every question: Z3 can hang pushing a scope onto a solved string problem.
        base = [*encoding.facts, question]
        answer, model = _solve(base, timeout_ms)
        if answer == z3.unknown:
            undecided.append(f"{how}: {model}")
            continue
        if answer == z3.unsat:
            continue
        # Wider. Is it beyond Read and List? Ask for such a request first.
        answer, beyond = _solve([*base, beyond_reading], timeout_ms)
        read_only = answer != z3.sat
        constraints, found = (base, model) if read_only else ([*base, beyond_reading], beyond)
        example = _nicer_example(constraints, found, encoding, hints, spelled)
        problems = tuple(request_problems(example, resourceless_actions(hints)))
        return Comparison(True, how, example, read_only=read_only, example_problems=problems)
    if undecided:
        return Comparison(True, "undecided", None, "; ".join(undecided))
    return Comparison(False)


def _spelling(action: str) -> str:
    """The action as the action table spells it (`s3:GetObject` for `s3:getobject`), else as given."""
    service = action.partition(":")[0]
    return next((a for a in iam_actions.actions_by_level(service) if a.lower() == action.lower()), action)


def resourceless_actions(hints: Hints) -> set[str]:
    """The actions (lower case) the access proof decides on `*`: those take no resource ARN."""
    return {action for action, resources in hints.resources_for.items() if "*" in resources}


def _arn_pattern(service: str | None) -> z3.ReRef:
    """_ARN as a Z3 regular expression, with the given service or any."""
    lower, digit, dash = z3.Range("a", "z"), z3.Range("0", "9"), z3.Re(z3.StringVal("-"))

    def text(value: str) -> z3.ReRef:
        return z3.Re(z3.StringVal(value))

    partition = z3.Union(text("aws"), text("aws-cn"), text("aws-us-gov"))
    name = text(service) if service else z3.Plus(z3.Union(lower, digit, dash))
    region = z3.Option(z3.Concat(lower, lower, z3.Plus(z3.Concat(dash, z3.Plus(lower))), dash, z3.Plus(digit)))
    account = z3.Option(z3.Union(z3.Concat(*[digit] * 12), text("aws")))
    last = z3.Union(z3.Range("!", "."), z3.Range("0", "~"))
    resource = z3.Concat(z3.Star(z3.Range("!", "~")), last)
    colon = text(":")
    return z3.Concat(text("arn:"), partition, colon, name, colon, region, colon, account, colon, resource)


def _solve(constraints: Sequence[z3.BoolRef], timeout_ms: int) -> tuple[Any, Any]:
    """(sat, model), (unsat, None) or (unknown, Z3's reason)."""
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.add(*constraints)
    answer = solver.check()
    if answer == z3.sat:
        return answer, solver.model()
    return answer, solver.reason_unknown() if answer == z3.unknown else None


def _nicer_example(constraints: list[z3.BoolRef], model: z3.ModelRef, encoding: Encoding, hints: Hints,
                   spelled: Mapping[str, str]) -> Request:
    """The counterexample, with the action, resource and principal taken from the hints where
    some request with them also shows the widening (one value at a time: Z3 answers those at
    once, where a disjunction of them all is slow)."""
    constraints = list(constraints)

    def first(options: Iterable[list[z3.BoolRef]]) -> None:
        nonlocal model
        for extra in options:
            answer, found = _solve([*constraints, *extra], HINT_TIMEOUT_MS)
            if answer == z3.sat:
                model = found
                constraints.extend(extra)  # kept: the next choice refines this one
                return

    action = model.eval(encoding.action, model_completion=True).as_long()
    if action not in encoding.actions.hinted:
        first([encoding.action == index] for index in encoding.actions.hinted[:HINT_ATTEMPTS])
    members = encoding.actions.members[model.eval(encoding.action, model_completion=True).as_long()]
    constraints.append(encoding.action == model.eval(encoding.action, model_completion=True))
    paired = [r for m in members for r in hints.resources_for.get(m, ())]
    resources = list(dict.fromkeys([*paired, *sorted(set(hints.resources))]))
    current = str(model.eval(encoding.resource, model_completion=True).as_string())
    if current not in resources:
        first([encoding.resource == z3.StringVal(r)] for r in resources[:HINT_ATTEMPTS])
    current = str(model.eval(encoding.resource, model_completion=True).as_string())
    if current not in resources and not well_formed_arn(current):
        # No known resource shows it: a well-formed ARN, of the action's own service first; `*` only
        # for an action decided on no resource.
        service = members[0].partition(":")[0]
        options = [[z3.InRe(encoding.resource, _arn_pattern(service))],
                   [z3.InRe(encoding.resource, _arn_pattern(None))]]
        if any(m in resourceless_actions(hints) for m in members):
            options.insert(0, [encoding.resource == z3.StringVal("*")])
        first(options)
    principal = str(model.eval(encoding.principal, model_completion=True).as_string())
    account = str(model.eval(encoding.account, model_completion=True).as_string())
    consistent = principal in hints.principals and iam.principal_account(principal) == account
    if not consistent:
        # A known principal, else the account's root: a principal and its account that agree.
        candidates = sorted(set(hints.principals))[:HINT_ATTEMPTS]
        if len(account) == 12 and account.isdigit():
            candidates.append(f"arn:aws:iam::{account}:root")
        first([encoding.principal_type == z3.StringVal("AWS"), encoding.principal == z3.StringVal(p),
               encoding.account == z3.StringVal(iam.principal_account(p) or "")] for p in candidates)
    example = encoding.request(model, spelled)
    if example.principal_type == "AWS" and _PRINCIPAL_ARN.fullmatch(example.principal) is None:
        # No known principal shows it: the root of some account, spelled as IAM spells it.
        digits = z3.Concat(*[z3.Range("0", "9")] * 12)
        first([[encoding.principal_type == z3.StringVal("AWS"), z3.InRe(encoding.account, digits),
                encoding.principal == z3.Concat(z3.StringVal("arn:aws:iam::"), encoding.account,
                                                z3.StringVal(":root"))]])
        example = encoding.request(model, spelled)
    return example
