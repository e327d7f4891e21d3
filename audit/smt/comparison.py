"""The comparison: Z3 asked whether a document's new version allows a request its old one did not, or
stops denying one, and the counterexample made to read as a request AWS could make."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import z3

from audit.smt.documents import (
    EVERYTHING,
    NOTHING,
    PRINCIPAL_ARN,
    Bound,
    Comparison,
    Hints,
    Request,
    request_problems,
    statements,
    well_formed_arn,
)
from audit.smt.encoding import Actions, Encoding, action_patterns
from policies import iam_actions
from policies import iam_documents as iam

TIMEOUT_MS = 20_000
# Per attempt to make a counterexample use a known value.
HINT_TIMEOUT_MS = 500
# At most this many hinted values are tried per part of a counterexample.
HINT_ATTEMPTS = 24


def _spellings(*documents: Mapping[str, Any], hints: Hints) -> dict[str, str]:
    """Lower-case action -> the spelling a document or the hints use (counterexamples read better)."""
    spelled = {a.lower(): a for a in iam_actions.codeartifact_actions()}
    spelled.update({a.lower(): a for a in hints.actions})
    for document in documents:
        for statement in statements(document):
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
    encoding = Encoding(Actions(action_patterns(old_document, new_document), hints.actions))
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


def resourceless_actions(hints: Hints) -> set[str]:
    """The actions (lower case) the access proof decides on `*`: those take no resource ARN."""
    return {action for action, resources in hints.resources_for.items() if "*" in resources}


def _arn_pattern(service: str | None) -> z3.ReRef:
    """The resource ARN of documents._ARN as a Z3 regular expression, with the given service or any."""
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
    if example.principal_type == "AWS" and PRINCIPAL_ARN.fullmatch(example.principal) is None:
        # No known principal shows it: the root of some account, spelled as IAM spells it.
        digits = z3.Concat(*[z3.Range("0", "9")] * 12)
        first([[encoding.principal_type == z3.StringVal("AWS"), z3.InRe(encoding.account, digits),
                encoding.principal == z3.Concat(z3.StringVal("arn:aws:iam::"), encoding.account,
                                                z3.StringVal(":root"))]])
        example = encoding.request(model, spelled)
    return example
