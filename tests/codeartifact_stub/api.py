"""A local CodeArtifact control plane for boto3: what consumers, publishers and the airlock call.

Consumers and publishers: GetAuthorizationToken, GetRepositoryEndpoint, DescribePackageVersion,
ListPackageVersionAssets. The airlock's promoter and pull-back (issue #25): CopyPackageVersions
(a version already in the destination is refused with ALREADY_EXISTS unless `allowOverwrite`),
ListPackageVersions and UpdatePackageVersionsStatus (Published, Unlisted or Archived, per version,
`expectedStatus` and `versionRevisions` checked), on the repositories of `registry.airlock`.

boto3 reaches it through `AWS_ENDPOINT_URL_CODEARTIFACT=http://127.0.0.1:PORT`. Requests are routed
and checked, and responses built and checked, against botocore's own service model for
codeartifact (protocol rest-json): the operation is found by its HTTP method and request URI,
query parameters by their `locationName`, body members from the JSON body (their types checked
against the model), required members are enforced, and every response is
validated against the operation's output shape before it is sent. Errors carry the model's HTTP
status, `x-amzn-ErrorType` and a `message`, as AWS sends them.

The caller is told apart by the access key in its SigV4 `Authorization` header (see
`registry.Principal`); the signature itself is not verified.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import botocore.session

from tests.codeartifact_stub.registry import PackageVersion, Principal, Registry, StubError

MODEL = botocore.session.get_session().get_service_model("codeartifact")
OPERATIONS = ("GetAuthorizationToken", "GetRepositoryEndpoint", "DescribePackageVersion", "ListPackageVersionAssets",
              "CopyPackageVersions", "ListPackageVersions", "UpdatePackageVersionsStatus")
# UpdatePackageVersionsStatus sets these; Disposed only DisposePackageVersions does (User Guide,
# "Update package version status").
TARGET_STATUSES = ("Published", "Unlisted", "Archived")
CREDENTIAL = re.compile(r"Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")


def _routes() -> dict[tuple[str, str], str]:
    routes = {}
    for name in OPERATIONS:
        http = MODEL.operation_model(name).http
        routes[(http["method"], http["requestUri"])] = name
    return routes


ROUTES = _routes()


def validate(value: Any, shape: Any, where: str) -> None:
    """Fail loudly if a response the stub is about to send does not fit botocore's output shape."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), f"{where}: expected an object"
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members not in {shape.name}: {sorted(unknown)}"
        missing = [name for name in shape.required_members if name not in value]
        assert not missing, f"{where}: required members of {shape.name} missing: {missing}"
        for name, member in value.items():
            validate(member, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), f"{where}: expected a list"
        for index, item in enumerate(value):
            validate(item, shape.member, f"{where}[{index}]")
    elif kind == "map":
        assert isinstance(value, dict), f"{where}: expected a map"
        for key, item in value.items():
            validate(key, shape.key, f"{where} key")
            validate(item, shape.value, f"{where}[{key}]")
    elif kind == "string":
        assert isinstance(value, str), f"{where}: expected a string"
        if shape.enum:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.name} {shape.enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: expected an integer"
    elif kind == "timestamp":  # rest-json sends epoch seconds
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: expected epoch seconds"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    else:  # pragma: no cover - no other type is sent
        raise AssertionError(f"{where}: type {kind} not handled by the stub")


class _Handler(BaseHTTPRequestHandler):
    server: _APIServer
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _send(self, status: int, body: dict[str, Any], error: str | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        if error:
            self.send_header("x-amzn-ErrorType", error)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: str, message: str, status: int | None = None) -> None:
        if status is None:
            status = MODEL.shape_for(code).metadata["error"]["httpStatusCode"]
        self._send(status, {"message": message}, error=code)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        operation_name = ROUTES.get((self.command, parts.path))
        registry = self.server.registry
        if operation_name is None:
            self._error("ValidationException", f"the stub does not implement {self.command} {parts.path}", 400)
            return
        credential = CREDENTIAL.search(self.headers.get("Authorization", ""))
        if credential is None or credential["service"] != "codeartifact":
            self._error("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
            return
        operation = MODEL.operation_model(operation_name)
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        params: dict[str, Any] = {}
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._error("SerializationException", "the request body is not JSON", 400)
            return
        if not isinstance(body, dict):
            self._error("SerializationException", "the request body is not a JSON object", 400)
            return
        for member, shape in operation.input_shape.members.items():
            if shape.serialization.get("location") == "querystring":
                location = shape.serialization.get("name", member)
                if location in query:
                    params[member] = query[location]
            elif member in body:
                try:
                    validate(body[member], shape, member)
                except AssertionError as error:
                    self._error("ValidationException", str(error))
                    return
                params[member] = body[member]
        missing = [member for member in operation.input_shape.required_members if member not in params]
        if missing:
            self._error("ValidationException", f"missing required parameters: {missing}")
            return
        registry.record_api_call(operation_name, credential["key"], params)
        try:
            principal = registry.principal(credential["key"])
            body = getattr(self, f"_{operation_name}")(registry, principal, credential["region"], params)
        except StubError as error:
            self._error(error.code, error.message, error.status)
            return
        validate(body, operation.output_shape, operation_name)
        self._send(200, body)

    # --- the operations ---------------------------------------------------------------

    def _GetAuthorizationToken(self, registry: Registry, principal: Any, region: str,  # noqa: N802
                               params: dict[str, str]) -> dict[str, Any]:
        registry.check_domain(params["domain"], params.get("domainOwner"), region)
        if not principal.may_get_token:
            raise StubError(
                "AccessDeniedException",
                f"User: {principal.arn} is not authorized to perform: codeartifact:GetAuthorizationToken on "
                f"resource: {registry.domain_arn} because no identity-based policy allows the "
                "codeartifact:GetAuthorizationToken action",
            )
        duration = int(params.get("durationSeconds", "43200"))
        if duration != 0 and not 900 <= duration <= 43200:
            raise StubError("ValidationException", "durationSeconds must be 0 or between 900 and 43200")
        lifetime = timedelta(seconds=duration or principal.session_seconds)
        now = datetime.now(timezone.utc)
        expiration = now - timedelta(minutes=1) if principal.session_seconds <= 0 else now + lifetime
        token = registry.issue(principal, expiration)
        return {"authorizationToken": token, "expiration": expiration.timestamp()}

    def _GetRepositoryEndpoint(self, registry: Registry, principal: Any, region: str,  # noqa: N802
                               params: dict[str, str]) -> dict[str, Any]:
        registry.check_domain(params["domain"], params.get("domainOwner"), region)
        registry.check_repository(params["repository"])
        if params["format"] != "pypi":
            raise StubError("ValidationException", "the stub serves only the pypi format")
        return {"repositoryEndpoint": registry.endpoint(params["repository"])}

    def _package_files(self, registry: Registry, region: str, params: dict[str, str]) -> list[Any]:
        registry.check_domain(params["domain"], params.get("domainOwner"), region)
        registry.check_repository(params["repository"])
        if registry.airlock:
            held = registry.held_version(params["repository"], params["package"], params["packageVersion"])
            files = list(held.files) if held else []
        else:
            files = registry.files(params["package"], params["packageVersion"])
        if not files:
            raise StubError(
                "ResourceNotFoundException",
                f"Package version '{params['packageVersion']}' of package '{params['package']}' not found in "
                f"repository '{params['repository']}'",
            )
        return files

    def _DescribePackageVersion(self, registry: Registry, principal: Any, region: str,  # noqa: N802
                                params: dict[str, str]) -> dict[str, Any]:
        if not principal.may_read:
            raise StubError("AccessDeniedException",
                            f"User: {principal.arn} is not authorized to perform: codeartifact:DescribePackageVersion")
        self._may_read(registry, principal, params["repository"], "DescribePackageVersion")
        files = self._package_files(registry, region, params)
        if registry.airlock:
            held = registry.held_version(params["repository"], params["package"], params["packageVersion"])
            assert held is not None
            return {"packageVersion": {
                "format": "pypi", "packageName": held.name, "displayName": params["package"],
                "version": held.version, "status": held.status, "publishedTime": held.published_time.timestamp(),
                "revision": held.revision, "origin": held.origin,
            }}
        return {"packageVersion": {
            "format": "pypi", "packageName": params["package"], "displayName": params["package"],
            "version": params["packageVersion"], "status": "Published",
            "publishedTime": min(file.stat().st_mtime for file in files),
            "revision": "stub-" + params["packageVersion"],
            "origin": {"domainEntryPoint": {"repositoryName": params["repository"]}, "originType": "INTERNAL"},
        }}

    def _ListPackageVersionAssets(self, registry: Registry, principal: Any, region: str,  # noqa: N802
                                  params: dict[str, str]) -> dict[str, Any]:
        if not principal.may_read:
            raise StubError("AccessDeniedException", f"User: {principal.arn} is not authorized to perform: "
                                                     "codeartifact:ListPackageVersionAssets")
        self._may_read(registry, principal, params["repository"], "ListPackageVersionAssets")
        files = self._package_files(registry, region, params)
        return {
            "format": "pypi", "package": params["package"], "version": params["packageVersion"],
            "versionRevision": "stub-" + params["packageVersion"],
            "assets": [{"name": file.name, "size": file.stat().st_size, "hashes": registry.hashes(file)}
                       for file in files],
        }


    # --- the airlock's operations ------------------------------------------------------

    @staticmethod
    def _may_read(registry: Registry, principal: Principal, repository: str, action: str) -> None:
        if registry.airlock and repository == "pypi-store" and not principal.may_read_store:
            raise StubError("AccessDeniedException", f"User: {principal.arn} is not authorized to perform: "
                                                     f"codeartifact:{action} on repository {repository}")

    @staticmethod
    def _airlock_repository(registry: Registry, region: str, params: dict[str, Any], *names: str) -> None:
        registry.check_domain(params["domain"], params.get("domainOwner"), region)
        for name in names:
            registry.check_repository(params[name])
        if params["format"] != "pypi":
            raise StubError("ValidationException", "the stub serves only the pypi format")
        if not registry.airlock:
            raise StubError("ValidationException", "this stand-in was started without the airlock's repositories")

    @staticmethod
    def _versions(params: dict[str, Any]) -> list[tuple[str, str | None]]:
        """(version, expected revision) from exactly one of `versions` and `versionRevisions`."""
        versions, revisions = params.get("versions"), params.get("versionRevisions")
        if (versions is None) == (revisions is None):
            raise StubError("ValidationException", "Exactly one of versions or versionRevisions must be specified")
        if versions is not None:
            return [(version, None) for version in versions]
        return list(revisions.items())

    @staticmethod
    def _summary(held: PackageVersion) -> dict[str, Any]:
        return {"revision": held.revision, "status": held.status}

    def _CopyPackageVersions(self, registry: Registry, principal: Principal, region: str,  # noqa: N802
                             params: dict[str, Any]) -> dict[str, Any]:
        source, destination = params["sourceRepository"], params["destinationRepository"]
        self._airlock_repository(registry, region, params, "sourceRepository", "destinationRepository")
        if (source, destination) not in principal.may_copy:
            raise StubError("AccessDeniedException", f"User: {principal.arn} is not authorized to perform: "
                                                     f"codeartifact:CopyPackageVersions from {source} to {destination}")
        if source == destination:
            raise StubError("ValidationException", "sourceRepository and destinationRepository must differ")
        if params.get("includeFromUpstream"):
            raise StubError("ValidationException", "the stand-in does not copy from upstream repositories")
        successful, failed = {}, {}
        for version, revision in self._versions(params):
            held = registry.held_version(source, params["package"], version)
            if revision is not None and held is not None and held.revision != revision:
                failed[version] = {"errorCode": "MISMATCHED_REVISION", "errorMessage": f"revision is {held.revision}"}
                continue
            copied, code, message = registry.copy_version(source, destination, params["package"], version,
                                                          bool(params.get("allowOverwrite", False)))
            if copied is None:
                failed[version] = {"errorCode": code, "errorMessage": message}
            else:
                successful[version] = self._summary(copied)
        return {"successfulVersions": successful, "failedVersions": failed}

    def _ListPackageVersions(self, registry: Registry, principal: Principal, region: str,  # noqa: N802
                             params: dict[str, Any]) -> dict[str, Any]:
        if not principal.may_read:
            raise StubError("AccessDeniedException",
                            f"User: {principal.arn} is not authorized to perform: codeartifact:ListPackageVersions")
        self._airlock_repository(registry, region, params, "repository")
        self._may_read(registry, principal, params["repository"], "ListPackageVersions")
        held = registry.held_versions(params["repository"], params["package"])
        if not held:
            raise StubError("ResourceNotFoundException",
                            f"Package '{params['package']}' not found in repository '{params['repository']}'")
        if "status" in params:
            held = [version for version in held if version.status == params["status"]]
        newest_first = list(reversed(held))
        start = int(params.get("nextToken", "0"))
        size = int(params.get("maxResults", "50"))
        page = newest_first[start:start + size]
        published = [version.version for version in newest_first if version.status == "Published"]
        response: dict[str, Any] = {
            "format": "pypi", "package": held[0].name if held else params["package"],
            "versions": [{"version": version.version, "revision": version.revision, "status": version.status,
                          "origin": version.origin} for version in page],
        }
        if published:
            response["defaultDisplayVersion"] = published[0]
        if start + size < len(newest_first):
            response["nextToken"] = str(start + size)
        return response

    def _UpdatePackageVersionsStatus(self, registry: Registry, principal: Principal, region: str,  # noqa: N802
                                     params: dict[str, Any]) -> dict[str, Any]:
        repository = params["repository"]
        self._airlock_repository(registry, region, params, "repository")
        if repository not in principal.may_update_status:
            raise StubError("AccessDeniedException", f"User: {principal.arn} is not authorized to perform: "
                                                     f"codeartifact:UpdatePackageVersionsStatus on {repository}")
        target = params["targetStatus"]
        if target not in TARGET_STATUSES:
            raise StubError("ValidationException", f"targetStatus must be one of {', '.join(TARGET_STATUSES)}")
        revisions = dict(params.get("versionRevisions") or {})
        successful, failed = {}, {}
        for version in params["versions"]:
            updated, code, message = registry.set_status(repository, params["package"], version, target,
                                                         params.get("expectedStatus"), revisions.get(version))
            if updated is None:
                failed[version] = {"errorCode": code, "errorMessage": message}
            else:
                successful[version] = self._summary(updated)
        return {"successfulVersions": successful, "failedVersions": failed}


class _APIServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, registry: Registry):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.registry = registry


class CodeArtifactAPI:
    """The fake API on 127.0.0.1, running in a thread until `stop()`."""

    def __init__(self, registry: Registry):
        self._server = _APIServer(registry)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="codeartifact-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
