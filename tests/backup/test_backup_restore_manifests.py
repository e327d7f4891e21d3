"""`python -m backup.restore`: the manifests it does not understand, the project pages it reads, and the
verification that downloads every file back through the index."""

from __future__ import annotations

import hashlib
import json

import pytest

from backup import restore, restore_bucket, restore_index
from backup.layout import Asset
from backup.restore_errors import RestoreError
from tests.backup.restore_support import BUCKET, STANDARD, WITH_TOKEN, back_up, run

# --- the manifests it does not understand ------------------------------------------------------------


GOOD_ASSET = {"name": "acme_core-1.0.0-py3-none-any.whl", "sha256": "a" * 64, "size": 10}


def recorded(**fields: object) -> dict:
    """A manifest as the backup writes it (backup/layout.py), with `fields` changed."""
    return {"package": "acme-core", "version": "1.0.0", "revision": "rev-1", "assets": [GOOD_ASSET],
            "eventDeduplicationId": None, "copiedAt": "2026-07-01T00:00:00Z", "sequenceNumber": None, **fields}


KEY = "manifests/acme-core/1.0.0.json"


@pytest.mark.parametrize(("key", "manifest", "said"), [
    (KEY, recorded(), None),
    (KEY, recorded(version="1.0.1"), "not the 'acme-core' '1.0.0' of its key"),
    (KEY, recorded(status="Deleted"), "is not understood: not a manifest: expected exactly the keys"),
    (KEY, recorded(assets=[]), "lists no assets"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "name": "../../etc/passwd"}]), "is not a distribution's file name"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "sha256": "A" * 64}]), "is not understood: not a manifest: asset"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "size": True}]), "is not understood: not a manifest: asset"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "size": -1}]), "has no size"),
    (KEY, recorded(assets=[GOOD_ASSET, GOOD_ASSET]), "lists a file twice"),
    (KEY, recorded(assets=[{**GOOD_ASSET, "md5": "x"}]), "is not understood: not a manifest: asset"),
    ("manifests/acme-core/old/1.0.0.json", {}, "is not manifests/NAME/VERSION.json"),
    ("manifests/acme-core/1.0.0.txt", {}, "is not manifests/NAME/VERSION.json"),
])
def test_a_manifest_is_read_only_when_it_is_understood(key, manifest, said):
    if said is None:
        parsed = restore_bucket.parse_manifest(key, json.dumps(manifest).encode())
        assert parsed.assets == (Asset(GOOD_ASSET["name"], "a" * 64, 10),)
        return
    with pytest.raises(RestoreError) as raised:
        restore_bucket.parse_manifest(key, json.dumps(manifest).encode())
    assert key in str(raised.value) and said in str(raised.value)


