"""Where the registry comes from: flags, then --stack-outputs, then PYPI_LOGIN_* variables, then the
user config file that `pypi-login --configure` writes once, then the defaults below.

The defaults are the ones the CI action (.github/actions/codeartifact-install) and the Docker
recipe use too; tests/pypi_login/test_login_package.py holds those files to these values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The repository whose endpoint is the one index URL, and the name uv and poetry give that index.
DEFAULT_REPOSITORY = "internal"
DEFAULT_SOURCE_NAME = "internal"

# Applied with `fullmatch`: `re.match(r"^...$")` would accept a trailing newline. The program validates the same
# names by the same rules (model/rules.py; tests/pypi_login/test_login_package.py keeps them equal).
ACCOUNT_ID = re.compile(r"[0-9]{12}")
DOMAIN_NAME = re.compile(r"[a-z][a-z0-9-]{0,48}[a-z0-9]")
REPOSITORY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,99}")
# The action's rule too: it becomes part of variable names (UV_INDEX_<NAME>_PASSWORD).
SOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# A CodeArtifact `repositories` VPC endpoint's DNS name, used when its private DNS is off (AWS:
# "Use CodeArtifact from a VPC"): the token then goes to this host instead of the public one.
ENDPOINT_HOST = re.compile(r"vpce-[0-9a-f]+-[a-z0-9]+\.d\.codeartifact\.(?P<region>[a-z0-9-]+)\.vpce\.amazonaws\.com")

# field -> (config file key, environment variable, flag)
FIELDS = {
    "domain": ("domain", "PYPI_LOGIN_DOMAIN", "--domain"),
    "domain_owner": ("domain-owner", "PYPI_LOGIN_DOMAIN_OWNER", "--domain-owner"),
    "region": ("region", "PYPI_LOGIN_REGION", "--region"),
    "repository": ("repository", "PYPI_LOGIN_REPOSITORY", "--repository"),
    "endpoint_host": ("endpoint-host", "PYPI_LOGIN_ENDPOINT_HOST", "--endpoint-host"),
    "source_name": ("source-name", "PYPI_LOGIN_SOURCE_NAME", "--source-name"),
}
CONFIG_VARIABLE = "PYPI_LOGIN_CONFIG"


class ConfigError(Exception):
    """A config file or value that cannot be used: exit 2 with the rule that was broken."""


@dataclass(frozen=True)
class Value:
    value: object
    origin: str  # "--domain", "$PYPI_LOGIN_DOMAIN", "outputs.json (domainName)", "/home/me/.config/...", "default"


def config_file(environ: Mapping[str, str], home: Path, platform: str) -> Path:
    """The user config file: $PYPI_LOGIN_CONFIG, else pypi-login/config.json in the user's config directory."""
    if environ.get(CONFIG_VARIABLE):
        return Path(environ[CONFIG_VARIABLE])
    if platform == "win32":
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / "pypi-login" / "config.json"
    base = Path(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") else home / ".config"
    return base / "pypi-login" / "config.json"


def read_config(path: Path) -> dict[str, Value]:
    """The values in the config file (none when it does not exist); an unknown key is refused."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not JSON ({error}); write it again with `pypi-login --configure`") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object; write it again with `pypi-login --configure`")
    keys = {key: field for field, (key, _, _) in FIELDS.items()}
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise ConfigError(f"{path} has unknown keys {unknown} (known: {sorted(keys)}); nothing was done")
    return {keys[key]: Value(value, f"{path} ({key})") for key, value in data.items()}


def environment_values(environ: Mapping[str, str]) -> dict[str, Value]:
    return {field: Value(environ[variable], f"${variable}")
            for field, (_, variable, _) in FIELDS.items() if environ.get(variable)}


def render_config(values: Mapping[str, str]) -> str:
    """The config file's text for the resolved registry (fields with a value only)."""
    document = {FIELDS[field][0]: value for field, value in values.items() if value}
    return json.dumps(document, indent=2) + "\n"
