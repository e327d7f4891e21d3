"""The backup functions' configuration: one JSON document in the environment variable BACKUP_CONFIG.

`render_config` builds that document from plain values (the Pulumi program calls it with the stack's settings),
and `BackupConfig.from_environment` parses it in the Lambda; both go through the same validation, so a document
the program renders is one the functions accept. Every problem is reported at once, each naming its key.

The patterns repeat promoter/config.py's on purpose: each Lambda package ships its own folder only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

ENVIRONMENT_VARIABLE: Final = "BACKUP_CONFIG"

KEYS: Final = ("domain", "domainOwner", "region", "repository", "bucket", "topicArn", "retention")
RETENTION_KEYS: Final = ("archiveAfterDays", "keepNewest", "keep", "dryRun")
# The settings' defaults (model/names.py documents the same): archive dev and pre-release versions
# older than half a year, keep the newest five of each release series, and only plan until told otherwise.
RETENTION_DEFAULTS: Final[Mapping[str, object]] = {"archiveAfterDays": 180, "keepNewest": 5, "keep": [], "dryRun": True}

_PROJECT_NAME = re.compile(r"^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])\Z", re.IGNORECASE)
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+!-]*\Z")
_DOMAIN = re.compile(r"^[a-z][a-z0-9-]{0,48}[a-z0-9]\Z")
_REPOSITORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}\Z")
_ACCOUNT = re.compile(r"^[0-9]{12}\Z")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]\Z")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
# An SNS topic's ARN (the restore checks its --topic-arn by it too).
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?\Z")


class ConfigError(ValueError):
    """The configuration is invalid; `problems` lists every problem, each naming its key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid backup configuration:\n" + "\n".join(f"- {p}" for p in self.problems))


