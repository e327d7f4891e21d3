"""The promoter's configuration: one JSON document in the environment variable PROMOTER_CONFIG.

`render_config` builds that document from plain values (the Pulumi program calls it with the stack's
settings), and `PromoterConfig.from_environment` parses it in the Lambda; both go through the same
validation, so a document the program renders is one the promoter accepts. Every problem is reported at
once, each naming its key.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

ENVIRONMENT_VARIABLE: Final = "PROMOTER_CONFIG"
DEFAULT_PYPI_URL: Final = "https://pypi.org"
DEFAULT_OSV_URL: Final = "https://api.osv.dev"

# OSV's qualitative severities (GitHub's advisory database writes MODERATE where CVSS says MEDIUM), lowest first.
SEVERITIES: Final = ("LOW", "MODERATE", "HIGH", "CRITICAL")

KEYS: Final = (
    "domain",
    "domainOwner",
    "region",
    "storeRepository",
    "vettedRepository",
    "internalRepository",
    "publicPackages",
    "cooldownSeconds",
    "waivers",
    "refuseSeverity",
    "allowedLicenses",
    "ledgerBucket",
    "topicArn",
    "pypiUrl",
    "osvUrl",
)

_PROJECT_NAME = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])\Z", re.IGNORECASE)
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*\Z")
_DOMAIN = re.compile(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]\Z")
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}\Z")
_ACCOUNT = re.compile(r"^[0-9]{12}\Z")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]\Z")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")
# An SPDX identifier, or one with its exception ("GPL-2.0-only WITH Classpath-exception-2.0").
_LICENCE = re.compile(r"^[A-Za-z0-9.+-]+( WITH [A-Za-z0-9.+-]+)?\Z")
_DURATION = re.compile(r"^([0-9]+)([dhm])\Z")
_DURATION_UNITS: Final = {"d": 86400, "h": 3600, "m": 60}
_LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class ConfigError(ValueError):
    """The configuration is invalid; `problems` lists every problem, each naming its key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid promoter configuration:\n" + "\n".join(f"- {p}" for p in self.problems))


