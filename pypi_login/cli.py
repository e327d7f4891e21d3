"""`pypi-login` (`python -m pypi_login`): one command from AWS credentials to a working pip, uv and poetry."""

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
from typing import TYPE_CHECKING, TextIO

from pypi_login import clients, config, doctor, tool_config
from pypi_login.codeartifact import REFUSED_HINT, Login, LoginError, Target, request_login
from pypi_login.config_text import split_credentials
from pypi_login.overrides import Override, comment_out, pip_config_files, pip_overrides, poetry_project, uv_overrides

if TYPE_CHECKING:  # type stubs only (requirements-dev.txt)
    from mypy_boto3_codeartifact import CodeArtifactClient

DESCRIPTION = """\
Get a CodeArtifact token for the private PyPI and set up pip, uv and poetry to install from its
one index URL (internal and public packages). By default it prints shell exports, for
`eval "$(pypi-login)"` (or PowerShell with --shell powershell); --write updates each tool's user
configuration instead (files private, mode 0600, from the moment they exist), after checking that no
setting of higher precedence would send the tool to another index. The token lasts
--duration-seconds (at most 12 hours) and its expiry is shown; a token that has already expired is
refused. `--status` tells, per tool, whether its token is missing, expired or of unknown expiry,
without any network call; `--doctor` also asks the index with it and says in one line per tool what
is wrong: no token, expired, wrong URL, no permission, or the package really missing.

The registry comes from the flags, then --stack-outputs, then PYPI_LOGIN_DOMAIN, PYPI_LOGIN_DOMAIN_OWNER,
PYPI_LOGIN_REGION, PYPI_LOGIN_REPOSITORY, PYPI_LOGIN_ENDPOINT_HOST and PYPI_LOGIN_SOURCE_NAME, then the
user config file that `pypi-login --configure --stack-outputs outputs.json` writes once ($PYPI_LOGIN_CONFIG,
else pypi-login/config.json in the user's config directory).
"""

EPILOG = f"""\
{textwrap.fill(REFUSED_HINT, 96)}

Never add the index with --extra-index-url, nor a link page with --find-links: a second source
lets a public package with an internal name win (dependency confusion). The CodeArtifact index
already serves PyPI.

To avoid refreshing tokens, the keyring backend keyrings.codeartifact fetches a token whenever a
tool asks, but each tool asks differently (docs/consuming.md): pip only after a 401
and, without a terminal, only with --keyring-provider import; uv only with --keyring-provider
subprocess and `aws@` in the index URL; poetry only with the backend in its own environment.
"""

# 0 means "as long as the caller's session"; otherwise CodeArtifact accepts 15 minutes to 12 hours.
MIN_DURATION, MAX_DURATION = 900, 43200
DEFAULT_REPOSITORY = config.DEFAULT_REPOSITORY
# A token with less time left than this is delivered with a warning.
SHORT_LIVED = 600

ClientFactory = Callable[[str, "str | None"], "CodeArtifactClient"]


