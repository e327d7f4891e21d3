"""Every IAM role the stack declares and every identity policy in force for it (who may assume each:
audit/trust_entries.py).

A role's permissions come from many resource types: inline policies on the role or beside it,
managed policies attached by any of the attachment types, AWS-managed policies by ARN, in both
the classic and the aws-native provider. Each is gathered here, so that the access proof sees
every grant that reaches a principal.

A StackSet's template holds roles and policies too, deployed into every account of its targets:
each target (an organizational unit, or the root) is represented by one synthetic member account,
whose ID stands for every real member (only the organization knows them; each gets the same
template), and the template's roles and policies are placed there.

Fail closed: a policy whose document cannot be resolved (a managed policy ARN this stack does not
declare, an AWS-managed ARN not in policies/aws_managed_policies.json) or parsed is taken to allow everything, and
is listed as unreadable. A grant whose role cannot be told at all is listed as unplaced: the proof
cannot bound it, so the audit fails. So does a resource of a type the proof does not evaluate
(policies/inventory.py, the list the pack's model's-edges rule holds too): it is listed as not
evaluated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from audit.render import RecordedResource, Rendering
from policies import iam_documents as iam
from policies.aws_facts import POLICY_VERSION as VERSION
from policies.aws_managed import aws_managed_document, is_aws_managed
from policies.iam_actions import undocumented_actions
from policies.inventory import outside_the_model
from policies.templates import MANAGED_POLICY as TEMPLATE_MANAGED_POLICY
from policies.templates import STACK_SET_PROPS, Template, read_template

Document = dict[str, Any]

# What an unreadable policy is taken to say, and the identity policy of an administrator.
ADMINISTRATOR_POLICY: Document = {
    "Version": VERSION,
    "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}

ROLE = "aws:iam/role:Role"
NATIVE_ROLE = "aws-native:iam:Role"
MANAGED_POLICY = "aws:iam/policy:Policy"
NATIVE_MANAGED_POLICY = "aws-native:iam:ManagedPolicy"
INLINE_POLICY = "aws:iam/rolePolicy:RolePolicy"
NATIVE_INLINE_POLICY = "aws-native:iam:RolePolicy"
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
EXCLUSIVE_ATTACHMENTS = "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive"


ASSUME_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML")

NATIVE_STACK_SET = "aws-native:cloudformation:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"
# Synthetic member accounts count up from here, skipping every account the stack names.
SYNTHETIC_MEMBER_BASE = 700000000001


class UnreadableError(ValueError):
    """A policy document that cannot be resolved or is not a policy AWS would accept."""


# --- documents --------------------------------------------------------------------------


def _checked(document: Any) -> Document:
    """A parsed policy whose statements principalmapper can evaluate, else UnreadableError."""
    try:
        parsed = iam.parse_document(document)
    except iam.InvalidDocumentError as error:
        raise UnreadableError(f"its document {error}") from None
    if parsed is None:
        raise UnreadableError("it has no document")
    found = parsed.get("Statement")
    found = found if isinstance(found, list) else [found]
    for statement in found:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            raise UnreadableError("a statement is not an object with Effect Allow or Deny")
        if ("Action" in statement) == ("NotAction" in statement):
            raise UnreadableError("a statement needs exactly one of Action and NotAction")
        patterns = iam.as_list(statement.get("Action", statement.get("NotAction")))
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise UnreadableError("a statement's actions are not strings")
    unknown = undocumented_actions(found)
    if unknown:
        # The proof decides documented actions only: what an unknown one grants cannot be bounded.
        raise UnreadableError(f"it allows {unknown[0]}, which names no action the Service Authorization "
                              "Reference documents (policies/iam_action_levels.json)")
    return parsed


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


@dataclass(frozen=True)
class ManagedPolicies:
    """The managed policy documents this stack declares, by ARN; each one raw, as the program sent it."""

    declared: Mapping[str, Any]

    @classmethod
    def from_resources(cls, resources: Iterable[RecordedResource]) -> ManagedPolicies:
        declared = {}
        for resource in resources:
            if resource.type == MANAGED_POLICY and resource.outputs.get("arn"):
                declared[resource.outputs["arn"]] = resource.inputs.get("policy")
            elif resource.type == NATIVE_MANAGED_POLICY and resource.outputs.get("policyArn"):
                declared[resource.outputs["policyArn"]] = resource.inputs.get("policyDocument")
        return cls(declared)

    def document(self, policy_arn: Any, role_account: str) -> Document:
        """The document attached as `policy_arn` to a role of `role_account`, else UnreadableError."""
        if not isinstance(policy_arn, str) or not policy_arn:
            raise UnreadableError("the policy ARN is empty")
        if is_aws_managed(policy_arn):
            document = aws_managed_document(policy_arn)
            if document is None:
                raise UnreadableError("it is not in policies/aws_managed_policies.json (AWS-managed documents)")
            return _checked(document)
        if policy_arn not in self.declared:
            raise UnreadableError("this stack does not declare that policy")
        if _arn_account(policy_arn) != role_account:
            raise UnreadableError(f"the policy is in account {_arn_account(policy_arn)}, the role in {role_account}")
        return _checked(self.declared[policy_arn])


# --- roles and grants ---------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    """An IAM role: declared by the stack, or only named by an attachment (then its trust is unknown)."""

    arn: str
    account: str
    name: str
    declared_by: str | None  # "TYPE NAME" of the declaring resource
    trust_policy: Document | None = None
    trust_problem: str | None = None  # why the trust policy could not be read

    @property
    def declared(self) -> bool:
        return self.declared_by is not None


def _described(resource: RecordedResource) -> str:
    return f"{resource.type} {resource.name}"


def _declared_role(resource: RecordedResource) -> Role:
    native = resource.type == NATIVE_ROLE
    name = resource.outputs.get("roleName" if native else "name") or resource.name
    arn = resource.outputs.get("arn") or f"arn:aws:iam::{resource.account}:role/{name}"
    trust, problem = None, None
    try:
        trust = _checked(resource.inputs.get("assumeRolePolicyDocument" if native else "assumeRolePolicy"))
    except UnreadableError as error:
        problem = str(error)
    return Role(arn, resource.account, name, _described(resource), trust, problem)


@dataclass(frozen=True)
class Grant:
    """One identity policy a resource puts on a role (named by ARN, name, or None when unknown)."""

    resource: RecordedResource
    role: Any
    source: str  # the managed policy ARN, or "inline:NAME"
    raw: Any = None  # an inline document as declared
    managed: bool = False  # then `source` is resolved through ManagedPolicies


def _grants(resource: RecordedResource) -> list[Grant]:
    """Every (role, policy) pair one resource declares."""
    inputs, kind = resource.inputs, resource.type
    if kind in (ROLE, NATIVE_ROLE):
        arn = _declared_role(resource).arn
        if kind == ROLE:
            inline = [(p.get("name"), p.get("policy")) for p in _mappings(inputs.get("inlinePolicies"))]
        else:
            inline = [(p.get("policyName"), p.get("policyDocument")) for p in _mappings(inputs.get("policies"))]
        found = [Grant(resource, arn, f"inline:{name}", raw) for name, raw in inline
                 # An empty entry in `inlinePolicies` only tells the provider to remove unlisted ones.
                 if name or raw]
        return found + [Grant(resource, arn, str(policy_arn or ""), managed=True)
                        for policy_arn in iam.as_list(inputs.get("managedPolicyArns"))]
    if kind == INLINE_POLICY:
        name = resource.outputs.get("name") or inputs.get("name") or resource.name
        return [Grant(resource, inputs.get("role"), f"inline:{name}", inputs.get("policy"))]
    if kind == NATIVE_INLINE_POLICY:
        return [Grant(resource, inputs.get("roleName"), f"inline:{inputs.get('policyName') or resource.name}",
                      inputs.get("policyDocument"))]
    if kind == ROLE_ATTACHMENT:
        return [Grant(resource, inputs.get("role"), str(inputs.get("policyArn") or ""), managed=True)]
    if kind == POLICY_ATTACHMENT:
        return [Grant(resource, role, str(inputs.get("policyArn") or ""), managed=True)
                for role in iam.as_list(inputs.get("roles"))]
    if kind == EXCLUSIVE_ATTACHMENTS:
        return [Grant(resource, inputs.get("roleName"), str(policy_arn or ""), managed=True)
                for policy_arn in iam.as_list(inputs.get("policyArns"))]
    if kind == NATIVE_MANAGED_POLICY:
        source = resource.outputs.get("policyArn") or f"managed:{resource.name}"
        return [Grant(resource, role, source, inputs.get("policyDocument"))
                for role in iam.as_list(inputs.get("roles"))]
    return []


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in iam.as_list(value) if isinstance(item, Mapping)]


@dataclass(frozen=True)
class Unreadable:
    """A policy on a role that could not be read, hence taken to allow everything."""

    resource: str  # "TYPE NAME" of the resource that puts it there
    role: str
    policy: str
    reason: str

    def __str__(self) -> str:
        return f"{self.resource}: {self.policy} on {self.role}: {self.reason}"

    def as_json(self) -> dict[str, str]:
        return {"resource": self.resource, "role": self.role, "policy": self.policy, "reason": self.reason}


@dataclass
class RoleGrants:
    """Every role, the identity policies in force for each, and what could not be read or placed."""

    roles: dict[str, Role] = field(default_factory=dict)  # by ARN, in declaration order
    policies: dict[str, dict[str, Document]] = field(default_factory=dict)  # role ARN -> source -> document
    unreadable: list[Unreadable] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)  # grants whose role cannot be told
    # Resources (or parts of them) beyond what the proof evaluates (policies/inventory.py): the proof fails.
    not_evaluated: list[str] = field(default_factory=list)


def role_grants(rendering: Rendering) -> RoleGrants:
    """Gather every role and every policy the stack puts on one, from the recorded inputs."""
    found = RoleGrants()
    roles_by_name: dict[tuple[str, str], str] = {}
    for resource in rendering.resources:
        if resource.type in (ROLE, NATIVE_ROLE):
            role = _declared_role(resource)
            found.roles[role.arn] = role
            found.policies[role.arn] = {}
            # IAM role names are unique per account regardless of case.
            roles_by_name[(role.account, role.name.lower())] = role.arn
        problem = outside_the_model(resource.type, resource.inputs)
        if problem:
            found.not_evaluated.append(f"{_described(resource)}: {problem}")
    managed = ManagedPolicies.from_resources(rendering.resources)

    def role_arn(resource: RecordedResource, reference: Any) -> str | None:
        """The ARN a role reference (a name in the resource's account, or an ARN) points at."""
        if not isinstance(reference, str) or not reference:
            return None
        if reference.startswith("arn:"):
            account, name = _arn_account(reference), reference.rsplit("/", 1)[-1]
        else:
            account, name = resource.account, reference
        arn = roles_by_name.get((account, name.lower()))
        if arn is None:
            # Not declared here: it still gets a row, with what this stack puts on it.
            arn = reference if reference.startswith("arn:") else f"arn:aws:iam::{account}:role/{name}"
            roles_by_name[(account, name.lower())] = arn
            found.roles[arn] = Role(arn, account, name, None)
            found.policies[arn] = {}
        return arn

    for resource in rendering.resources:
        for grant in _grants(resource):
            arn = role_arn(resource, grant.role)
            if arn is None:
                found.unplaced.append(f"{_described(resource)} puts {grant.source or 'a policy'} on a role "
                                      f"it does not name ({grant.role!r})")
                continue
            try:
                document = (managed.document(grant.source, found.roles[arn].account) if grant.managed
                            else _checked(grant.raw))
            except UnreadableError as error:
                found.unreadable.append(Unreadable(_described(resource), arn, grant.source or "(no ARN)", str(error)))
                document = ADMINISTRATOR_POLICY
            source = grant.source
            if source in found.policies[arn] and found.policies[arn][source] != document:
                source = f"{source} ({resource.name})"  # two inline policies of one name: keep both
            found.policies[arn][source] = document
    for member in stack_set_members(rendering):
        _place_template(found, member)
    return found


# --- StackSet members ---------------------------------------------------------------------


@dataclass(frozen=True)
class StackSetMember:
    """One account a StackSet deploys its template into: a synthetic one standing for every member
    of an organizational unit (or of the root), or an account a target names."""

    stack_set: RecordedResource
    target: str  # ou-..., r-..., or an account ID
    account: str
    synthetic: bool

    @property
    def label(self) -> str:
        if self.synthetic:
            return f"{self.target} (synthetic member {self.account})"
        return f"{self.account} ({self.stack_set.inputs.get('name') or self.stack_set.name})"


def _stack_set_targets(rendering: Rendering, stack_set: RecordedResource) -> list[str]:
    """The OU, root and account IDs a StackSet's instances target, in order, once each."""
    targets: list[str] = []
    if stack_set.type == NATIVE_STACK_SET:
        groups = _mappings(stack_set.inputs.get("stackInstancesGroup"))
        targets += [str(t) for g in groups for key in ("organizationalUnitIds", "accounts")
                    for t in iam.as_list(_mapping(g.get("deploymentTargets")).get(key))]
    else:
        name = stack_set.outputs.get("name") or stack_set.inputs.get("name")
        for instance in rendering.of_type(STACK_SET_INSTANCE):
            if instance.inputs.get("stackSetName") != name or instance.account != stack_set.account:
                continue
            deployment = _mapping(instance.inputs.get("deploymentTargets"))
            targets += [str(t) for key in ("organizationalUnitIds", "accounts")
                        for t in iam.as_list(deployment.get(key))]
            if instance.inputs.get("accountId"):
                targets.append(str(instance.inputs["accountId"]))
    return list(dict.fromkeys(targets))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _service_managed(stack_set: RecordedResource) -> bool:
    return stack_set.inputs.get("permissionModel") == "SERVICE_MANAGED"


def _skips_management_account(rendering: Rendering, stack_set: RecordedResource, target: str) -> bool:
    """AWS never deploys a service-managed StackSet into the organization's management account."""
    return target == rendering.settings.management_account_id and _service_managed(stack_set)


def stack_set_members(rendering: Rendering) -> list[StackSetMember]:
    """Every account a StackSet of the stack deploys into: one synthetic account per OU or root target, never
    the organization's management account (a service-managed StackSet does not reach it; see
    `stack_set_target_problems`), nor a synthetic ID that is an account the stack names."""
    management = rendering.settings.management_account_id
    taken = {rendering.settings.owner_account_id, *rendering.settings.secondary_account_ids,
             *(r.account for r in rendering.resources), *([management] if management else [])}
    candidate = SYNTHETIC_MEMBER_BASE
    members = []
    for stack_set in rendering.resources:
        if stack_set.type not in STACK_SET_PROPS:
            continue
        for target in _stack_set_targets(rendering, stack_set):
            if target.isdigit() and len(target) == 12:
                if not _skips_management_account(rendering, stack_set, target):
                    members.append(StackSetMember(stack_set, target, target, synthetic=False))
                continue
            while f"{candidate:012d}" in taken:
                candidate += 1
            members.append(StackSetMember(stack_set, target, f"{candidate:012d}", synthetic=True))
            taken.add(f"{candidate:012d}")
    return members


def stack_set_target_problems(rendering: Rendering) -> list[str]:
    """A service-managed StackSet that names the management account as a target: AWS deploys nothing there, so
    whoever wrote it expects a reader that never comes (the management account reads only through
    secondaryAccountIds)."""
    found = []
    for stack_set in rendering.resources:
        if stack_set.type not in STACK_SET_PROPS:
            continue
        for target in _stack_set_targets(rendering, stack_set):
            if _skips_management_account(rendering, stack_set, target):
                found.append(f"{_described(stack_set)} targets {target}, the organization's management account: "
                             "AWS never deploys a service-managed StackSet there, so it gets no reader from it; "
                             "list it in secondaryAccountIds instead")
    return found


def _template_of(member: StackSetMember) -> Template:
    stack_set = member.stack_set
    body_key, url_key = STACK_SET_PROPS[stack_set.type]
    if stack_set.inputs.get(url_key):
        return Template(problems=(f"{url_key} names a template in S3, which the proof cannot read",))
    return read_template(stack_set.inputs.get(body_key), account=member.account, region=stack_set.region)


def _place_template(found: RoleGrants, member: StackSetMember) -> None:
    """The template's roles and policies, as deployed into the member's account."""
    template = _template_of(member)
    where = f"{_described(member.stack_set)} (in {member.label})"
    for problem in template.problems:
        found.unplaced.append(f"{where}: {problem}, so the proof cannot tell what its template grants")
    found.not_evaluated += [f"{where}: template resource {logical} ({kind})"
                            for logical, kind in template.other_resources]
    arns = {}
    for role in template.roles:
        arn = f"arn:aws:iam::{member.account}:role/{role.name}"
        trust: Document | None = None
        trust_problem = role.trust_problem
        if role.trust is not None:
            try:
                trust = _checked(role.trust)
            except UnreadableError as error:
                trust_problem = str(error)
        found.roles[arn] = Role(arn, member.account, role.name, f"{where}: template {role.logical_id}", trust,
                                trust_problem)
        found.policies[arn] = {}
        arns[role.logical_id] = arn
    managed = ManagedPolicies({p.arn: p.document for p in template.policies if p.arn and p.document is not None})

    def put(role_arn: str, source: str, document: Document) -> None:
        if role_arn not in found.roles:
            # A role the template does not declare (an existing role in each member): it gets a row.
            name = role_arn.rsplit("/", 1)[-1]
            found.roles[role_arn] = Role(role_arn, member.account, name, None)
            found.policies[role_arn] = {}
        found.policies[role_arn][source] = document

    for policy in template.policies:
        source = policy.arn if policy.kind == TEMPLATE_MANAGED_POLICY and policy.arn else f"inline:{policy.name}"
        document = ADMINISTRATOR_POLICY
        if policy.document is None:
            found.unreadable.append(Unreadable(where, ", ".join(policy.roles), policy.what, str(policy.problem)))
        else:
            try:
                document = _checked(policy.document)
            except UnreadableError as error:
                found.unreadable.append(Unreadable(where, ", ".join(policy.roles), policy.what, str(error)))
        for reference in policy.roles:
            put(arns.get(reference) or f"arn:aws:iam::{member.account}:role/{reference}", source, document)
    for role in template.roles:
        for policy_arn in role.managed_policy_arns:
            try:
                document = managed.document(policy_arn, member.account)
            except UnreadableError as error:
                found.unreadable.append(Unreadable(where, arns[role.logical_id], str(policy_arn), str(error)))
                document = ADMINISTRATOR_POLICY
            put(arns[role.logical_id], str(policy_arn), document)
