"""CodeArtifact's "Package Version State Change" events as the copy function receives them (each SQS message body
is the EventBridge event), and the EventBridge pattern that routes them to the queue.

Fields are CodeArtifact's documented event format (CodeArtifact user guide, "CodeArtifact event format and
example"): detail.domainName, domainOwner, repositoryName, packageFormat, packageName, packageVersion,
packageVersionState, packageVersionRevision, operationType, sequenceNumber, eventDeduplicationId.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from backup.config import BackupConfig

SOURCE: Final = "aws.codeartifact"
DETAIL_TYPE: Final = "CodeArtifact Package Version State Change"
FORMAT: Final = "pypi"
OPERATIONS: Final = frozenset({"Created", "Updated", "Deleted"})
STATES: Final = frozenset({"Unfinished", "Published", "Unlisted", "Archived", "Disposed", "Deleted"})


class EventError(ValueError):
    """A message that is not a CodeArtifact event this function understands: it fails, and after the queue's
    retries it lands in the dead-letter queue, where someone sees it."""


@dataclass(frozen=True)
class VersionEvent:
    package: str
    version: str
    revision: str | None
    state: str
    operation: str
    sequence_number: int | None
    deduplication_id: str


@dataclass(frozen=True)
class Ignored:
    """A well-formed event with nothing to copy (another repository, a status change away from Published)."""

    reason: str


def event_pattern(*, domain: str, domain_owner: str, repository: str) -> dict[str, object]:
    """The EventBridge rule's pattern: every version change in this one repository (the function decides which
    to copy, so that an event it does not understand is reported rather than filtered out unseen)."""
    return {
        "source": [SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"domainName": [domain], "domainOwner": [domain_owner], "repositoryName": [repository]},
    }


def _text(detail: Mapping[str, object], key: str) -> str:
    value = detail.get(key)
    if not isinstance(value, str) or not value:
        raise EventError(f"detail.{key} is {value!r}, not a non-empty string")
    return value


def parse_event(body: str, config: BackupConfig) -> VersionEvent | Ignored:
    """The event in an SQS message body: a version to copy, one to ignore (and why), or EventError."""
    try:
        event = json.loads(body)
    except ValueError as error:
        raise EventError(f"the message body is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise EventError("the message body is not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise EventError(
            f"not a {DETAIL_TYPE!r} event from {SOURCE}: source {event.get('source')!r}, "
            f"detail-type {event.get('detail-type')!r}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventError("the event has no detail object")
    where = (_text(detail, "domainName"), _text(detail, "domainOwner"), _text(detail, "repositoryName"))
    if where != (config.domain, config.domain_owner, config.repository):
        return Ignored(f"{'/'.join(where)} is not {config.domain_owner}/{config.domain}/{config.repository}")
    package_format = _text(detail, "packageFormat")
    if package_format != FORMAT:
        raise EventError(f"packageFormat {package_format!r}: only {FORMAT} versions are backed up")
    state, operation = _text(detail, "packageVersionState"), _text(detail, "operationType")
    if state not in STATES:
        raise EventError(f"packageVersionState {state!r} is not one of {sorted(STATES)}")
    if operation not in OPERATIONS:
        raise EventError(f"operationType {operation!r} is not one of {sorted(OPERATIONS)}")
    revision = detail.get("packageVersionRevision")
    sequence = detail.get("sequenceNumber")
    parsed = VersionEvent(
        package=_text(detail, "packageName"),
        version=_text(detail, "packageVersion"),
        revision=revision if isinstance(revision, str) and revision else None,
        state=state,
        operation=operation,
        sequence_number=sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None,
        deduplication_id=_text(detail, "eventDeduplicationId"),
    )
    if operation == "Deleted" or state != "Published":
        return Ignored(f"{parsed.package} {parsed.version}: {operation} {state}, nothing new to copy")
    return parsed
