"""The airlock (issue #25) seen by real pip, uv and poetry, against the CodeArtifact stand-in.

The stand-in runs the airlock's domain (`Stub(..., airlock=True)`): `pypi-store` with its external
connection to a local stand-in for pypi.org, `pypi-vetted`, and `internal` with `pypi-vetted` as
its upstream. A public package has three releases: 1.0 and 1.1 are older than the cooldown, 2.0 was
uploaded two hours ago. The promoter's part is played here with boto3 as the promoter would do it:
it reads the store's index (with PyPI's upload times), fetches the admitted versions through the
store, and copies them to `pypi-vetted` without overwrite. Then each client, through `internal`'s
one index URL, resolves to 1.1, fails clearly on `==2.0`, and after the pull-back archives 1.1 (in
`pypi-vetted`, and in `internal`, which retained it when the first install fetched it) resolves
to 1.0 and fails on `==1.1`.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.codeartifact_stub import Stub
from tests.codeartifact_stub.simple_index import upload_time
from tests.pypi_login.clients_support import PYTHON, Machine, exported, record

pytestmark = pytest.mark.clients

PUBLIC = "leftpad-public"
NOW = datetime.now(timezone.utc)
# PyPI's upload times: two versions older than a 3-day cooldown, one still inside it.
UPLOADED = {"1.0": NOW - timedelta(days=40), "1.1": NOW - timedelta(days=10), "2.0": NOW - timedelta(hours=2)}
ADMITTED = ["1.0", "1.1"]
STORE, VETTED, INTERNAL = "pypi-store", "pypi-vetted", "internal"

# What each client says when the one version asked for is not in the index (observed here).
NO_MATCH = {
    "pip": "No matching distribution found for leftpad-public=={version}",
    "uv": "there is no version of leftpad-public=={version}",
    "poetry": "depends on leftpad-public ({version}) which doesn't match any versions",
}


def codeartifact(stub: Stub, access_key: str) -> Any:
    return boto3.client("codeartifact", region_name=stub.registry.region, endpoint_url=stub.api.url,
                        aws_access_key_id=access_key, aws_secret_access_key="stub-secret")


def fetch(stub: Stub, token: str, url: str, accept: str | None = None) -> tuple[int, str, bytes]:
    """GET through the front as any HTTPS client would: (status, Content-Type, body)."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"https": stub.front.proxy_url}),
        urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=str(stub.certificates.ca))))
    request = urllib.request.Request(url, headers={  # noqa: S310 - https to the stand-in only
        "Authorization": "Basic " + base64.b64encode(f"aws:{token}".encode()).decode(),
        **({"Accept": accept} if accept else {})})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def token_for(stub: Stub, access_key: str) -> str:
    return str(codeartifact(stub, access_key).get_authorization_token(domain="acme")["authorizationToken"])


def project_json(stub: Stub, token: str, repository: str) -> dict[str, Any]:
    status, content_type, body = fetch(stub, token, stub.registry.index_url(repository) + f"{PUBLIC}/",
                                       "application/vnd.pypi.simple.v1+json")
    assert status == 200 and content_type == "application/vnd.pypi.simple.v1+json", (status, body)
    return dict(json.loads(body))


def promote(stub: Stub, versions: list[str]) -> dict[str, Any]:
    """The promoter's side: read the store's upload times, ingest through the store, copy to vetted."""
    token = token_for(stub, "AKIDPROMOTER")
    page = project_json(stub, token, STORE)
    for entry in page["files"]:
        version = entry["url"].split("/")[0]
        if version in versions:
            status, _, _ = fetch(stub, token, stub.registry.index_url(STORE) + f"{PUBLIC}/{entry['url']}")
            assert status == 200
    copied = codeartifact(stub, "AKIDPROMOTER").copy_package_versions(
        domain="acme", domainOwner=stub.registry.owner, sourceRepository=STORE, destinationRepository=VETTED,
        format="pypi", package=PUBLIC, versions=versions, allowOverwrite=False)
    assert sorted(copied["successfulVersions"]) == versions and copied["failedVersions"] == {}, copied
    return page


