"""The CodeArtifact domain, its repositories (two, or three in airlock mode), package groups and resource
policies."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from model.documents.codeartifact import domain_permissions_policy, key_policy, repository_permissions_policy
from model.settings import Settings
from model.trust_policy import to_json

EXTERNAL_CONNECTION = "public:pypi"
# Airlock mode: every PyPI package, the domain-wide group that the internal prefixes' groups override.
EVERY_PYPI_PACKAGE = "/pypi/*"


@dataclass(frozen=True)
class RegistryArgs:
    """Names, the rendered policy documents (JSON as sent to AWS) and tags of the registry."""

    domain_name: str
    key_alias_name: str
    store_repository: str
    internal_repository: str
    key_policy: str
    domain_policy: str
    # repository name -> its permissions policy; a repository without readers has none
    repository_policies: Mapping[str, str]
    # internal name prefix -> its package group pattern
    package_groups: Mapping[str, str]
    tags: Mapping[str, str] = field(default_factory=dict)
    # Airlock mode: the repository of admitted public versions, internal's upstream instead of the store.
    vetted_repository: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryArgs:
        repository_policies = {}
        for repository in settings.readable_repositories:
            document = repository_permissions_policy(settings, repository)
            if document is not None:
                repository_policies[repository] = to_json(document)
        return cls(
            domain_name=settings.domain_name,
            key_alias_name=settings.key_alias_name,
            store_repository=settings.store_repository,
            internal_repository=settings.internal_repository,
            key_policy=to_json(key_policy(settings)),
            domain_policy=to_json(domain_permissions_policy(settings)),
            repository_policies=repository_policies,
            package_groups={prefix: settings.package_group_pattern(prefix) for prefix in settings.internal_prefixes},
            tags=dict(settings.tags),
            vetted_repository=settings.vetted_repository if settings.airlock_mode else None,
        )


class Registry(pulumi.ComponentResource):
    """KMS-encrypted domain, `pypi-store` (public PyPI cache) and `internal` (its downstream).

    Expects the owner account's `aws` and `aws-native` providers in `opts.providers`.
    """

    def __init__(
        self,
        name: str,
        args: RegistryArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pypi-registry:index:Registry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # A domain or repository delete loses every package, and a new key or
        # name means replacement: protect them and keep them if removed from code.
        keep = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        # Declared in this order, as before the steps had names: the key, the domain, the repositories, the policies,
        # the package groups.
        self.key = self._key(name, args, keep, child)
        self.domain = self._domain(name, args, keep)
        self.store, self.vetted, self.internal = self._repositories(name, args, keep)
        self.domain_policy = self._domain_policy(name, args, child)
        self.repository_policies = self._repository_policies(name, args, child)
        self.package_groups = self._package_groups(name, args, child)
        self.register_outputs(
            {
                "domainArn": self.domain.arn,
                "keyArn": self.key.arn,
                "internalRepositoryArn": self.internal.arn,
                "storeRepositoryArn": self.store.arn,
                **({"vettedRepositoryArn": self.vetted.arn} if self.vetted is not None else {}),
            }
        )

    def _key(self, name: str, args: RegistryArgs, keep: pulumi.ResourceOptions,
             child: pulumi.ResourceOptions) -> aws.kms.Key:
        """The domain's customer-managed key (rotated), and its alias."""
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the CodeArtifact domain {args.domain_name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=args.key_policy,
            tags=dict(args.tags),
            opts=keep,
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=args.key_alias_name,
            target_key_id=key.key_id,
            opts=child,
        )
        return key

    def _domain(self, name: str, args: RegistryArgs, keep: pulumi.ResourceOptions) -> aws.codeartifact.Domain:
        return aws.codeartifact.Domain(
            f"{name}-domain",
            domain=args.domain_name,
            encryption_key=self.key.arn,
            tags=dict(args.tags),
            opts=keep,
        )

    def _repositories(self, name: str, args: RegistryArgs, keep: pulumi.ResourceOptions) -> tuple[
            aws.codeartifact.Repository, aws.codeartifact.Repository | None, aws.codeartifact.Repository]:
        """(store, vetted or None, internal): `internal`'s upstream is the store, or in airlock mode the vetted
        repository."""
        store = aws.codeartifact.Repository(
            f"{name}-{args.store_repository}",
            repository=args.store_repository,
            domain=self.domain.domain,
            domain_owner=self.domain.owner,
            description="Cache of public PyPI; its only job is the external connection.",
            external_connections={"external_connection_name": EXTERNAL_CONNECTION},
            tags=dict(args.tags),
            opts=keep,
        )
        # Airlock mode: public versions reach `internal` only through the vetted repository, which nothing but
        # the promoter's copies fill (no external connection, no upstream).
        vetted: aws.codeartifact.Repository | None = None
        upstream = store
        if args.vetted_repository is not None:
            vetted = upstream = aws.codeartifact.Repository(
                f"{name}-{args.vetted_repository}",
                repository=args.vetted_repository,
                domain=self.domain.domain,
                domain_owner=self.domain.owner,
                description="Public versions the promoter admitted; no external connection, no upstream.",
                tags=dict(args.tags),
                opts=keep,
            )
        internal = aws.codeartifact.Repository(
            f"{name}-{args.internal_repository}",
            repository=args.internal_repository,
            domain=self.domain.domain,
            domain_owner=self.domain.owner,
            description="Internal packages; one index URL for internal and public packages.",
            upstreams=[{"repository_name": upstream.repository}],
            tags=dict(args.tags),
            opts=keep,
        )
        return store, vetted, internal

    def _domain_policy(self, name: str, args: RegistryArgs,
                       child: pulumi.ResourceOptions) -> aws.codeartifact.DomainPermissions:
        return aws.codeartifact.DomainPermissions(
            f"{name}-domain-policy",
            domain=self.domain.domain,
            domain_owner=self.domain.owner,
            policy_document=args.domain_policy,
            opts=child,
        )

    def _repository_policies(self, name: str, args: RegistryArgs,
                             child: pulumi.ResourceOptions) -> list[aws.codeartifact.RepositoryPermissionsPolicy]:
        """A permissions policy for each repository that has one (none when nobody reads cross-account)."""
        policies = []
        repositories = [(args.store_repository, self.store), (args.internal_repository, self.internal)]
        if args.vetted_repository is not None and self.vetted is not None:
            repositories.insert(1, (args.vetted_repository, self.vetted))
        for repository_name, repository in repositories:
            document = args.repository_policies.get(repository_name)
            if document is None:
                continue
            policies.append(
                aws.codeartifact.RepositoryPermissionsPolicy(
                    f"{name}-{repository_name}-policy",
                    domain=self.domain.domain,
                    domain_owner=self.domain.owner,
                    repository=repository.repository,
                    policy_document=document,
                    opts=child,
                )
            )
        return policies

    def _package_groups(self, name: str, args: RegistryArgs,
                        child: pulumi.ResourceOptions) -> list[aws_native.codeartifact.PackageGroup]:
        """Dependency-confusion guard: names under an internal prefix never come from public PyPI and are published
        only into `internal`; in airlock mode, every other name comes only through the promoter."""
        mode = aws_native.codeartifact.PackageGroupRestrictionTypeRestrictionMode
        groups = [
            aws_native.codeartifact.PackageGroup(
                f"{name}-group-{prefix}",
                domain_name=self.domain.domain,
                domain_owner=self.domain.owner,
                pattern=pattern,
                description=f"Internal packages named {prefix}*: never from public PyPI",
                origin_configuration={
                    "restrictions": {
                        "external_upstream": {"restriction_mode": mode.BLOCK},
                        "internal_upstream": {"restriction_mode": mode.ALLOW},
                        "publish": {
                            "restriction_mode": mode.ALLOW_SPECIFIC_REPOSITORIES,
                            "repositories": [self.internal.repository],
                        },
                    }
                },
                opts=child,
            )
            for prefix, pattern in args.package_groups.items()
        ]
        if self.vetted is not None:
            groups.append(self._public_group(name, self.vetted, child))
        return groups

    def _public_group(self, name: str, vetted: aws.codeartifact.Repository,
                      child: pulumi.ResourceOptions) -> aws_native.codeartifact.PackageGroup:
        """Every other PyPI name may come only through the promoter: fetched from public PyPI by the store alone,
        copied into the vetted repository (nothing publishes there), retained by `internal` from it."""
        mode = aws_native.codeartifact.PackageGroupRestrictionTypeRestrictionMode
        return aws_native.codeartifact.PackageGroup(
            f"{name}-group-public",
            domain_name=self.domain.domain,
            domain_owner=self.domain.owner,
            pattern=EVERY_PYPI_PACKAGE,
            description="Public packages: from public PyPI into the store only, on through the promoter",
            origin_configuration={
                "restrictions": {
                    "external_upstream": {"restriction_mode": mode.ALLOW_SPECIFIC_REPOSITORIES,
                                          "repositories": [self.store.repository]},
                    "internal_upstream": {"restriction_mode": mode.ALLOW_SPECIFIC_REPOSITORIES,
                                          "repositories": [self.internal.repository]},
                    "publish": {"restriction_mode": mode.ALLOW_SPECIFIC_REPOSITORIES,
                                "repositories": [vetted.repository]},
                }
            },
            opts=child,
        )