class UsageError(Exception):
    """Bad arguments, stack outputs or config: exit 2 with the rule that was broken."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pypi-login",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = parser.add_argument_group(
        "registry (flags, then --stack-outputs, then PYPI_LOGIN_*, then the config file)")
    target.add_argument("--stack-outputs", type=Path, metavar="FILE",
                        help="JSON from `pulumi stack output --json`: domainName, domainOwner, region, "
                             "repositoryEndpoint")
    target.add_argument("--domain", help="CodeArtifact domain name (stack output domainName)")
    target.add_argument("--domain-owner", help="12-digit account ID that owns the domain (stack output domainOwner)")
    target.add_argument("--repository", help=f"repository whose index to use (default {DEFAULT_REPOSITORY})")
    target.add_argument("--region", help="AWS region of the domain (default: stack output region, then AWS_REGION)")
    target.add_argument("--endpoint-host", metavar="HOST",
                        help="the DNS name of a CodeArtifact `repositories` VPC endpoint without private DNS "
                             "(vpce-...d.codeartifact.REGION.vpce.amazonaws.com): the token goes there instead of "
                             "DOMAIN-OWNER.d.codeartifact.REGION.amazonaws.com, and to no other host")
    target.add_argument("--profile", help="AWS profile whose credentials request the token")
    target.add_argument("--duration-seconds", type=int, default=MAX_DURATION,
                        help=f"token lifetime: {MIN_DURATION}-{MAX_DURATION}, or 0 for the session's own "
                             f"(default {MAX_DURATION}, 12 hours)")

    output = parser.add_argument_group("what to set up")
    output.add_argument("--tool", action="append", choices=["pip", "uv", "poetry", "all"],
                        help="repeatable; default all")
    output.add_argument("--source-name",
                        help=f"index name for uv and poetry (default {config.DEFAULT_SOURCE_NAME}, as the CI action)")
    output.add_argument("--shell", choices=["posix", "powershell"], default="posix",
                        help="printed mode: `export NAME='...'` lines (posix, default) or `$env:NAME = '...'` "
                             "(powershell: pypi-login --shell powershell | Out-String | Invoke-Expression)")
    mode = output.add_mutually_exclusive_group()
    mode.add_argument("--configure", action="store_true",
                      help="save the registry (from --stack-outputs and the flags) to the user config file, so "
                           "later runs need no flags; no AWS call")
    mode.add_argument("--write", action="store_true",
                      help="update the tools' user configuration (pip.conf, uv.toml, poetry's auth.toml) "
                           "instead of printing exports")
    mode.add_argument("--status", action="store_true",
                      help="say whether each tool's token is missing, valid, expired or of unknown expiry "
                           "(no network call)")
    mode.add_argument("--doctor", action="store_true",
                      help="check each tool's configuration, its token's expiry and a real authenticated "
                           "request to the index; one line per tool says what is wrong")
    output.add_argument("--fix", action="store_true",
                        help="with --write: comment out the lines of pip's and uv's configuration files that "
                             "would send a tool to another index, instead of refusing")
    output.add_argument("--package", default=doctor.DEFAULT_PACKAGE,
                        help=f"with --doctor: the package to ask the index for (default {doctor.DEFAULT_PACKAGE}, "
                             "a public package served through the upstream)")
    return parser


def _tools(selected: Sequence[str] | None) -> tuple[str, ...]:
    if not selected or "all" in selected:
        return clients.TOOLS
    return tuple(tool for tool in clients.TOOLS if tool in selected)


def _stack_outputs(path: Path | None) -> dict[str, config.Value]:
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
    values = {field: config.Value(outputs[key], f"{path} ({key})")
              for field, key in (("domain", "domainName"), ("domain_owner", "domainOwner"), ("region", "region"))
              if outputs.get(key) is not None}
    endpoint = outputs.get("repositoryEndpoint")
    if isinstance(endpoint, str):
        found = re.search(r"/pypi/([^/]+)/?\Z", endpoint)
        if found:
            values["repository"] = config.Value(found[1], f"{path} (repositoryEndpoint)")
    return values


def _default_region(profile: str | None, environ: Mapping[str, str]) -> config.Value | None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(variable):
            return config.Value(environ[variable], f"${variable}")
    try:
        import boto3
    except ModuleNotFoundError:
        return None
    try:
        region = boto3.Session(profile_name=profile).region_name
    except Exception:  # an unknown profile is reported by the token request itself
        return None
    return config.Value(region, f"the AWS config of profile {profile or 'default'}") if region else None


@functools.cache  # botocore loads its endpoint data afresh for every session: read it once
def codeartifact_regions() -> tuple[str, ...]:
    """Regions where CodeArtifact is offered (aws partition), from botocore's offline endpoint data."""
    try:
        import botocore.session
    except ModuleNotFoundError:  # the token request reports the missing boto3 itself
        return ()
    return tuple(sorted(botocore.session.get_session().get_available_regions("codeartifact", partition_name="aws")))


