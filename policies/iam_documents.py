"""Reading IAM policy documents the way CrossGuard hands them over.

Props are a resource's inputs: JSON policy documents arrive as strings (or as objects
for some providers), and mappings and lists arrive wrapped in pulumi_policy's
unknown-checking proxies, so everything here accepts any Mapping or Sequence.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache

WILDCARD = "*"
# The account a CloudFormation StackSet template is deployed into, as its Fn::Sub names it: each
# member account in turn (policies/templates.py puts it where the template says ${AWS::AccountId}).
MEMBER_ACCOUNT = "${AWS::AccountId}"
_MEMBER_MARK = "<member account>"


class InvalidDocumentError(ValueError):
    """A policy document that is not a JSON object, or that AWS and this code could read differently."""


def to_json(document: object) -> str:
    """Compact JSON, as IAM counts a document's length."""
    return json.dumps(document, separators=(",", ":"))


def duplicated_keys(pairs: list[tuple[str, object]]) -> list[str]:
    """The keys a JSON object gives more than once (json.loads keeps the last; another reader may keep
    the first, so such a document could say one thing to a check and another to AWS or the CLI)."""
    keys = [key for key, _ in pairs]
    return sorted({key for key in keys if keys.count(key) > 1})


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    duplicated = duplicated_keys(pairs)
    if duplicated:
        raise InvalidDocumentError(f"has duplicate JSON keys {duplicated}: AWS and a check could read it differently")
    return dict(pairs)


def as_list(value: object) -> list[object]:
    """IAM lets most elements be one value or a list of them."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def plain(value: object) -> object:
    """Proxies and other mappings/sequences as dicts and lists (for JSON and comparisons)."""
    # Scalars first: the abstract Mapping and Sequence checks cost far more, and most values are strings.
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return {key: plain(value[key]) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [plain(item) for item in value]
    return value


@lru_cache(maxsize=8192)
def _parse(text: str) -> object:
    # The same document is read by several policies; parse it once.
    return json.loads(text, object_pairs_hook=_unique_keys)


def parse_document(value: object) -> dict[str, object] | None:
    """A policy document as a dict, None when absent; InvalidDocumentError when it is not JSON."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            document = _parse(value)
        except json.JSONDecodeError as error:
            raise InvalidDocumentError(f"is not valid JSON ({error.msg} at character {error.pos})") from None
    elif isinstance(value, Mapping):
        document = plain(value)
    else:
        raise InvalidDocumentError(f"is a {type(value).__name__}, not a JSON policy document")
    if not isinstance(document, dict):
        raise InvalidDocumentError("is not a JSON object")
    return document


def document_text(value: object) -> str:
    """The string AWS receives: as given, or compact JSON for a document given as an object."""
    return value if isinstance(value, str) else to_json(plain(value))


JSON_WHITESPACE = " \t\n\r"


def non_whitespace_length(value: object) -> int:
    """What IAM counts of a document against its size quotas: the non-whitespace characters of the text
    it receives (GetAccountSummary's quotas say so). Counted on that very text, not on a re-serialisation,
    which could spell an escape or a number shorter than the provider sent it."""
    text = document_text(value)
    return len(text) - sum(text.count(char) for char in JSON_WHITESPACE)


def statements(document: Mapping[str, object] | None) -> list[Mapping[str, object]]:
    if not document:
        return []
    return [s for s in as_list(document.get("Statement")) if isinstance(s, Mapping)]


def allow_statements(document: Mapping[str, object] | None) -> list[Mapping[str, object]]:
    return [s for s in statements(document) if s.get("Effect") == "Allow"]


def label(statement: Mapping[str, object], index: int | None = None) -> str:
    """How messages name a statement: its Sid, or its position."""
    sid = statement.get("Sid")
    if sid:
        return f"statement {sid!r}"
    return f"statement #{index + 1}" if index is not None else "a statement without Sid"


# --- principals ------------------------------------------------------------------


def principals(statement: Mapping[str, object]) -> list[tuple[str, str]]:
    """(type, value) pairs: ("AWS", "*") for `"Principal": "*"`, ("Service", "x.amazonaws.com") ..."""
    principal = statement.get("Principal")
    if principal is None:
        return []
    if isinstance(principal, str):
        return [("AWS", principal)]
    if isinstance(principal, Mapping):
        return [(kind, str(value)) for kind in principal for value in as_list(principal[kind])]
    return [("?", str(principal))]


