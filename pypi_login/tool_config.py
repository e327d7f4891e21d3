"""What pip, uv and poetry would use now: the configuration each tool itself reads (environment
variables first, then the user files pypi-login writes, and for poetry the project's pyproject.toml),
for `--status` here and for `--doctor` (pypi_login/doctor.py), which then asks the index with it.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pypi_login import clients
from pypi_login.config import DEFAULT_SOURCE_NAME
from pypi_login.config_text import config_entries, parse_toml, read_text, split_credentials
from pypi_login.overrides import pip_overrides, uv_overrides


@dataclass(frozen=True)
class Setting:
    """What one tool would use now. `where` names the source: "$VARIABLE" or a file path."""

    tool: str
    where: str
    index_url: str | None  # without credentials, ending in "/"
    username: str | None = None
    token: str | None = field(default=None, repr=False)
    expires: datetime | None = None
    problems: tuple[str, ...] = ()  # configuration that is wrong whatever the token (a second index)
    missing: str = ""  # what was looked at, for "no token"


def _stamped_expiry(text: str, token: str | None) -> datetime | None:
    """The expiry pypi-login recorded in the file, if it was recorded for this token."""
    found = clients.STAMP.search(text)
    return clients.recorded_expiry(found["record"], token) if found else None


def _recorded_expiry(environ: Mapping[str, str], tool: str, token: str | None) -> datetime | None:
    return clients.recorded_expiry(environ.get(clients.expiry_variable(tool)), token)


def pip_setting(environ: Mapping[str, str], path: Path) -> Setting:
    site = [Path(environ["VIRTUAL_ENV"]) / "pip.conf"] if environ.get("VIRTUAL_ENV") else []
    problems = [found.message for found in pip_overrides(environ, path, [path, *site], index_variable=False)]
    text = read_text(path)
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        problems.append(f"{path} is not a valid pip configuration file")
    options: dict[str, str] = {}
    for section in ("global", "install"):  # pip applies [install] over [global]
        if parser.has_section(section):
            options.update({key.replace("_", "-"): value for key, value in parser.items(section)})
    if environ.get("PIP_INDEX_URL"):
        url, username, token = split_credentials(environ["PIP_INDEX_URL"])
        return Setting("pip", "$PIP_INDEX_URL", url, username, token, _recorded_expiry(environ, "pip", token),
                       tuple(problems))
    if options.get("index-url"):
        url, username, token = split_credentials(options["index-url"])
        return Setting("pip", str(path), url, username, token, _stamped_expiry(text, token), tuple(problems))
    return Setting("pip", "", None, problems=tuple(problems),
                   missing=f"$PIP_INDEX_URL is not set and {path} has no index-url")


def uv_setting(environ: Mapping[str, str], path: Path, project: Path | None = None) -> Setting:
    value, where = environ.get("UV_DEFAULT_INDEX") or environ.get("UV_INDEX_URL"), ""
    name = None
    text: str | None = None  # the file's text, when the setting comes from the file
    if value:
        where = "$UV_DEFAULT_INDEX" if environ.get("UV_DEFAULT_INDEX") else "$UV_INDEX_URL"
        named = re.fullmatch(r"(?P<name>[A-Za-z0-9_.-]+)=(?P<url>https?://.*)", value)
        if named:
            name, value = named["name"], named["url"]
    else:
        text = read_text(path)
        settings = parse_toml(text)
        indexes = [index for index in settings.get("index", []) if isinstance(index, dict)]
        default = [index for index in indexes if index.get("default")]
        if default and isinstance(default[0].get("url"), str):
            value, name, where = default[0]["url"], default[0].get("name"), str(path)
        elif isinstance(settings.get("index-url"), str):
            value, where = settings["index-url"], str(path)
    configured = split_credentials(value)[0] if value else None
    problems = [found.message for found in uv_overrides(environ, path, project, configured, index_variables=False)]
    if not value:
        return Setting("uv", "", None, problems=tuple(problems),
                       missing=f"$UV_DEFAULT_INDEX is not set and {path} declares no default index")
    url, username, token = split_credentials(value)
    if token is None and isinstance(name, str):
        prefix = clients.uv_variable(name)
        username = environ.get(f"{prefix}_USERNAME", username)
        token = environ.get(f"{prefix}_PASSWORD") or None
    expires = _recorded_expiry(environ, "uv", token) if text is None else _stamped_expiry(text, token)
    return Setting("uv", where, url, username, token, expires, tuple(problems))


@dataclass(frozen=True)
class PoetrySource:
    name: str
    url: str
    priority: str


def project_sources(project: Path) -> list[PoetrySource] | None:
    """[[tool.poetry.source]] of the project in `project`, or None without a pyproject.toml."""
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return None
    tool = parse_toml(read_text(pyproject)).get("tool", {})
    entries = tool.get("poetry", {}).get("source", []) if isinstance(tool, dict) else []
    return [PoetrySource(str(entry.get("name", "")), str(entry.get("url", "")), str(entry.get("priority", "primary")))
            for entry in entries if isinstance(entry, dict)]


def poetry_setting(environ: Mapping[str, str], path: Path, source_name: str, project: Path,
                   default_name: str) -> Setting:
    """Poetry sends the credentials of the source named in the project: check that name's."""
    sources = project_sources(project)
    problems = []
    text = read_text(path)
    stored = parse_toml(text).get("http-basic", {})
    stored = stored if isinstance(stored, dict) else {}
    if source_name:
        name = source_name
    elif sources:
        primary = [source for source in sources if source.priority == "primary"] or sources
        name = primary[0].name
    else:
        found = clients.poetry_password_variables(environ)
        name = (found[0][len("POETRY_HTTP_BASIC_"):-len("_PASSWORD")].lower() if found
                else str(next(iter(stored), default_name)))
    if not name:
        return Setting("poetry", "", None, missing=(
            f"no POETRY_HTTP_BASIC_<SOURCE>_PASSWORD is set, {path} holds no credentials and no pyproject.toml "
            "here names a source"))
    variable = clients.poetry_variable(name)
    # Poetry also reads a source's URL from POETRY_REPOSITORIES_<NAME>_URL.
    url_variable = "POETRY_REPOSITORIES_" + variable[len("POETRY_HTTP_BASIC_"):] + "_URL"
    url = split_credentials(environ[url_variable])[0] if environ.get(url_variable) else None
    if sources is not None:
        named = [source for source in sources if clients.poetry_variable(source.name) == variable]
        if named and url is None:
            url = split_credentials(named[0].url)[0]
        if not named:
            problems.append(f"{project / 'pyproject.toml'} has no source named {name!r}: run `poetry source add "
                            f"--priority=primary {name} <index URL>`")
        pyproject = project / "pyproject.toml"
        headers = [line for table, _, key, line, _ in config_entries(read_text(pyproject))
                   if table == "tool.poetry.source" and not key]
        for number, source in enumerate(sources):
            where = f"{pyproject}:{headers[number]}" if number < len(headers) else str(pyproject)
            if clients.poetry_variable(source.name) != variable and source.priority not in ("explicit",):
                problems.append(f"{where} also declares source {source.name!r} (priority {source.priority}): a "
                                f"second index (dependency confusion): remove it (`poetry source remove {source.name}`)"
                                " or make it explicit")
            elif clients.poetry_variable(source.name) == variable and source.priority != "primary":
                problems.append(f"{where} declares source {source.name!r} with priority {source.priority}: poetry "
                                f"then installs from PyPI; make it primary (`poetry source add --priority=primary "
                                f"{source.name} <index URL>`)")
    where, username, token, expires = "", None, None, None
    if environ.get(f"{variable}_PASSWORD"):
        where = f"${variable}_PASSWORD"
        username, token = environ.get(f"{variable}_USERNAME"), environ[f"{variable}_PASSWORD"]
        expires = _recorded_expiry(environ, "poetry", token)
    else:
        entry = next((value for key, value in stored.items()
                      if clients.poetry_variable(str(key)) == variable and isinstance(value, dict)), None)
        if entry and entry.get("password"):
            where, username, token = str(path), entry.get("username"), str(entry["password"])
            expires = _stamped_expiry(text, token)
    others = [found for found in clients.poetry_password_variables(environ) if found != f"{variable}_PASSWORD"]
    missing = f"${variable}_PASSWORD is not set and {path} holds no credentials for source {name!r}"
    if others:
        missing += f" (a token is in ${others[0]}, for another source name: pass --source-name)"
    return Setting("poetry", where or str(project / "pyproject.toml"), url, username, token, expires,
                   tuple(problems), missing=missing)


