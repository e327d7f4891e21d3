"""Lambda entry points: `promote` (every 15 minutes) and `pull_back` (daily).

promote: for each package in publicPackages (and each the store already held when the airlock was switched on),
every version on PyPI that the vetted repository does not hold yet is decided (promoter/admission.py); an admitted
or waived version is ingested through the store repository and copied into the vetted repository without overwrite,
newest first, while the run has time left; every decision goes to the ledger. A version in the vetted repository is
never decided again, whatever its status.

pull_back: every Published version in the vetted repository is checked against OSV again; one with a
malicious-package advisory, or (unless waived) an advisory at or above refuseSeverity, is set to Archived in
the vetted and the internal repository, never deleted; each pull-back goes to the ledger.

A package whose sources or repositories fail is left undecided for this run, the other packages go on, and
the run then fails naming every failure (a failed Lambda run is what the alarm watches).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Final

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from promoter.admission import Advisory, Candidate, Decision, Policy, advisory_reasons, decide, matching_waiver
from promoter.config import PromoterConfig, normalise_name
from promoter.ledger import Ledger, ObjectStore, Topic
from promoter.repository import RepositoryClient, RepositoryError, ingest
from promoter.sources import OSVClient, PyPIClient, Release, SourceError

if TYPE_CHECKING:
    from mypy_boto3_codeartifact.client import CodeArtifactClient

# Stop starting ingestions when less than this is left of the Lambda's time: the rest waits for the next run.
RESERVE_MILLISECONDS: Final = 120_000
FAILURES = (SourceError, RepositoryError, ClientError, BotoCoreError)


class RunError(RuntimeError):
    """Some packages could not be processed; the summary says what was done and what failed."""

    def __init__(self, summary: Mapping[str, object]) -> None:
        self.summary = summary
        super().__init__(f"the run failed for some packages: {summary.get('errors')}")


@dataclass
class Services:
    codeartifact: CodeArtifactClient
    s3: ObjectStore
    sns: Topic
    pypi: PyPIClient
    osv: OSVClient

    @classmethod
    def for_config(cls, config: PromoterConfig) -> Services:
        session = boto3.session.Session(region_name=config.region)
        return cls(
            codeartifact=session.client("codeartifact"),
            s3=session.client("s3"),
            sns=session.client("sns"),
            pypi=PyPIClient(config.pypi_url),
            osv=OSVClient(config.osv_url),
        )


@dataclass
class Summary:
    decisions: dict[str, list[str]] = field(default_factory=dict)
    recorded: int = 0
    deferred: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, outcome: str, item: str) -> None:
        self.decisions.setdefault(outcome, []).append(item)

    def as_dict(self) -> dict[str, object]:
        return {
            "decisions": self.decisions,
            "recorded": self.recorded,
            "deferred": self.deferred,
            "errors": self.errors,
        }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def ledger_record(
    kind: str,
    decision: Decision,
    candidate: Candidate,
    now: datetime,
    action: str,
    repositories: list[str],
) -> dict[str, object]:
    return {
        "kind": kind,
        "package": decision.name,
        "version": decision.version,
        "outcome": decision.outcome,
        "reasons": list(decision.reasons),
        "waiver": None
        if decision.waiver is None
        else {"version": decision.waiver.version, "reason": decision.waiver.reason},
        "uploadTime": _iso(candidate.upload_time),
        "advisories": [{"id": a.id, "severity": a.severity} for a in candidate.advisories],
        "licence": candidate.licence,
        "action": action,
        "repositories": repositories,
        "decidedAt": _iso(now),
    }


def _time_left(context: object) -> Callable[[], int | None]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        return lambda: None

    def left() -> int | None:
        value = remaining()
        return value if isinstance(value, int) else None

    return left


def run_promote(config: PromoterConfig, services: Services, now: datetime, context: object = None) -> dict[str, object]:
    policy = Policy.from_config(config)
    repositories = RepositoryClient(services.codeartifact, config)
    ledger = Ledger(services.s3, services.sns, config.ledger_bucket, config.topic_arn)
    summary = Summary()
    time_left = _time_left(context)
    access: tuple[str, str] | None = None  # the store's endpoint and a token, asked for once, when first needed

    for name in _candidates(config, repositories, summary.errors):
        try:
            project = services.pypi.project(name)
            present = repositories.versions(config.vetted_repository, name)
            undecided = [release for release in project.releases if release.version not in present]
            # Newest first: when a run runs out of time, what consumers most likely want went in first.
            undecided.sort(key=lambda r: r.upload_time or datetime.min.replace(tzinfo=timezone.utc), reverse=True)
            advisories = services.osv.advisories(name, [release.version for release in undecided])
            for release in undecided:
                candidate = _candidate(services, config, name, release, advisories[release.version])
                decision = decide(candidate, now, policy)
                action, held_in = "none", []
                if decision.admits:
                    left = time_left()
                    if left is not None and left < RESERVE_MILLISECONDS:
                        summary.deferred.append(f"{name}=={release.version}")
                        continue
                    if access is None:
                        access = (repositories.endpoint(config.store_repository), repositories.token())
                    ingest(access[0], access[1], name, release)
                    action = repositories.copy_to_vetted(name, release.version)
                    held_in = [config.vetted_repository]
                summary.add(decision.outcome, f"{name}=={release.version}")
                record = ledger_record("promote", decision, candidate, now, action, held_in)
                summary.recorded += ledger.record(record, now)
        except FAILURES as error:
            summary.errors.append(f"{name}: {error}")
    if summary.errors:
        raise RunError(summary.as_dict())
    return summary.as_dict()


def _candidates(config: PromoterConfig, repositories: RepositoryClient, errors: list[str]) -> Iterator[str]:
    """publicPackages, then every other package the store already holds: what consumers depended on when the
    airlock was switched on (the store was their upstream), which would otherwise vanish from the index. Only the
    promoter reads the store afterwards, so it holds nothing else. Listed after the allow-list's work is done."""
    yield from config.public_packages
    try:
        held = repositories.packages(config.store_repository)
    except FAILURES as error:
        errors.append(f"{config.store_repository}: {error}")
        return
    yield from sorted({normalise_name(name) for name in held} - set(config.public_packages))


