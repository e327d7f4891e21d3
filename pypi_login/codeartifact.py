"""The two CodeArtifact calls a consumer needs, with errors that name their cause.

botocore is imported only where AWS is called, so `--status` and `--help` work without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:  # type stubs only (requirements-dev.txt); botocore itself is imported where AWS is called
    from botocore.exceptions import ClientError
    from mypy_boto3_codeartifact import CodeArtifactClient

CODEARTIFACT_SERVICE = "codeartifact.amazonaws.com"
# The fixed user name CodeArtifact expects with a token (not a secret).
TOKEN_USERNAME = "aws"  # noqa: S105

# What a missing, expired or refused token looks like from each client. CodeArtifact is reported to
# answer it with 401 or with 404; each client's words for both are taken from the real-client tests
# (tests/pypi_login/test_clients_real.py), which check that this text quotes them.
REFUSED_HINT = (
    "A missing, expired or refused token makes CodeArtifact answer 401 or 404, and the clients then say: "
    'pip "401 Error, Credentials not correct" or only "(from versions: none)"; '
    'uv "lack of valid authentication credentials (401 Unauthorized)" or "not found in the package registry"; '
    'poetry "Authorization error accessing" or "doesn\'t match any versions". '
    "`pypi-login --doctor` tells which it is."
)


class LoginError(Exception):
    """A failure the user can act on; the message names the cause and the fix.

    `kind` sorts it for the doctor: no-credentials, credentials-expired, denied, not-found,
    unreachable, expired-token or other.
    """

    def __init__(self, message: str, kind: str = "other"):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """Which registry to log in to."""

    domain: str
    domain_owner: str
    repository: str
    region: str
    endpoint_host: str = ""  # a `repositories` VPC endpoint's DNS name, when its private DNS is off

    @property
    def standard_endpoint(self) -> str:
        """The repository endpoint CodeArtifact names for this repository (GetRepositoryEndpoint)."""
        return (f"https://{self.domain}-{self.domain_owner}.d.codeartifact.{self.region}.amazonaws.com/pypi/"
                f"{self.repository}/")

    @property
    def endpoint(self) -> str:
        """Where the token goes: the standard endpoint, or its form on the configured VPC endpoint."""
        if self.endpoint_host:
            return f"https://{self.endpoint_host}/pypi/d/{self.domain}-{self.domain_owner}/{self.repository}/"
        return self.standard_endpoint

    @property
    def domain_arn(self) -> str:
        return f"arn:aws:codeartifact:{self.region}:{self.domain_owner}:domain/{self.domain}"

    @property
    def repository_arn(self) -> str:
        return f"arn:aws:codeartifact:{self.region}:{self.domain_owner}:repository/{self.domain}/{self.repository}"


@dataclass(frozen=True)
class Login:
    """A token and the index it opens. The token is kept out of repr, so it never lands in a log."""

    token: str = field(repr=False)
    expiration: datetime
    repository_endpoint: str

    @property
    def index_url(self) -> str:
        """The one index URL, without credentials (internal and public packages)."""
        return self.repository_endpoint.rstrip("/") + "/simple/"

    @property
    def authenticated_index_url(self) -> str:
        """The index URL with `aws:<token>@`, as pip and uv accept it."""
        parts = urlsplit(self.index_url)
        netloc = f"{TOKEN_USERNAME}:{quote(self.token, safe='')}@{parts.hostname}"
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def host(self) -> str:
        return urlsplit(self.repository_endpoint).hostname or ""


def _aws_message(error: ClientError) -> tuple[str, str]:
    details = error.response.get("Error", {})
    return details.get("Code", "Unknown"), details.get("Message", str(error))


def explain(error: Exception, target: Target, operation: str) -> str:
    """Turn a botocore error into a message that names the cause and what to check."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return (
            "no AWS credentials: sign in first (for example `aws sso login --profile NAME`, then pass "
            "--profile NAME or set AWS_PROFILE), or run where a role's credentials are available"
        )
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach CodeArtifact in {target.region}: check --region and the network ({error})"
    if not isinstance(error, ClientError):
        return f"{operation} failed: {error}"
    code, message = _aws_message(error)
    if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}:
        return f"your AWS credentials are expired or invalid: sign in again ({code}: {message})"
    if code in {"AccessDeniedException", "AccessDenied", "UnauthorizedException"}:
        if operation == "GetAuthorizationToken":
            return (
                "token request denied: check your role has codeartifact:GetAuthorizationToken on "
                f"{target.domain_arn} and sts:GetServiceBearerToken (condition sts:AWSServiceName = "
                f"{CODEARTIFACT_SERVICE}); from another account, assume its reader role (stack output "
                f"readerRoleArns). AWS said: {code}: {message}"
            )
        return (
            f"{operation} denied: check your role has codeartifact:{operation} on {target.repository_arn}. "
            f"AWS said: {code}: {message}"
        )
    if code == "ResourceNotFoundException":
        return (
            f"CodeArtifact found no domain {target.domain!r} owned by {target.domain_owner} with repository "
            f"{target.repository!r} in {target.region}: check --domain, --domain-owner (12 digits, leading "
            f"zeros included), --repository and --region. AWS said: {message}"
        )
    return f"{operation} failed: {code}: {message}"


def classify(error: Exception) -> str:
    """The LoginError kind of a botocore error."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return "no-credentials"
    if isinstance(error, EndpointConnectionError):
        return "unreachable"
    if not isinstance(error, ClientError):
        return "other"
    code, _ = _aws_message(error)
    if code in {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException"}:
        return "credentials-expired"
    if code in {"AccessDeniedException", "AccessDenied", "UnauthorizedException"}:
        return "denied"
    if code == "ResourceNotFoundException":
        return "not-found"
    return "other"


def request_login(client: CodeArtifactClient, target: Target, duration_seconds: int) -> Login:
    """Get a token and the repository endpoint; raise LoginError naming the cause on failure."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    operation = "GetAuthorizationToken"
    try:
        token = client.get_authorization_token(
            domain=target.domain,
            domainOwner=target.domain_owner,
            durationSeconds=duration_seconds,
        )
        operation = "GetRepositoryEndpoint"
        endpoint = client.get_repository_endpoint(
            domain=target.domain,
            domainOwner=target.domain_owner,
            repository=target.repository,
            format="pypi",
        )
    except (ClientError, NoCredentialsError, PartialCredentialsError, EndpointConnectionError) as error:
        raise LoginError(explain(error, target, operation), classify(error)) from None
    named = endpoint["repositoryEndpoint"]
    # The token goes only to this domain's own host (or the configured VPC endpoint): an answer that
    # names any other (a wrong AWS_ENDPOINT_URL_CODEARTIFACT, a proxy) never receives it.
    if named.rstrip("/") + "/" != target.standard_endpoint:
        raise LoginError(
            f"CodeArtifact named the repository endpoint {named!r}, not {target.standard_endpoint}: refusing to "
            "send the token to any other host. Check AWS_ENDPOINT_URL_CODEARTIFACT and the AWS config's "
            "endpoint_url; nothing was printed or written.",
            "wrong-endpoint",
        )
    expiration = token["expiration"]
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=timezone.utc)
    return Login(
        token=token["authorizationToken"],
        expiration=expiration.astimezone(timezone.utc),
        repository_endpoint=target.endpoint,
    )