@pytest.fixture
def airlock(tmp_path: Path) -> Iterator[Stub]:
    with Stub(tmp_path / "stand-in", airlock=True) as running:
        for version, uploaded in UPLOADED.items():
            running.registry.publish_public(PUBLIC, version, uploaded)
        yield running
        assert running.registry.blocked == []


# --- the stand-in itself: the API against botocore's model, the index's upload times ----------------


def test_the_airlock_api_copies_without_overwrite_lists_and_archives_in_botocores_shapes(airlock):
    promoter, reader = codeartifact(airlock, "AKIDPROMOTER"), codeartifact(airlock, "AKIDREADER")
    package = {"domain": "acme", "domainOwner": airlock.registry.owner, "format": "pypi", "package": PUBLIC}
    copy = {**package, "sourceRepository": STORE, "destinationRepository": VETTED}

    # Nothing fetched through the store yet: nothing to copy, and nothing listed in it.
    assert promoter.copy_package_versions(**copy, versions=["1.0"])["failedVersions"]["1.0"]["errorCode"] == \
        "NOT_FOUND"
    promote(airlock, ["1.0"])
    listed = promoter.list_package_versions(**package, repository=VETTED)
    assert [(item["version"], item["status"]) for item in listed["versions"]] == [("1.0", "Published")]
    assert listed["defaultDisplayVersion"] == "1.0"
    assert listed["versions"][0]["origin"] == {"domainEntryPoint": {"repositoryName": VETTED}, "originType": "INTERNAL"}
    store = promoter.list_package_versions(**package, repository=STORE)["versions"]
    assert [(item["version"], item["origin"]["originType"]) for item in store] == [("1.0", "EXTERNAL")]

    # allowOverwrite is honoured: refused by default, allowed when asked.
    again = promoter.copy_package_versions(**copy, versions=["1.0"])
    assert again["successfulVersions"] == {} and again["failedVersions"]["1.0"]["errorCode"] == "ALREADY_EXISTS"
    assert promoter.copy_package_versions(**copy, versions=["1.0"], allowOverwrite=True)["successfulVersions"]

    # Status changes: expectedStatus is checked, Disposed is not UpdatePackageVersionsStatus's to set.
    wrong = promoter.update_package_versions_status(**package, repository=VETTED, versions=["1.0", "9.9"],
                                                    expectedStatus="Unlisted", targetStatus="Archived")
    assert {version: error["errorCode"] for version, error in wrong["failedVersions"].items()} == {
        "1.0": "MISMATCHED_STATUS", "9.9": "NOT_FOUND"}
    archived = promoter.update_package_versions_status(**package, repository=VETTED, versions=["1.0"],
                                                       expectedStatus="Published", targetStatus="Archived")
    assert archived["successfulVersions"]["1.0"]["status"] == "Archived"
    assert promoter.describe_package_version(**package, repository=VETTED, packageVersion="1.0")[
        "packageVersion"]["status"] == "Archived"
    assert [item["version"] for item in promoter.list_package_versions(
        **package, repository=VETTED, status="Published")["versions"]] == []

    errors = {
        # A reader may neither copy, nor change a status, nor read the store.
        "AccessDeniedException": [
            lambda: reader.copy_package_versions(**copy, versions=["1.0"]),
            lambda: reader.update_package_versions_status(**package, repository=VETTED, versions=["1.0"],
                                                          targetStatus="Published"),
            lambda: reader.list_package_versions(**package, repository=STORE),
            # The promoter copies from the store into vetted only.
            lambda: promoter.copy_package_versions(**{**copy, "destinationRepository": INTERNAL}, versions=["1.0"]),
        ],
        "ValidationException": [
            lambda: promoter.update_package_versions_status(**package, repository=VETTED, versions=["1.0"],
                                                            targetStatus="Disposed"),
            lambda: promoter.copy_package_versions(**copy),  # neither versions nor versionRevisions
        ],
        "ResourceNotFoundException": [
            lambda: promoter.list_package_versions(**{**package, "package": "no-such-package"}, repository=VETTED),
            lambda: promoter.list_package_versions(**package, repository="pypi-typo"),
        ],
    }
    for code, calls in errors.items():
        for call in calls:
            with pytest.raises(ClientError) as raised:
                call()
            assert raised.value.response["Error"]["Code"] == code, raised.value
    token = token_for(airlock, "AKIDREADER")
    status, _, body = fetch(airlock, token, airlock.registry.index_url(STORE) + f"{PUBLIC}/")
    assert status == 403 and b"codeartifact:ReadFromRepository" in body


