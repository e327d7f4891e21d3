"""GitHub Actions OIDC publisher roles: each repository publishes only its own packages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.settings import Settings


@dataclass(frozen=True)
class PublisherRoleArgs:
    repository: str  # owner/name
    role_name: str
    description: str
    trust_policy: str  # JSON, as sent to IAM
    publish_policy: str  # JSON, as sent to IAM


@dataclass(frozen=True)
class PublishersArgs:
    """The OIDC provider to create or reuse, and one role per repository with its documents."""

    create_oidc_provider: bool
    oidc_provider_arn: str  # fixed: one provider per URL and account
    roles: tuple[PublisherRoleArgs, ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> PublishersArgs:
        return cls(
            create_oidc_provider=settings.create_github_oidc_provider,
            oidc_provider_arn=settings.github_oidc_provider_arn,
            roles=tuple(
                PublisherRoleArgs(
                    repository=publisher.repository,
                    role_name=publisher.role_name,
                    description=f"GitHub Actions in {publisher.repository} publish "
                    f"{', '.join(publisher.packages)}"[:1000],
                    trust_policy=docs.to_json(docs.publisher_trust_policy(settings, publisher)),
                    publish_policy=docs.to_json(docs.publisher_permissions_policy(settings, publisher)),
                )
                for publisher in settings.publishers
            ),
            tags=dict(settings.tags),
        )


class GithubPublishers(pulumi.ComponentResource):
    """The GitHub OIDC provider (created or reused) and one publisher role per repository.

    Expects the owner account's `aws` provider in `opts.providers`.
    """

    def __init__(self, name: str, args: PublishersArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:GithubPublishers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.oidc_provider_arn: pulumi.Input[str] = args.oidc_provider_arn
        depends: list[pulumi.Resource] = []
        if args.create_oidc_provider and args.roles:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{docs.GITHUB_OIDC_HOST}",
                client_id_lists=[docs.GITHUB_OIDC_AUDIENCE],
                tags=dict(args.tags),
                opts=child,
            )
            self.oidc_provider_arn = provider.arn
            depends = [provider]

        self.role_arns: dict[str, pulumi.Output[str]] = {}
        for role_args in args.roles:
            logical = f"{name}-{role_args.repository.replace('/', '-')}"
            role = aws.iam.Role(
                logical,
                name=role_args.role_name,
                description=role_args.description,
                assume_role_policy=role_args.trust_policy,
                max_session_duration=3600,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            aws.iam.RolePolicy(
                f"{logical}-publish",
                role=role.name,
                name="publish-own-packages",
                policy=role_args.publish_policy,
                opts=child,
            )
            self.role_arns[role_args.repository] = role.arn

        self.register_outputs({"roleArns": self.role_arns, "oidcProviderArn": self.oidc_provider_arn})
