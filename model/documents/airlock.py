"""The curation airlock's documents: the promoter, the pull-back job and the ledger they append to."""

from __future__ import annotations

from typing import Any

from model.documents.actions import (
    LEDGER_WRITE_ACTION,
    OVERWRITE_ACTIONS,
    PROMOTER_LIST_ACTIONS,
    PROMOTER_VERSION_ACTIONS,
    PUBLISHER_REPOSITORY_ACTIONS,
    PULL_BACK_VERSION_ACTIONS,
    TOPIC_PUBLISH_ACTION,
)
from model.documents.jobs import locked_bucket_policy, logs_statement
from model.documents.statements import bearer_token_statement
from model.settings import Settings
from model.trust_policy import VERSION, PolicyDocument
from promoter.ledger import PREFIXES as LEDGER_PREFIXES


def ledger_statements(settings: Settings) -> list[dict[str, Any]]:
    return [
        {"Sid": "AppendToTheLedger", "Effect": "Allow", "Action": LEDGER_WRITE_ACTION,
         "Resource": [f"{settings.ledger_bucket_arn}/{prefix}*" for prefix in LEDGER_PREFIXES]},
        {"Sid": "PublishDecisions", "Effect": "Allow", "Action": TOPIC_PUBLISH_ACTION,
         "Resource": settings.airlock_topic_arn},
    ]


def promoter_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The promoter: read the store (which fetches from public PyPI), list versions there and in the vetted
    repository, copy into the vetted repository only, append to the ledger and publish each decision."""
    store, vetted = settings.store_repository, settings.vetted_repository
    return {"Version": VERSION, "Statement": [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": settings.domain_arn},
        bearer_token_statement(),
        {"Sid": "ReadTheStore", "Effect": "Allow", "Action": list(PUBLISHER_REPOSITORY_ACTIONS),
         "Resource": settings.repository_arn(store)},
        {"Sid": "ListPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": [settings.repository_arn(store), settings.repository_arn(vetted)]},
        {"Sid": "ListVersions", "Effect": "Allow", "Action": list(PROMOTER_VERSION_ACTIONS),
         "Resource": [settings.package_arn(store), settings.package_arn(vetted)]},
        {"Sid": "CopyIntoVetted", "Effect": "Allow", "Action": list(OVERWRITE_ACTIONS),
         "Resource": [settings.repository_arn(vetted), settings.package_arn(vetted)]},
        *ledger_statements(settings),
        logs_statement(settings, function_name),
    ]}


def pull_back_policy(settings: Settings, function_name: str) -> PolicyDocument:
    """The daily pull-back: list the admitted versions and archive a bad one in the vetted and internal
    repositories (UpdatePackageVersionsStatus with expectedStatus, never a delete), append to the ledger and
    alert."""
    vetted, internal = settings.vetted_repository, settings.internal_repository
    return {"Version": VERSION, "Statement": [
        {"Sid": "CodeArtifactToken", "Effect": "Allow", "Action": "codeartifact:GetAuthorizationToken",
         "Resource": settings.domain_arn},
        bearer_token_statement(),
        {"Sid": "ListPackages", "Effect": "Allow", "Action": list(PROMOTER_LIST_ACTIONS),
         "Resource": [settings.repository_arn(vetted), settings.repository_arn(internal)]},
        {"Sid": "ArchiveInVettedAndInternal", "Effect": "Allow", "Action": list(PULL_BACK_VERSION_ACTIONS),
         "Resource": [settings.package_arn(vetted), settings.package_arn(internal)]},
        *ledger_statements(settings),
        logs_statement(settings, function_name),
    ]}


def ledger_bucket_policy(settings: Settings) -> PolicyDocument:
    """The ledger: only the promoter and the pull-back role write decisions (`locked_bucket_policy`)."""
    return locked_bucket_policy(settings, settings.ledger_bucket_arn,
                                [settings.promoter_role_arn, settings.pull_back_role_arn],
                                write_actions=(LEDGER_WRITE_ACTION,),
                                sids=("DenyDeletingDecisions", "DenyDeletingTheLedger", "DenyWritesButTheAirlock"))
