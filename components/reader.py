"""Read-only access to the registry from other AWS accounts: a reader in one secondary account
(`SecondaryAccountReader`), or in every account of chosen organizational units through one
service-managed CloudFormation StackSet (`StackSetReaders`). Both are built from the same
`ReaderArgs`, hence from the same pure policy functions: the two modes cannot drift apart."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from model.documents.readers import MEMBER_ACCOUNT, cloudformation_sub, reader_identity_policy, reader_trust_policy
from model.settings import Settings
from model.trust_policy import to_json

# Up to 12 hours, the longest token `aws codeartifact login` asks for.
READER_MAX_SESSION_SECONDS = 43200
# The template's logical IDs.
TEMPLATE_ROLE = "ReaderRole"
TEMPLATE_POLICY = "ReaderPolicy"
# Let operations run at maxConcurrent whatever the failures so far (the failure tolerance still
# stops them); the default (strict) would throttle concurrency down to failure tolerance + 1.
CONCURRENCY_MODE = "SOFT_FAILURE_TOLERANCE"


@dataclass(frozen=True)
class ReaderArgs:
    """What one secondary account's reader needs: names and the rendered policy documents."""

    role_name: str
    policy_name: str
    policy_description: str
    role_description: str
    read_policy: str  # JSON, as sent to IAM
    trust_policy: str  # JSON, as sent to IAM
    max_session_duration: int = READER_MAX_SESSION_SECONDS
    # The permissions boundary the bootstrap puts in each secondary account; None in a StackSet template, whose
    # roles CloudFormation creates (no deploy role of the account can rewrite them).
    permissions_boundary: str | None = None

    @classmethod
    def for_account(cls, settings: Settings, account_id: str, role_name: str | None = None) -> ReaderArgs:
        role_name = role_name or settings.reader_role_name
        return cls(
            permissions_boundary=settings.reader_boundary_arn(account_id),
            role_name=role_name,
            policy_name=f"{role_name}-{settings.domain_name}",
            policy_description=f"Read-only access to CodeArtifact domain {settings.domain_name} "
            f"in {settings.owner_account_id}",
            role_description=f"Installs Python packages from {settings.domain_name} (read-only)",
            read_policy=to_json(reader_identity_policy(settings)),
            trust_policy=to_json(reader_trust_policy(account_id)),
        )

    @classmethod
    def for_member_accounts(cls, settings: Settings) -> ReaderArgs:
        """The reader of every StackSet member account: its trust names `docs.MEMBER_ACCOUNT`, and its role and
        policy are named after `stackSetReaderRoleName`, never the per-account reader's names, so that an account
        holding both while it moves between the modes meets no name that already exists."""
        member = cls.for_account(settings, MEMBER_ACCOUNT, role_name=settings.stack_set_reader_role_name)
        return dataclasses.replace(member, permissions_boundary=None)

    def cloudformation_template(self) -> dict[str, Any]:
        """The same policy and role as `SecondaryAccountReader` declares, as a CloudFormation template."""
        return {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": self.policy_description + ": the reader role of each member account",
            "Resources": {
                TEMPLATE_POLICY: {
                    "Type": "AWS::IAM::ManagedPolicy",
                    "Properties": {
                        "ManagedPolicyName": self.policy_name,
                        "Description": self.policy_description,
                        "PolicyDocument": cloudformation_sub(json.loads(self.read_policy)),
                        "Roles": [{"Ref": TEMPLATE_ROLE}],
                    },
                },
                TEMPLATE_ROLE: {
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": self.role_name,
                        "Description": self.role_description,
                        "AssumeRolePolicyDocument": cloudformation_sub(json.loads(self.trust_policy)),
                        "MaxSessionDuration": self.max_session_duration,
                    },
                },
            },
        }


class SecondaryAccountReader(pulumi.ComponentResource):
    """A read policy and a reader role in one secondary account.

    Expects that account's `aws` provider in `opts.providers` (components/accounts.py).
    """

    def __init__(self, name: str, args: ReaderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:SecondaryAccountReader", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.policy = aws.iam.Policy(
            f"{name}-read-policy",
            name=args.policy_name,
            description=args.policy_description,
            policy=args.read_policy,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-reader-role",
            name=args.role_name,
            description=args.role_description,
            assume_role_policy=args.trust_policy,
            max_session_duration=args.max_session_duration,
            permissions_boundary=args.permissions_boundary,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-read-policy-attachment",
            role=self.role.name,
            policy_arn=self.policy.arn,
            opts=child,
        )
        self.register_outputs({"roleArn": self.role.arn, "policyArn": self.policy.arn})


