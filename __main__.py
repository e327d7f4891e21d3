"""Private PyPI on AWS CodeArtifact: load validated settings, reach each account, build components, export outputs."""

import pulumi
import pulumi_aws as aws

from components import accounts
from components.airlock import Ledger, LedgerArgs, Promoter, PromoterArgs
from components.backup import BackupEvents, BackupEventsArgs, BackupJobs, BackupJobsArgs, BackupStore, BackupStoreArgs
from components.publishers import GithubPublishers, PublishersArgs
from components.reader import ReaderArgs, SecondaryAccountReader, StackSetReaderArgs, StackSetReaders
from components.registry import Registry, RegistryArgs
from model.pulumi_config import load_settings
from model.settings import ConfigError

try:
    settings = load_settings()
except ConfigError as error:
    # Fail the preview before any resource is declared: nothing is created or lost.
    raise pulumi.RunError(str(error)) from None

# The Lambda packages are read (their modules listed) before any resource is declared: a folder with none fails
# the preview here, with nothing created.
promoter_args = PromoterArgs.from_settings(settings) if settings.airlock_mode else None
backup_jobs_args = BackupJobsArgs.from_settings(settings) if settings.backup_mode else None

owner = accounts.owner_providers(settings)
registry = Registry("registry", RegistryArgs.from_settings(settings), opts=owner.options)
readers = {
    account: SecondaryAccountReader(
        accounts.reader_component_name(account),
        ReaderArgs.for_account(settings, account),
        opts=pulumi.ResourceOptions(providers=[accounts.secondary_provider(settings, account)]),
    )
    for account in settings.secondary_account_ids
}
# StackSet mode: a reader in every account of the chosen OUs, deployed by CloudFormation from the
# owner account (no provider per account). secondaryAccountIds still get theirs above, under another role
# name: the organization's management account is never a StackSet target, so it is listed there when it
# reads, and an account moving between the modes holds both readers for one step.
stack_set_readers = (
    StackSetReaders("reader-stackset", StackSetReaderArgs.from_settings(settings), opts=owner.options)
    if settings.stack_set_mode else None
)
publishers = GithubPublishers("publishers", PublishersArgs.from_settings(settings), opts=owner.options)
# Airlock mode: public versions reach consumers only once the promoter admitted them (docs/airlock.md).
if promoter_args is not None:
    ledger = Ledger("airlock-ledger", LedgerArgs.from_settings(settings), opts=owner.options)
    Promoter("airlock", promoter_args,
             opts=pulumi.ResourceOptions(providers=[owner.aws], depends_on=[registry, ledger]))
# Loss-proof operations: every internal version copied to a locked bucket replicated to backupRegion
# (docs/backup.md).
if backup_jobs_args is not None:
    backup_store = BackupStore("backup", BackupStoreArgs.from_settings(settings),
                               replica_provider=accounts.backup_region_provider(settings), opts=owner.options)
    backup_events = BackupEvents("backup-events", BackupEventsArgs.from_settings(settings), opts=owner.options)
    BackupJobs("backup-jobs", backup_jobs_args, queue_arn=backup_events.queue.arn,
               opts=pulumi.ResourceOptions(providers=[owner.aws], depends_on=[registry, backup_store]))
    pulumi.export("backup", {"bucket": settings.backup_bucket_name, "replicaBucket": settings.replica_bucket_name,
                             "topicArn": settings.backup_topic_arn})

endpoint = aws.codeartifact.get_repository_endpoint_output(
    domain=registry.domain.domain,
    domain_owner=registry.domain.owner,
    repository=registry.internal.repository,
    format="pypi",
    opts=pulumi.InvokeOutputOptions(provider=owner.aws),
)
login = (
    f"aws codeartifact login --domain {settings.domain_name} "
    f"--domain-owner {settings.owner_account_id} "
    f"--repository {settings.internal_repository} --region {settings.region}"
)

pulumi.export("domainName", registry.domain.domain)
pulumi.export("domainOwner", registry.domain.owner)
pulumi.export("region", settings.region)
pulumi.export("repositoryEndpoint", endpoint.repository_endpoint)
pulumi.export("indexUrl", endpoint.repository_endpoint.apply(lambda url: url.rstrip("/") + "/simple/"))
pulumi.export("pipLoginCommand", login.replace("login ", "login --tool pip ", 1))
pulumi.export("twineLoginCommand", login.replace("login ", "login --tool twine ", 1))
pulumi.export("readerRoleArns", {account: reader.role.arn for account, reader in readers.items()})
pulumi.export("publisherRoleArns", publishers.role_arns)
if stack_set_readers is not None:
    pulumi.export("readerStackSet", {
        "stackSetName": stack_set_readers.stack_set.name,
        "organizationalUnitIds": list(settings.organizational_unit_ids),
        # The same name in every member account: arn:aws:iam::<member account ID>:role/<stackSetReaderRoleName>.
        "readerRoleName": settings.stack_set_reader_role_name,
    })
if publishers.ci_reader_role_arn is not None:
    # The first CI reader role, as before there were more; githubReaderRoleArns names each repository's.
    pulumi.export("githubReaderRoleArn", publishers.ci_reader_role_arn)
    pulumi.export("githubReaderRoleArns", publishers.ci_reader_role_arns)
if publishers.dependabot_role_arns:
    pulumi.export("dependabotRoleArns", publishers.dependabot_role_arns)
