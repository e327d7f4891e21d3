"""Which resource types the guardrails and the audit evaluate, and the rule that refuses every other.

A type the checks do not read could create a principal, grant a permission or deploy a template
(a CloudFormation stack, an IAM user with an access key, an Identity Center permission set, a
Lambda permission, an Organizations policy...), and would pass every rule unseen. So the list is
explicit and closed: a type is here only when every rule that concerns it reads it, in the pack and
in the audit's access proof alike (audit/access/ and audit/grants.py read these same types), or
when it can grant nothing. Anything else is a mandatory violation naming the resource, until rules
that evaluate it are added beside its entry here.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulumi_policy import StackValidationArgs

from . import config as cfg
from . import props as props_

# Read by the pack's rules and by the audit's access proof.
EVALUATED_TYPES = frozenset({
    "aws:codeartifact/domain:Domain",
    "aws:codeartifact/domainPermissions:DomainPermissions",
    "aws:codeartifact/repository:Repository",
    "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy",
    "aws-native:codeartifact:PackageGroup",
    "aws:kms/key:Key",
    "aws:iam/role:Role",
    "aws-native:iam:Role",
    "aws:iam/policy:Policy",
    "aws-native:iam:ManagedPolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws-native:iam:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive",
    # Trusted only through role trust policies, which the trust rules read.
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws-native:iam:OidcProvider",
    # The reader StackSet: its template is parsed and every role and policy in it evaluated.
    "aws:cloudformation/stackSet:StackSet",
    "aws-native:cloudformation:StackSet",
    "aws:cloudformation/stackSetInstance:StackSetInstance",
    # The curation airlock (policies/airlock.py): the ledger bucket and every part of it, read by
    # airlock-ledger-keeps-every-decision (a bucket policy also by the audit); the functions and schedules, whose
    # roles airlock-roles-hold-what-they-need reads; the topic, held to KMS encryption.
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:lambda/function:Function",
    "aws:scheduler/schedule:Schedule",
    "aws:sns/topic:Topic",
    # The backup (policies/backup.py): replication, read by backup-keeps-every-version (its role, its destination,
    # delete markers); the queues, queue policies, event rules and targets and event source mappings, read by
    # backup-events-reach-only-the-backup.
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
    "aws:sqs/queue:Queue",
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:cloudwatch/eventRule:EventRule",
    "aws:cloudwatch/eventTarget:EventTarget",
    "aws:lambda/eventSourceMapping:EventSourceMapping",
    # How each account is reached: the rules read the account a provider is pinned to.
    "pulumi:providers:aws",
    "pulumi:providers:aws-native",
})
# Grant nothing, create no principal and deploy nothing.
INERT_TYPES = frozenset({
    "pulumi:pulumi:Stack",
    "aws:kms/alias:Alias",
    # Removes inline policies the stack does not declare; it can only take grants away.
    "aws:iam/rolePoliciesExclusive:RolePoliciesExclusive",
    # Where a function's logs go; it grants nothing.
    "aws:cloudwatch/logGroup:LogGroup",
})
# This program's component resources: their children are resources like any other. A custom resource
# of this package would need a provider plugin of that name, which only `plugins:` in Pulumi.yaml
# could supply, and the audit refuses that key.
COMPONENT_TYPE_PREFIX = "pypi-registry:index:"
# Properties of an evaluated type that reach outside the model: the principals that are not roles.
REFUSED_PROPERTIES = {
    "aws:iam/policyAttachment:PolicyAttachment": ("users", "groups"),
    "aws-native:iam:ManagedPolicy": ("users", "groups"),
    # A bucket's inline policy, ACL grants, lifecycle (expiring decisions) or replication, and a topic's policy
    # (who may publish or subscribe): none is read by a rule.
    "aws:s3/bucket:Bucket": ("policy", "grants", "acl", "lifecycleRules", "replicationConfiguration", "website"),
    "aws:sns/topic:Topic": ("policy", "deliveryPolicy"),
    # A function URL's or layer's code runs with the role, and another account's layer is code nobody reviewed.
    "aws:lambda/function:Function": ("layers", "imageUri", "s3Bucket", "fileSystemConfig"),
    # A queue's inline policy (who may send or read), a rule's role or another account's event bus, a target's role
    # or input transformation to another service: none is read by a rule.
    "aws:sqs/queue:Queue": ("policy",),
    "aws:cloudwatch/eventRule:EventRule": ("roleArn", "eventBusName"),
    "aws:cloudwatch/eventTarget:EventTarget": ("roleArn", "eventBusName", "httpTarget", "ecsTarget", "batchTarget",
                                               "runCommandTargets", "redshiftTarget", "sagemakerPipelineTarget",
                                               "appsyncTarget"),
    # Replicating to another account's bucket, or changing the replica's owner.
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": ("token",),
}


def is_understood(resource_type: str) -> bool:
    """Is the type evaluated by the checks, or known to grant nothing?"""
    return (resource_type in EVALUATED_TYPES or resource_type in INERT_TYPES
            or resource_type.startswith(COMPONENT_TYPE_PREFIX))


def outside_the_model(resource_type: str, props: Mapping[str, object]) -> str | None:
    """Why a resource is beyond what the checks evaluate, or None when they evaluate all of it."""
    if not is_understood(resource_type):
        return (f"its type {resource_type} is not evaluated by the guardrails or the audit: it could create a "
                "principal, grant a permission or deploy a template that no rule reads")
    for key in REFUSED_PROPERTIES.get(resource_type, ()):
        if props_.known(props, key):
            if key in ("users", "groups"):
                return (f"it puts a policy on IAM {key}, which the checks do not evaluate (the registry declares "
                        "roles only; users and groups hold long-lived credentials)")
            return f"it sets {key}, which no rule evaluates (it could grant access, lose data or run other code)"
    return None


def validate_types_evaluated(args: StackValidationArgs, report: cfg.Report) -> None:
    for resource in args.resources:
        problem = outside_the_model(resource.resource_type, resource.props)
        if problem:
            report(f"{resource.name}: {problem}; remove it, or add its type to policies/inventory.py together with "
                   "rules that evaluate it", resource.urn)


POLICIES: list[cfg.Guardrail] = [
    cfg.stack_policy(
        "resource-types-evaluated",
        "Every resource is of a type the guardrails and the audit evaluate, or of a type known to grant nothing "
        "(policies/inventory.py); anything else could grant access unseen.",
        validate_types_evaluated,
    ),
]
