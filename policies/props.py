"""Where each resource type keeps its policy documents, and reading them from props.

Props are a resource's inputs (or, in a stack policy, its state): documents arrive as JSON
strings or objects, wrapped in pulumi_policy's unknown-checking proxies.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import PolicyResource, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from . import iam_documents as iam
from .aws_facts import INLINE_ROLE_POLICY_LIMIT, MANAGED_POLICY_LIMIT
from .templates import INLINE_POLICY, MANAGED_POLICY, STACK_SET_TYPES, stack_set_template

DOMAIN_TYPES = ("aws:codeartifact/domain:Domain", "aws-native:codeartifact:Domain")
REPOSITORY_TYPES = ("aws:codeartifact/repository:Repository", "aws-native:codeartifact:Repository")
KMS_KEY_TYPES = ("aws:kms/key:Key", "aws-native:kms:Key")
PACKAGE_GROUP_TYPE = "aws-native:codeartifact:PackageGroup"
DOMAIN_POLICY_TYPES = ("aws:codeartifact/domainPermissions:DomainPermissions", "aws-native:codeartifact:Domain")
ROLE_TYPES = ("aws:iam/role:Role", "aws-native:iam:Role")

# CodeArtifact resource (permissions) policies: type -> property holding the document.
RESOURCE_POLICY_PROPS = {
    "aws:codeartifact/domainPermissions:DomainPermissions": "policyDocument",
    "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy": "policyDocument",
    "aws-native:codeartifact:Domain": "permissionsPolicyDocument",
    "aws-native:codeartifact:Repository": "permissionsPolicyDocument",
}
# Identity policies: type -> (property, size limit). Role inline policies are read from the role.
IDENTITY_POLICY_PROPS = {
    "aws:iam/policy:Policy": ("policy", MANAGED_POLICY_LIMIT),
    "aws:iam/rolePolicy:RolePolicy": ("policy", INLINE_ROLE_POLICY_LIMIT),
    "aws:iam/userPolicy:UserPolicy": ("policy", None),
    "aws:iam/groupPolicy:GroupPolicy": ("policy", None),
    "aws-native:iam:ManagedPolicy": ("policyDocument", MANAGED_POLICY_LIMIT),
    "aws-native:iam:RolePolicy": ("policyDocument", INLINE_ROLE_POLICY_LIMIT),
    "aws-native:iam:UserPolicy": ("policyDocument", None),
    "aws-native:iam:GroupPolicy": ("policyDocument", None),
}
# A StackSet's template holds roles and policies too: they are read from its templateBody.
IDENTITY_POLICY_TYPES = frozenset(IDENTITY_POLICY_PROPS) | set(ROLE_TYPES) | STACK_SET_TYPES
TEMPLATE_POLICY_LIMITS = {MANAGED_POLICY: MANAGED_POLICY_LIMIT, INLINE_POLICY: INLINE_ROLE_POLICY_LIMIT}
ROLE_TRUST_PROPS = {
    "aws:iam/role:Role": "assumeRolePolicy",
    "aws-native:iam:Role": "assumeRolePolicyDocument",
}
KEY_POLICY_PROPS = {
    "aws:kms/key:Key": "policy",
    "aws:kms/keyPolicy:KeyPolicy": "policy",
    "aws-native:kms:Key": "keyPolicy",
}
# Managed policy attachments: type -> (property naming the policy ARN(s), properties naming the principals).
ATTACHMENT_PROPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("policyArn", ("role",)),
    "aws:iam/policyAttachment:PolicyAttachment": ("policyArn", ("roles", "users", "groups")),
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": ("policyArn", ("user",)),
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": ("policyArn", ("group",)),
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": ("policyArns", ("roleName",)),
    "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive": ("policyArns", ("userName",)),
    "aws:iam/groupPolicyAttachmentsExclusive:GroupPolicyAttachmentsExclusive": ("policyArns", ("groupName",)),
    "aws:iam/role:Role": ("managedPolicyArns", ()),
    "aws-native:iam:Role": ("managedPolicyArns", ()),
    "aws-native:iam:User": ("managedPolicyArns", ()),
    "aws-native:iam:Group": ("managedPolicyArns", ()),
}
# Managed policies the stack declares: type -> property holding the ARN in state.
MANAGED_POLICY_ARN_PROPS = {"aws:iam/policy:Policy": "arn", "aws-native:iam:ManagedPolicy": "policyArn"}

Documents = list[tuple[str, dict[str, object]]]


def get(props: Mapping[str, object], *path: str) -> object:
    """A nested prop, None when any step is absent."""
    value: object = props
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def known(props: Mapping[str, object], *path: str) -> object:
    """Like get, but None for a value unknown during preview (stack rules treat it conservatively)."""
    try:
        return get(props, *path)
    except UnknownValueError:
        return None


def known_str(props: Mapping[str, object], *path: str) -> str | None:
    """Like known, but None for anything other than a string (what a name or an enum prop holds)."""
    value = known(props, *path)
    return value if isinstance(value, str) else None


def domain_name(props: Mapping[str, object]) -> str | None:
    """The domain a CodeArtifact resource names: `domain` (classic) or `domainName` (aws-native); None if unknown."""
    return known_str(props, "domain") or known_str(props, "domainName")


def repository_name(props: Mapping[str, object]) -> str | None:
    """The repository a CodeArtifact resource names: `repository` or `repositoryName`; None if unknown."""
    return known_str(props, "repository") or known_str(props, "repositoryName")


def of_type(args: StackValidationArgs, types: tuple[str, ...] | str) -> list[PolicyResource]:
    types = (types,) if isinstance(types, str) else types
    return [r for r in args.resources if r.resource_type in types]


def parsed(pairs: list[tuple[str, object]]) -> Documents:
    """Parse (what, raw) pairs; invalid documents are reported by the documents policy, skipped here."""
    documents = []
    for what, raw in pairs:
        try:
            document = iam.parse_document(raw)
        except iam.InvalidDocumentError:
            continue
        if document is not None:
            documents.append((what, document))
    return documents


def raw_resource_policy(resource_type: str, props: Mapping[str, object]) -> list[tuple[str, object]]:
    key = RESOURCE_POLICY_PROPS.get(resource_type)
    return [("permissions policy", props.get(key))] if key else []


def raw_identity_policies(resource_type: str, props: Mapping[str, object]) -> list[tuple[str, object, int | None]]:
    """(what, raw document, size limit) of every identity policy a resource declares."""
    if resource_type in IDENTITY_POLICY_PROPS:
        key, limit = IDENTITY_POLICY_PROPS[resource_type]
        return [("policy", props.get(key), limit)]
    found: list[tuple[str, object, int | None]] = []
    template = stack_set_template(resource_type, props)
    if template is not None:
        # The readable ones; policy-documents-within-aws-limits refuses the rest (policies/stacksets.py).
        return [(policy.what, policy.document, TEMPLATE_POLICY_LIMITS.get(policy.kind, INLINE_ROLE_POLICY_LIMIT))
                for policy in template.policies if policy.document is not None]
    if resource_type == "aws:iam/role:Role":
        for index, inline in enumerate(iam.as_list(props.get("inlinePolicies"))):
            if isinstance(inline, Mapping):
                name = inline.get("name") or f"#{index + 1}"
                found.append((f"inline policy {name}", inline.get("policy"), INLINE_ROLE_POLICY_LIMIT))
    elif resource_type in ("aws-native:iam:Role", "aws-native:iam:User", "aws-native:iam:Group"):
        for index, inline in enumerate(iam.as_list(props.get("policies"))):
            if isinstance(inline, Mapping):
                name = inline.get("policyName") or f"#{index + 1}"
                found.append((f"inline policy {name}", inline.get("policyDocument"), INLINE_ROLE_POLICY_LIMIT))
    return found


def raw_trust_policy(resource_type: str, props: Mapping[str, object]) -> list[tuple[str, object]]:
    template = stack_set_template(resource_type, props)
    if template is not None:
        return [(f"template Role {role.logical_id} trust policy", role.trust)
                for role in template.roles if role.trust is not None]
    key = ROLE_TRUST_PROPS.get(resource_type)
    return [("trust policy", props.get(key))] if key else []


def raw_key_policy(resource_type: str, props: Mapping[str, object]) -> list[tuple[str, object]]:
    key = KEY_POLICY_PROPS.get(resource_type)
    return [("key policy", props.get(key))] if key else []


def resource_policies(resource_type: str, props: Mapping[str, object]) -> Documents:
    return parsed(raw_resource_policy(resource_type, props))


def identity_policies(resource_type: str, props: Mapping[str, object]) -> Documents:
    return parsed([(what, raw) for what, raw, _ in raw_identity_policies(resource_type, props)])


def all_policies(resource_type: str, props: Mapping[str, object]) -> Documents:
    """Identity and resource policies alike: whatever may grant an action."""
    return identity_policies(resource_type, props) + resource_policies(resource_type, props)


def trust_policy(resource_type: str, props: Mapping[str, object]) -> Documents:
    return parsed(raw_trust_policy(resource_type, props))


def key_policy(resource_type: str, props: Mapping[str, object]) -> Documents:
    return parsed(raw_key_policy(resource_type, props))


def attached_policy_arns(resource_type: str, props: Mapping[str, object]) -> list[object]:
    """The managed policy ARNs a resource attaches (values may be unknown during preview)."""
    if resource_type not in ATTACHMENT_PROPS:
        return []
    key, _ = ATTACHMENT_PROPS[resource_type]
    return iam.as_list(props.get(key))
