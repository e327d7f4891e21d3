"""What the promoter reads about a public version: PyPI's JSON API and OSV's API, over urllib.

PyPI (https://docs.pypi.org/api/json/): `GET /pypi/NAME/json` lists every release with its files, each with
`upload_time_iso_8601`, `yanked` and digests; `GET /pypi/NAME/VERSION/json` has that version's own metadata
(its licence). OSV (https://google.github.io/osv.dev/api/): `POST /v1/querybatch` answers the advisory ids per
(package, version), paginated per query with `next_page_token`; `GET /v1/vulns/ID` has the advisory itself.
Anything malformed raises SourceError: the caller decides nothing for that package rather than guess.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote

from promoter.admission import Advisory
from promoter.config import SEVERITIES, normalise_name

USER_AGENT: Final = "pypi-registry-promoter"
TIMEOUT_SECONDS: Final = 30
OSV_BATCH_LIMIT: Final = 1000  # OSV's maximum number of queries in one querybatch request
OSV_MAX_PAGES: Final = 100

# Trove licence classifiers that name exactly one SPDX licence. Classifiers that name a family (BSD License,
# Apache Software License, GPL without a version) are not here: a licence rule cannot be judged on them.
CLASSIFIER_LICENCES: Final = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Zero-Clause BSD (0BSD)": "0BSD",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
_SEVERITY_SYNONYMS: Final = {"MEDIUM": "MODERATE"}


class SourceError(RuntimeError):
    """A source answered something the promoter does not understand, or did not answer."""


def request_json(url: str, *, body: object = None, missing_ok: bool = False) -> object:
    """GET (or POST `body` as JSON) and parse the answer; None for a 404 when `missing_ok`."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")  # noqa: S310 (https, or http to loopback only: config.py)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (as above)
            payload = response.read()
    except urllib.error.HTTPError as error:
        if error.code == 404 and missing_ok:
            return None
        raise SourceError(f"{request.method} {url}: HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise SourceError(f"{request.method} {url}: {error}") from None
    try:
        return json.loads(payload)
    except ValueError:
        raise SourceError(f"{request.method} {url}: the answer is not JSON") from None


def _object(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise SourceError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: object, where: str) -> list[object]:
    if not isinstance(value, list):
        raise SourceError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise SourceError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def parse_time(value: object, where: str) -> datetime:
    text = _string(value, where)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SourceError(f"{where}: {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise SourceError(f"{where}: {text!r} has no time zone")
    return moment


@dataclass(frozen=True)
class ReleaseFile:
    filename: str
    sha256: str
    upload_time: datetime
    yanked: bool


@dataclass(frozen=True)
class Release:
    version: str
    files: tuple[ReleaseFile, ...]

    @property
    def upload_time(self) -> datetime | None:
        """The earliest upload of any of the version's files: a later wheel does not restart the cooldown."""
        return min((f.upload_time for f in self.files), default=None)

    @property
    def yanked(self) -> bool:
        return any(f.yanked for f in self.files)


@dataclass(frozen=True)
class Project:
    name: str
    releases: tuple[Release, ...]

    def release(self, version: str) -> Release | None:
        return next((r for r in self.releases if r.version == version), None)


def licence_from_info(info: Mapping[str, object]) -> str | None:
    """The SPDX expression PyPI states: `license_expression` (PEP 639), else the licence classifiers."""
    expression = info.get("license_expression")
    if isinstance(expression, str) and expression.strip():
        return expression.strip()
    classifiers = info.get("classifiers")
    named = (
        [c for c in classifiers if isinstance(c, str) and c.startswith("License ::")]
        if isinstance(classifiers, list)
        else []
    )
    if not named:
        return None
    licences = [CLASSIFIER_LICENCES.get(classifier) for classifier in named]
    if any(licence is None for licence in licences):
        return None  # a classifier naming a family or an unknown licence: not understood
    # Several licence classifiers do not say whether they are alternatives: read them as all applying.
    return " AND ".join(sorted({licence for licence in licences if licence}))


class PyPIClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def project(self, name: str) -> Project:
        url = f"{self.base_url}/pypi/{quote(name)}/json"
        document = _object(request_json(url), url)
        info = _object(document.get("info"), f"{url} info")
        stated = normalise_name(_string(info.get("name"), f"{url} info.name"))
        if stated != normalise_name(name):
            raise SourceError(f"{url}: PyPI answered for {stated!r}")
        releases = []
        for version, files in _object(document.get("releases"), f"{url} releases").items():
            where = f"{url} releases[{version!r}]"
            releases.append(Release(version, tuple(self._file(item, where) for item in _list(files, where))))
        return Project(normalise_name(name), tuple(releases))

    def licence(self, name: str, version: str) -> str | None:
        url = f"{self.base_url}/pypi/{quote(name)}/{quote(version)}/json"
        document = _object(request_json(url), url)
        info = _object(document.get("info"), f"{url} info")
        if info.get("version") != version:
            raise SourceError(f"{url}: PyPI answered for version {info.get('version')!r}")
        return licence_from_info(info)

    @staticmethod
    def _file(item: object, where: str) -> ReleaseFile:
        entry = _object(item, where)
        filename = _string(entry.get("filename"), f"{where} filename")
        digests = _object(entry.get("digests"), f"{where} {filename} digests")
        yanked = entry.get("yanked")
        if not isinstance(yanked, bool):
            raise SourceError(f"{where} {filename}: yanked is {yanked!r}")
        return ReleaseFile(
            filename=filename,
            sha256=_string(digests.get("sha256"), f"{where} {filename} sha256"),
            upload_time=parse_time(entry.get("upload_time_iso_8601"), f"{where} {filename} upload_time_iso_8601"),
            yanked=yanked,
        )


def _qualitative(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    upper = _SEVERITY_SYNONYMS.get(value.upper(), value.upper())
    return upper if upper in SEVERITIES else None


def _highest(severities: Iterable[str | None]) -> str | None:
    known = [s for s in severities if s is not None]
    return max(known, key=SEVERITIES.index) if known else None


def severity_of(record: Mapping[str, object]) -> str | None:
    """The qualitative severity an OSV record states (GitHub's `database_specific.severity`, or the same
    field on its affected entries), None when it states none. CVSS vectors in `severity` are not scored."""
    stated: list[str | None] = []
    database = record.get("database_specific")
    if isinstance(database, dict):
        stated.append(_qualitative(database.get("severity")))
    affected = record.get("affected")
    for entry in affected if isinstance(affected, list) else []:
        if isinstance(entry, dict):
            for field in ("database_specific", "ecosystem_specific"):
                specific = entry.get(field)
                if isinstance(specific, dict):
                    stated.append(_qualitative(specific.get("severity")))
    return _highest(stated)


class OSVClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._records: dict[str, Mapping[str, object] | None] = {}

    def advisories(self, name: str, versions: Sequence[str]) -> dict[str, tuple[Advisory, ...]]:
        """Every advisory OSV holds for each version of a PyPI package, with its severity; withdrawn ones left out.

        A record that states no severity takes the highest its aliases state (OSV lists a PYSEC record and
        the GHSA record of the same flaw side by side; the GHSA one carries the severity).
        """
        ids = self._ids(name, versions)
        result: dict[str, tuple[Advisory, ...]] = {}
        for version in versions:
            advisories = []
            for advisory_id in ids[version]:
                record = self.record(advisory_id)
                if record is None:
                    raise SourceError(f"OSV lists {advisory_id} for {name} {version} but has no such record")
                if record.get("withdrawn"):
                    continue
                advisories.append(Advisory(advisory_id, self._severity(record)))
            result[version] = tuple(advisories)
        return result

    def record(self, advisory_id: str) -> Mapping[str, object] | None:
        if advisory_id not in self._records:
            url = f"{self.base_url}/v1/vulns/{quote(advisory_id)}"
            answer = request_json(url, missing_ok=True)
            self._records[advisory_id] = None if answer is None else _object(answer, url)
        return self._records[advisory_id]

    def _severity(self, record: Mapping[str, object]) -> str | None:
        own = severity_of(record)
        if own is not None:
            return own
        aliases = record.get("aliases")
        related = [a for a in aliases if isinstance(a, str)] if isinstance(aliases, list) else []
        return _highest(severity_of(alias) for alias in filter(None, map(self.record, related)))

    def _ids(self, name: str, versions: Sequence[str]) -> dict[str, list[str]]:
        url = f"{self.base_url}/v1/querybatch"
        ids: dict[str, list[str]] = {version: [] for version in versions}
        pending: list[tuple[str, str | None]] = [(version, None) for version in versions]
        for _ in range(OSV_MAX_PAGES):
            if not pending:
                return ids
            batch, pending = pending[:OSV_BATCH_LIMIT], pending[OSV_BATCH_LIMIT:]
            queries: list[dict[str, object]] = []
            for version, token in batch:
                query: dict[str, object] = {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
                if token is not None:
                    query["page_token"] = token
                queries.append(query)
            answer = _object(request_json(url, body={"queries": queries}), url)
            results = _list(answer.get("results"), f"{url} results")
            if len(results) != len(batch):
                raise SourceError(f"{url}: {len(results)} results for {len(batch)} queries")
            for (version, _token), item in zip(batch, results, strict=True):
                result = _object(item, f"{url} result for {name} {version}")
                for vuln in _list(result.get("vulns", []), f"{url} vulns for {name} {version}"):
                    advisory_id = _string(_object(vuln, f"{url} vuln").get("id"), f"{url} vuln id")
                    if advisory_id not in ids[version]:
                        ids[version].append(advisory_id)
                next_token = result.get("next_page_token")
                if next_token:
                    pending.append((version, _string(next_token, f"{url} next_page_token")))
        raise SourceError(f"{url}: more than {OSV_MAX_PAGES} pages of answers for {name}")