def _candidate(
    services: Services, config: PromoterConfig, name: str, release: Release, advisories: tuple[Advisory, ...]
) -> Candidate:
    # The licence is the version's own (its metadata can differ from the latest release's); asked only when
    # a licence rule applies and there is a file to judge.
    licence = services.pypi.licence(name, release.version) if config.allowed_licenses and release.files else None
    return Candidate(
        name=name,
        version=release.version,
        upload_time=release.upload_time,
        advisories=advisories,
        licence=licence,
        yanked=release.yanked,
    )


def run_pull_back(config: PromoterConfig, services: Services, now: datetime) -> dict[str, object]:
    repositories = RepositoryClient(services.codeartifact, config)
    ledger = Ledger(services.s3, services.sns, config.ledger_bucket, config.topic_arn)
    summary = Summary()

    for name in repositories.packages(config.vetted_repository):
        try:
            vetted = repositories.versions(config.vetted_repository, name)
            internal = repositories.versions(config.internal_repository, name)
            # A version still Published in internal is checked too: a run that archived it in the vetted
            # repository and then failed finishes the job the next day.
            statuses = {config.vetted_repository: vetted, config.internal_repository: internal}
            published = [version for version in vetted if "Published" in (vetted[version], internal.get(version))]
            advisories = services.osv.advisories(name, published)
            flagged: dict[str, tuple[str, ...]] = {}
            for version in published:
                malicious, vulnerable = advisory_reasons(advisories[version], config.refuse_severity)
                waived = matching_waiver(name, version, config.waivers) is not None
                reasons = (*malicious, *([] if waived else vulnerable))
                if reasons:
                    flagged[version] = reasons
            archived: dict[str, list[str]] = {version: [] for version in flagged}
            for repository, held in statuses.items():
                to_archive = [version for version in flagged if held.get(version) == "Published"]
                for version in repositories.archive(repository, name, to_archive):
                    archived[version].append(repository)
            for version, reasons in flagged.items():
                decision = Decision(name, version, "refused", reasons)
                candidate = Candidate(name, version, None, advisories[version], None)
                record = ledger_record("pull_back", decision, candidate, now, "archived", archived[version])
                summary.add("archived", f"{name}=={version}")
                summary.recorded += ledger.record(record, now)
        except FAILURES as error:
            summary.errors.append(f"{name}: {error}")
    if summary.errors:
        raise RunError(summary.as_dict())
    return summary.as_dict()


def promote(event: object, context: object) -> dict[str, object]:
    config = PromoterConfig.from_environment()
    return run_promote(config, Services.for_config(config), datetime.now(timezone.utc), context)


def pull_back(event: object, context: object) -> dict[str, object]:
    config = PromoterConfig.from_environment()
    return run_pull_back(config, Services.for_config(config), datetime.now(timezone.utc))
