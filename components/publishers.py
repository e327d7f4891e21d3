"""GitHub Actions OIDC roles: each publisher publishes only its own packages; one optional CI
reader role lets consuming repositories install packages, read-only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import policy_documents as docs
from components.settings import GITHUB_READER_ROLE_NAME, Settings


@dataclass(frozen=True)
class PublisherRoleArgs:
    repository: str  # owner/name
    role_name: str
    description: str
    trust_policy: str  # JSON, as sent to IAM
    publish_policy: str  # JSON, as sent to IAM


@dataclass(frozen=True)
class CiReaderArgs:
    role_name: str
    description: str
    trust_policy: str  # JSON, as sent to IAM
    read_policy: str  # JSON, as sent to IAM


@dataclass(frozen=True)
class PublishersArgs:
    """The OIDC provider to create or reuse, and one role per repository with its documents."""

    create_oidc_provider: bool
    oidc_provider_arn: str  # fixed: one provider per URL and account
    roles: tuple[PublisherRoleArgs, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    ci_reader: CiReaderArgs | None = None

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
            ci_reader=CiReaderArgs(
                role_name=GITHUB_READER_ROLE_NAME,
                description="GitHub Actions in "
                f"{', '.join(r.repository for r in settings.github_readers)} install packages (read-only)"[:1000],
                trust_policy=docs.to_json(docs.github_reader_trust_policy(settings)),
                read_policy=docs.to_json(docs.reader_identity_policy(settings)),
            ) if settings.github_readers else None,
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
        if args.create_oidc_provider and (args.roles or args.ci_reader):
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{docs.GITHUB_OIDC_HOST}",
                client_id_lists=[docs.GITHUB_OIDC_AUDIENCE],
                tags=dict(args.tags),
                # Other roles may trust it (the CI roles, roles outside the stack): removing the last publisher
                # and reader must not take it away from them; only an explicit `pulumi state delete` forgets it.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
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

        self.ci_reader_role_arn: pulumi.Output[str] | None = None
        if args.ci_reader is not None:
            reader = aws.iam.Role(
                f"{name}-ci-reader",
                name=args.ci_reader.role_name,
                description=args.ci_reader.description,
                assume_role_policy=args.ci_reader.trust_policy,
                max_session_duration=3600,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            aws.iam.RolePolicy(
                f"{name}-ci-reader-read",
                role=reader.name,
                name="read-the-registry",
                policy=args.ci_reader.read_policy,
                opts=child,
            )
            self.ci_reader_role_arn = reader.arn

        self.register_outputs({"roleArns": self.role_arns, "oidcProviderArn": self.oidc_provider_arn,
                               "ciReaderRoleArn": self.ci_reader_role_arn})