@dataclass(frozen=True)
class StackSetReaderArgs:
    """A service-managed StackSet of the reader template, and one instance per organizational unit."""

    stack_set_name: str
    description: str
    template_body: str  # JSON, as sent to CloudFormation
    organizational_unit_ids: tuple[str, ...]
    # IAM is global: a named role can exist once per account, so the stacks go into one region.
    region: str
    call_as: str  # SELF or DELEGATED_ADMIN, on the StackSet and every instance alike
    max_concurrent_percentage: int
    failure_tolerance_percentage: int
    retain_stacks_on_account_removal: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> StackSetReaderArgs:
        reader = ReaderArgs.for_member_accounts(settings)
        return cls(
            stack_set_name=settings.reader_stack_set_name,
            description=f"{settings.stack_set_reader_role_name} in every account of the chosen organizational units: "
            f"read-only access to CodeArtifact domain {settings.domain_name} in {settings.owner_account_id}",
            template_body=to_json(reader.cloudformation_template()),
            organizational_unit_ids=settings.organizational_unit_ids,
            region=settings.region,
            call_as=settings.stack_set_call_as,
            max_concurrent_percentage=settings.stack_set_max_concurrent_percentage,
            failure_tolerance_percentage=settings.stack_set_failure_tolerance_percentage,
            retain_stacks_on_account_removal=settings.retain_stacks_on_account_removal,
        )


class StackSetReaders(pulumi.ComponentResource):
    """A reader role in every account of the given organizational units, present and future.

    Service-managed: CloudFormation reaches the member accounts through AWS Organizations
    (trusted access), so no provider or deploy role per account is needed, and the number of
    resources does not grow with the number of accounts. Expects the owner account's `aws`
    provider in `opts.providers`; the owner account is the management account (`call_as`
    SELF) or a delegated administrator for StackSets (DELEGATED_ADMIN).
    """

    def __init__(self, name: str, args: StackSetReaderArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:StackSetReaders", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.stack_set = aws.cloudformation.StackSet(
            name,
            name=args.stack_set_name,
            description=args.description,
            permission_model="SERVICE_MANAGED",
            # New accounts in the OUs get a reader; an account that leaves them loses it (unless retained).
            auto_deployment=aws.cloudformation.StackSetAutoDeploymentArgs(
                enabled=True,
                retain_stacks_on_account_removal=args.retain_stacks_on_account_removal,
            ),
            call_as=args.call_as,
            # The template names its role and policy.
            capabilities=["CAPABILITY_NAMED_IAM"],
            # Queue conflicting operations (one per instance below) instead of failing them.
            managed_execution=aws.cloudformation.StackSetManagedExecutionArgs(active=True),
            # How template updates roll out over the member accounts.
            operation_preferences=aws.cloudformation.StackSetOperationPreferencesArgs(
                max_concurrent_percentage=args.max_concurrent_percentage,
                failure_tolerance_percentage=args.failure_tolerance_percentage,
            ),
            template_body=args.template_body,
            opts=child,
        )
        self.instances = [
            aws.cloudformation.StackSetInstance(
                f"{name}-{unit}",
                stack_set_name=self.stack_set.name,
                call_as=args.call_as,
                deployment_targets=aws.cloudformation.StackSetInstanceDeploymentTargetsArgs(
                    organizational_unit_ids=[unit],
                ),
                stack_set_instance_region=args.region,
                operation_preferences=aws.cloudformation.StackSetInstanceOperationPreferencesArgs(
                    max_concurrent_percentage=args.max_concurrent_percentage,
                    failure_tolerance_percentage=args.failure_tolerance_percentage,
                    concurrency_mode=CONCURRENCY_MODE,
                ),
                # Removing an OU from the list deletes its readers, as an account leaving the OU does.
                retain_stack=args.retain_stacks_on_account_removal,
                opts=child,
            )
            for unit in args.organizational_unit_ids
        ]
        self.register_outputs({"stackSetName": self.stack_set.name, "stackSetArn": self.stack_set.arn})
