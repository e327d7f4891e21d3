"""GitHub Actions OIDC publisher roles: each repository publishes only its own packages."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.settings import Settings


class GithubPublishers(pulumi.ComponentResource):
    """The GitHub OIDC provider (created or reused) and one publisher role per repository.

    Expects the owner account's `aws` provider in `opts.providers`.
    """

    def __init__(self, name: str, settings: Settings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("pypi-registry:index:GithubPublishers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.oidc_provider_arn: pulumi.Input[str] = settings.github_oidc_provider_arn
        if settings.create_github_oidc_provider and settings.publishers:
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{docs.GITHUB_OIDC_HOST}",
                client_id_lists=[docs.GITHUB_OIDC_AUDIENCE],
                tags=dict(settings.tags),
                opts=child,
            )
            self.oidc_provider_arn = provider.arn
            depends = [provider]
        else:
            depends = []

        self.role_arns: dict[str, pulumi.Output[str]] = {}
        for publisher in settings.publishers:
            role = aws.iam.Role(
                f"{name}-{publisher.repository.replace('/', '-')}",
                name=publisher.role_name,
                description=f"GitHub Actions in {publisher.repository} publish "
                f"{', '.join(publisher.packages)}"[:1000],
                assume_role_policy=docs.to_json(docs.publisher_trust_policy(settings, publisher)),
                max_session_duration=3600,
                tags=dict(settings.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            aws.iam.RolePolicy(
                f"{name}-{publisher.repository.replace('/', '-')}-publish",
                role=role.name,
                name="publish-own-packages",
                policy=docs.to_json(docs.publisher_permissions_policy(settings, publisher)),
                opts=child,
            )
            self.role_arns[publisher.repository] = role.arn

        self.register_outputs({"roleArns": self.role_arns, "oidcProviderArn": self.oidc_provider_arn})
