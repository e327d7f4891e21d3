"""Retention selection, a pure function: which versions of a repository to archive.

A version is archived only when every one of these holds:
- it is a dev or pre-release version (PEP 440; backup/pep440.py), never a final or post release;
- its status is Published (an Archived, Unlisted, Disposed or Deleted version is left as it is, and so is any
  status this code does not know);
- it was published at least `archive_after_days` days before `now` (a version without a published time is kept);
- it is not among the newest `keep_newest` dev and pre-release versions of its release series (series: the
  release segment without trailing zeros, so 2.1.0rc1 and 2.1.dev3 are both in 2.1), counted over every
  version that still has its files (Published, Unlisted, Archived, Unfinished), newest by published time;
- the keep-list does not name it (name PEP 503-normalised, versions equal under PEP 440: 7.0rc1 is 7.0.0-RC1).

A version that is not PEP 440 is never archived and is reported (`unreadable`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Final

from backup.config import Kept, Retention, normalise_name
from backup.pep440 import Version, VersionError, parse, same_version

ARCHIVABLE_STATUS: Final = "Published"
# The statuses whose versions still have their files, so count as "the newest of a series".
RANKED_STATUSES: Final = frozenset({"Published", "Unlisted", "Archived", "Unfinished"})
_OLDEST: Final = datetime.min.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class HeldVersion:
    """One version of one package as the repository lists it."""

    package: str
    version: str
    status: str
    published: datetime | None


@dataclass(frozen=True)
class Selection:
    archive: tuple[HeldVersion, ...]
    unreadable: tuple[HeldVersion, ...]


def is_kept(package: str, version: str, keep: Iterable[Kept]) -> bool:
    name = normalise_name(package)
    return any(kept.name == name and same_version(kept.version, version) for kept in keep)


def select(held: Sequence[HeldVersion], now: datetime, retention: Retention) -> Selection:
    """The versions to archive (sorted by package, then version) and the ones that are not PEP 440."""
    cutoff = now - timedelta(days=retention.archive_after_days)
    unreadable: list[HeldVersion] = []
    series: dict[tuple[str, str], list[HeldVersion]] = defaultdict(list)
    for item in held:
        try:
            parsed: Version = parse(item.version)
        except VersionError:
            unreadable.append(item)
            continue
        if parsed.is_dev_or_pre_release and item.status in RANKED_STATUSES:
            series[(normalise_name(item.package), parsed.series)].append(item)
    archive: list[HeldVersion] = []
    for members in series.values():
        # Newest first; equal times fall back to the version text so the order never depends on the input's.
        members.sort(key=lambda m: (m.published or _OLDEST, m.version), reverse=True)
        for item in members[retention.keep_newest :]:
            if (
                item.status == ARCHIVABLE_STATUS
                and item.published is not None
                and item.published <= cutoff
                and not is_kept(item.package, item.version, retention.keep)
            ):
                archive.append(item)
    archive.sort(key=lambda m: (m.package, m.version))
    unreadable.sort(key=lambda m: (m.package, m.version))
    return Selection(archive=tuple(archive), unreadable=tuple(unreadable))