def registry_values(args: argparse.Namespace, environ: Mapping[str, str], config_path: Path) -> dict[str, config.Value]:
    """Each field's value and where it came from: flags over stack outputs over PYPI_LOGIN_* over the file."""
    try:
        layers = [config.read_config(config_path), config.environment_values(environ),
                  _stack_outputs(args.stack_outputs)]
    except config.ConfigError as error:
        raise UsageError(str(error)) from None
    values: dict[str, config.Value] = {}
    for layer in layers:
        values.update(layer)
    for field, (_, _, flag) in config.FIELDS.items():
        if getattr(args, field) is not None:
            values[field] = config.Value(getattr(args, field), flag)
    return values


def source_name(values: Mapping[str, config.Value]) -> str:
    found = values.get("source_name")
    name = found.value if found else config.DEFAULT_SOURCE_NAME
    if not isinstance(name, str) or not config.SOURCE_NAME.fullmatch(name):
        origin = found.origin if found else "default"
        raise UsageError(f"--source-name must be letters, digits, - and _ (at most 64, {config.SOURCE_NAME.pattern}), "
                         f"got {name!r} from {origin}")
    return name


def names_a_registry(values: Mapping[str, config.Value]) -> bool:
    return any(field in values for field in ("domain", "domain_owner", "repository", "region", "endpoint_host"))


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str], config_path: Path) -> tuple[Target, str]:
    """The registry and the source name, each value checked against AWS's naming rules."""
    values = registry_values(args, environ, config_path)
    if "region" not in values:
        fallback = _default_region(args.profile, environ)
        if fallback is not None:
            values["region"] = fallback

    def pick(field: str, default: object = None) -> tuple[object, str]:
        found = values.get(field)
        return (found.value, f" (from {found.origin})") if found else (default, "")

    (domain, domain_from), (owner, owner_from) = pick("domain"), pick("domain_owner")
    repository, repository_from = pick("repository", config.DEFAULT_REPOSITORY)
    (region, region_from), (host, host_from) = pick("region"), pick("endpoint_host", "")
    problems = []
    first_run = "pass --stack-outputs FILE (or run `pypi-login --configure --stack-outputs FILE` once)"
    if domain is None:
        problems.append(f"no domain: {first_run}, or --domain")
    elif not isinstance(domain, str) or not config.DOMAIN_NAME.fullmatch(domain):
        problems.append("--domain must be a CodeArtifact domain name ([a-z][a-z0-9-]{0,48}[a-z0-9]), "
                        f"got {domain!r}{domain_from}")
    if owner is None:
        problems.append(f"no domain owner: {first_run}, or --domain-owner")
    elif not isinstance(owner, str) or not config.ACCOUNT_ID.fullmatch(owner):
        problems.append("--domain-owner must be the 12-digit account ID as a string (a number loses leading "
                        f"zeros), got {owner!r}{owner_from}")
    if not isinstance(repository, str) or not config.REPOSITORY_NAME.fullmatch(repository):
        problems.append(f"--repository must match [A-Za-z0-9][A-Za-z0-9._-]{{1,99}}, "
                        f"got {repository!r}{repository_from}")
    regions = codeartifact_regions()  # empty without botocore: the token request then says what is missing
    if region is None or region == "":
        problems.append(f"no region: pass --region or set AWS_REGION ({first_run})")
    elif not isinstance(region, str) or (regions and region not in regions):
        offered = f" ({', '.join(regions)}; from botocore, upgrade it if a new region is missing)" if regions else ""
        problems.append(f"--region must be an AWS region where CodeArtifact is offered{offered}, "
                        f"got {region!r}{region_from}")
    if host:
        vpce = config.ENDPOINT_HOST.fullmatch(host) if isinstance(host, str) else None
        if vpce is None:
            problems.append("--endpoint-host must be a CodeArtifact repositories VPC endpoint's DNS name "
                            f"(vpce-ID-SUFFIX.d.codeartifact.REGION.vpce.amazonaws.com), got {host!r}{host_from}")
        elif vpce["region"] != region:
            problems.append(f"--endpoint-host {host} is in {vpce['region']}, the domain in {region!r}")
    duration = args.duration_seconds
    if duration != 0 and not MIN_DURATION <= duration <= MAX_DURATION:
        problems.append(f"--duration-seconds must be 0 or {MIN_DURATION}-{MAX_DURATION}, got {duration}")
    try:
        name = source_name(values)
    except UsageError as error:
        problems.append(str(error))
        name = ""
    # No problem means each is a string; the isinstance checks say so to the type checker.
    if problems or not (isinstance(domain, str) and isinstance(owner, str) and isinstance(repository, str)
                        and isinstance(region, str) and isinstance(host, str)):
        raise UsageError("; ".join(problems))
    return Target(domain=domain, domain_owner=owner, repository=repository, region=region, endpoint_host=host), name


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
    pip_files: Callable[[Mapping[str, str]], list[Path] | str] | None = None,
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
    config_path = config.config_file(environ, home, platform)
    if args.fix and not args.write:
        say("error: --fix goes with --write")
        return 2

    if args.status:
        try:
            values = registry_values(args, environ, config_path)
            name = source_name(values) if "source_name" in values else ""
        except UsageError as error:
            say(f"error: {error}")
            return 2
        results = [tool_config.status(setting, now())
                   for setting in tool_config.tool_settings(tools, environ, paths, name, cwd)]
        for _, message in results:
            print(message, file=stdout)
        return 0 if all(usable for usable, _ in results) else 1

    if args.doctor:
        return _doctor(args, tools, paths, environ, config_path, now(), client_factory or default_client_factory,
                       cwd, fetch or doctor.fetch, stdout, say)

    try:
        target, name = resolve_target(args, environ, config_path)
    except UsageError as error:
        say(f"error: {error}")
        return 2

    if args.configure:
        saved = {"domain": target.domain, "domain_owner": target.domain_owner, "region": target.region,
                 "repository": target.repository, "endpoint_host": target.endpoint_host, "source_name": name}
        clients.write_private(config_path, config.render_config(saved))
        say(f"wrote {config_path}: {target.domain} (owner {target.domain_owner}, {target.region}), repository "
            f"{target.repository}, source name {name}. Now `pypi-login --write`, or eval \"$(pypi-login)\".")
        return 0

    try:
        import boto3  # noqa: F401  (only the token request needs it)
    except ModuleNotFoundError:
        say("pypi-login needs boto3: `python -m pip install boto3`")
        return 2

    if args.write:
        blocked = _preflight(tools, paths, environ, cwd, target, name, args.fix, say,
                             pip_files or pip_config_files)
        if blocked:
            return 1

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
                warnings = clients.write_settings(tool, path, login, name)
            except LoginError as error:
                say(f"error: {tool}: {error}")
                return 1
            say(f"{tool}: wrote {path} (mode 0600)")
            for warning in warnings:
                say(f"warning: {tool}: {warning}")
    elif args.shell == "powershell":
        stdout.write(clients.powershell_assignments(login, tools, name))
        if getattr(stdout, "isatty", lambda: False)():
            say("Load these into PowerShell with: pypi-login --shell powershell | Out-String | Invoke-Expression")
    else:
        stdout.write(clients.shell_exports(login, tools, name))
        if getattr(stdout, "isatty", lambda: False)():
            say('Load these into your shell with: eval "$(pypi-login)"')
    if "poetry" in tools:
        say(f"poetry: declare the source once per project: {clients.poetry_source_command(login, name)}")
    say("If an install fails, `pypi-login --doctor` says why (no token, expired, wrong URL, "
        "no permission, package missing).")
    return 0


