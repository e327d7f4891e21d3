"""What the proof evaluates, as the rendering declares it: a principal (an IAM role and the identity policies in
force for it), a check (an action on a resource, with condition keys), the registry (the CodeArtifact resources
and the resource policies that guard them), and the names of actions, keys and resource types they are spelled in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from audit.pmapper_compat import Node, Policy
from audit.render import Rendering
from policies.aws_facts import CODEARTIFACT_SERVICE
from policies.aws_facts import POLICY_VERSION as VERSION

Document = dict[str, Any]

PUBLISH_ACTION = "codeartifact:PublishPackageVersion"
TOKEN_ACTION = "codeartifact:GetAuthorizationToken"  # noqa: S105 (an action name, not a secret)
ENDPOINT_ACTION = "codeartifact:GetRepositoryEndpoint"
READ_ACTION = "codeartifact:ReadFromRepository"
BEARER_TOKEN_ACTION = "sts:GetServiceBearerToken"  # noqa: S105 (an action name, not a secret)
SERVICE_NAME_KEY = "sts:AWSServiceName"

DOMAIN = "aws:codeartifact/domain:Domain"
REPOSITORY = "aws:codeartifact/repository:Repository"
DOMAIN_POLICY = "aws:codeartifact/domainPermissions:DomainPermissions"
REPOSITORY_POLICY = "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy"
KMS_KEY = "aws:kms/key:Key"
# A PyPI package's ARN: the repository's, with :package/, then /pypi/ (namespace: none)/ and the name.
PACKAGE_SEPARATOR = "/pypi//"
PACKAGE_GROUP = "aws-native:codeartifact:PackageGroup"


def listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(document: Document | None) -> list[Document]:
    return listify(document.get("Statement", [])) if document else []


def condition_strings(document: Document) -> Document:
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
            Policy(source if source.startswith("arn:") else self.arn, source, condition_strings(json.loads(doc)))
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
