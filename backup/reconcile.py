"""Reconciliation, a pure function: which versions the repository holds that the bucket's manifests do not cover.

Every version that still has its files is backed up, whatever its status: Published, Unlisted and Archived
(retention archives dev versions; they are still wanted back after a loss). Disposed and Deleted versions have
no files left; Unfinished ones are still being uploaded, and are copied once Published (their event, or the next
reconciliation). A status this code does not know is reported, never skipped silently.

A version is copied when it has no manifest, or when its manifest was written for another revision (its files
or metadata changed since).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

BACKED_UP_STATUSES: Final = frozenset({"Published", "Unlisted", "Archived"})
NOT_BACKED_UP_STATUSES: Final = frozenset({"Unfinished", "Disposed", "Deleted"})


@dataclass(frozen=True)
class ListedVersion:
    """One version as ListPackageVersions returns it."""

    package: str
    version: str
    revision: str
    status: str


@dataclass(frozen=True)
class Reconciliation:
    copy: tuple[ListedVersion, ...]
    up_to_date: int
    unknown_status: tuple[ListedVersion, ...]


def reconcile(listed: Sequence[ListedVersion], manifests: Mapping[tuple[str, str], str]) -> Reconciliation:
    """`manifests` maps (package, version) to the revision its manifest records."""
    copy: list[ListedVersion] = []
    unknown: list[ListedVersion] = []
    up_to_date = 0
    for item in listed:
        if item.status in NOT_BACKED_UP_STATUSES:
            continue
        if item.status not in BACKED_UP_STATUSES:
            unknown.append(item)
            continue
        if manifests.get((item.package, item.version)) == item.revision:
            up_to_date += 1
        else:
            copy.append(item)
    copy.sort(key=lambda v: (v.package, v.version))
    return Reconciliation(copy=tuple(copy), up_to_date=up_to_date, unknown_status=tuple(unknown))
