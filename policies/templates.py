"""The IAM resources of a CloudFormation StackSet's template, read as IAM will receive them.

A StackSet deploys its template into every member account of its targets, so the roles and
policies in `templateBody` are held to the same rules as the roles and policies the stack
declares directly. This module turns the template's `AWS::IAM::Role`, `AWS::IAM::ManagedPolicy`
and `AWS::IAM::Policy` resources into plain policy documents:

- `{"Fn::Sub": "...${AWS::AccountId}..."}` becomes the string with `account` put in (by default
  `MEMBER_ACCOUNT`, which the trust rules read as "the member account itself"); `${AWS::Partition}`,
  `${AWS::Region}` and `${AWS::URLSuffix}` likewise, `${!...}` as the literal `${...}`;
- `{"Ref": LOGICAL_ID}` becomes a template role's name or a template managed policy's ARN.

Fail closed: anything else (template parameters, other intrinsic functions, a `${AWS::...}`
outside Fn::Sub, a template that is not JSON or comes from `templateUrl`) makes the part it
appears in unreadable, and the rules report it instead of checking less.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from . import iam_documents as iam
from .iam_documents import MEMBER_ACCOUNT

# StackSet resource types: type -> (property holding the template, property naming an S3 template).
STACK_SET_PROPS = {
    "aws:cloudformation/stackSet:StackSet": ("templateBody", "templateUrl"),
    "aws-native:cloudformation:StackSet": ("templateBody", "templateUrl"),
}
STACK_SET_TYPES = frozenset(STACK_SET_PROPS)

ROLE = "AWS::IAM::Role"
MANAGED_POLICY = "AWS::IAM::ManagedPolicy"
INLINE_POLICY = "AWS::IAM::Policy"
IAM_RESOURCE_TYPES = (ROLE, MANAGED_POLICY, INLINE_POLICY)
# Top-level template sections: those read (or harmless), and why the others are refused. A Transform
# (a macro, AWS::Serverless, AWS::Include) rewrites the template when it is deployed, so what runs is
# not what was checked.
TEMPLATE_SECTIONS_READ = frozenset({"AWSTemplateFormatVersion", "Description", "Metadata", "Resources", "Outputs"})
TEMPLATE_SECTIONS_REFUSED = {
    "Transform": "rewrites the template at deploy time (a macro or AWS::Include): what is deployed cannot be "
                 "known offline",
    "Conditions": "can leave resources out or in per account; conditions are not evaluated here",
    "Mappings": "feeds Fn::FindInMap, which is not resolved here",
    "Rules": "is not evaluated here",
    "Hooks": "runs code at deploy time",
}
# CloudFormation's limit for a template passed as TemplateBody.
TEMPLATE_BODY_LIMIT = 51200

_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")
_PSEUDO_PARAMETER = "${AWS::"

Document = dict[str, object]


class UnresolvableError(ValueError):
    """A template value that cannot be known offline."""


@dataclass(frozen=True)
class TemplatePolicy:
    """One identity policy of the template: a managed policy, an AWS::IAM::Policy, or a role's inline policy."""

    what: str  # how messages name it, e.g. "template ManagedPolicy ReaderPolicy"
    kind: str  # MANAGED_POLICY, INLINE_POLICY, or ROLE for a role's inline `Policies` entry
    name: str
    document: Document | None  # None when unreadable
    problem: str | None
    # The roles it is put on: template logical IDs, or names of roles the template does not declare.
    roles: tuple[str, ...] = ()
    arn: str | None = None  # a managed policy's ARN in the account


@dataclass(frozen=True)
class TemplateRole:
    logical_id: str
    name: str
    trust: Document | None  # None when unreadable
    trust_problem: str | None
    managed_policy_arns: tuple[str | None, ...] = ()  # None: could not be resolved


@dataclass(frozen=True)
class Template:
    """The IAM side of a template, and whatever could not be read (each taken as the worst)."""

    roles: tuple[TemplateRole, ...] = ()
    policies: tuple[TemplatePolicy, ...] = ()
    problems: tuple[str, ...] = ()  # template-wide: not readable, parameters, other resource types
    other_resources: tuple[tuple[str, str], ...] = ()  # (logical ID, type) of every non-IAM-role/policy resource

    def role(self, reference: str) -> TemplateRole | None:
        return next((r for r in self.roles if r.logical_id == reference), None)


@dataclass
class _Context:
    account: str
    region: str
    role_names: dict[str, str] = field(default_factory=dict)
    policy_arns: dict[str, str] = field(default_factory=dict)

    def pseudo(self, name: str) -> str:
        values = {"AWS::AccountId": self.account, "AWS::Partition": "aws", "AWS::Region": self.region,
                  "AWS::URLSuffix": "amazonaws.com"}
        if name in values:
            return values[name]
        if name in self.role_names:
            return self.role_names[name]
        if name in self.policy_arns:
            return self.policy_arns[name]
        raise UnresolvableError(f"{name} is not a pseudo parameter or an IAM role or managed policy of the template "
                                "(parameters and other resources cannot be known offline)")


def _substitute(text: str, context: _Context) -> str:
    def one(match: re.Match[str]) -> str:
        name = match[1]
        return "${" + name[1:] + "}" if name.startswith("!") else context.pseudo(name)

    return _SUBSTITUTION.sub(one, text)