def normalise_name(name: str) -> str:
    """PEP 503 normalisation: runs of -, _ and . become one -, lower case."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_keep(spec: str) -> tuple[str, str]:
    """`name==version` into (normalised name, version); the version is kept exactly as written."""
    name, separator, version = spec.partition("==")
    name, version = name.strip(), version.strip()
    if not separator or not _PROJECT_NAME.match(name) or not _VERSION.match(version):
        raise ValueError(f"{spec!r} is not name==version (one exact version)")
    return normalise_name(name), version


@dataclass(frozen=True)
class Kept:
    """One exact version retention never archives."""

    name: str
    version: str


@dataclass(frozen=True)
class Retention:
    archive_after_days: int
    keep_newest: int
    keep: tuple[Kept, ...]
    dry_run: bool


@dataclass(frozen=True)
class BackupConfig:
    domain: str
    domain_owner: str
    region: str
    repository: str
    bucket: str
    topic_arn: str
    retention: Retention | None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> BackupConfig:
        environ = os.environ if environ is None else environ
        text = environ.get(ENVIRONMENT_VARIABLE)
        if text is None:
            raise ConfigError([f"{ENVIRONMENT_VARIABLE} is not set"])
        return cls.from_json(text)

    @classmethod
    def from_json(cls, text: str) -> BackupConfig:
        try:
            data = json.loads(text)
        except ValueError as error:
            raise ConfigError([f"{ENVIRONMENT_VARIABLE} is not JSON: {error}"]) from None
        if not isinstance(data, dict):
            raise ConfigError([f"{ENVIRONMENT_VARIABLE} is not a JSON object"])
        return cls.from_mapping(data)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> BackupConfig:
        reader = _Reader(data, KEYS, "")
        config = cls(
            domain=reader.string("domain", _DOMAIN),
            domain_owner=reader.string("domainOwner", _ACCOUNT),
            region=reader.string("region", _REGION),
            repository=reader.string("repository", _REPOSITORY),
            bucket=reader.string("bucket", _BUCKET),
            topic_arn=reader.string("topicArn", TOPIC_ARN),
            retention=_retention(reader),
        )
        reader.raise_problems()
        return config


def _retention(reader: _Reader) -> Retention | None:
    value = reader.data.get("retention")
    if value is None:  # missing is reported by the reader; null means no retention job
        return None
    if not isinstance(value, dict):
        reader.fail("retention", f"must be null or an object, not {type(value).__name__}")
        return None
    inner = _Reader(value, RETENTION_KEYS, "retention.")
    retention = Retention(
        archive_after_days=inner.integer("archiveAfterDays", minimum=1),
        keep_newest=inner.integer("keepNewest", minimum=0),
        keep=inner.kept("keep"),
        dry_run=inner.boolean("dryRun"),
    )
    reader.problems.extend(inner.problems)
    return retention


class _Reader:
    """Reads keys off untrusted JSON, collecting a problem per bad key instead of stopping at the first."""

    def __init__(self, data: Mapping[str, object], keys: Sequence[str], prefix: str) -> None:
        self.data = data
        self.prefix = prefix
        self.problems: list[str] = []
        for key in sorted(set(data) - set(keys)):
            self.problems.append(f"{prefix}{key}: unknown key")
        for key in keys:
            if key not in data:
                self.fail(key, "missing")

    def fail(self, key: str, message: str) -> None:
        self.problems.append(f"{self.prefix}{key}: {message}")

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

    def integer(self, key: str, minimum: int) -> int:
        value = self.data.get(key)
        if key not in self.data:
            return minimum
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, f"must be an integer of at least {minimum}, not {value!r}")
            return minimum
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key)
        if key not in self.data:
            return True
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {value!r}")
            return True  # a dry run changes nothing
        return value

    def kept(self, key: str) -> tuple[Kept, ...]:
        value = self.data.get(key)
        if key not in self.data:
            return ()
        if not isinstance(value, list):
            self.fail(key, f"must be a list, not {type(value).__name__}")
            return ()
        kept: list[Kept] = []
        for index, item in enumerate(value):
            where = f"[{index}]"
            if not isinstance(item, dict) or set(item) != {"name", "version"}:
                self.fail(key, f"{where} must be an object with exactly name and version")
                continue
            name, version = item["name"], item["version"]
            if not isinstance(name, str) or not _PROJECT_NAME.match(name) or normalise_name(name) != name:
                self.fail(key, f"{where}.name {name!r} is not a PEP 503-normalised package name")
            elif not isinstance(version, str) or not _VERSION.match(version):
                self.fail(key, f"{where}.version {version!r} is not one exact version")
            elif Kept(name, version) in kept:
                self.fail(key, f"{where} {name}=={version} is listed twice")
            else:
                kept.append(Kept(name, version))
        return tuple(kept)


def render_config(
    *,
    domain: str,
    domain_owner: str,
    region: str,
    repository: str,
    bucket: str,
    topic_arn: str,
    retention: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """The BACKUP_CONFIG document from the stack's settings, validated as the functions will read it.

    `retention` is the settings' object as written (`archiveAfterDays`, `keepNewest`, `keep` as
    `["name==version", ...]`, `dryRun`; a missing key takes its default), or None for no retention job.
    Raises ConfigError listing every problem.
    """
    problems: list[str] = []
    rendered: dict[str, object] | None = None
    if retention is not None:
        rendered = {**RETENTION_DEFAULTS, **retention}
        keep = rendered.get("keep")
        if isinstance(keep, list):
            entries: list[object] = []
            for index, spec in enumerate(keep):
                try:
                    name, version = parse_keep(str(spec))
                except ValueError as error:
                    problems.append(f"retention.keep[{index}]: {error}")
                    continue
                entries.append({"name": name, "version": version})
            rendered["keep"] = entries
    document: dict[str, object] = {
        "domain": domain,
        "domainOwner": domain_owner,
        "region": region,
        "repository": repository,
        "bucket": bucket,
        "topicArn": topic_arn,
        "retention": rendered,
    }
    try:
        BackupConfig.from_mapping(document)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)
    return document
