"""How each AWS account is reached: every provider of the program, built in one place.

Each provider is pinned with `allowed_account_ids`, so credentials for the wrong account fail
the preview instead of creating anything. The reader providers were once children of their
`SecondaryAccountReader`; their aliases keep those URNs, so moving them here replaces nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from model.settings import Settings

READER_COMPONENT_TYPE = "pypi-registry:index:SecondaryAccountReader"
DEPLOY_SESSION_NAME = "pypi-registry-deploy"
PREVIEW_SESSION_NAME = "pypi-registry-preview"


@dataclass(frozen=True)
class OwnerProviders:
    aws: aws.Provider
    native: aws_native.Provider

    @property
    def options(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(providers=[self.aws, self.native])


def _default_tags(settings: Settings) -> aws.ProviderDefaultTagsArgsDict | None:
    return {"tags": dict(settings.tags)} if settings.tags else None


def owner_providers(settings: Settings) -> OwnerProviders:
    """The owner account, with whatever credentials run the program."""
    return OwnerProviders(
        aws=aws.Provider(
            "owner",
            region=settings.region,
            allowed_account_ids=[settings.owner_account_id],
            default_tags=_default_tags(settings),
        ),
        native=aws_native.Provider(
            "owner-native",
            region=settings.region,
            allowed_account_ids=[settings.owner_account_id],
        ),
    )


def backup_region_provider(settings: Settings) -> aws.Provider:
    """The owner account in backupRegion, where the backup's replica lives; pinned like the others."""
    return aws.Provider(
        "backup-region",
        region=settings.backup_region,
        allowed_account_ids=[settings.owner_account_id],
        default_tags=_default_tags(settings),
    )


def reader_component_name(account_id: str) -> str:
    return f"reader-{account_id}"


def secondary_role_arn(settings: Settings, account_id: str, preview: bool) -> str:
    """The role a run assumes in a secondary account: `pulumi preview` executes a pull request's
    code, so a preview gets the read-only preview role there and only `pulumi up` the deploy role."""
    return settings.preview_role_arn(account_id) if preview else settings.deploy_role_arn(account_id)


def secondary_provider(settings: Settings, account_id: str) -> aws.Provider:
    """A secondary account, reached by assuming its preview role (previews) or deploy role (updates)."""
    preview = pulumi.runtime.is_dry_run()
    name = reader_component_name(account_id)
    # Spelled out, not built with pulumi.create_urn(): a literal URN costs the engine no Output per account.
    former_urn = (f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::"
                  f"{READER_COMPONENT_TYPE}$pulumi:providers:aws::{name}-provider")
    return aws.Provider(
        f"{name}-provider",
        region=settings.region,
        # Refuse to run against any other account, whatever the credentials.
        allowed_account_ids=[account_id],
        # Typed args, so the provider config is serialised with Pulumi's property names.
        assume_roles=[
            aws.ProviderAssumeRoleArgs(
                role_arn=secondary_role_arn(settings, account_id, preview),
                session_name=PREVIEW_SESSION_NAME if preview else DEPLOY_SESSION_NAME,
            )
        ],
        default_tags=_default_tags(settings),
        opts=pulumi.ResourceOptions(aliases=[former_urn]),
    )