def resolve(value: object, context: _Context) -> object:
    """A template value with its intrinsic functions worked out, else UnresolvableError."""
    if isinstance(value, Mapping):
        keys = [str(k) for k in value]
        if len(keys) == 1 and (keys[0] == "Ref" or keys[0].startswith("Fn::")):
            function, argument = keys[0], value[keys[0]]
            if function == "Fn::Sub" and isinstance(argument, str):
                return _substitute(argument, context)
            if function == "Ref" and isinstance(argument, str):
                return context.pseudo(argument)
            raise UnresolvableError(f"{function} cannot be resolved offline")
        return {str(k): resolve(value[k], context) for k in value}
    if isinstance(value, list | tuple):
        return [resolve(item, context) for item in value]
    if isinstance(value, str) and _PSEUDO_PARAMETER in value:
        raise UnresolvableError(f"{value!r} names a pseudo parameter outside Fn::Sub (CloudFormation would pass "
                                "it on literally)")
    return value


def _resolved_document(raw: object, context: _Context) -> tuple[Document | None, str | None]:
    try:
        value = resolve(raw, context)
    except UnresolvableError as error:
        return None, f"cannot be read: {error}"
    if not isinstance(value, dict):
        return None, "is not a JSON object"
    return value, None


def _string(raw: object, context: _Context) -> str | None:
    try:
        value = resolve(raw, context)
    except UnresolvableError:
        return None
    return value if isinstance(value, str) else None


def parse_template(body: object) -> Document:
    """The template as a dict; InvalidDocumentError when it is not a JSON object without duplicate keys."""
    template = iam.parse_document(body)
    if template is None:
        raise iam.InvalidDocumentError("is empty")
    return template


@lru_cache(maxsize=256)
def _read_text(body: str, account: str, region: str) -> Template:
    return _read(body, account, region)


def read_template(body: object, account: str = MEMBER_ACCOUNT, region: str = "${AWS::Region}") -> Template:
    """The IAM resources of a template as deployed into `account` (by default: any member account)."""
    if isinstance(body, str):
        return _read_text(body, account, region)
    return _read(body, account, region)


def _read(body: object, account: str, region: str) -> Template:
    try:
        template = parse_template(body)
    except iam.InvalidDocumentError as error:
        return Template(problems=(f"templateBody {error} (only JSON templates can be checked)",))
    problems = []
    for key in sorted(set(template) - TEMPLATE_SECTIONS_READ - {"Parameters"}, key=str):
        why = TEMPLATE_SECTIONS_REFUSED.get(key, "the checks do not read")
        problems.append(f"the template declares {key}, which {why}")
    if template.get("Parameters"):
        problems.append("the template declares Parameters, which each stack instance can override: their values "
                        "cannot be known offline")
    resources = template.get("Resources")
    if not isinstance(resources, Mapping):
        return Template(problems=(*problems, "the template has no Resources object"))
    context = _Context(account, region)
    entries: list[tuple[str, str, Mapping[str, object]]] = []
    others = []
    for logical, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, Mapping) else None
        properties = resource.get("Properties") if isinstance(resource, Mapping) else None
        if kind in IAM_RESOURCE_TYPES and isinstance(properties, Mapping):
            entries.append((str(logical), str(kind), properties))
        else:
            others.append((str(logical), str(kind)))
    # Names first: Refs between roles and policies resolve to them.
    for logical, kind, properties in entries:
        if kind == ROLE:
            context.role_names[logical] = _string(properties.get("RoleName"), context) or logical
        elif kind == MANAGED_POLICY:
            name = _string(properties.get("ManagedPolicyName"), context) or logical
            path = _string(properties.get("Path"), context) or "/"
            context.policy_arns[logical] = f"arn:aws:iam::{account}:policy{path}{name}"
    roles, policies = [], []
    for logical, kind, properties in entries:
        if kind == ROLE:
            trust, trust_problem = _resolved_document(properties.get("AssumeRolePolicyDocument"), context)
            arns = tuple(_string(arn, context) for arn in iam.as_list(properties.get("ManagedPolicyArns")))
            roles.append(TemplateRole(logical, context.role_names[logical], trust, trust_problem, arns))
            for index, inline in enumerate(iam.as_list(properties.get("Policies"))):
                name = (_string(inline.get("PolicyName"), context) if isinstance(inline, Mapping) else None) \
                    or f"#{index + 1}"
                raw = inline.get("PolicyDocument") if isinstance(inline, Mapping) else None
                document, problem = _resolved_document(raw, context)
                policies.append(TemplatePolicy(f"template Role {logical} inline policy {name}", ROLE, name,
                                               document, problem, (logical,)))
            continue
        document, problem = _resolved_document(properties.get("PolicyDocument"), context)
        attached = []
        for reference in iam.as_list(properties.get("Roles")):
            if isinstance(reference, Mapping) and set(reference) == {"Ref"} and reference["Ref"] in context.role_names:
                attached.append(str(reference["Ref"]))
            else:
                role = _string(reference, context)
                attached.append(role if role is not None else "(a role that cannot be resolved)")
        if properties.get("Users") or properties.get("Groups"):
            problems.append(f"{kind} {logical} is put on IAM users or groups; the reader template may only hold "
                            "roles and their policies")
        short = kind.rsplit("::", 1)[1]
        name = (_string(properties.get("ManagedPolicyName" if kind == MANAGED_POLICY else "PolicyName"), context)
                or logical)
        policies.append(TemplatePolicy(f"template {short} {logical}", kind, name, document, problem, tuple(attached),
                                       context.policy_arns.get(logical)))
    return Template(tuple(roles), tuple(policies), tuple(problems), tuple(others))


def stack_set_template(resource_type: str, props: Mapping[str, object]) -> Template | None:
    """The template of a StackSet resource as any member account receives it; None for other types."""
    keys = STACK_SET_PROPS.get(resource_type)
    if keys is None:
        return None
    body_key, url_key = keys
    if props.get(url_key):
        return Template(problems=(f"{url_key} names a template in S3, which the checks cannot read; pass the template "
                                  f"as {body_key}",))
    return read_template(props.get(body_key))
