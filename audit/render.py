"""Run the real `__main__.py` under Pulumi's mock engine and record what it declares."""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.proto import alias_pb2, resource_pb2
from pulumi.runtime.stack import Stack

from model.names import PROJECT
from model.settings import Settings
from model.stack_file import PROJECT_DIR, as_engine_config, load_stack_config, project_file, stack_settings

AWS_PROVIDER = "pulumi:providers:aws"
AWS_NATIVE_PROVIDER = "pulumi:providers:aws-native"
REPOSITORY_ENDPOINT_INVOKE = "aws:codeartifact/getRepositoryEndpoint:getRepositoryEndpoint"


@dataclass
class RecordedResource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str  # provider URN, "" for components and default providers
    protect: bool
    retain_on_delete: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    account: str = ""
    region: str = ""
    # URNs each input property was computed from (how references are wired).
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    # Former URNs this resource answers to (its aliases), so a move replaces nothing.
    aliases: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "account": self.account,
            "region": self.region,
            "protect": self.protect,
            "inputs": self.inputs,
        }

    def policy(self, key: str) -> dict[str, Any]:
        """A JSON policy input (e.g. `policy`, `assumeRolePolicy`) as a dict."""
        document = json.loads(self.inputs[key])
        if not isinstance(document, dict):
            raise ValueError(f"{self.urn}: {key} is not a JSON object")
        return document


@dataclass
class Rendering:
    stack: str
    settings: Settings
    resources: list[RecordedResource]
    components: list[RecordedResource]
    outputs: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    # The folder holding Pulumi.yaml, and so the stack's checked-in policy pack config.
    project_dir: Path = PROJECT_DIR

    def of_type(self, type_: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str) -> RecordedResource:
        found = [r for r in self.resources if r.type == type_ and r.name == name]
        if len(found) != 1:
            raise KeyError(f"expected one {type_} named {name}, found {len(found)}")
        return found[0]

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "resources": [r.as_json() for r in self.resources],
            "outputs": self.outputs,
        }


def _provider_account(inputs: Mapping[str, Any]) -> str:
    allowed = inputs.get("allowedAccountIds")
    if isinstance(allowed, str):
        allowed = json.loads(allowed)
    return allowed[0] if allowed else ""


