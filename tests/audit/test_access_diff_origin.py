"""The access diff reports what reopens internal names to public PyPI as widening: package-group
origin controls made less strict, a group removed or overridden by a looser one, a new external
connection or upstream. Each case changes the prod rendering one way; a change that only
tightens is listed and passes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import cache

import pytest

from audit import diff, origin
from audit.render import render

GROUP = "registry-group-acme-"
INTERNAL = "registry-internal"
STORE = "registry-pypi-store"


@cache
def prod() -> dict:
    return diff.rendering_json(render("prod"))


def changed(edit: Callable[[dict], None]) -> dict:
    document = copy.deepcopy(prod())
    edit(document)
    return document


def inputs(document: dict, name: str) -> dict:
    (resource,) = [r for r in document["resources"] if r["name"] == name]
    return resource["inputs"]


def restrictions(document: dict, name: str = GROUP) -> dict:
    return inputs(document, name)["originConfiguration"]["restrictions"]


def report_for(new: dict) -> diff.DiffReport:
    return diff.compare_renderings(prod(), new, base_ref="base", base_commit="0" * 40)


def origin_widening(report: diff.DiffReport) -> list[str]:
    return [w.text for w in report.widening if w.kind == "origin"]


def allow_public_pypi(document: dict) -> None:
    restrictions(document)["externalUpstream"] = {"restrictionMode": "ALLOW"}


def publish_anywhere(document: dict) -> None:
    restrictions(document)["publish"] = {"restrictionMode": "ALLOW"}


def publish_also_into_the_store(document: dict) -> None:
    restrictions(document)["publish"]["repositories"].append("pypi-store")


def drop_origin_configuration(document: dict) -> None:
    del inputs(document, GROUP)["originConfiguration"]


def inherit_external_upstream(document: dict) -> None:
    restrictions(document)["externalUpstream"] = {"restrictionMode": "INHERIT"}


def unknown_restriction(document: dict) -> None:
    restrictions(document)["externalUpstream"]["exceptFor"] = ["acme-core"]


def remove_group(document: dict) -> None:
    document["resources"] = [r for r in document["resources"] if r["name"] != GROUP]


def looser_group_inside(document: dict) -> None:
    group = copy.deepcopy(next(r for r in document["resources"] if r["name"] == GROUP))
    group["name"] = group["urn"] = "registry-group-acme-core"
    group["inputs"]["pattern"] = "/pypi//acme-core~"
    group["inputs"]["originConfiguration"]["restrictions"]["externalUpstream"] = {"restrictionMode": "ALLOW"}
    document["resources"].append(group)


def external_connection_on_internal(document: dict) -> None:
    inputs(document, INTERNAL)["externalConnections"] = {"externalConnectionName": "public:pypi"}


def upstream_of_the_store(document: dict) -> None:
    inputs(document, STORE)["upstreams"] = [{"repositoryName": "partner-mirror"}]


def new_repository_with_a_connection(document: dict) -> None:
    document["resources"].append({"urn": "urn:new", "type": "aws-native:codeartifact:Repository", "name": "npm",
                                  "account": "111122223333", "inputs": {"domainName": "acme", "repositoryName": "npm",
                                                                        "externalConnections": ["public:npmjs"]}})


WIDENING = {
    "external upstream allowed": (allow_public_pypi, "externalUpstream BLOCK -> ALLOW"),
    "publish anywhere": (publish_anywhere, "publish ALLOW_SPECIFIC_REPOSITORIES ['internal'] -> ALLOW"),
    "publish into another repository": (publish_also_into_the_store, "publish also allows ['pypi-store']"),
    "origin configuration dropped": (drop_origin_configuration, "externalUpstream BLOCK -> INHERIT"),
    "external upstream inherited": (inherit_external_upstream, "externalUpstream BLOCK -> INHERIT"),
    "restriction not understood": (unknown_restriction, "cannot be read: unreadable restriction"),
    "group removed": (remove_group, "removed: its names fall back"),
    "looser group inside": (looser_group_inside,
                            "added, less strict than the group it overrides: inside /pypi//acme-~: "
                            "externalUpstream BLOCK -> ALLOW"),
    "external connection": (external_connection_on_internal, "repository internal (domain acme): new external "
                                                             "connection public:pypi"),
    "new upstream": (upstream_of_the_store, "repository pypi-store (domain acme): new upstream partner-mirror"),
    "new repository with a connection": (new_repository_with_a_connection,
                                         "repository npm (domain acme): added, with new external connection "
                                         "public:npmjs"),
}


@pytest.mark.parametrize("case", sorted(WIDENING))
def test_each_way_of_reopening_internal_names_is_widening_and_fails_the_diff(case):
    edit, expected = WIDENING[case]
    report = report_for(changed(edit))
    found = origin_widening(report)
    assert len(found) == 1 and expected in found[0], found
    # Not a grant: both access engines stay quiet and agree, the origin change alone fails the diff.
    assert report.agree and not report.access.grants_more
    assert report.verdict.endswith("origin controls or upstreams let more in; no principal gains access")
    assert report.exit_status == diff.EXIT_FAILED
    assert "Origin controls and upstreams:" in report.text() and "#### Origin controls" in report.markdown()
    assert [c["widening"] for c in report.as_json()["origin"]] == [True]


def test_the_prod_rendering_against_itself_has_no_origin_change():
    assert report_for(copy.deepcopy(prod())).origin == []


def test_a_change_that_only_tightens_is_listed_and_passes():
    def block_internal_upstream(document: dict) -> None:
        restrictions(document)["internalUpstream"] = {"restrictionMode": "BLOCK"}

    report = report_for(changed(block_internal_upstream))
    (change,) = report.origin
    assert not change.widening and change.text == "tighter: internalUpstream ALLOW -> BLOCK"
    assert report.exit_status == diff.EXIT_CLEAN and report.widening == []


def test_a_new_internal_prefix_adds_a_group_that_overrides_no_looser_one():
    new = diff.rendering_json(render("prod", overrides={"pypi-registry:internalPrefixes": ["acme-", "acmecorp-",
                                                                                            "acmelab-"]}))
    report = report_for(new)
    (change,) = report.origin
    assert change.where == "package group /pypi//acmelab-~ (domain acme)" and not change.widening
    assert not origin_widening(report)


def test_an_upstream_or_connection_removed_is_not_widening():
    def drop_upstream(document: dict) -> None:
        del inputs(document, INTERNAL)["upstreams"]

    (change,) = report_for(changed(drop_upstream)).origin
    assert (change.text, change.widening) == ("upstream pypi-store removed", False)


@pytest.mark.parametrize(("parent", "child", "expected"), [
    ("/pypi//acme-~", "/pypi//acme-core~", True),
    ("/pypi//acme-~", "/pypi//acme-core$", True),
    ("/pypi//acme-~", "/pypi//acmecorp-~", False),
    ("/pypi//acme-~", "/npm//acme-~", False),
    ("/pypi//*", "/pypi//anything~", True),
    ("/pypi//acme-core$", "/pypi//acme-core~", False),
    ("/pypi//acme-~", "/pypi//*", False),
    ("/pypi//acme-*", "/pypi//acme-core~", None),
    ("acme-", "/pypi//acme-core~", None),
])
def test_which_group_overrides_which(parent, child, expected):
    assert origin.covers(parent, child) is expected


def test_a_group_added_next_to_one_whose_pattern_cannot_be_read_is_widening():
    def unreadable_pattern(document: dict) -> None:
        inputs(document, GROUP)["pattern"] = "acme-*"

    base = changed(unreadable_pattern)
    new = copy.deepcopy(base)
    looser_group_inside(new)
    changes = origin.origin_changes(base["resources"], new["resources"])
    assert [(c.widening, "cannot be told" in c.text) for c in changes] == [(True, True)]
