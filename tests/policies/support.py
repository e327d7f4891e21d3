"""Calling one guardrail directly, as CrossGuard calls it (ResourceValidationArgs/StackValidationArgs), with the
settings and pack config the policy tests share, and the documents the program builds from them; the pack's
mandatory violations over a whole rendering; and a gRPC client of the pack as the Pulumi CLI starts it. Used across
tests/policies and by tests/audit."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from audit.guardrails import pack_config, rendering_violations
from audit.render import Rendering
from model.documents.codeartifact import domain_permissions_policy, repository_permissions_policy
from model.documents.github import publisher_trust_policy
from model.parse import parse_settings
from model.trust_policy import to_json
from policies.guardrails import POLICIES, policy_config
from tests.expected import DOMAIN, DOMAIN_POLICY, OWNER, PACKAGE_ARN, PACKAGE_GROUP, REGION

SECONDARY = "444455556666"  # the one secondary account of SETTINGS
ORGANIZATION = "o-a1b2c3d4e5"

SETTINGS = parse_settings(
    {
        "ownerAccountId": OWNER,
        "domainName": "acme",
        "internalPrefixes": ["acme-", "acmecorp-"],
        "secondaryAccountIds": [SECONDARY],
        "publishers": [
            {"repository": "acme/acme-core", "packages": ["acme-core"]},
            {
                "repository": "acme/data-tools",
                "packages": ["acme-data-tools"],
                "subjects": [
                    "repo:acme/data-tools:ref:refs/tags/v1.0.0",
                    "repo:acme@1342004/data-tools@86712231:environment:pypi",
                ],
            },
        ],
    },
    REGION,
)
ORG_SETTINGS = replace(SETTINGS, organization_id=ORGANIZATION)
PUBLISHER = SETTINGS.publishers[1]

CONFIG = policy_config({
    "ownerAccountId": OWNER,
    "allowedAccountIds": [SECONDARY],
    "allowedOrganizationId": ORGANIZATION,
    "allowedExternalConnections": ["public:pypi"],
    "allowedGithubOwners": ["acme"],
    "internalPrefixes": ["acme-", "acmecorp-"],
    "publisherPackages": {p.repository: list(p.packages) for p in SETTINGS.publishers},
    "publisherSubjects": {p.repository: list(p.subjects) for p in SETTINGS.publishers},
})


def policy_named(name: str):
    return next(p for p in POLICIES if p.name == name)


def options(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


def provider(account: str = OWNER) -> PolicyProviderResource:
    # The engine hands provider config over as strings, lists as JSON.
    props = {"allowedAccountIds": json.dumps([account]), "region": REGION}
    return PolicyProviderResource("pulumi:providers:aws", unknown_checking_proxy(props),
                                  f"urn:pulumi:test::p::pulumi:providers:aws::{account}", account)


def violations(name: str, resource_type: str, props: dict, *, account: str = OWNER,
               config: dict | None = None) -> list[str]:
    """What one resource policy reports for one resource, props wrapped as CrossGuard wraps them."""
    policy = policy_named(name)
    assert isinstance(policy, ResourceValidationPolicy)
    urn = f"urn:pulumi:test::p::{resource_type}::r"
    args = ResourceValidationArgs(resource_type, unknown_checking_proxy(copy.deepcopy(props)), urn, "r",
                                  options(), provider(account), CONFIG.get(name, {}) if config is None else config)
    found: list[str] = []
    policy.validate(args, lambda message, urn=None: found.append(message))
    return found


def stack_resource(resource_type: str, name: str, props: dict, *, protect: bool = False,
                   dependencies: dict | None = None) -> PolicyResource:
    return PolicyResource(resource_type, unknown_checking_proxy(props), f"urn:pulumi:test::p::{resource_type}::{name}",
                          name, options(protect), provider(), None, [], dependencies or {})


def stack_violations(name: str, resources: list[PolicyResource], config: dict | None = None) -> list[tuple]:
    policy = policy_named(name)
    assert isinstance(policy, StackValidationPolicy)
    found: list[tuple] = []
    args = StackValidationArgs(resources, CONFIG.get(name, {}) if config is None else config)
    policy.validate(args, lambda message, urn=None: found.append((message, urn)))
    return found


def program_policy(**settings) -> dict:
    """The domain policy the program builds from SETTINGS with `settings` replaced."""
    return domain_permissions_policy(replace(SETTINGS, **settings))


def domain_with_policy(policy: dict | None) -> list[PolicyResource]:
    """A protected domain and, unless `policy` is None, its permissions policy holding `policy`."""
    domain = stack_resource(DOMAIN, "domain", {"domain": "acme"}, protect=True)
    if policy is None:
        return [domain]
    return [domain, stack_resource(DOMAIN_POLICY, "domain-policy", {"domain": "acme", "policyDocument": json.dumps(
        policy)}, dependencies={"domain": [domain]})]


def domain_policy(settings=SETTINGS) -> dict:
    return {"policyDocument": to_json(domain_permissions_policy(settings)), "domain": "acme"}


def repository_policy(settings=SETTINGS, repository: str = "internal", document: dict | None = None) -> dict:
    document = document or repository_permissions_policy(settings, repository)
    return {"policyDocument": to_json(document), "repository": repository, "domain": "acme"}


def with_statement(document: dict, **changes) -> dict:
    """The document with its first statement changed (None removes a key)."""
    document = copy.deepcopy(document)
    statement = document["Statement"][0]
    for key, value in changes.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return document


def read_statement(principal, actions, condition=None) -> dict:
    statement = {"Sid": "Grant", "Effect": "Allow", "Principal": principal, "Action": actions,
                 "Resource": f"{PACKAGE_ARN}/internal/*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def trust(subjects=None, conditions=None) -> dict:
    publisher = replace(PUBLISHER, subjects=tuple(subjects)) if subjects else PUBLISHER
    document = publisher_trust_policy(SETTINGS, publisher)
    if conditions is not None:
        document["Statement"][0]["Condition"] = conditions
    return {"assumeRolePolicy": to_json(document), "name": publisher.role_name}


def group(pattern: str, external: str = "BLOCK") -> PolicyResource:
    return stack_resource(PACKAGE_GROUP, pattern, {"domainName": "acme", "pattern": pattern, "originConfiguration": {
        "restrictions": {"externalUpstream": {"restrictionMode": external},
                         "publish": {"restrictionMode": "ALLOW_SPECIFIC_REPOSITORIES", "repositories": ["internal"]}}}})


def mandatory(rendering: Rendering, rule: str) -> list[str]:
    """The mandatory violations of one rule over a whole rendering, each as `urn: message`."""
    return [f"{v.urn}: {v.message}" for v in rendering_violations(rendering) if v.policy == rule and v.mandatory]


# --- the pack served over gRPC, as the Pulumi CLI talks to it ------------------------------------------------


def analyzer(process: subprocess.Popen[str]) -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    """A gRPC client of a started pack, which prints its port first; the process is stopped after."""
    try:
        port = process.stdout.readline().strip() if process.stdout else ""
        assert port.isdigit(), process.stderr.read() if process.poll() is not None and process.stderr else port
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        process.terminate()
        process.wait(timeout=10)


def struct(value: dict) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def messages(rendering: Rendering, policy: str) -> list[str]:
    """What one policy of the pack says of a rendering, at the levels its own settings' pack config gives."""
    return [v.message for v in rendering_violations(rendering, pack_config(rendering.settings)) if v.policy == policy]


def setter(path: tuple[str, ...], value: object) -> Callable[[dict], None]:
    """A change that sets the property at `path` of a resource's inputs to `value`."""
    def change(props: dict) -> None:
        target = props
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change
