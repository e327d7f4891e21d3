"""Reconciliation: property tests over random listings and manifests, then the cases by name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from backup.reconcile import BACKED_UP_STATUSES, ListedVersion, reconcile

STATUSES = ["Published", "Unlisted", "Archived", "Unfinished", "Disposed", "Deleted"]

listings = st.lists(
    st.builds(
        ListedVersion,
        package=st.sampled_from(["acme-lib", "acme-tool"]),
        version=st.sampled_from(["1.0", "1.1", "2.0rc1", "2.0"]),
        revision=st.sampled_from(["r1", "r2", "r3"]),
        status=st.sampled_from(STATUSES),
    ),
    max_size=8,
    unique_by=lambda v: (v.package, v.version),
)
manifest_maps = st.dictionaries(
    st.tuples(st.sampled_from(["acme-lib", "acme-tool"]), st.sampled_from(["1.0", "1.1", "2.0rc1", "2.0"])),
    st.sampled_from(["r1", "r2", "r3"]),
    max_size=8,
)


@given(listings, manifest_maps)
def test_every_version_with_files_and_without_a_current_manifest_is_copied_and_nothing_else(
    listed: list[ListedVersion], manifests: dict[tuple[str, str], str]
) -> None:
    plan = reconcile(listed, manifests)
    expected = {
        v for v in listed if v.status in BACKED_UP_STATUSES and manifests.get((v.package, v.version)) != v.revision
    }
    assert set(plan.copy) == expected
    assert plan.up_to_date == sum(
        1 for v in listed if v.status in BACKED_UP_STATUSES and manifests.get((v.package, v.version)) == v.revision
    )
    assert plan.unknown_status == ()


@given(listings, manifest_maps)
def test_nothing_manifested_at_its_revision_is_copied_again(
    listed: list[ListedVersion], manifests: dict[tuple[str, str], str]
) -> None:
    for version in reconcile(listed, manifests).copy:
        assert manifests.get((version.package, version.version)) != version.revision


@given(listings)
def test_reconciling_after_copying_copies_nothing(listed: list[ListedVersion]) -> None:
    first = reconcile(listed, {})
    after = {(v.package, v.version): v.revision for v in first.copy}
    assert reconcile(listed, after).copy == ()


def test_a_manifest_of_another_revision_is_copied_again() -> None:
    listed = [ListedVersion("acme-lib", "1.0", "r2", "Published")]
    assert reconcile(listed, {("acme-lib", "1.0"): "r1"}).copy == tuple(listed)
    assert reconcile(listed, {("acme-lib", "1.0"): "r2"}).copy == ()


def test_archived_and_unlisted_versions_are_backed_up_disposed_and_unfinished_are_not() -> None:
    listed = [
        ListedVersion("acme-lib", "1.0", "r", "Archived"),
        ListedVersion("acme-lib", "1.1", "r", "Unlisted"),
        ListedVersion("acme-lib", "1.2", "r", "Disposed"),
        ListedVersion("acme-lib", "1.3", "r", "Unfinished"),
        ListedVersion("acme-lib", "1.4", "r", "Deleted"),
    ]
    assert [v.version for v in reconcile(listed, {}).copy] == ["1.0", "1.1"]


def test_a_status_not_understood_is_reported_not_skipped() -> None:
    strange = ListedVersion("acme-lib", "1.0", "r", "Quarantined")
    plan = reconcile([strange], {})
    assert plan.unknown_status == (strange,)
    assert plan.copy == ()
