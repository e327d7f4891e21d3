"""`pypi-login --doctor`: what each tool would use, tried against the index, one line each.

For pip, uv and poetry it reads the configuration the tool itself reads (environment variables
first, then the user files this helper writes, and for poetry the project's pyproject.toml), then:
- no token configured                                    -> "no token"
- an index URL that is not the registry's one index, a second index or a link page -> "wrong URL"
- a token whose recorded expiry has passed               -> "expired"
- an authenticated GET of `<index>/<package>/`:
  200 -> "ok"; 401 -> "token refused"; 403 -> "no permission" (the token's role may not read);
  404 -> CodeArtifact answers both a refused token and a missing package with 404 (reported both
  ways), so the doctor asks again with a token it has just requested (when AWS credentials allow)
  or with a token that is certainly invalid, and says "package missing" or "token refused" only
  when the answers tell them apart; otherwise it says that they cannot be told apart.

What each tool would use comes from pypi_login/tool_config.py, the settings that send it elsewhere
from pypi_login/overrides.py.

It never prints a token. Network: the index (through the user's HTTPS proxy settings, like pip)
and, for a fresh token and the repository endpoint, CodeArtifact's API through boto3.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pypi_login import clients
from pypi_login.codeartifact import TOKEN_USERNAME, Login, LoginError, Target
from pypi_login.tool_config import Setting

# https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/simple/
INDEX_URL = re.compile(
    r"https://(?P<domain>[a-z][a-z0-9-]{0,48}[a-z0-9])-(?P<domain_owner>[0-9]{12})\.d\.codeartifact\."
    r"(?P<region>[a-z0-9-]+)\.amazonaws\.com/pypi/(?P<repository>[A-Za-z0-9][A-Za-z0-9._-]{1,99})/simple/"
)
# The same index through a `repositories` VPC endpoint without private DNS (--endpoint-host).
VPCE_INDEX_URL = re.compile(
    r"https://(?P<endpoint_host>vpce-[0-9a-f]+-[a-z0-9]+\.d\.codeartifact\.(?P<region>[a-z0-9-]+)\.vpce\.amazonaws\.com)"
    r"/pypi/d/(?P<domain>[a-z][a-z0-9-]{0,48}[a-z0-9])-(?P<domain_owner>[0-9]{12})"
    r"/(?P<repository>[A-Za-z0-9][A-Za-z0-9._-]{1,99})/simple/"
)
INDEX_SHAPE = "https://DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com/pypi/REPOSITORY/simple/"
# Sent to tell "this token is refused" from "this package is missing" when both answer 404.
INVALID_TOKEN = "pypi-login-doctor-invalid-token"  # noqa: S105 - deliberately not a token
DEFAULT_PACKAGE = "pip"

# (url, username, password) -> HTTP status, or a sentence saying why the index could not be reached
Fetch = Callable[[str, "str | None", "str | None"], "int | str"]
# A fresh token and endpoint for a registry, or LoginError
Fresh = Callable[[Target], Login]


def normalise_name(name: str) -> str:
    """PEP 503: the index serves `simple/<normalised name>/`."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- asking the index ------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is reported, not followed: credentials never travel to another address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def fetch(url: str, username: str | None, password: str | None) -> int | str:
    """GET with basic auth through the environment's proxy settings; the status, or why it failed."""
    if not url.startswith("https://"):
        return f"{url} is not https"
    headers = {"Accept": "text/html", "User-Agent": "pypi-login-doctor"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - https only, checked above
    if username is not None or password is not None:
        pair = f"{username or ''}:{password or ''}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError as error:
        return f"cannot reach {urlsplit(url).hostname}: {error.reason}"
    except OSError as error:
        return f"cannot reach {urlsplit(url).hostname}: {error}"


# --- the verdicts ------------------------------------------------------------------------


@dataclass
class Doctor:
    now: datetime
    package: str
    fetch: Fetch
    fresh: Fresh | None  # None: no AWS checks (boto3 missing)
    target: Target | None  # from the flags or stack outputs; else each URL names its own
    _logins: dict[Target, Login | LoginError] = field(default_factory=dict)

    def login(self, target: Target) -> Login | LoginError:
        if target not in self._logins:
            if self.fresh is None:
                self._logins[target] = LoginError("boto3 is not installed, so no new token was requested",
                                                  "no-credentials")
            else:
                try:
                    self._logins[target] = self.fresh(target)
                except LoginError as error:
                    self._logins[target] = error
                except Exception as error:  # a timeout, a TLS failure: reported on the aws line, never a crash
                    self._logins[target] = LoginError(f"asking CodeArtifact for a new token failed: {error}")
        return self._logins[target]

    def aws_lines(self) -> list[tuple[bool, str]]:
        lines = []
        for target, result in self._logins.items():
            where = f"{target.domain}/{target.repository} ({target.domain_owner}, {target.region})"
            if isinstance(result, Login):
                continue
            if result.kind == "no-credentials":
                lines.append((True, f"aws: not checked: {result} (a new token would let --doctor compare the index "
                                    f"URL of {where} and tell a refused token from a missing package)"))
            elif result.kind == "denied":
                lines.append((False, f"aws: no permission: {result}"))
            elif result.kind == "credentials-expired":
                lines.append((False, f"aws: expired: {result}"))
            elif result.kind != "not-found":  # a wrong URL is reported on the tool's line
                lines.append((False, f"aws: {result}"))
        return lines

    def check(self, setting: Setting) -> tuple[bool, str]:
        tool, where = setting.tool, setting.where
        again = f"run `pypi-login --write --tool {tool}` (or eval the printed exports)"
        url = setting.index_url
        if url is None and setting.token is None:
            return False, f"{tool}: no token: {setting.missing}; {again}"
        if url is None:  # poetry without a project: its source URL is unknown
            if self.target is None:
                return False, (f"{tool}: wrong URL: no pyproject.toml in this directory names poetry's source; "
                               "run --doctor in the project, or pass --stack-outputs to check the token alone")
            url = self.target_index(self.target)
            where = f"{where} (token only, against {url})"
        match = INDEX_URL.fullmatch(url) or VPCE_INDEX_URL.fullmatch(url)
        if match is None:
            return False, f"{tool}: wrong URL: {where} names {url}, not a CodeArtifact PyPI index ({INDEX_SHAPE})"
        host = match.groupdict().get("endpoint_host")
        if host and (self.target is None or self.target.endpoint_host != host):
            # The token is sent only to a VPC endpoint the user configured (--endpoint-host).
            return False, (f"{tool}: wrong URL: {where} names {url}, on the VPC endpoint {host} that is not "
                           "configured: pass --endpoint-host (or PYPI_LOGIN_ENDPOINT_HOST) if it is yours")
        target = self.target or Target(**match.groupdict())
        login = self.login(target)
        if isinstance(login, LoginError) and login.kind == "not-found":
            return False, f"{tool}: wrong URL: {where} names {url}: {login}"
        if isinstance(login, Login) and url != login.index_url:
            return False, f"{tool}: wrong URL: {where} names {url}, but the registry's index is {login.index_url}"
        if setting.problems:
            return False, f"{tool}: wrong URL: {setting.problems[0]}"
        if setting.token is None:
            keyring = (" pip asks a keyring only after a 401, uv only with --keyring-provider subprocess and "
                       "aws@ in the URL, poetry only with keyrings.codeartifact in its own environment "
                       "(docs/consuming.md).")
            unset = setting.missing or f"{where} names {url} without a token"
            return False, f"{tool}: no token: {unset}; {again}.{keyring}"
        if setting.username != TOKEN_USERNAME:
            return False, (f"{tool}: token refused: {where} sends user {setting.username!r}; CodeArtifact accepts "
                           f"only {TOKEN_USERNAME!r} with the token; {again}")
        if setting.expires is not None and setting.expires <= self.now:
            expired = clients.describe_expiry(setting.expires, self.now)
            return False, f"{tool}: expired: token in {where} expired {expired}; {again}"
        page = f"{url}{normalise_name(self.package)}/"
        status = self.fetch(page, setting.username, setting.token)
        valid = (f", valid until {clients.describe_expiry(setting.expires, self.now)}" if setting.expires
                 else " (expiry unknown)")
        if isinstance(status, str):
            return False, f"{tool}: unreachable: {status} (check the network or HTTPS_PROXY)"
        if status == 200:
            return True, f"{tool}: ok: token from {where}{valid}; {page} answered 200"
        if status == 401:
            return False, f"{tool}: token refused: {page} answered 401 to the token from {where}; {again}"
        if status == 403:
            return False, self._no_permission(tool, page, target)
        if status != 404:
            return False, f"{tool}: index error: {page} answered {status}"
        return self._after_404(tool, where, page, target, login, again)

    def _no_permission(self, tool: str, page: str, target: Target) -> str:
        return (f"{tool}: no permission: {page} answered 403: the token is valid but the role that requested it "
                f"may not read {target.repository_arn} (codeartifact:ReadFromRepository); from another account, "
                "assume its reader role (stack output readerRoleArns) before requesting the token")

    def _after_404(self, tool: str, where: str, page: str, target: Target, login: Login | LoginError,
                   again: str) -> tuple[bool, str]:
        missing = (f"{tool}: package missing: {self.package!r} is not in {target.repository} or its upstreams: "
                   "check the name (or the external connection for a public package)")
        if isinstance(login, Login):
            fresh_status = self.fetch(page, TOKEN_USERNAME, login.token)
            if fresh_status == 200:
                return False, (f"{tool}: token refused: {page} answered 404 to the token from {where} but 200 to a "
                               f"new one, so CodeArtifact no longer accepts it (expired or revoked); {again}")
            if fresh_status == 404:
                return False, missing + " (a new token gets 404 too)"
            if fresh_status == 403:
                return False, self._no_permission(tool, page, target)
        else:
            invalid_status = self.fetch(page, TOKEN_USERNAME, INVALID_TOKEN)
            if invalid_status in (401, 403):
                return False, missing + (f" (the index answers {invalid_status} to an invalid token, so it accepted "
                                         "this one)")
        return False, (f"{tool}: token refused or package missing: {page} answered 404, which CodeArtifact also "
                       f"answers to a refused token; sign in to AWS so --doctor can compare with a new token, or "
                       f"{again} and try again")

    def target_index(self, target: Target) -> str:
        login = self.login(target)
        if isinstance(login, Login):
            return login.index_url
        return target.endpoint + "simple/"


def diagnose(settings: Sequence[Setting], doctor: Doctor) -> list[tuple[bool, str]]:
    """One (ok, line) per tool, then a line per problem with AWS itself."""
    lines = [doctor.check(setting) for setting in settings]
    return lines + doctor.aws_lines()
