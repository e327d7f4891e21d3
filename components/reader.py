"""Read-only access to the registry from one secondary AWS account."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.settings import Settings


class SecondaryAccountReader(pulumi.ComponentResource):
    """A provider assuming the deploy role in `account_id`, a read policy and a reader role there."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        account_id: str,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pypi-registry:index:SecondaryAccountReader", name, None, opts)
        self.provider = aws.Provider(
            f"{name}-provider",
            region=settings.region,
            # Refuse to run against any other account, whatever the credentials.
            allowed_account_ids=[account_id],
            # Typed args, so the provider config is serialised with Pulumi's property names.
            assume_roles=[
                aws.ProviderAssumeRoleArgs(
                    role_arn=settings.deploy_role_arn(account_id),
                    session_name="pypi-registry-deploy",
                )
            ],
            default_tags={"tags": dict(settings.tags)} if settings.tags else None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_account = pulumi.ResourceOptions(parent=self, provider=self.provider)

        self.policy = aws.iam.Policy(
            f"{name}-read-policy",
            name=f"{settings.reader_role_name}-{settings.domain_name}",
            description=f"Read-only access to CodeArtifact domain {settings.domain_name} "
            f"in {settings.owner_account_id}",
            policy=docs.to_json(docs.reader_identity_policy(settings)),
            opts=in_account,
        )
        self.role = aws.iam.Role(
            f"{name}-reader-role",
            name=settings.reader_role_name,
            description=f"Installs Python packages from {settings.domain_name} (read-only)",
            assume_role_policy=docs.to_json(docs.reader_trust_policy(account_id)),
            max_session_duration=43200,
            opts=in_account,
        )
        aws.iam.RolePolicyAttachment(
            f"{name}-read-policy-attachment",
            role=self.role.name,
            policy_arn=self.policy.arn,
            opts=in_account,
        )
        self.register_outputs({"roleArn": self.role.arn, "policyArn": self.policy.arn})