def _preflight(tools: Sequence[str], paths: clients.ConfigPaths, environ: Mapping[str, str], cwd: Path,
               target: Target, name: str, fix: bool, say: Callable[[str], None],
               pip_files: Callable[[Mapping[str, str]], list[Path] | str]) -> bool:
    """Before --write: True, saying where and how to fix it, when a setting the tools read over the files
    pypi-login writes (or beside them, as a second index) would send a tool elsewhere. With `fix`, the
    lines of pip's and uv's configuration files are commented out first; what remains still refuses."""
    index_url = target.endpoint + "simple/"
    problems: list[str] = []
    overrides: list[Override] = []
    for tool in tools:
        if tool == "pip":
            files = pip_files(environ)
            if isinstance(files, str):
                problems.append(f"pip: {files}: pass --tool uv --tool poetry to leave pip alone")
                continue
            if environ.get("VIRTUAL_ENV"):  # the activated environment's own file, read over the user's
                files = [*files, Path(environ["VIRTUAL_ENV"]) / "pip.conf"]
            if os.path.realpath(paths.pip) not in {os.path.realpath(path) for path in files}:
                problems.append(f"pip: pip does not read {paths.pip} (`pip config debug` lists "
                                f"{', '.join(map(str, files))}): set PIP_CONFIG_FILE to the file it should read")
                continue
            overrides += pip_overrides(environ, paths.pip, files)
        elif tool == "uv":
            overrides += uv_overrides(environ, paths.uv, cwd, index_url)
        else:
            variable = clients.poetry_variable(name)
            for suffix in ("_PASSWORD", "_USERNAME"):
                if environ.get(variable + suffix):
                    overrides.append(Override("poetry", f"${variable}{suffix}", f"is read over {paths.poetry}",
                                              f"unset {variable}{suffix}"))
            url_variable = "POETRY_REPOSITORIES_" + variable[len("POETRY_HTTP_BASIC_"):] + "_URL"
            if environ.get(url_variable) and split_credentials(environ[url_variable])[0] != index_url:
                overrides.append(Override("poetry", f"${url_variable}", f"sends source {name!r} to another URL",
                                          f"unset {url_variable}"))
            if poetry_project(cwd):
                setting = tool_config.poetry_setting(environ, paths.poetry, name, cwd, name)
                problems += [f"poetry: {problem}" for problem in setting.problems]
                if setting.index_url is not None and setting.index_url != index_url:
                    problems.append(f"poetry: {cwd / 'pyproject.toml'} sends source {name!r} to {setting.index_url}, "
                                    f"not {index_url}: `poetry source add --priority=primary {name} {index_url}`")
    fixable = [override for override in overrides if fix and override.path is not None and override.lines]
    if fixable:
        for path in sorted({override.path for override in fixable if override.path is not None}):
            lines = {line for override in fixable if override.path == path for line in override.lines}
            comment_out(path, lines)
            say(f"fixed: commented out line{'s' if len(lines) > 1 else ''} {', '.join(map(str, sorted(lines)))} "
                f"of {path}")
        return _preflight(tools, paths, environ, cwd, target, name, False, say, pip_files)
    problems += [f"{override.tool}: {override.message}" for override in overrides]
    for problem in problems:
        say(f"error: {problem}")
    if problems:
        say("Nothing was written: these would send a tool to another index, or over the files --write writes. "
            "Fix them (--fix comments out the lines of pip's and uv's files) and run again.")
    return bool(problems)


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
    config_path: Path,
    now: datetime,
    client_factory: ClientFactory,
    cwd: Path,
    fetch: doctor.Fetch,
    stdout: TextIO,
    say: Callable[[str], None],
) -> int:
    """--doctor: one line per tool (and per problem with AWS); exit 0 only when every tool is ready."""
    target = None
    try:
        values = registry_values(args, environ, config_path)
        name = source_name(values) if "source_name" in values else ""
        if names_a_registry(values):
            target, name = resolve_target(args, environ, config_path)
            name = name if "source_name" in values else ""
    except UsageError as error:
        say(f"error: {error}")
        return 2
    settings = tool_config.tool_settings(tools, environ, paths, name, cwd)

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