def test_the_index_serves_pypis_upload_times_as_codeartifact_documents_them(airlock):
    page = promote(airlock, ADMITTED)
    # The store lists every public version (its external connection), each file with PyPI's upload time.
    assert page["meta"] == {"api-version": "1.1"} and page["versions"] == ["1.0", "1.1", "2.0"]
    assert {entry["url"].split("/")[0]: entry["upload-time"] for entry in page["files"]} == {
        version: upload_time(uploaded) for version, uploaded in UPLOADED.items()}
    assert all(entry["size"] > 0 and len(entry["hashes"]["sha256"]) == 64 for entry in page["files"])

    token = token_for(airlock, "AKIDREADER")
    # Through internal: what was copied, the upload times kept (the same assets, copied).
    served = project_json(airlock, token, INTERNAL)
    assert served["versions"] == ADMITTED
    assert {entry["upload-time"] for entry in served["files"]} == {upload_time(UPLOADED[v]) for v in ADMITTED}
    # HTML (PEP 503) by default, with the same time as data-upload-time; an Accept it cannot serve: 406.
    url = airlock.registry.index_url(INTERNAL) + f"{PUBLIC}/"
    status, content_type, body = fetch(airlock, token, url)
    assert status == 200 and content_type == "text/html"
    assert sorted(set(re.findall(r'data-upload-time="([^"]+)"', body.decode()))) == sorted(
        upload_time(UPLOADED[v]) for v in ADMITTED)
    assert fetch(airlock, token, url, "application/vnd.pypi.simple.v1+html")[1] == \
        "application/vnd.pypi.simple.v1+html"
    assert fetch(airlock, token, url, "application/xml")[0] == 406
    # 2.0's file is not served through internal even when asked for by name.
    wheel = "leftpad_public-2.0-py3-none-any.whl"
    assert fetch(airlock, token, url + f"2.0/{wheel}")[0] == 404

    # A client's own cooldown can use them: uv's exclude-newer between 1.0 and 1.1 picks 1.0.
    machine = Machine(airlock, airlock.root.parent / "exclude-newer")
    exports = machine.helper().stdout
    cutoff = (UPLOADED["1.1"] - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = machine.shell(f'eval "$EXPORTS"\n{install_command("uv", machine, "")} --exclude-newer {cutoff}',
                           env={"EXPORTS": exports}, label="uv airlock exclude-newer")
    assert result.returncode == 0, result.stdout + result.stderr
    assert installed_version("uv", machine) == "1.0"
    record("uv", "airlock: --exclude-newer reads upload-time", "1.0")


# --- real clients ------------------------------------------------------------------------------------


POETRY_PROJECT = """\
[project]
name = "consumer"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["{requirement}"]

[tool.poetry]
package-mode = false

[[tool.poetry.source]]
name = "internal"
url = "{index}"
priority = "primary"
"""


def install_command(client: str, machine: Machine, pin: str) -> str:
    requirement = shlex.quote(PUBLIC + pin)
    target = shlex.quote(str(machine.target))
    if client == "pip":
        return f"python -m pip install --target {target} {requirement}"
    if client == "uv":
        return f"uv pip install --python {shlex.quote(PYTHON)} --target {target} {requirement}"
    (machine.project / "poetry.lock").unlink(missing_ok=True)
    (machine.project / "pyproject.toml").write_text(POETRY_PROJECT.format(
        requirement=PUBLIC + pin, index=machine.stub.registry.index_url()))
    return "poetry install --no-root"


def installed_version(client: str, machine: Machine) -> str | None:
    roots = list((machine.project / ".venv" / "lib").glob("python*/site-packages")) if client == "poetry" \
        else [machine.target]
    for root in roots:
        module = root / "leftpad_public" / "__init__.py"
        if module.is_file():
            found = re.search(r"__version__ = '([^']+)'", module.read_text())
            return found[1] if found else None
    return None


def install(client: str, machine: Machine, exports: str, pin: str = "") -> tuple[str | None, str]:
    result = machine.shell(f'eval "$EXPORTS"\n{install_command(client, machine, pin)}', env={"EXPORTS": exports},
                           label=f"{client} airlock {pin or 'unpinned'}")
    output = result.stdout + result.stderr
    version = installed_version(client, machine) if result.returncode == 0 else None
    assert (result.returncode == 0) == (version is not None), output
    return version, output


@pytest.mark.parametrize("client", ["pip", "uv", "poetry"])
def test_clients_get_the_newest_admitted_version_never_one_in_cooldown_and_stop_on_an_archived_one(
        airlock, tmp_path, client):
    promote(airlock, ADMITTED)
    first = Machine(airlock, tmp_path / "first")
    exports = first.helper().stdout
    assert exported(exports)["PIP_INDEX_URL"].endswith("/pypi/internal/simple/")

    # 2.0 is newer but still in cooldown: not in vetted, so not in the index; 1.1 is the newest.
    version, output = install(client, first, exports)
    assert version == "1.1", output
    pinned, output = install(client, Machine(airlock, tmp_path / "pinned"), exports, "==2.0")
    assert pinned is None and NO_MATCH[client].format(version="2.0") in output, output
    assert "Traceback" not in output
    assert not [entry for entry in airlock.registry.index_log if "/2.0/" in entry["path"]]
    record(client, "airlock: unpinned, 2.0 in cooldown", "1.1")
    record(client, "airlock: ==2.0 (in cooldown)", f'fails: "{NO_MATCH[client].format(version="2.0")}"')

    # The install retained 1.1 in internal (the most downstream repository), so archiving it in
    # vetted alone leaves it installable: the pull-back archives it in every repository holding it.
    promoter = codeartifact(airlock, "AKIDPROMOTER")
    package = {"domain": "acme", "domainOwner": airlock.registry.owner, "format": "pypi", "package": PUBLIC}
    held = promoter.list_package_versions(**package, repository=INTERNAL)["versions"]
    assert ("1.1", "Published") in [(item["version"], item["status"]) for item in held]
    token = token_for(airlock, "AKIDREADER")
    for repository in (VETTED, INTERNAL):
        archived = promoter.update_package_versions_status(**package, repository=repository, versions=["1.1"],
                                                           expectedStatus="Published", targetStatus="Archived")
        assert archived["failedVersions"] == {}, archived
        served = project_json(airlock, token, INTERNAL)["versions"]
        assert served == (["1.0", "1.1"] if repository == VETTED else ["1.0"]), (repository, served)

    version, output = install(client, Machine(airlock, tmp_path / "after"), exports)
    assert version == "1.0", output
    pinned, output = install(client, Machine(airlock, tmp_path / "after-pinned"), exports, "==1.1")
    assert pinned is None and NO_MATCH[client].format(version="1.1") in output, output
    record(client, "airlock: unpinned after 1.1 archived", "1.0")
    record(client, "airlock: ==1.1 (archived)", f'fails: "{NO_MATCH[client].format(version="1.1")}"')
