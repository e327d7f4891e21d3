"""The admission decision: property tests over random candidates, times and policies, then the cases by name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from promoter.admission import (
    Advisory,
    Candidate,
    Policy,
    decide,
    licence_allowed,
    matching_waiver,
    severity_refuses,
)
from promoter.config import SEVERITIES, Waiver, normalise_name

UTC = timezone.utc
NAMES = ["requests", "Zope.Interface", "zope_interface", "attrs", "typing-extensions"]
VERSIONS = ["1.0", "1.0.0", "1.0.1", "2.0rc1", "2.0", "10.2.post1"]
LICENCES = ["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-3.0-only", "MIT OR GPL-3.0-only", "MIT AND GPL-3.0-only", None]

moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))
cooldowns = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))
advisories = st.builds(
    Advisory,
    id=st.sampled_from(["GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1", "MAL-2025-42", "CVE-2024-0001"]),
    severity=st.sampled_from([*SEVERITIES, None]),
)
candidates = st.builds(
    Candidate,
    name=st.sampled_from(NAMES),
    version=st.sampled_from(VERSIONS),
    upload_time=st.one_of(st.none(), moments),
    advisories=st.lists(advisories, max_size=3).map(tuple),
    licence=st.sampled_from(LICENCES),
    yanked=st.booleans(),
)
waivers = st.builds(
    Waiver,
    name=st.sampled_from(NAMES).map(normalise_name),
    version=st.sampled_from(VERSIONS),
    reason=st.just("reviewed"),
)
policies = st.builds(
    Policy,
    cooldown=cooldowns,
    refuse_severity=st.sampled_from(SEVERITIES),
    allowed_licenses=st.sampled_from([(), ("MIT",), ("MIT", "Apache-2.0"), ("GPL-3.0-only",)]),
    waivers=st.lists(waivers, max_size=3, unique_by=lambda w: (w.name, w.version)).map(tuple),
)


def waived(candidate: Candidate, policy: Policy) -> bool:
    return matching_waiver(candidate.name, candidate.version, policy.waivers) is not None


@given(candidates, moments, policies)
def test_never_admits_a_version_younger_than_the_cooldown_without_an_exact_waiver(
    candidate: Candidate, now: datetime, policy: Policy
) -> None:
    decision = decide(candidate, now, policy)
    if decision.admits and not waived(candidate, policy):
        assert candidate.upload_time is not None
        assert now - candidate.upload_time >= policy.cooldown
        assert decision.outcome == "admitted"
    if decision.outcome == "waived":
        assert decision.waiver is not None
        assert decision.waiver.name == normalise_name(candidate.name)
        assert decision.waiver.version == candidate.version


@given(candidates, moments, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650)), policies)
def test_admission_is_monotone_in_time(candidate: Candidate, now: datetime, later: timedelta, policy: Policy) -> None:
    before = decide(candidate, now, policy)
    after = decide(candidate, now + later, policy)
    if before.admits:
        assert after.admits
        assert after.outcome == before.outcome
    if before.outcome == "refused":
        assert after.outcome == "refused"


@given(waivers, st.sets(st.sampled_from(VERSIONS)), st.sampled_from(NAMES))
def test_a_waiver_matches_exactly_one_version(waiver: Waiver, versions: set[str], name: str) -> None:
    matched = [version for version in versions if matching_waiver(name, version, [waiver]) is waiver]
    if normalise_name(name) == waiver.name and waiver.version in versions:
        assert matched == [waiver.version]
    else:
        assert matched == []


@given(candidates, moments, policies, st.sampled_from([*SEVERITIES, None]))
def test_a_malicious_package_advisory_always_refuses_even_waived(
    candidate: Candidate, now: datetime, policy: Policy, severity: str | None
) -> None:
    flagged = Candidate(
        candidate.name,
        candidate.version,
        candidate.upload_time,
        (*candidate.advisories, Advisory("MAL-2026-1", severity)),
        candidate.licence,
        candidate.yanked,
    )
    waiver = Waiver(normalise_name(candidate.name), candidate.version, "reviewed")
    for waivers_ in [(), (waiver,)]:
        decision = decide(flagged, now, Policy(policy.cooldown, policy.refuse_severity, (), waivers_))
        assert decision.outcome == "refused"
        assert any(reason.startswith("MAL-2026-1") for reason in decision.reasons)


@given(candidates, moments, policies)
def test_an_advisory_at_or_above_the_refuse_severity_refuses_without_a_waiver(
    candidate: Candidate, now: datetime, policy: Policy
) -> None:
    decision = decide(candidate, now, policy)
    blocking = [a for a in candidate.advisories if severity_refuses(a.severity, policy.refuse_severity)]
    if blocking and not waived(candidate, policy):
        assert decision.outcome == "refused"
        for advisory in blocking:
            assert any(reason.startswith(advisory.id) for reason in decision.reasons)


@given(candidates, moments, policies)
def test_the_licence_rule(candidate: Candidate, now: datetime, policy: Policy) -> None:
    decision = decide(candidate, now, policy)
    outside = bool(policy.allowed_licenses) and not licence_allowed(candidate.licence, policy.allowed_licenses)
    if outside and not waived(candidate, policy):
        assert decision.outcome == "refused"
    if decision.outcome == "admitted" and policy.allowed_licenses:
        assert licence_allowed(candidate.licence, policy.allowed_licenses)


# The cases by name.
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
POLICY = Policy(timedelta(days=3), "HIGH", ("MIT", "Apache-2.0"), ())


def candidate(age: timedelta = timedelta(days=4), **changes: object) -> Candidate:
    values: dict[str, object] = {
        "name": "requests",
        "version": "2.32.4",
        "upload_time": NOW - age,
        "advisories": (),
        "licence": "Apache-2.0",
        "yanked": False,
    }
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


def test_an_old_clean_version_is_admitted() -> None:
    decision = decide(candidate(), NOW, POLICY)
    assert decision.outcome == "admitted"
    assert decision.reasons[0] == "uploaded 2026-03-06T12:00:00Z, past the cooldown (2026-03-09T12:00:00Z)"


def test_a_young_version_waits_and_the_boundary_admits() -> None:
    waiting = decide(candidate(age=timedelta(days=3) - timedelta(seconds=1)), NOW, POLICY)
    assert waiting.outcome == "waiting"
    assert waiting.reasons == ("uploaded 2026-03-07T12:00:01Z, in cooldown until 2026-03-10T12:00:01Z",)
    assert decide(candidate(age=timedelta(days=3)), NOW, POLICY).outcome == "admitted"


def test_an_exact_waiver_admits_a_young_version_and_says_what_it_overrides() -> None:
    policy = Policy(POLICY.cooldown, "HIGH", (), (Waiver("requests", "2.32.4", "urgent fix"),))
    decision = decide(candidate(age=timedelta(hours=1)), NOW, policy)
    assert decision.outcome == "waived"
    assert decision.reasons[0] == "waived: urgent fix"
    assert decision.reasons[1].startswith("overrides: uploaded 2026-03-10T11:00:00Z, in cooldown until")
    # the same waiver does not reach the neighbouring version, nor an equal-by-PEP-440 spelling
    assert decide(candidate(age=timedelta(hours=1), version="2.32.5"), NOW, policy).outcome == "waiting"
    assert decide(candidate(age=timedelta(hours=1), version="2.32.4.0"), NOW, policy).outcome == "waiting"
    # the name is matched normalised
    assert decide(candidate(age=timedelta(hours=1), name="Requests"), NOW, policy).outcome == "waived"


def test_severity_threshold() -> None:
    assert decide(candidate(advisories=(Advisory("GHSA-x", "MODERATE"),)), NOW, POLICY).outcome == "admitted"
    refused = decide(candidate(advisories=(Advisory("GHSA-x", "HIGH"),)), NOW, POLICY)
    assert refused.outcome == "refused"
    assert refused.reasons == ("GHSA-x: severity HIGH (refusing at HIGH and above)",)
    unknown = decide(candidate(advisories=(Advisory("PYSEC-2024-1", None),)), NOW, POLICY)
    assert unknown.outcome == "refused"
    assert unknown.reasons == ("PYSEC-2024-1: severity not stated (refusing at HIGH and above)",)


def test_no_files_refuses_even_waived() -> None:
    policy = Policy(POLICY.cooldown, "HIGH", (), (Waiver("requests", "2.32.4", "x"),))
    decision = decide(candidate(upload_time=None), NOW, policy)
    assert decision.outcome == "refused"
    assert decision.reasons == ("no files on PyPI", "the waiver (x) does not override this")


def test_yanked_refuses() -> None:
    assert decide(candidate(yanked=True), NOW, POLICY).reasons == ("yanked on PyPI",)


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(candidate(), NOW.replace(tzinfo=None), POLICY)


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("MIT", True),
        ("mit", True),
        ("MIT OR GPL-3.0-only", True),
        ("GPL-3.0-only OR MIT", True),
        ("MIT AND Apache-2.0", True),
        ("MIT AND GPL-3.0-only", False),
        ("(MIT OR GPL-3.0-only) AND Apache-2.0", True),
        ("(MIT OR GPL-3.0-only) AND BSD-3-Clause", False),
        ("Apache-2.0 WITH LLVM-exception", False),
        ("MIT OR", False),
        ("(MIT", False),
        ("MIT Apache-2.0", False),
        ("", False),
        (None, False),
    ],
)
def test_licence_expressions(expression: str | None, allowed: bool) -> None:
    assert licence_allowed(expression, ["MIT", "Apache-2.0"]) is allowed


def test_a_licence_exception_is_allowed_when_listed_whole() -> None:
    assert licence_allowed("Apache-2.0 WITH LLVM-exception", ["Apache-2.0 WITH LLVM-exception"])
    assert not licence_allowed("Apache-2.0", ["Apache-2.0 WITH LLVM-exception"])


def test_the_policy_refuses_an_unknown_severity_level() -> None:
    with pytest.raises(ValueError, match="refuse_severity"):
        Policy(timedelta(days=1), "MEDIUM", (), ())
