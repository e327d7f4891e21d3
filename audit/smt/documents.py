"""Policy documents as the Z3 engine reads them (a document that cannot be read allows everything), and
the requests, hints and comparisons it answers with, with whether a request is one AWS could make."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies import iam_actions
from policies import iam_documents as iam

Document = dict[str, Any]

# A resource ARN as requests carry one: partition, service, region (or none), account (or none, or
# `aws`), and a resource part of printable characters that does not end in a separator.
_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):((?:[a-z]{2}(?:-[a-z]+)+-[0-9]+)?):"
                  r"([0-9]{12}|aws)?:([!-~]*[!-.0-~])")
# An AWS principal's ARN: an account's root, a role, a user or an assumed-role session.
PRINCIPAL_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):(iam|sts)::([0-9]{12}):"
                           r"(root|(?:role|user)/[!-~]*[!-.0-~]|assumed-role/[!-.0-~]+/[!-~]+)")

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
        match = PRINCIPAL_ARN.fullmatch(request.principal)
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
    for statement in statements(document):
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


def statements(document: Mapping[str, Any]) -> list[Any]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def canonical(document: object) -> str:
    """Equal for documents that say the same in the same order (formatting and key order aside)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
