"""Retention selection: backup/pep440.py checked against `packaging` (not in Lambda's runtime, in the test venv),
then property tests of `select` over random repositories, times and settings, then the cases by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import packaging.version
import pytest
from hypothesis import given
from hypothesis import strategies as st

from backup.config import Kept, Retention, normalise_name
from backup.pep440 import VersionError, parse, same_version
from backup.selection import HeldVersion, is_kept, select

UTC = timezone.utc

# --- PEP 440 against packaging -----------------------------------------------------------------------------------

separators = st.sampled_from(["", ".", "-", "_"])
numbers = st.integers(min_value=0, max_value=30).map(str) | st.sampled_from(["00", "007"])


@st.composite
def version_texts(draw: st.DrawFn) -> str:
    """PEP 440 versions in every spelling PEP 440 normalises (and a few it does not)."""
    text = draw(st.sampled_from(["", "v", "V"]))
    if draw(st.booleans()):
        text += draw(numbers) + "!"
    text += ".".join(draw(st.lists(numbers, min_size=1, max_size=4)))
    if draw(st.booleans()):
        label = draw(st.sampled_from(["a", "b", "c", "rc", "alpha", "beta", "pre", "preview", "RC", "Alpha"]))
        text += draw(separators) + label + draw(separators) + draw(st.sampled_from(["", *map(str, range(12))]))
    if draw(st.booleans()):
        if draw(st.booleans()):
            text += "-" + draw(numbers)
        else:
            label = draw(st.sampled_from(["post", "rev", "r", "POST"]))
            text += draw(separators) + label + draw(separators) + draw(st.sampled_from(["", "0", "3"]))
    if draw(st.booleans()):
        text += (
            draw(separators) + draw(st.sampled_from(["dev", "DEV"])) + draw(separators) + draw(numbers | st.just(""))
        )
    if draw(st.booleans()):
        parts = draw(st.lists(st.sampled_from(["abc", "Ubuntu", "07", "1", "x2"]), min_size=1, max_size=3))
        text += "+" + draw(separators.filter(bool)).join(parts)
    return text


def packaging_series(version: packaging.version.Version) -> str:
    release = list(version.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    text = ".".join(map(str, release))
    return f"{version.epoch}!{text}" if version.epoch else text


@given(version_texts())
def test_pep440_reading_agrees_with_packaging(text: str) -> None:
    try:
        expected = packaging.version.Version(text)
    except packaging.version.InvalidVersion:
        with pytest.raises(VersionError):
            parse(text)
        return
    parsed = parse(text)
    assert str(parsed) == str(expected)
    assert parsed.is_dev_or_pre_release == expected.is_prerelease
    assert parsed.series == packaging_series(expected)
    assert same_version(text, str(expected))


@given(st.text(alphabet="0123456789.!+-_abcdeilnoprstvwxyz ", max_size=16))
def test_pep440_refuses_what_packaging_refuses(text: str) -> None:
    try:
        packaging.version.Version(text)
    except packaging.version.InvalidVersion:
        with pytest.raises(VersionError):
            parse(text)
    else:
        parse(text)


@pytest.mark.parametrize(
    ("text", "pre", "series"),
    [
        ("2.1.0rc1", True, "2.1"),
        ("2.1.dev3", True, "2.1"),
        ("2.1", False, "2.1"),
        ("2.1.0.post1", False, "2.1"),
        ("2.1rc1.post2", True, "2.1"),
        ("1!2.0a1", True, "1!2"),
        ("0.0.0.dev1", True, "0"),
        ("3.0+local.7", False, "3"),
    ],
)
def test_pep440_cases(text: str, pre: bool, series: str) -> None:
    assert parse(text).is_dev_or_pre_release is pre
    assert parse(text).series == series


# --- select: properties ------------------------------------------------------------------------------------------

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PACKAGES = ["acme-lib", "Acme_Tool"]
VERSIONS = [
    "1.0",
    "1.0.dev1",
    "1.0.dev2",
    "1.0a1",
    "1.0rc1",
    "1.0.0rc2",
    "1.0.post1",
    "1.1.dev1",
    "1.1b1",
    "2.0.dev5",
    "2.0rc1",
    "2.0",
    "not a version",
]
STATUSES = ["Published", "Published", "Published", "Archived", "Unlisted", "Disposed", "Unfinished", "Deleted"]

moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 6, 1), timezones=st.just(UTC))
held_versions = st.lists(
    st.builds(
        HeldVersion,
        package=st.sampled_from(PACKAGES),
        version=st.sampled_from(VERSIONS),
        status=st.sampled_from(STATUSES),
        published=st.none() | moments,
    ),
    max_size=25,
    unique_by=lambda h: (normalise_name(h.package), h.version),
)
retentions = st.builds(
    Retention,
    archive_after_days=st.integers(min_value=1, max_value=400),
    keep_newest=st.integers(min_value=0, max_value=4),
    keep=st.lists(
        st.builds(Kept, name=st.sampled_from(PACKAGES).map(normalise_name), version=st.sampled_from(VERSIONS)),
        max_size=3,
    ).map(tuple),
    dry_run=st.booleans(),
)


def newer_in_series(item: HeldVersion, held: list[HeldVersion]) -> int:
    """How many dev/pre-release versions with files in the same series were published after `item`."""
    series = parse(item.version).series
    oldest = datetime.min.replace(tzinfo=UTC)
    count = 0
    for other in held:
        try:
            parsed = parse(other.version)
        except VersionError:
            continue
        if (
            normalise_name(other.package) == normalise_name(item.package)
            and parsed.series == series
            and parsed.is_dev_or_pre_release
            and other.status in {"Published", "Unlisted", "Archived", "Unfinished"}
            and ((other.published or oldest), other.version) > ((item.published or oldest), item.version)
        ):
            count += 1
    return count


@given(held_versions, retentions)
def test_selects_only_old_published_dev_or_pre_releases_outside_the_newest_and_the_keep_list(
    held: list[HeldVersion], retention: Retention
) -> None:
    selection = select(held, NOW, retention)
    for item in selection.archive:
        assert parse(item.version).is_dev_or_pre_release  # never a final or post release
        assert item.status == "Published"  # never already Archived, Disposed, Unlisted, ...
        assert item.published is not None and NOW - item.published >= timedelta(days=retention.archive_after_days)
        assert not is_kept(item.package, item.version, retention.keep)
        assert newer_in_series(item, held) >= retention.keep_newest
    assert {(i.package, i.version) for i in selection.unreadable} == {
        (h.package, h.version) for h in held if h.version == "not a version"
    }


@given(held_versions, retentions, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)))
def test_selection_is_monotone_in_time(held: list[HeldVersion], retention: Retention, later: timedelta) -> None:
    before = set(select(held, NOW - later, retention).archive)
    after = set(select(held, NOW, retention).archive)
    assert before <= after


@given(held_versions, retentions)
def test_selecting_again_after_archiving_selects_nothing(held: list[HeldVersion], retention: Retention) -> None:
    chosen = set(select(held, NOW, retention).archive)
    archived = [replace(h, status="Archived") if h in chosen else h for h in held]
    assert select(archived, NOW, retention).archive == ()


@given(held_versions, retentions)
def test_selection_does_not_depend_on_the_listing_order(held: list[HeldVersion], retention: Retention) -> None:
    assert select(held, NOW, retention) == select(list(reversed(held)), NOW, retention)


@given(held_versions, retentions)
def test_more_to_keep_never_archives_more(held: list[HeldVersion], retention: Retention) -> None:
    wider = replace(retention, keep_newest=retention.keep_newest + 1)
    assert set(select(held, NOW, wider).archive) <= set(select(held, NOW, retention).archive)


# --- select: cases -----------------------------------------------------------------------------------------------


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


RETENTION = Retention(archive_after_days=30, keep_newest=2, keep=(), dry_run=False)


def test_keeps_the_newest_of_each_series_and_archives_the_older_ones() -> None:
    held = [
        HeldVersion("acme-lib", "2.1.0.dev1", "Published", days_ago(100)),
        HeldVersion("acme-lib", "2.1.0.dev2", "Published", days_ago(90)),
        HeldVersion("acme-lib", "2.1.0rc1", "Published", days_ago(80)),
        HeldVersion("acme-lib", "2.1rc2", "Published", days_ago(70)),  # same series as 2.1.0rc1
        HeldVersion("acme-lib", "2.1.0", "Published", days_ago(60)),  # final: never
        HeldVersion("acme-lib", "2.2.dev1", "Published", days_ago(100)),  # alone in 2.2: among its newest
        HeldVersion("acme-lib", "1.0.dev1", "Published", days_ago(400)),
        HeldVersion("acme-lib", "1.0.dev2", "Published", days_ago(10)),
        HeldVersion("acme-lib", "1.0.dev3", "Published", days_ago(5)),
    ]
    chosen = [h.version for h in select(held, NOW, RETENTION).archive]
    assert chosen == ["1.0.dev1", "2.1.0.dev1", "2.1.0.dev2"]


def test_an_archived_version_still_counts_among_the_newest() -> None:
    held = [
        HeldVersion("acme-lib", "3.0.dev1", "Published", days_ago(100)),
        HeldVersion("acme-lib", "3.0.dev2", "Archived", days_ago(90)),
        HeldVersion("acme-lib", "3.0.dev3", "Archived", days_ago(80)),
    ]
    assert [h.version for h in select(held, NOW, RETENTION).archive] == ["3.0.dev1"]


def test_too_young_unknown_age_kept_and_other_statuses_are_left_alone() -> None:
    keep = replace(RETENTION, keep_newest=0, keep=(Kept("acme-lib", "4.0rc1"),))
    held = [
        HeldVersion("acme-lib", "4.0.dev1", "Published", days_ago(29)),  # younger than 30 days
        HeldVersion("acme-lib", "4.0.dev2", "Published", None),  # no published time: kept
        HeldVersion("Acme_Lib", "4.0.0-RC1", "Published", days_ago(300)),  # the keep-list, normalised
        HeldVersion("acme-lib", "4.0.dev3", "Unlisted", days_ago(300)),
        HeldVersion("acme-lib", "4.0.dev4", "Disposed", days_ago(300)),
        HeldVersion("acme-lib", "4.0.dev5", "Published", days_ago(30)),  # exactly the age: archived
        HeldVersion("acme-lib", "4.0.x", "Published", days_ago(300)),  # not PEP 440: reported
    ]
    selection = select(held, NOW, keep)
    assert [h.version for h in selection.archive] == ["4.0.dev5"]
    assert [h.version for h in selection.unreadable] == ["4.0.x"]


def test_keep_matches_the_normalised_name_and_version() -> None:
    keep = (Kept("zope-interface", "7.0rc1"),)
    assert is_kept("Zope.Interface", "7.0.0-rc.1", keep)  # PEP 440: 7.0.0rc1 == 7.0rc1
    assert is_kept("Zope.Interface", "7.0-RC1", keep)
    assert is_kept("Zope.Interface", "7.0c1", keep)
    assert not is_kept("zope-interface", "7.0rc2", keep)
    assert not is_kept("zope-interfaces", "7.0rc1", keep)


@pytest.mark.parametrize("version", ["1.0", "1.0.post1", "1!1.0", "1.0+local"])
def test_a_final_release_is_never_archived(version: str) -> None:
    old = HeldVersion("acme-lib", version, "Published", days_ago(10_000))
    assert select([old], NOW, replace(RETENTION, keep_newest=0)).archive == ()


def test_equal_times_are_ordered_by_version_text() -> None:
    held = [HeldVersion("acme-lib", f"5.0.dev{n}", "Published", days_ago(100)) for n in (1, 2, 3)]
    assert [h.version for h in select(held, NOW, replace(RETENTION, keep_newest=1)).archive] == [
        "5.0.dev1",
        "5.0.dev2",
    ]
