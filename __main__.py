"""Private PyPI on AWS CodeArtifact: load validated settings, build components, export outputs."""

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components.publishers import GithubPublishers
from components.reader import SecondaryAccountReader
from components.registry import Registry
from components.settings import ConfigError, load_settings

try:
    settings = load_settings()
except ConfigError as error:
    # Fail the preview before any resource is declared: nothing is created or lost.
    raise pulumi.RunError(str(error)) from None

default_tags = {"tags": dict(settings.tags)} if settings.tags else None
owner = aws.Provider(
    "owner",
    region=settings.region,
    allowed_account_ids=[settings.owner_account_id],
    default_tags=default_tags,
)
owner_native = aws_native.Provider(
    "owner-native",
    region=settings.region,
    allowed_account_ids=[settings.owner_account_id],
)
in_owner = pulumi.ResourceOptions(providers=[owner, owner_native])

registry = Registry("registry", settings, opts=in_owner)
readers = {
    account: SecondaryAccountReader(f"reader-{account}", settings, account)
    for account in settings.secondary_account_ids
}
publishers = GithubPublishers("publishers", settings, opts=in_owner)

endpoint = aws.codeartifact.get_repository_endpoint_output(
    domain=registry.domain.domain,
    domain_owner=registry.domain.owner,
    repository=registry.internal.repository,
    format="pypi",
    opts=pulumi.InvokeOutputOptions(provider=owner),
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
