"""The CodeArtifact domain's and repositories' resource policies, and the domain key's policy."""

from __future__ import annotations

from model.documents.actions import (
    DOMAIN_READ_ACTIONS,
    IRREVERSIBLE_ACTIONS,
    KEY_ADMINISTRATION_ACTIONS,
    KEY_LOSS_ACTIONS,
    KEY_USE_ACTIONS,
    OVERWRITE_ACTIONS,
    PUBLISH_ACTIONS,
    REOPEN_ACTIONS,
    REPOSITORY_READ_ACTIONS,
    STATUS_ACTIONS,
    STORE_READ_ACTIONS,
)
from model.documents.statements import allow_readers, deny_everyone_but, deny_one_outside, has_readers
from model.settings import Settings
from model.trust_policy import VERSION, PolicyDocument


def domain_permissions_policy(settings: Settings) -> PolicyDocument:
    """Token and read-only domain access for readers; for everyone, a Deny of every way to lose a
    package (delete, overwrite) and, but for the deploy roles, of every way to reopen internal names or to
    archive and unlist versions.

    Airlock mode carves out exactly what the airlock's roles need: the promoter may copy, but only into the vetted
    repository (CopyPackageVersions is authorized on the destination); the pull-back role may change a version's
    status, but only in the vetted and internal repositories. Nobody but the promoter reads the store, and nobody
    publishes into the vetted repository: what it holds came through the promoter."""
    statements = []
    if has_readers(settings):
        statements.append(
            allow_readers("SecondaryAccountsGetToken", settings, DOMAIN_READ_ACTIONS, [settings.domain_arn])
        )
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    airlock = settings.airlock_mode
    promoter = [settings.promoter_role_arn] if airlock else []
    pull_back = [settings.pull_back_role_arn] if airlock else []
    retention = [settings.retention_role_arn] if settings.retention_mode else []
    statements += [
        deny_everyone_but("DenyIrreversibleDeletes", IRREVERSIBLE_ACTIONS, break_glass),
        deny_everyone_but("DenyOverwritingVersions", OVERWRITE_ACTIONS, [*promoter, *break_glass]),
        deny_everyone_but("DenyReopeningInternalNames", REOPEN_ACTIONS,
                           [*settings.deploy_principal_arns, *break_glass]),
        deny_everyone_but("DenyChangingVersionStatus", STATUS_ACTIONS,
                           [*settings.deploy_principal_arns, *pull_back, *retention, *break_glass]),
    ]
    if retention:
        statements.append(deny_one_outside("DenyRetentionOutsideInternal", STATUS_ACTIONS,
                                            settings.retention_role_arn,
                                            [settings.package_arn(settings.internal_repository)]))
    if airlock:
        vetted, internal, store = settings.vetted_repository, settings.internal_repository, settings.store_repository
        statements += [
            deny_one_outside("DenyPromoterCopyingOutsideVetted", OVERWRITE_ACTIONS, settings.promoter_role_arn,
                              [settings.repository_arn(vetted), settings.package_arn(vetted)]),
            deny_one_outside("DenyPullBackOutsideVettedAndInternal", STATUS_ACTIONS, settings.pull_back_role_arn,
                              [settings.package_arn(vetted), settings.package_arn(internal)]),
            {**deny_everyone_but("DenyReadingTheStore", STORE_READ_ACTIONS, [*promoter, *break_glass]),
             "Resource": settings.repository_arn(store)},
            {**deny_everyone_but("DenyPublishingIntoVetted", (PUBLISH_ACTIONS[0],), break_glass),
             "Resource": settings.package_arn(vetted)},
        ]
    return {"Version": VERSION, "Statement": statements}


def key_policy(settings: Settings) -> PolicyDocument:
    """The domain key: administered through IAM in the owner account, used only by CodeArtifact for
    that account, and never disabled or scheduled for deletion but by the break-glass role.

    KMS refuses a policy that would lock out the principal setting it; the Deny leaves
    `kms:PutKeyPolicy` alone, so the owner can always change this policy in a reviewed pull request.
    """
    owner_root = f"arn:aws:iam::{settings.owner_account_id}:root"
    break_glass = [settings.break_glass_role_arn] if settings.break_glass_role_arn else []
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "OwnerAccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": owner_root},
                "Action": list(KEY_ADMINISTRATION_ACTIONS),
                "Resource": "*",
            },
            {
                "Sid": "CodeArtifactUsesKeyForOwnerAccount",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": list(KEY_USE_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {
                    "kms:CallerAccount": settings.owner_account_id,
                    "kms:ViaService": f"codeartifact.{settings.region}.amazonaws.com",
                }},
            },
            deny_everyone_but("DenyKeyLoss", KEY_LOSS_ACTIONS, break_glass),
        ],
    }


def repository_permissions_policy(settings: Settings, repository: str) -> PolicyDocument | None:
    """Read-only access to one repository and its packages; None when nobody reads cross-account."""
    if not has_readers(settings):
        return None
    resources = [settings.repository_arn(repository), settings.package_arn(repository)]
    return {
        "Version": VERSION,
        "Statement": [allow_readers("SecondaryAccountsRead", settings, REPOSITORY_READ_ACTIONS, resources)],
    }
