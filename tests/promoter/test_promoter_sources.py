"""The PyPI and OSV clients against local stand-ins serving recorded shapes (never the network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from promoter.admission import Advisory
from promoter.sources import OSVClient, PyPIClient, SourceError, licence_from_info, severity_of
from tests.promoter_stand_ins import (
    OSV,
    RECORDED,
    File,
    StandIn,
    as_json,
    osv_record,
    publish_pypi,
    serve,
)

UTC = timezone.utc


@pytest.fixture
def http() -> Iterator[StandIn]:
    yield from serve()


def test_the_recorded_pypi_answer_is_read(http: StandIn) -> None:
    http.routes[("GET", "/pypi/sampleproject/json")] = as_json(RECORDED)
    project = PyPIClient(http.base_url).project("sampleproject")
    assert [r.version for r in project.releases] == ["1.0", "1.2.0", "1.3.0", "1.3.1", "2.0.0", "3.0.0", "4.0.0"]
    latest = project.release("4.0.0")
    assert latest is not None
    assert {f.filename for f in latest.files} == {"sampleproject-4.0.0-py3-none-any.whl", "sampleproject-4.0.0.tar.gz"}
    recorded_times = [f["upload_time_iso_8601"] for f in RECORDED["releases"]["4.0.0"]]
    assert latest.upload_time == datetime.fromisoformat(min(recorded_times).replace("Z", "+00:00"))
    assert latest.yanked is False
    assert licence_from_info(RECORDED["info"]) == "MIT"  # its classifier; it states no license_expression


def test_the_earliest_file_is_the_upload_time_and_any_yanked_file_marks_the_version(http: StandIn) -> None:
    publish_pypi(
        http,
        "demo",
        {
            "1.0": [
                File("demo-1.0.tar.gz", b"a", datetime(2026, 1, 2, tzinfo=UTC)),
                File("demo-1.0-py3-none-any.whl", b"b", datetime(2026, 1, 1, 12, tzinfo=UTC)),
            ],
            "1.1": [File("demo-1.1.tar.gz", b"c", datetime(2026, 2, 1, tzinfo=UTC), yanked=True)],
            "2.0": [],
        },
    )
    project = PyPIClient(http.base_url).project("demo")
    first, second, empty = project.releases
    assert first.upload_time == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert not first.yanked and second.yanked
    assert empty.upload_time is None


def test_the_licence_is_the_versions_own(http: StandIn) -> None:
    files = [File("demo-1.0.tar.gz", b"a", datetime(2026, 1, 1, tzinfo=UTC))]
    publish_pypi(http, "demo", {"1.0": files}, license_expression="Apache-2.0 OR MIT")
    assert PyPIClient(http.base_url).licence("demo", "1.0") == "Apache-2.0 OR MIT"
    assert http.paths() == ["/pypi/demo/1.0/json"]


@pytest.mark.parametrize(
    ("info", "licence"),
    [
        (
            {"license_expression": "BSD-3-Clause", "classifiers": ["License :: OSI Approved :: MIT License"]},
            "BSD-3-Clause",
        ),
        ({"license_expression": None, "classifiers": ["License :: OSI Approved :: MIT License"]}, "MIT"),
        ({"license_expression": "", "classifiers": ["License :: OSI Approved :: BSD License"]}, None),
        ({"classifiers": ["License :: OSI Approved :: Apache Software License"]}, None),
        (
            {
                "classifiers": [
                    "License :: OSI Approved :: MIT License",
                    "License :: OSI Approved :: ISC License (ISCL)",
                ]
            },
            "ISC AND MIT",
        ),
        ({"classifiers": ["Programming Language :: Python :: 3"], "license": "MIT"}, None),
    ],
)
def test_licence_from_info(info: dict[str, object], licence: str | None) -> None:
    assert licence_from_info(info) == licence


@pytest.mark.parametrize(
    "mutation",
    [
        lambda d: d["info"].update(name="other-project"),
        lambda d: d["releases"]["4.0.0"][0].pop("upload_time_iso_8601"),
        lambda d: d["releases"]["4.0.0"][0].update(upload_time_iso_8601="2024-11-06T22:37:10"),
        lambda d: d["releases"]["4.0.0"][0].update(yanked="no"),
        lambda d: d["releases"]["4.0.0"][0]["digests"].pop("sha256"),
        lambda d: d.update(releases=[]),
    ],
)
def test_a_malformed_pypi_answer_is_refused(http: StandIn, mutation: object) -> None:
    document = json.loads(json.dumps(RECORDED))
    mutation(document)  # type: ignore[operator]
    http.routes[("GET", "/pypi/sampleproject/json")] = as_json(document)
    with pytest.raises(SourceError):
        PyPIClient(http.base_url).project("sampleproject")


def test_an_http_error_or_non_json_is_a_source_error(http: StandIn) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        PyPIClient(http.base_url).project("missing")
    http.routes[("GET", "/pypi/broken/json")] = (200, {}, b"<html>")
    with pytest.raises(SourceError, match="not JSON"):
        PyPIClient(http.base_url).project("broken")


def test_osv_advisories_with_severity_aliases_pagination_and_withdrawn(http: StandIn) -> None:
    osv = OSV(page_size=1)
    osv.add(osv_record("GHSA-xxxx-yyyy-zzzz", "demo", severity="MODERATE"), ("demo", "1.0"))
    # PyPA's record states no severity; its GHSA alias does
    osv.add(osv_record("PYSEC-2026-1", "demo", aliases=("GHSA-hhhh-hhhh-hhhh", "CVE-2026-1")), ("demo", "1.0"))
    osv.records["GHSA-hhhh-hhhh-hhhh"] = osv_record("GHSA-hhhh-hhhh-hhhh", "demo", severity="HIGH")
    osv.add(osv_record("MAL-2026-7", "demo"), ("demo", "2.0"))
    withdrawn = osv_record("GHSA-wwww-wwww-wwww", "demo", severity="CRITICAL")
    withdrawn["withdrawn"] = "2026-01-02T00:00:00Z"
    osv.add(withdrawn, ("demo", "2.0"))
    osv.add(osv_record("PYSEC-2026-2", "demo"), ("demo", "3.0"))  # no severity anywhere
    osv.install(http)

    found = OSVClient(http.base_url).advisories("demo", ["1.0", "2.0", "3.0", "4.0"])
    assert found == {
        "1.0": (Advisory("GHSA-xxxx-yyyy-zzzz", "MODERATE"), Advisory("PYSEC-2026-1", "HIGH")),
        "2.0": (Advisory("MAL-2026-7", None),),
        "3.0": (Advisory("PYSEC-2026-2", None),),
        "4.0": (),
    }
    assert Advisory("MAL-2026-7", None).malicious
    # one page each, then the second page of 1.0 and 2.0
    batches = [json.loads(s.body)["queries"] for s in http.seen if s.path == "/v1/querybatch"]
    assert [len(b) for b in batches] == [4, 2]
    assert {q.get("page_token") for q in batches[1]} == {"1"}
    # CVE-2026-1 has no record here: a missing alias is skipped, a missing listed advisory is not
    assert "/v1/vulns/CVE-2026-1" in http.paths()


def test_an_advisory_osv_lists_but_cannot_show_is_refused(http: StandIn) -> None:
    osv = OSV()
    osv.affected[("demo", "1.0")] = ["GHSA-gone-gone-gone"]
    osv.install(http)
    with pytest.raises(SourceError, match="has no such record"):
        OSVClient(http.base_url).advisories("demo", ["1.0"])


def test_a_short_querybatch_answer_is_refused(http: StandIn) -> None:
    http.routes[("POST", "/v1/querybatch")] = as_json({"results": []})
    with pytest.raises(SourceError, match="0 results for 1 queries"):
        OSVClient(http.base_url).advisories("demo", ["1.0"])


@pytest.mark.parametrize(
    ("record", "severity"),
    [
        ({"database_specific": {"severity": "HIGH"}}, "HIGH"),
        ({"database_specific": {"severity": "medium"}}, "MODERATE"),
        (
            {
                "affected": [
                    {"ecosystem_specific": {"severity": "CRITICAL"}},
                    {"database_specific": {"severity": "LOW"}},
                ]
            },
            "CRITICAL",
        ),
        ({"severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]}, None),
        ({"database_specific": {"severity": "UNKNOWN"}}, None),
    ],
)
def test_severity_of(record: dict[str, object], severity: str | None) -> None:
    assert severity_of(record) == severity