def principal_account(value: str) -> str | None:
    """The account of an AWS principal (account ID, root/role/user/assumed-role ARN), else None.

    In a StackSet template's documents, `MEMBER_ACCOUNT` stands for the account deployed into."""
    if (len(value) == 12 and value.isdigit()) or value == MEMBER_ACCOUNT:
        return value
    if _MEMBER_MARK in value:
        return None
    # MEMBER_ACCOUNT has colons of its own: stand a colon-free mark in for it while splitting.
    parts = value.replace(MEMBER_ACCOUNT, _MEMBER_MARK).split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] in ("iam", "sts"):
        if parts[4] == _MEMBER_MARK:
            return MEMBER_ACCOUNT
        if parts[4].isdigit():
            return parts[4]
    return None


# --- conditions --------------------------------------------------------------------


def conditions(statement: Mapping[str, object]) -> Iterator[tuple[str, str, list[str]]]:
    """(operator, key in lower case, values) for every condition of a statement."""
    block = statement.get("Condition")
    if not isinstance(block, Mapping):
        return
    for operator in block:
        entries = block[operator]
        if not isinstance(entries, Mapping):
            continue
        for key in entries:
            yield str(operator), str(key).lower(), [str(v) for v in as_list(entries[key])]


def condition_entries(statement: Mapping[str, object], key: str) -> list[tuple[str, list[str]]]:
    """(operator, values) of every condition on `key` (condition keys are case-insensitive)."""
    key = key.lower()
    return [(operator, values) for operator, k, values in conditions(statement) if k == key]


# --- actions and resources -------------------------------------------------------------


def matches(pattern: object, value: str) -> bool:
    """IAM matching: `*` and `?` wildcards; actions compare case-insensitively."""
    return fnmatchcase(value.lower(), str(pattern).lower())


def actions(statement: Mapping[str, object]) -> list[str]:
    return [str(a) for a in as_list(statement.get("Action"))]


def grants_action(statement: Mapping[str, object], action: str) -> bool:
    """Does an Allow statement cover `action`, through Action or through NotAction?"""
    if statement.get("Effect") != "Allow":
        return False
    if "NotAction" in statement:
        return not any(matches(p, action) for p in as_list(statement.get("NotAction")))
    return any(matches(p, action) for p in actions(statement))


def resources(statement: Mapping[str, object]) -> list[str]:
    """Resource patterns; a statement without Resource (or with NotResource) covers everything."""
    if "NotResource" in statement or "Resource" not in statement:
        return [WILDCARD]
    return [str(r) for r in as_list(statement.get("Resource"))]


def is_any_resource(pattern: str) -> bool:
    """`*`, or an ARN whose resource part is `*` (every resource of a service in an account)."""
    if pattern == WILDCARD:
        return True
    parts = pattern.split(":", 5)
    return len(parts) == 6 and parts[5] == WILDCARD


# --- denies ------------------------------------------------------------------------------

# Condition operators that exempt named principals from a Deny (the break-glass role).
EXEMPTING_OPERATORS = ("arnnotequals", "arnnotlike", "stringnotequals", "stringnotlike")


def denies_everyone(statement: Mapping[str, object], action: str, exempt: Collection[str] = ()) -> bool:
    """Is `action` denied to every principal on every resource, except at most the `exempt` role ARNs?

    Any other condition could leave a principal out of the Deny, so it does not count. A Deny with
    NotAction denies every action it does not list; one with NotResource only the resources outside
    those it lists, so it never covers every resource (unlike an Allow, where reading it as `*` is
    the worst case).
    """
    if statement.get("Effect") != "Deny" or "NotPrincipal" in statement:
        return False
    if not any(kind == "AWS" and value == WILDCARD for kind, value in principals(statement)):
        return False
    if "NotAction" in statement:
        if any(matches(pattern, action) for pattern in as_list(statement.get("NotAction"))):
            return False
    elif not any(matches(pattern, action) for pattern in actions(statement)):
        return False
    if "NotResource" in statement or WILDCARD not in as_list(statement.get("Resource")):
        return False
    found = list(conditions(statement))
    if not found:
        return True
    (operator, key, values), *others = found
    return (not others and operator.lower() in EXEMPTING_OPERATORS and key == "aws:principalarn"
            and bool(values) and set(values) <= set(exempt))
