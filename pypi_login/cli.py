"""`python -m pypi_login`: one command from AWS credentials to a working pip, uv and poetry."""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pypi_login import clients, doctor
from pypi_login.codeartifact import REFUSED_HINT, Login, LoginError, Target, request_login

if TYPE_CHECKING:  # type stubs only (requirements-dev.txt)
    from mypy_boto3_codeartifact import CodeArtifactClient

DESCRIPTION = """\
Get a CodeArtifact token for the private PyPI and set up pip, uv and poetry to install from its
one index URL (internal and public packages). By default it prints shell exports, for
`eval "$(python -m pypi_login ...)"`; --write updates each tool's user configuration instead
(files private, mode 0600, from the moment they exist). The token lasts --duration-seconds (at
most 12 hours) and its expiry is shown; a token that has already expired is refused. `--status`
tells whether the configured token is missing or expired, without any network call; `--doctor`
also asks the index with it and says in one line per tool what is wrong: no token, expired, wrong
URL, no permission, or the package really missing.
"""

EPILOG = f"""\
{textwrap.fill(REFUSED_HINT, 96)}

Never add the index with --extra-index-url: a second index lets a public package with an
internal name win (dependency confusion). The CodeArtifact index already serves PyPI.

To avoid refreshing tokens, the keyring backend keyrings.codeartifact fetches a token whenever a
tool asks, but each tool asks differently (README, "Installing packages"): pip only after a 401
and, without a terminal, only with --keyring-provider import; uv only with --keyring-provider
subprocess and `aws@` in the index URL; poetry only with the backend in its own environment.

Defaults can come from `pulumi stack output --json > outputs.json` via --stack-outputs.
"""

# Applied with `fullmatch`: `re.match(r"^...$")` would accept a trailing newline.
ACCOUNT_ID = re.compile(r"[0-9]{12}")
DOMAIN_NAME = re.compile(r"[a-z][a-z0-9-]{0,48}[a-z0-9]")
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}")
# 0 means "as long as the caller's session"; otherwise CodeArtifact accepts 15 minutes to 12 hours.
MIN_DURATION, MAX_DURATION = 900, 43200
DEFAULT_REPOSITORY = "internal"
# A token with less time left than this is delivered with a warning.
SHORT_LIVED = 600

ClientFactory = Callable[[str, "str | None"], "CodeArtifactClient"]


