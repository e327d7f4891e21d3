"""The CodeArtifact domain, its two repositories, package groups and resource policies."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components import policy_documents as docs
from components.settings import Settings

EXTERNAL_CONNECTION = "public:pypi"


class Registry(pulumi.ComponentResource):
    """KMS-encrypted domain, `pypi-store` (public PyPI cache) and `internal` (its downstream).

    Expects the owner account's `aws` and `aws-native` providers in `opts.providers`.
    """

    def __init__(
        self,
        name: str,
        settings: Settings,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pypi-registry:index:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # A domain or repository delete loses every package, and a new key or
        # name means replacement: protect them and keep them if removed from code.
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)

        self.key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the CodeArtifact domain {settings.domain_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=docs.to_json(docs.key_policy(settings)),
            tags=dict(settings.tags),
            opts=keep,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/codeartifact-{settings.domain_name}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.domain = aws.codeartifact.Domain(
            f"{name}-domain",
            domain=settings.domain_name,
            encryption_key=self.key.arn,
            tags=dict(settings.tags),
            opts=keep,
        )
        self.store = aws.codeartifact.Repository(
            f"{name}-{settings.store_repository}",
            repository=settings.store_repository,
            domain=self.domain.domain,
            domain_owner=self.domain.owner,
            description="Cache of public PyPI; its only job is the external connection.",
            external_connections={"external_connection_name": EXTERNAL_CONNECTION},
            tags=dict(settings.tags),
            opts=keep,
        )
        self.internal = aws.codeartifact.Repository(
            f"{name}-{settings.internal_repository}",
            repository=settings.internal_repository,
            domain=self.domain.domain,
            domain_owner=self.domain.owner,
            description="Internal packages; one index URL for internal and public packages.",
            upstreams=[{"repository_name": self.store.repository}],
            tags=dict(settings.tags),
            opts=keep,
        )

        self.domain_policy = aws.codeartifact.DomainPermissions(
            f"{name}-domain-policy",
            domain=self.domain.domain,
            domain_owner=self.domain.owner,
            policy_document=docs.to_json(docs.domain_permissions_policy(settings)),
            opts=child,
        )
        self.repository_policies = []
        for repository_name, repository in (
            (settings.store_repository, self.store),
            (settings.internal_repository, self.internal),
        ):
            document = docs.repository_permissions_policy(settings, repository_name)
            if document is None:
                continue
            self.repository_policies.append(
                aws.codeartifact.RepositoryPermissionsPolicy(
                    f"{name}-{repository_name}-policy",
                    domain=self.domain.domain,
                    domain_owner=self.domain.owner,
                    repository=repository.repository,
                    policy_document=docs.to_json(document),
                    opts=child,
                )
            )

        # Dependency-confusion guard: names under an internal prefix never come
        # from public PyPI and are published only into `internal`.
        self.package_groups = [
            aws_native.codeartifact.PackageGroup(
                f"{name}-group-{prefix}",
                domain_name=self.domain.domain,
                domain_owner=self.domain.owner,
                pattern=settings.package_group_pattern(prefix),
                description=f"Internal packages named {prefix}*: never from public PyPI",
                origin_configuration={
                    "restrictions": {
                        "external_upstream": {"restriction_mode": "BLOCK"},
                        "internal_upstream": {"restriction_mode": "ALLOW"},
                        "publish": {
                            "restriction_mode": "ALLOW_SPECIFIC_REPOSITORIES",
                            "repositories": [self.internal.repository],
                        },
                    }
                },
                opts=child,
            )
            for prefix in settings.internal_prefixes
        ]

        self.register_outputs(
            {
                "domainArn": self.domain.arn,
                "keyArn": self.key.arn,
                "internalRepositoryArn": self.internal.arn,
                "storeRepositoryArn": self.store.arn,
            }
        )