class RegistryMocks(pulumi.runtime.Mocks):
    """Answers like AWS would: deterministic ARNs in the account of each resource's provider."""

    def __init__(self) -> None:
        self.providers: dict[str, dict[str, Any]] = {}

    def _where(self, provider_ref: str | None) -> tuple[str, str]:
        inputs = self.providers.get(provider_ref.rsplit("::", 1)[0]) if provider_ref else None
        inputs = inputs or {}
        return _provider_account(inputs), inputs.get("region", "")

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = dict(args.inputs)
        account, region = self._where(args.provider)
        name = inputs.get("name") or args.name
        resource_id = f"{args.name}-id"
        arn = None
        if args.typ == "aws:kms/key:Key":
            # Derived from the name, not hash(): the audit's output must be the same in every run.
            key_id = f"mrk-{int(hashlib.sha256(args.name.encode()).hexdigest(), 16) % 10**12:012d}"
            inputs["keyId"] = key_id
            arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
        elif args.typ == "aws:codeartifact/domain:Domain":
            inputs["owner"] = account
            arn = f"arn:aws:codeartifact:{region}:{account}:domain/{inputs['domain']}"
        elif args.typ == "aws:codeartifact/repository:Repository":
            inputs.setdefault("domainOwner", account)
            arn = f"arn:aws:codeartifact:{region}:{account}:repository/{inputs['domain']}/{inputs['repository']}"
        elif args.typ == "aws-native:codeartifact:PackageGroup":
            group = f"{inputs.get('domainName')}{inputs.get('pattern')}"
            arn = f"arn:aws:codeartifact:{region}:{account}:package-group/{group}"
        elif args.typ in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
            # Like the provider: an autonamed role or policy still has a name, a role's ID is its
            # name and a policy's its ARN, so `role.name` and `role.id` reach attachments.
            kind = args.typ.rsplit(":", 1)[1].lower()
            inputs["name"] = name
            arn = f"arn:aws:iam::{account}:{kind}{inputs.get('path') or '/'}{name}"
            resource_id = name if kind == "role" else arn
        elif args.typ == "aws-native:iam:Role":
            name = inputs.get("roleName") or args.name
            inputs["roleName"] = name
            arn = f"arn:aws:iam::{account}:role{inputs.get('path') or '/'}{name}"
            resource_id = name
        elif args.typ == "aws-native:iam:ManagedPolicy":
            name = inputs.get("managedPolicyName") or args.name
            inputs["policyArn"] = f"arn:aws:iam::{account}:policy{inputs.get('path') or '/'}{name}"
            resource_id = inputs["policyArn"]
        elif args.typ == "aws:lambda/function:Function":
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        elif args.typ == "aws:s3/bucket:Bucket":
            arn = f"arn:aws:s3:::{inputs.get('bucket') or args.name}"
        elif args.typ == "aws:sqs/queue:Queue":
            arn = f"arn:aws:sqs:{region}:{account}:{name}"
            inputs["url"] = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            resource_id = inputs["url"]
        elif args.typ == "aws:cloudwatch/eventRule:EventRule":
            arn = f"arn:aws:events:{region}:{account}:rule/{name}"
        elif args.typ == "aws:sns/topic:Topic":
            arn = f"arn:aws:sns:{region}:{account}:{name}"
        elif args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            arn = f"arn:aws:iam::{account}:oidc-provider/{inputs['url'].removeprefix('https://')}"
        if arn:
            inputs["arn"] = arn
        return resource_id, inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """(outputs, check failures) of an invoke."""
        if args.token == REPOSITORY_ENDPOINT_INVOKE:
            account, region = self._where(args.provider)
            a = args.args
            owner = a.get("domainOwner") or account
            url = (
                f"https://{a['domain']}-{owner}.d.codeartifact.{region}.amazonaws.com/"
                f"{a['format']}/{a['repository']}/"
            )
            return {**a, "id": url, "repositoryEndpoint": url, "domainOwner": owner}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The stock mock monitor, also keeping each registration's options (protect, provider...)."""

    def __init__(self, mocks: RegistryMocks) -> None:
        super().__init__(mocks)
        self.registry_mocks = mocks
        self.recorded: list[RecordedResource] = []

    def RegisterResource(  # noqa: N802 (gRPC method name)
        self, request: resource_pb2.RegisterResourceRequest
    ) -> resource_pb2.RegisterResourceResponse:
        if request.type.startswith("pulumi:providers:"):
            inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
            urn = self.make_urn(request.parent, request.type, request.name)
            self.registry_mocks.providers[urn] = dict(inputs)
        # pulumi's MockMonitor is unannotated.
        response: resource_pb2.RegisterResourceResponse = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        inputs = pulumi.runtime.rpc.deserialize_properties(request.object)
        provider = request.provider.rsplit("::", 1)[0] if request.provider else ""
        if request.type.startswith("pulumi:providers:"):
            account, region = _provider_account(inputs), inputs.get("region", "")
        else:
            account, region = self.registry_mocks._where(request.provider)
        self.recorded.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=bool(request.custom),
                parent=request.parent,
                provider=provider,
                protect=bool(request.protect),
                retain_on_delete=bool(request.retainOnDelete),
                inputs=_plain(inputs),
                outputs=_plain(registration.state),
                account=account,
                region=region,
                property_dependencies={
                    key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                },
                aliases=[self._alias_urn(alias, request) for alias in request.aliases],
            )
        )
        return response

    def _alias_urn(self, alias: alias_pb2.Alias, request: resource_pb2.RegisterResourceRequest) -> str:
        """The URN an alias names, by the same rule the mock engine gives URNs."""
        if alias.WhichOneof("alias") == "urn":
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)


