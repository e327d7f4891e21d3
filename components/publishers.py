"""GitHub Actions OIDC roles: each publisher publishes only its own packages; optional CI reader roles
let consuming repositories install packages, read-only, and Dependabot reader roles let Dependabot's
update jobs do the same (as many roles of each as the repositories fill, each trust policy within
IAM's limit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from model.documents.github import github_reader_trust_policy, publisher_permissions_policy, publisher_trust_policy
from model.documents.readers import reader_identity_policy
from model.names import GITHUB_OIDC_AUDIENCE, GITHUB_OIDC_HOST
from model.settings import ReaderRole, Settings
from model.trust_policy import to_json


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
    repositories: tuple[str, ...] = ()  # owner/name, the repositories its trust policy lists

    @classmethod
    def for_role(cls, settings: Settings, role: ReaderRole, who: str) -> CiReaderArgs:
        repositories = tuple(reader.repository for reader in role.readers)
        return cls(
            role_name=role.name,
            description=f"{who} in {', '.join(repositories)} install packages (read-only)"[:1000],
            trust_policy=to_json(github_reader_trust_policy(settings, role)),
            read_policy=to_json(reader_identity_policy(settings)),
            repositories=repositories,
        )


@dataclass(frozen=True)
class PublishersArgs:
    """The OIDC provider to create or reuse, and one role per repository with its documents."""

    create_oidc_provider: bool
    oidc_provider_arn: str  # fixed: one provider per URL and account
    roles: tuple[PublisherRoleArgs, ...]
    tags: Mapping[str, str] = field(default_factory=dict)
    ci_readers: tuple[CiReaderArgs, ...] = ()
    dependabot_readers: tuple[CiReaderArgs, ...] = ()
    # The bootstrap's boundary on every role here: whatever a deploy role writes into them, they can do no more
    # than read the registry and publish into `internal`.
    permissions_boundary: str | None = None

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
                    trust_policy=to_json(publisher_trust_policy(settings, publisher)),
                    publish_policy=to_json(publisher_permissions_policy(settings, publisher)),
                )
                for publisher in settings.publishers
            ),
            tags=dict(settings.tags),
            ci_readers=tuple(CiReaderArgs.for_role(settings, role, "GitHub Actions")
                             for role in settings.github_reader_roles),
            dependabot_readers=tuple(CiReaderArgs.for_role(settings, role, "Dependabot update jobs")
                                     for role in settings.dependabot_roles),
            permissions_boundary=settings.github_roles_boundary_arn,
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
        if args.create_oidc_provider and (args.roles or args.ci_readers or args.dependabot_readers):
            provider = aws.iam.OpenIdConnectProvider(
                f"{name}-github-oidc",
                url=f"https://{GITHUB_OIDC_HOST}",
                client_id_lists=[GITHUB_OIDC_AUDIENCE],
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
                permissions_boundary=args.permissions_boundary,
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

        # The first CI reader keeps its logical name (and URN) from when there was one role.
        self.ci_reader_role_arns = self._readers(name, "ci-reader", args.ci_readers, args, depends)
        self.dependabot_role_arns = self._readers(name, "dependabot-reader", args.dependabot_readers, args, depends)
        self.ci_reader_role_arn: pulumi.Output[str] | None = next(iter(self.ci_reader_role_arns.values()), None)

        self.register_outputs({"roleArns": self.role_arns, "oidcProviderArn": self.oidc_provider_arn,
                               "ciReaderRoleArn": self.ci_reader_role_arn,
                               "ciReaderRoleArns": self.ci_reader_role_arns,
                               "dependabotRoleArns": self.dependabot_role_arns})

    def _readers(self, name: str, kind: str, readers: tuple[CiReaderArgs, ...], args: PublishersArgs,
                 depends: list[pulumi.Resource]) -> dict[str, pulumi.Output[str]]:
        """One read-only role per entry (`{name}-{kind}`, then `{name}-{kind}-2`, ...): {owner/name: its role ARN}."""
        arns: dict[str, pulumi.Output[str]] = {}
        for index, reader_args in enumerate(readers):
            logical = f"{name}-{kind}" if index == 0 else f"{name}-{kind}-{index + 1}"
            role = aws.iam.Role(
                logical,
                name=reader_args.role_name,
                description=reader_args.description,
                assume_role_policy=reader_args.trust_policy,
                max_session_duration=3600,
                permissions_boundary=args.permissions_boundary,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            aws.iam.RolePolicy(
                f"{logical}-read",
                role=role.name,
                name="read-the-registry",
                policy=reader_args.read_policy,
                opts=pulumi.ResourceOptions(parent=self),
            )
            arns.update(dict.fromkeys(reader_args.repositories, role.arn))
        return arns
