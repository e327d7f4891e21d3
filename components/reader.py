"""Read-only access to the registry from one secondary AWS account."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.settings import Settings


@dataclass(frozen=True)
class ReaderArgs:
    """What one secondary account's reader needs: names and the rendered policy documents."""

    role_name: str
    policy_name: str
    policy_description: str
    role_description: str
    read_policy: str  # JSON, as sent to IAM
    trust_policy: str  # JSON, as sent to IAM

    @classmethod
    def for_account(cls, settings: Settings, account_id: str) -> ReaderArgs:
        return cls(
            role_name=settings.reader_role_name,
            policy_name=f"{settings.reader_role_name}-{settings.domain_name}",
            policy_description=f"Read-only access to CodeArtifact domain {settings.domain_name} "
            f"in {settings.owner_account_id}",
            role_description=f"Installs Python packages from {settings.domain_name} (read-only)",
            read_policy=docs.to_json(docs.reader_identity_policy(settings)),
            trust_policy=docs.to_json(docs.reader_trust_policy(account_id)),
        )


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
            max_session_duration=43200,
            opts=child,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-read-policy-attachment",
            role=self.role.name,
            policy_arn=self.policy.arn,
            opts=child,
        )
        self.register_outputs({"roleArn": self.role.arn, "policyArn": self.policy.arn})