def tool_settings(tools: Sequence[str], environ: Mapping[str, str], paths: clients.ConfigPaths, source_name: str,
                  project: Path) -> list[Setting]:
    """What each tool would use now. `source_name` "" lets poetry's come from the project."""
    settings = []
    for tool in tools:
        if tool == "pip":
            settings.append(pip_setting(environ, paths.pip))
        elif tool == "uv":
            settings.append(uv_setting(environ, paths.uv, project))
        else:
            settings.append(poetry_setting(environ, paths.poetry, source_name, project, DEFAULT_SOURCE_NAME))
    return settings


def status(setting: Setting, now: datetime) -> tuple[bool, str]:
    """`--status`: (usable, line). Only a token whose expiry pypi-login recorded with it, still ahead, is usable."""
    tool, where = setting.tool, setting.where
    again = f"run `pypi-login --write --tool {tool}` (or eval the printed exports)"
    if setting.token is None:
        unset = setting.missing or f"{where} names {setting.index_url} without a token"
        return False, f"{tool}: token missing: {unset}; {again}"
    if setting.expires is None:
        return False, (f"{tool}: expiry unknown: no pypi-login record of when the token in {where} expires "
                       f"(${clients.expiry_variable(tool)} beside a variable, a stamp in a file, each for this very "
                       f"token); {again}")
    if setting.expires <= now:
        return False, f"{tool}: token in {where} expired {clients.describe_expiry(setting.expires, now)}; {again}"
    return True, f"{tool}: token in {where} valid until {clients.describe_expiry(setting.expires, now)}"
