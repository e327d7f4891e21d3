"""The bucket's layout, named once (the program grants the functions exactly these prefixes; restore reads them):

- `packages/NAME/VERSION/FILENAME`: each asset's bytes, put with its SHA-256 checksum;
- `manifests/NAME/VERSION.json`: {"package", "version", "revision", "assets": [{"name", "sha256", "size"}],
  "eventDeduplicationId" and "sequenceNumber" (the event's; null when the reconciler copied it), "copiedAt"},
  written after every asset;
- `events/EVENT_DEDUP_ID`: an empty marker, put with If-None-Match so a redelivered event is seen as one (the id is
  base64, written in its URL-safe alphabet, "-" for "+" and "_" for "/", so that it stays one key segment);
- `plans/retention/TIMESTAMP.json`: each retention run's plan (dry run or applied) and its outcome.

Nothing is ever deleted or overwritten in place: the bucket is versioned and under Object Lock, so a rewritten
manifest (a new revision) keeps the old one as an older object version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Final

PACKAGES: Final = "packages/"
MANIFESTS: Final = "manifests/"
EVENTS: Final = "events/"
RETENTION_PLANS: Final = "plans/retention/"
# Where the functions put objects, and nowhere else.
PUT_PREFIXES: Final = (PACKAGES, MANIFESTS, EVENTS, RETENTION_PLANS)
# What they read back: the manifests (reconciliation, and the dedupe of a redelivered event).
READ_PREFIXES: Final = (MANIFESTS,)

# A path segment the bucket keys may hold: a package name, a version, a file name or an event id. No "/", no
# leading dot (so no "." or ".."), nothing outside the characters these are spelled with.
_SEGMENT: Final = re.compile(r"^[A-Za-z0-9_+!-][A-Za-z0-9._+!~-]{0,254}\Z")
# CodeArtifact's eventDeduplicationId, e.g. "2mEO0A2Ke07rWUTBXk3CAiQhdTXF4N94LNaT/ffffff=" (its documented example).
_EVENT_ID: Final = re.compile(r"^[A-Za-z0-9+/=_-]{1,512}\Z")


class LayoutError(ValueError):
    """A name that cannot be a key segment, or a manifest that is not one."""


def segment(value: str, what: str) -> str:
    if not _SEGMENT.match(value):
        raise LayoutError(f"{what} {value!r} cannot be part of a bucket key")
    return value


def package_key(package: str, version: str, filename: str) -> str:
    return f"{PACKAGES}{segment(package, 'package')}/{segment(version, 'version')}/{segment(filename, 'asset name')}"


def manifest_key(package: str, version: str) -> str:
    return f"{MANIFESTS}{segment(package, 'package')}/{segment(version, 'version')}.json"


def event_key(event_id: str) -> str:
    if not _EVENT_ID.match(event_id):
        raise LayoutError(f"eventDeduplicationId {event_id!r} is not the base64 text CodeArtifact sends")
    return EVENTS + event_id.replace("+", "-").replace("/", "_")


def plan_key(moment: datetime) -> str:
    return f"{RETENTION_PLANS}{moment.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}.json"


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Asset:
    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    package: str
    version: str
    revision: str
    assets: tuple[Asset, ...]
    event_deduplication_id: str | None
    copied_at: str
    # The event's sequenceNumber (its order among the version's changes); None for a copy the reconciler made.
    sequence_number: int | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "package": self.package,
            "version": self.version,
            "revision": self.revision,
            "assets": [{"name": a.name, "sha256": a.sha256, "size": a.size} for a in self.assets],
            "eventDeduplicationId": self.event_deduplication_id,
            "copiedAt": self.copied_at,
            "sequenceNumber": self.sequence_number,
        }

    @classmethod
    def from_dict(cls, data: object) -> Manifest:
        """Reads a manifest back; anything else raises LayoutError (a manifest not understood is not trusted)."""
        keys = {"package", "version", "revision", "assets", "eventDeduplicationId", "copiedAt", "sequenceNumber"}
        if not isinstance(data, Mapping) or set(data) != keys:
            raise LayoutError(f"not a manifest: expected exactly the keys {sorted(keys)}")
        assets: list[Asset] = []
        for item in data["assets"] if isinstance(data["assets"], list) else [None]:
            if (
                not isinstance(item, Mapping)
                or set(item) != {"name", "sha256", "size"}
                or not isinstance(item["name"], str)
                or not isinstance(item["sha256"], str)
                or not re.fullmatch(r"[0-9a-f]{64}", item["sha256"])
                or isinstance(item["size"], bool)
                or not isinstance(item["size"], int)
            ):
                raise LayoutError(f"not a manifest: asset {item!r}")
            assets.append(Asset(item["name"], item["sha256"], item["size"]))
        strings = [data[key] for key in ("package", "version", "revision", "copiedAt")]
        event_id = data["eventDeduplicationId"]
        if not all(isinstance(value, str) for value in strings) or not (event_id is None or isinstance(event_id, str)):
            raise LayoutError("not a manifest: package, version, revision and copiedAt must be strings")
        sequence = data["sequenceNumber"]
        if sequence is not None and (isinstance(sequence, bool) or not isinstance(sequence, int)):
            raise LayoutError("not a manifest: sequenceNumber must be a whole number or null")
        return cls(
            package=str(data["package"]),
            version=str(data["version"]),
            revision=str(data["revision"]),
            assets=tuple(assets),
            event_deduplication_id=event_id,
            copied_at=str(data["copiedAt"]),
            sequence_number=sequence,
        )