class UsageError(Exception):
    """Bad arguments or stack outputs: exit 2 with the rule that was broken."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pypi_login",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_argument_group("registry (flags override --stack-outputs)")
    target.add_argument("--stack-outputs", type=Path, metavar="FILE",
                        help="JSON from `pulumi stack output --json`: domainName, domainOwner, region, "
                             "repositoryEndpoint")
    target.add_argument("--domain", help="CodeArtifact domain name (stack output domainName)")
    target.add_argument("--domain-owner", help="12-digit account ID that owns the domain (stack output domainOwner)")
    target.add_argument("--repository", help=f"repository whose index to use (default {DEFAULT_REPOSITORY})")
    target.add_argument("--region", help="AWS region of the domain (default: stack output region, then AWS_REGION)")
    target.add_argument("--profile", help="AWS profile whose credentials request the token")
    target.add_argument("--duration-seconds", type=int, default=MAX_DURATION,
                        help=f"token lifetime: {MIN_DURATION}-{MAX_DURATION}, or 0 for the session's own "
                             f"(default {MAX_DURATION}, 12 hours)")

    output = parser.add_argument_group("what to set up")
    output.add_argument("--tool", action="append", choices=["pip", "uv", "poetry", "all"],
                        help="repeatable; default all")
    output.add_argument("--source-name",
                        help="index name for uv and poetry (default: the domain name)")
    mode = output.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true",
                      help="update the tools' user configuration (pip.conf, uv.toml, poetry's auth.toml) "
                           "instead of printing exports")
    mode.add_argument("--status", action="store_true",
                      help="say whether each tool's token is missing, valid or expired (no network call)")
    mode.add_argument("--doctor", action="store_true",
                      help="check each tool's configuration, its token's expiry and a real authenticated "
                           "request to the index; one line per tool says what is wrong")
    output.add_argument("--package", default=doctor.DEFAULT_PACKAGE,
                        help=f"with --doctor: the package to ask the index for (default {doctor.DEFAULT_PACKAGE}, "
                             "a public package served through the upstream)")
    return parser


def _tools(selected: Sequence[str] | None) -> tuple[str, ...]:
    if not selected or "all" in selected:
        return clients.TOOLS
    return tuple(tool for tool in clients.TOOLS if tool in selected)


def _stack_outputs(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read --stack-outputs {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--stack-outputs {path} is not JSON ({error}); write it with "
                         "`pulumi stack output --json`") from None
    if not isinstance(outputs, dict):
        raise UsageError(f"--stack-outputs {path} must hold a JSON object of stack outputs")
    defaults: dict[str, Any] = {
        "domain": outputs.get("domainName"),
        "domain_owner": outputs.get("domainOwner"),
        "region": outputs.get("region"),
    }
    endpoint = outputs.get("repositoryEndpoint")
    if isinstance(endpoint, str):
        found = re.search(r"/pypi/([^/]+)/?\Z", endpoint)
        if found:
            defaults["repository"] = found[1]
    return defaults


def _default_region(profile: str | None, environ: Mapping[str, str]) -> str | None:
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        import boto3
    except ModuleNotFoundError:
        return None
    try:
        return boto3.Session(profile_name=profile).region_name
    except Exception:  # an unknown profile is reported by the token request itself
        return None


@functools.cache  # botocore loads its endpoint data afresh for every session: read it once
def codeartifact_regions() -> tuple[str, ...]:
    """Regions where CodeArtifact is offered (aws partition), from botocore's offline endpoint data."""
    try:
        import botocore.session
    except ModuleNotFoundError:  # the token request reports the missing boto3 itself
        return ()
    return tuple(sorted(botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")))


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str]) -> Target:
    """Flags over stack outputs over defaults, each value checked against AWS's naming rules."""
    defaults = _stack_outputs(args.stack_outputs)

    def pick(name: str) -> object:
        value: object = getattr(args, name)
        return value if value is not None else defaults.get(name)

    domain, owner = pick("domain"), pick("domain_owner")
    repository = pick("repository") or DEFAULT_REPOSITORY
    region = pick("region") or _default_region(args.profile, environ)
    problems = []
    if not isinstance(domain, str) or not DOMAIN_NAME.fullmatch(domain):
        problems.append("--domain must be a CodeArtifact domain name ([a-z][a-z0-9-]{0,48}[a-z0-9]), "
                        f"got {domain!r}")
    if not isinstance(owner, str) or not ACCOUNT_ID.fullmatch(owner):
        problems.append("--domain-owner must be the 12-digit account ID as a string (a number loses leading "
                        f"zeros), got {owner!r}")
    if not isinstance(repository, str) or not REPOSITORY_NAME.fullmatch(repository):
        problems.append(f"--repository must match [A-Za-z0-9][A-Za-z0-9._-]{{1,99}}, got {repository!r}")
    regions = codeartifact_regions()  # empty without botocore: the token request then says what is missing
    if not isinstance(region, str) or not region or (regions and region not in regions):
        offered = f" ({', '.join(regions)}; from botocore, upgrade it if a new region is missing)" if regions else ""
        problems.append(f"--region must be an AWS region where CodeArtifact is offered{offered}, got {region!r}")
    duration = args.duration_seconds
    if duration != 0 and not MIN_DURATION <= duration <= MAX_DURATION:
        problems.append(f"--duration-seconds must be 0 or {MIN_DURATION}-{MAX_DURATION}, got {duration}")
    # No problem means each is a string; the isinstance checks say so to the type checker.
    if problems or not (isinstance(domain, str) and isinstance(owner, str) and isinstance(repository, str)
                        and isinstance(region, str)):
        raise UsageError("; ".join(problems))
    return Target(domain=domain, domain_owner=owner, repository=repository, region=region)