def normalise_name(name: str) -> str:
    """PEP 503 normalisation: runs of -, _ and . become one -, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def duration_seconds(duration: str) -> int:
    """A cooldown as the settings write it ("3d", "12h", "90m") in seconds."""
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(f"duration {duration!r} is not <int>d, <int>h or <int>m")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_waiver_package(spec: str) -> tuple[str, str]:
    """`name==version` into (normalised name, version); the version is kept exactly as written."""
    name, separator, version = spec.partition("==")
    name, version = name.strip(), version.strip()
    if not separator or not _PROJECT_NAME.match(name) or not _VERSION.match(version):
        raise ValueError(f"{spec!r} is not name==version (one exact version)")
    return normalise_name(name), version


@dataclass(frozen=True)
class Waiver:
    """A reviewed exception for one exact version of one package."""

    name: str
    version: str
    reason: str

    def matches(self, name: str, version: str) -> bool:
        return self.name == normalise_name(name) and self.version == version


@dataclass(frozen=True)
class PromoterConfig:
    domain: str
    domain_owner: str
    region: str
    store_repository: str
    vetted_repository: str
    internal_repository: str
    public_packages: tuple[str, ...]
    cooldown_seconds: int
    waivers: tuple[Waiver, ...]
    refuse_severity: str
    allowed_licenses: tuple[str, ...]
    ledger_bucket: str
    topic_arn: str
    pypi_url: str
    osv_url: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> PromoterConfig:
        environ = os.environ if environ is None else environ
        text = environ.get(ENVIRONMENT_VARIABLE)
        if text is None:
            raise ConfigError([f"{ENVIRONMENT_VARIABLE} is not set"])
        return cls.from_json(text)

    @classmethod
    def from_json(cls, text: str) -> PromoterConfig:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError([f"{ENVIRONMENT_VARIABLE} is not JSON: {error}"]) from None
        if not isinstance(data, dict):
            raise ConfigError([f"{ENVIRONMENT_VARIABLE} is not a JSON object"])
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> PromoterConfig:
        reader = _Reader(data)
        config = cls(
            domain=reader.string("domain", _DOMAIN),
            domain_owner=reader.string("domainOwner", _ACCOUNT),
            region=reader.string("region", _REGION),
            store_repository=reader.string("storeRepository", _REPOSITORY),
            vetted_repository=reader.string("vettedRepository", _REPOSITORY),
            internal_repository=reader.string("internalRepository", _REPOSITORY),
            public_packages=reader.package_names("publicPackages"),
            cooldown_seconds=reader.non_negative_int("cooldownSeconds"),
            waivers=reader.waivers("waivers"),
            refuse_severity=reader.severity("refuseSeverity"),
            allowed_licenses=reader.licences("allowedLicenses"),
            ledger_bucket=reader.string("ledgerBucket", _BUCKET),
            topic_arn=reader.string("topicArn", _TOPIC_ARN),
            pypi_url=reader.url("pypiUrl"),
            osv_url=reader.url("osvUrl"),
        )
        repositories = {
            "storeRepository": config.store_repository,
            "vettedRepository": config.vetted_repository,
            "internalRepository": config.internal_repository,
        }
        if reader.ok() and len(set(repositories.values())) != len(repositories):
            reader.problem("storeRepository, vettedRepository and internalRepository must be three repositories")
        listed = set(config.public_packages)
        for index, waiver in enumerate(config.waivers):
            if reader.ok_key("publicPackages") and waiver.name not in listed:
                reader.problem(f"waivers[{index}]: {waiver.name!r} is not in publicPackages")
        reader.raise_problems()
        return config


class _Reader:
    """Reads keys off untrusted JSON, collecting a problem per bad key instead of stopping at the first."""

    def __init__(self, data: Mapping[str, object]) -> None:
        self.data = data
        self.problems: list[str] = []
        self.bad_keys: set[str] = set()
        for key in sorted(set(data) - set(KEYS)):
            self.problems.append(f"{key}: unknown key")
        for key in KEYS:
            if key not in data:
                self.fail(key, "missing")

    def fail(self, key: str, message: str) -> None:
        self.bad_keys.add(key)
        self.problems.append(f"{key}: {message}")

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def ok(self) -> bool:
        return not self.problems

    def ok_key(self, key: str) -> bool:
        return key not in self.bad_keys

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)

    def string(self, key: str, pattern: re.Pattern[str]) -> str:
        value = self.data.get(key)
        if key not in self.data:
            return ""
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(key, f"{value!r} does not match {pattern.pattern}")
            return ""
        return value

    def _list(self, key: str) -> list[object]:
        value = self.data.get(key)
        if key not in self.data:
            return []
        if not isinstance(value, list):
            self.fail(key, f"must be a list, not {type(value).__name__}")
            return []
        return value

    def package_names(self, key: str) -> tuple[str, ...]:
        names: list[str] = []
        for index, item in enumerate(self._list(key)):
            if not isinstance(item, str) or not _PROJECT_NAME.match(item):
                self.fail(key, f"[{index}] {item!r} is not a package name")
            elif normalise_name(item) != item:
                self.fail(key, f"[{index}] {item!r} is not PEP 503-normalised ({normalise_name(item)!r})")
            elif item in names:
                self.fail(key, f"[{index}] {item!r} is listed twice")
            else:
                names.append(item)
        return tuple(names)

    def non_negative_int(self, key: str) -> int:
        value = self.data.get(key)
        if key not in self.data:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, f"must be a non-negative integer, not {value!r}")
            return 0
        return value

    def severity(self, key: str) -> str:
        value = self.data.get(key)
        if key not in self.data:
            return SEVERITIES[0]
        if not isinstance(value, str) or value not in SEVERITIES:
            self.fail(key, f"{value!r} is not one of {', '.join(SEVERITIES)}")
            return SEVERITIES[0]
        return value

    def licences(self, key: str) -> tuple[str, ...]:
        licences: list[str] = []
        for index, item in enumerate(self._list(key)):
            if not isinstance(item, str) or not _LICENCE.match(item):
                self.fail(key, f"[{index}] {item!r} is not an SPDX licence identifier")
            elif item.casefold() in (known.casefold() for known in licences):
                self.fail(key, f"[{index}] {item!r} is listed twice")
            else:
                licences.append(item)
        return tuple(licences)

    def waivers(self, key: str) -> tuple[Waiver, ...]:
        waivers: list[Waiver] = []
        for index, item in enumerate(self._list(key)):
            where = f"[{index}]"
            if not isinstance(item, dict) or set(item) != {"name", "version", "reason"}:
                self.fail(key, f"{where} must be an object with exactly name, version and reason")
                continue
            name, version, reason = item["name"], item["version"], item["reason"]
            if not isinstance(name, str) or not _PROJECT_NAME.match(name) or normalise_name(name) != name:
                self.fail(key, f"{where}.name {name!r} is not a PEP 503-normalised package name")
            elif not isinstance(version, str) or not _VERSION.match(version):
                self.fail(key, f"{where}.version {version!r} is not one exact version")
            elif not isinstance(reason, str) or not reason.strip():
                self.fail(key, f"{where}.reason must be a non-empty string")
            elif any(w.name == name and w.version == version for w in waivers):
                self.fail(key, f"{where} {name}=={version} is waived twice")
            else:
                waivers.append(Waiver(name=name, version=version, reason=reason))
        return tuple(waivers)

    def url(self, key: str) -> str:
        value = self.data.get(key)
        if key not in self.data:
            return ""
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {value!r}")
            return ""
        parts = urlsplit(value)
        # Plain http only to a loopback stand-in (tests); anything reachable over a network is https.
        if (
            not parts.hostname
            or parts.query
            or parts.fragment
            or not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS))
        ):
            self.fail(key, f"{value!r} is not an https URL without query or fragment")
            return ""
        return value.rstrip("/")


def render_config(
    *,
    domain: str,
    domain_owner: str,
    region: str,
    store_repository: str,
    vetted_repository: str,
    internal_repository: str,
    public_packages: Sequence[str],
    cooldown: str | int,
    waivers: Sequence[Mapping[str, str]],
    refuse_severity: str,
    allowed_licenses: Sequence[str],
    ledger_bucket: str,
    topic_arn: str,
    pypi_url: str = DEFAULT_PYPI_URL,
    osv_url: str = DEFAULT_OSV_URL,
) -> dict[str, object]:
    """The PROMOTER_CONFIG document from the stack's settings, validated as the promoter will read it.

    `cooldown` is the settings' duration ("3d", "12h", "90m") or seconds; `waivers` are the settings'
    entries, `{"package": "name==version", "reason": "..."}`. Raises ConfigError listing every problem.
    """
    problems: list[str] = []
    cooldown_seconds: object = cooldown
    if isinstance(cooldown, str):
        try:
            cooldown_seconds = duration_seconds(cooldown)
        except ValueError as error:
            problems.append(f"cooldownSeconds: {error}")
            cooldown_seconds = 0
    rendered_waivers: list[object] = []
    for index, waiver in enumerate(waivers):
        try:
            name, version = parse_waiver_package(str(waiver.get("package", "")))
        except ValueError as error:
            problems.append(f"waivers[{index}].package: {error}")
            continue
        rendered_waivers.append({"name": name, "version": version, "reason": waiver.get("reason", "")})
    document: dict[str, object] = {
        "domain": domain,
        "domainOwner": domain_owner,
        "region": region,
        "storeRepository": store_repository,
        "vettedRepository": vetted_repository,
        "internalRepository": internal_repository,
        "publicPackages": list(public_packages),
        "cooldownSeconds": cooldown_seconds,
        "waivers": rendered_waivers,
        "refuseSeverity": refuse_severity,
        "allowedLicenses": list(allowed_licenses),
        "ledgerBucket": ledger_bucket,
        "topicArn": topic_arn,
        "pypiUrl": pypi_url,
        "osvUrl": osv_url,
    }
    try:
        PromoterConfig.from_mapping(document)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return document
