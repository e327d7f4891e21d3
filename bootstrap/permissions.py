"""What `pulumi up` and `pulumi preview` need in the owner account, derived from the CloudFormation registry
schemas' handler permissions (`handlers.{create,read,update,delete,list}.permissions`), which cfn-lint ships.

Each Pulumi resource type the program may declare is mapped to the CloudFormation type whose handlers do the
same work (`CLOUDFORMATION_TYPES`; a Pulumi type that is a part of another, such as a domain's permissions
policy, maps to its whole). The classic `aws` provider calls the service APIs itself, through the AWS SDK, so
the handlers' lists stand for the API calls a create, read, update or delete makes; `aws-native` calls Cloud
Control, which runs exactly these handlers, plus the Cloud Control calls themselves (`CLOUD_CONTROL`). What no
schema covers is listed by hand in `NOT_IN_ANY_SCHEMA`, each with why. Types that create nothing in AWS
(providers, the stack, components) need nothing.

The lists are a checked-in table, bootstrap/handler_permissions.json, generated from the installed cfn-lint by
`python -m bootstrap.permissions --write` (`make deploy-permissions`); tests/test_deploy_permissions.py fails
while the table and cfn-lint differ, and when a type the checks evaluate has no entry here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from policies.inventory import COMPONENT_TYPE_PREFIX

TABLE_PATH = Path(__file__).with_name("handler_permissions.json")
GENERATOR = "python -m bootstrap.permissions --write (make deploy-permissions)"
# cfn-lint keeps one schema set per region; the registry's types are the same in every commercial region.
SCHEMA_REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")
READ_HANDLERS = ("read", "list")

# Pulumi type -> the CloudFormation type whose handlers do its work; None: it creates nothing in AWS.
CLOUDFORMATION_TYPES: dict[str, str | None] = {
    "aws:codeartifact/domain:Domain": "AWS::CodeArtifact::Domain",
    "aws:codeartifact/domainPermissions:DomainPermissions": "AWS::CodeArtifact::Domain",  # PermissionsPolicyDocument
    "aws:codeartifact/repository:Repository": "AWS::CodeArtifact::Repository",
    "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy": "AWS::CodeArtifact::Repository",
    "aws-native:codeartifact:PackageGroup": "AWS::CodeArtifact::PackageGroup",
    "aws:kms/key:Key": "AWS::KMS::Key",
    "aws:kms/alias:Alias": "AWS::KMS::Alias",
    "aws:iam/role:Role": "AWS::IAM::Role",
    "aws-native:iam:Role": "AWS::IAM::Role",
    "aws:iam/policy:Policy": "AWS::IAM::ManagedPolicy",
    "aws-native:iam:ManagedPolicy": "AWS::IAM::ManagedPolicy",
    "aws:iam/rolePolicy:RolePolicy": "AWS::IAM::RolePolicy",
    "aws-native:iam:RolePolicy": "AWS::IAM::RolePolicy",
    # Attach and detach are the role's ManagedPolicyArns, handled by AWS::IAM::Role.
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "AWS::IAM::Role",
    "aws:iam/policyAttachment:PolicyAttachment": "AWS::IAM::Role",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "AWS::IAM::Role",
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive": "AWS::IAM::Role",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "AWS::IAM::OIDCProvider",
    "aws-native:iam:OidcProvider": "AWS::IAM::OIDCProvider",
    "aws:cloudformation/stackSet:StackSet": "AWS::CloudFormation::StackSet",
    "aws-native:cloudformation:StackSet": "AWS::CloudFormation::StackSet",
    "aws:cloudformation/stackSetInstance:StackSetInstance": "AWS::CloudFormation::StackSet",  # StackInstancesGroup
    "pulumi:pulumi:Stack": None,
    "pulumi:providers:aws": None,
    "pulumi:providers:aws-native": None,
}
# aws-native drives every type through Cloud Control: these calls, besides the handlers' own permissions.
CLOUD_CONTROL = {
    "read": ("cloudformation:GetResource",),
    "list": ("cloudformation:ListResources",),
    "create": ("cloudformation:CreateResource", "cloudformation:GetResourceRequestStatus"),
    "update": ("cloudformation:UpdateResource", "cloudformation:GetResourceRequestStatus"),
    "delete": ("cloudformation:DeleteResource", "cloudformation:GetResourceRequestStatus"),
}
# What the program needs that no resource type's schema lists: (actions, handlers it belongs to, why).
NOT_IN_ANY_SCHEMA = (
    (("sts:GetCallerIdentity",), READ_HANDLERS,
     "every provider checks its account against allowed_account_ids before anything else"),
    (("codeartifact:GetRepositoryEndpoint",), READ_HANDLERS,
     "the get_repository_endpoint data source behind the indexUrl output"),
)


# Handler permissions for properties the program never sets, left out with why: the stack puts policies on
# roles only (the checks refuse users and groups), so the ManagedPolicy handlers' user and group calls go.
UNUSED = {
    "iam:AttachGroupPolicy": "AWS::IAM::ManagedPolicy Groups: the program attaches policies to roles only",
    "iam:DetachGroupPolicy": "AWS::IAM::ManagedPolicy Groups: the program attaches policies to roles only",
    "iam:AttachUserPolicy": "AWS::IAM::ManagedPolicy Users: the program attaches policies to roles only",
    "iam:DetachUserPolicy": "AWS::IAM::ManagedPolicy Users: the program attaches policies to roles only",
}


@cache
def table() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    return loaded


def permissions(resource_types: Iterable[str], handlers: tuple[str, ...]) -> list[str]:
    """The sorted actions the handlers of these Pulumi types need; KeyError for a type with no entry here."""
    schemas = table()["types"]
    found: set[str] = set()
    for resource_type in resource_types:
        if resource_type.startswith(COMPONENT_TYPE_PREFIX):
            continue  # this program's components create nothing
        cloudformation = CLOUDFORMATION_TYPES[resource_type]
        if cloudformation is None:
            continue
        for handler in handlers:
            found.update(schemas[cloudformation].get(handler, ()))
            if resource_type.startswith("aws-native:"):
                found.update(CLOUD_CONTROL[handler])
    for actions, needed_by, _ in NOT_IN_ANY_SCHEMA:
        if set(needed_by) & set(handlers):
            found.update(actions)
    return sorted(found - set(UNUSED))


# --- the generator: cfn-lint is imported here only ---------------------------------------------


def generate_table() -> dict[str, Any]:
    from importlib.metadata import version
    from importlib.resources import files

    schemas = files("cfnlint") / "data" / "schemas"
    by_type = json.loads((schemas / "providers" / f"{SCHEMA_REGION}.json").read_text())
    types = {}
    for cloudformation in sorted({t for t in CLOUDFORMATION_TYPES.values() if t}):
        schema = json.loads((schemas / "resources" / f"{by_type[cloudformation]}.json").read_text())
        handlers = schema.get("handlers", {})
        types[cloudformation] = {h: sorted(set(handlers[h].get("permissions", []))) for h in HANDLERS if h in handlers}
    return {"generated_from": {"cfn-lint": version("cfn-lint"), "region": SCHEMA_REGION},
            "generator": GENERATOR, "types": types}


def render_table(generated: dict[str, Any]) -> str:
    return json.dumps(generated, indent=1, sort_keys=True) + "\n"


def table_differences(checked_in: dict[str, Any], generated: dict[str, Any]) -> list[str]:
    found = []
    if checked_in.get("generated_from") != generated["generated_from"]:
        found.append(f"generated from {checked_in.get('generated_from')}; installed: {generated['generated_from']}")
    mine, theirs = checked_in.get("types", {}), generated["types"]
    for cloudformation in sorted(set(mine) | set(theirs)):
        for handler in HANDLERS:
            if mine.get(cloudformation, {}).get(handler) != theirs.get(cloudformation, {}).get(handler):
                found.append(f"{cloudformation} {handler}: the table and cfn-lint's schema differ")
    return found


def main(argv: list[str] | None = None) -> int:
    """Without --write, exit 1 (listing why) when the checked-in table is not the installed cfn-lint's;
    with --write, rewrite it."""
    from policies.generated_tables import table_command

    return table_command(argv, prog="python -m bootstrap.permissions", path=TABLE_PATH, generator=GENERATOR,
                         generate=generate_table, render=render_table, differences=table_differences,
                         summary=lambda t, _: f"{len(t['types'])} CloudFormation types, from {t['generated_from']}")


if __name__ == "__main__":
    sys.exit(main())