def test_a_bucket_with_a_manifest_it_does_not_understand_fails_before_any_download(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0")])
    back_up(s3, "acme-tools", "0.1.0", [write_wheel(tmp_path, "acme-tools", "0.1.0")], deleted=True)
    code, out, err = run(["--bucket", BUCKET, "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 1
    assert "manifests/acme-tools/0.1.0.json is not understood: not a manifest: expected exactly the keys" in err
    assert out == ""


def test_a_tampered_file_is_refused_before_the_index_is_asked(s3, tmp_path):
    from tests.codeartifact_stub.distributions import write_wheel

    back_up(s3, "acme-core", "1.0.0", [write_wheel(tmp_path, "acme-core", "1.0.0")])
    back_up(s3, "acme-tools", "0.1.0", [write_wheel(tmp_path, "acme-tools", "0.1.0")])
    key = "packages/acme-tools/0.1.0/acme_tools-0.1.0-py3-none-any.whl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"not the wheel that was backed up")
    # No stand-in runs: reaching the index would fail the test with another message.
    code, _, err = run(["--bucket", BUCKET, "--index-url", STANDARD], s3, WITH_TOKEN)
    assert code == 1
    assert "refused before any upload" in err
    assert f"{key}: sha256 {hashlib.sha256(b'not the wheel that was backed up').hexdigest()}" in err
    assert "acme_core" not in err  # only the altered file is named
    assert "0 files were uploaded" in err


# --- the project pages it reads ------------------------------------------------------------------------


def test_project_pages_in_html_and_json_give_each_files_url_and_sha256():
    page = "https://host/pypi/internal/simple/acme-core/"
    html = (b'<html><body><a href="../../packages/acme_core-1.0.0-py3-none-any.whl#sha256=' + b"b" * 64 + b'">x</a>'
            b'<a href="1.0.0/acme_core-1.0.0.tar.gz">y</a></body></html>')
    listed = restore_index.parse_project_page(page, "text/html; charset=utf-8", html)
    assert listed == {
        "acme_core-1.0.0-py3-none-any.whl": restore_index.Listed(
            "https://host/pypi/internal/packages/acme_core-1.0.0-py3-none-any.whl", "b" * 64),
        "acme_core-1.0.0.tar.gz": restore_index.Listed(page + "1.0.0/acme_core-1.0.0.tar.gz", None),
    }
    document = {"meta": {"api-version": "1.1"}, "name": "acme-core", "files": [
        {"filename": "acme_core-1.0.0.tar.gz", "url": "1.0.0/acme_core-1.0.0.tar.gz", "hashes": {"sha256": "c" * 64}}]}
    json_page = json.dumps(document).encode()
    assert restore_index.parse_project_page(page, "application/vnd.pypi.simple.v1+json", json_page) == {
        "acme_core-1.0.0.tar.gz": restore_index.Listed(page + "1.0.0/acme_core-1.0.0.tar.gz", "c" * 64)}


# --- the verification after the upload ----------------------------------------------------------------


def test_verification_names_each_file_the_index_serves_with_other_bytes_or_not_at_all():
    target = restore_index.parse_index_url(STANDARD)
    wheel, sdist = b"the backed-up wheel", b"the backed-up sdist"
    manifest = restore_bucket.Manifest("manifests/acme-core/1.0.0.json", "acme-core", "1.0.0", (
        Asset("acme_core-1.0.0-py3-none-any.whl", hashlib.sha256(wheel).hexdigest(), len(wheel)),
        Asset("acme_core-1.0.0.tar.gz", hashlib.sha256(sdist).hexdigest(), len(sdist))))
    page = target.simple_url + "acme-core/"
    served = {page: b'<a href="acme_core-1.0.0-py3-none-any.whl">w</a>',
              page + "acme_core-1.0.0-py3-none-any.whl": wheel}
    asked: list[str] = []

    def fetch(url: str, accept: str | None) -> restore_index.Response:
        asked.append(url)
        if url in served:
            return restore_index.Response(200, "text/html", served[url])
        return restore_index.Response(404, "", b"")

    with pytest.raises(RestoreError) as missing:
        restore.verify([manifest], restore_index.Index(target, "token", fetch))
    assert str(missing.value).endswith("acme_core-1.0.0.tar.gz: not in the index after the restore")
    assert asked == [page, page + "acme_core-1.0.0-py3-none-any.whl"]  # the listed file was downloaded

    served[page] += b'<a href="acme_core-1.0.0.tar.gz">s</a>'
    served[page + "acme_core-1.0.0.tar.gz"] = sdist
    restore.verify([manifest], restore_index.Index(target, "token", fetch))  # both served byte-identical
    served[page + "acme_core-1.0.0.tar.gz"] = b"other bytes"
    with pytest.raises(RestoreError) as differs:
        restore.verify([manifest], restore_index.Index(target, "token", fetch))
    other = hashlib.sha256(b"other bytes").hexdigest()
    assert f"acme_core-1.0.0.tar.gz: downloaded sha256 {other}" in str(differs.value)
    assert "acme_core-1.0.0-py3-none-any.whl" not in str(differs.value)