def default_client_factory(region: str, profile: str | None) -> CodeArtifactClient:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile)
    except ProfileNotFound:
        raise LoginError(f"AWS profile {profile!r} is not in your AWS config: check --profile or AWS_PROFILE") from None
    return session.client("codeartifact", region_name=region)


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    platform: str | None = None,
    now: Callable[[], datetime] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    cwd: Path | None = None,
    fetch: doctor.Fetch | None = None,
) -> int:
    """Run the command; every keyword exists so tests can run it without a real home, AWS or index."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    cwd = Path.cwd() if cwd is None else cwd
    platform = sys.platform if platform is None else platform
    now = now or (lambda: datetime.now(timezone.utc))
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr

    def say(message: str) -> None:
        print(message, file=stderr)

    args = build_parser().parse_args(argv)
    tools = _tools(args.tool)
    paths = clients.config_paths(environ, home, platform)

    if args.status:
        try:
            defaults = _stack_outputs(args.stack_outputs)
        except UsageError as error:
            say(f"error: {error}")
            return 2
        source_name = args.source_name or args.domain or defaults.get("domain") or ""
        results = [clients.status(tool, paths.for_tool(tool), environ, source_name, now()) for tool in tools]
        for _, message in results:
            print(message, file=stdout)
        return 0 if all(usable for usable, _ in results) else 1

    if args.doctor:
        return _doctor(args, tools, paths, environ, now(), client_factory or default_client_factory, cwd,
                       fetch or doctor.fetch, stdout, say)

    try:
        target = resolve_target(args, environ)
    except UsageError as error:
        say(f"error: {error}")
        return 2
    source_name = args.source_name or target.domain
    try:
        import boto3  # noqa: F401  (only the token request needs it)
    except ModuleNotFoundError:
        say("pypi_login needs boto3: `python -m pip install boto3`")
        return 2

    try:
        client = (client_factory or default_client_factory)(target.region, args.profile)
        login = usable_login(request_login(client, target, args.duration_seconds), now())
    except LoginError as error:
        say(f"error: {error}")
        return 1
    remaining = (login.expiration - now()).total_seconds()
    if remaining < SHORT_LIVED:
        say(f"warning: the token expires in {int(remaining // 60)}m; sign in to AWS again (or raise "
            "--duration-seconds) for a longer one.")

    say(f"CodeArtifact token for {target.domain} (owner {target.domain_owner}, {target.region}), repository "
        f"{target.repository}: expires {clients.describe_expiry(login.expiration, now())}.")
    say(f"Index URL: {login.index_url}")

    if args.write:
        for tool in tools:
            path = paths.for_tool(tool)
            try:
                warnings = clients.write_settings(tool, path, login, source_name)
            except LoginError as error:
                say(f"error: {tool}: {error}")
                return 1
            say(f"{tool}: wrote {path} (mode 0600)")
            for warning in warnings:
                say(f"warning: {tool}: {warning}")
    else:
        stdout.write(clients.shell_exports(login, tools, source_name))
        if getattr(stdout, "isatty", lambda: False)():
            say('Load these into your shell with: eval "$(python -m pypi_login ...)"')
    if "poetry" in tools:
        say(f"poetry: declare the source once per project: {clients.poetry_source_command(login, source_name)}")
    say("If an install fails, `python -m pypi_login --doctor` says why (no token, expired, wrong URL, "
        "no permission, package missing).")
    return 0


def usable_login(login: Login, now: datetime) -> Login:
    """The login, unless its token has already expired (then nothing may be printed or written)."""
    if login.expiration <= now:
        raise LoginError(
            f"CodeArtifact returned a token that already expired ({clients.describe_expiry(login.expiration, now)}; "
            f"this machine's clock says {clients.iso(now)}): with --duration-seconds 0 a token ends with your AWS "
            "session, so sign in again; otherwise check the clock. Nothing was printed or written.",
            "expired-token",
        )
    return login


def _doctor(
    args: argparse.Namespace,
    tools: Sequence[str],
    paths: clients.ConfigPaths,
    environ: Mapping[str, str],
    now: datetime,
    client_factory: ClientFactory,
    cwd: Path,
    fetch: doctor.Fetch,
    stdout: TextIO,
    say: Callable[[str], None],
) -> int:
    """--doctor: one line per tool (and per problem with AWS); exit 0 only when every tool is ready."""
    target = None
    names_registry = args.stack_outputs is not None or any(
        getattr(args, name) is not None for name in ("domain", "domain_owner", "repository", "region"))
    if names_registry:
        try:
            target = resolve_target(args, environ)
        except UsageError as error:
            say(f"error: {error}")
            return 2
    settings = []
    for tool in tools:
        if tool == "pip":
            settings.append(doctor.pip_setting(environ, paths.pip))
        elif tool == "uv":
            settings.append(doctor.uv_setting(environ, paths.uv))
        else:
            settings.append(doctor.poetry_setting(environ, paths.poetry, args.source_name or "", cwd,
                                                  target.domain if target else ""))

    fresh: doctor.Fresh | None = None
    try:
        import boto3  # noqa: F401  (only the fresh token needs it)
    except ModuleNotFoundError:
        pass
    else:
        def fresh(registry: Target) -> Login:
            client = client_factory(registry.region, args.profile)
            return usable_login(request_login(client, registry, MIN_DURATION), now)

    results = doctor.diagnose(settings, doctor.Doctor(now, args.package, fetch, fresh, target))
    for _, line in results:
        print(line, file=stdout)
    return 0 if all(ok for ok, _ in results) else 1