def _plain(value: Any) -> Any:
    """Drop SDK sentinels so inputs print as JSON; an asset or archive as what it names."""
    if isinstance(value, pulumi.AssetArchive):
        return {"assetArchive": {name: _plain(item) for name, item in sorted(value.assets.items())}}
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {type(value).__name__[0].lower() + type(value).__name__[1:]: str(value.path)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def render(
    stack: str = "prod",
    project_dir: Path = PROJECT_DIR,
    overrides: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    preview: bool = False,
) -> Rendering:
    """Run `__main__.py` afresh under mocks (as `pulumi up`, or as `pulumi preview` with
    `preview=True`) and return what it declared.

    `config` replaces the stack file entirely ({"project:key": value}); `overrides`
    patch it. Raises ConfigError for invalid configuration, as `pulumi preview` would fail.
    """
    values = dict(config) if config is not None else load_stack_config(stack, project_dir, overrides)
    if config is not None and overrides:
        values.update(overrides)
    # Validate first, exactly as the program will: a bad config never starts the engine.
    settings = stack_settings(values)
    recorded, outputs = run_program(values, stack, project_dir, preview=preview)
    return Rendering(
        stack=stack,
        settings=settings,
        # Registration order varies between runs (the engine is asynchronous); URN order does not.
        resources=sorted((r for r in recorded if r.custom), key=lambda r: r.urn),
        components=sorted((r for r in recorded if not r.custom), key=lambda r: r.urn),
        outputs=outputs,
        config=values,
        project_dir=project_dir,
    )


def run_program(
    values: Mapping[str, Any],
    stack: str = "prod",
    project_dir: Path = PROJECT_DIR,
    recorded: list[RecordedResource] | None = None,
    preview: bool = False,
) -> tuple[list[RecordedResource], dict[str, Any]]:
    """Run `__main__.py` under a fresh mock engine with exactly these config values.

    Whatever the program raises propagates; `recorded`, when given, keeps what it
    registered up to that point.
    """
    name = project_file(project_dir)["name"]
    if name != PROJECT:
        raise ValueError(f"Pulumi.yaml names project {name!r}, components expect {PROJECT!r}")
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    pulumi.runtime.set_all_config(as_engine_config(values), secret_keys=[])
    pulumi_settings.reset_options(project=name, stack=stack, preview=preview)
    mocks = RegistryMocks()
    monitor = RecordingMonitor(mocks)
    if recorded is not None:
        monitor.recorded = recorded
    pulumi.runtime.set_mocks(mocks, project=name, stack=stack, preview=preview, monitor=monitor)

    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        # As `pulumi up` runs it, as __main__; exec'd here rather than through runpy, whose three frames
        # would sit under every resource the engine takes a stack trace of.
        path = project_dir / "__main__.py"
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"),  # noqa: S102 (the project's own program)
             {"__name__": "__main__", "__file__": str(path), "__builtins__": __builtins__})
        root = pulumi_settings.get_root_resource()
        if not isinstance(root, Stack):
            raise RuntimeError(f"{project_dir / '__main__.py'} ran without a root stack resource")
        return pulumi.Output.from_input(dict(root.outputs)).apply(outputs.update)

    with collector_paused():
        pulumi.runtime.test(program)()  # type: ignore[no-untyped-call]  # pulumi's mocks.test is unannotated
    return monitor.recorded, _plain(outputs)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while the mock engine runs, back on afterwards.

    Every registration allocates futures, outputs and protobuf messages that live until the end,
    so the collector's passes over an ever larger heap cost more than half the CPU of a render at
    4000 resources; its garbage (about 5 % more peak memory there) is collected once it is back on.
    bench/floor.py runs the floor the same way, so that the two stay comparable."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
