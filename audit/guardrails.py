"""The policy pack, run offline over the recorded resources as `pulumi preview --policy-pack` would.

Each recorded resource becomes a `ResourceValidationArgs` (its inputs as props, wrapped
in the same unknown-checking proxies CrossGuard uses) for every resource policy, and the
whole stack one `StackValidationArgs` (outputs as props, as the engine sends stack state)
for every stack policy. The pack config is derived from the stack's settings;
policies/policy-config.prod.json is the same config for the Pulumi CLI.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

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

from audit.render import RecordedResource, Rendering
from audit.sections import Section
from audit.stack_config import PROJECT_DIR
from components.settings import Settings
from policies.guardrails import PACK_ENFORCEMENT_LEVEL, PACK_NAME, POLICIES, Guardrail, policy_config

# Public PyPI is the only upstream the registry is meant to have.
ALLOWED_EXTERNAL_CONNECTIONS = ("public:pypi",)


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str  # "mandatory" or "advisory"
    urn: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.enforcement == "mandatory"


def config_values(settings: Settings) -> dict[str, Any]:
    """What the pack allows for this stack, from the same settings the program reads."""
    return {
        "ownerAccountId": settings.owner_account_id,
        "allowedAccountIds": list(settings.secondary_account_ids),
        "allowedOrganizationId": settings.organization_id or "",
        "allowedExternalConnections": list(ALLOWED_EXTERNAL_CONNECTIONS),
        # Publishers and CI readers alike: every repository a GitHub role of the stack trusts.
        "allowedGithubOwners": sorted({repository.split("/", 1)[0] for repository in (
            *(p.repository for p in settings.publishers), *(r.repository for r in settings.github_readers))}),
        "internalPrefixes": list(settings.internal_prefixes),
        "publisherPackages": {p.repository: list(p.packages) for p in settings.publishers},
        "breakGlassRoleArn": settings.break_glass_role_arn or "",
        "deployPrincipalArns": list(settings.deploy_principal_arns),
    }


def pack_config(settings: Settings) -> dict[str, dict[str, Any]]:
    """The `--policy-pack-config` document for a stack: {policy name: {property: value}}."""
    return policy_config(config_values(settings))


def _options(resource: RecordedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect, ignore_changes=[], delete_before_replace=None, aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def _run(result: Any) -> None:
    # Policies may be async; CrossGuard awaits them the same way.
    if inspect.isawaitable(result):
        async def wait() -> None:
            await result
        asyncio.run(wait())


def run_pack(
    resources: Iterable[RecordedResource],
    config: Mapping[str, Mapping[str, Any]],
    components: Iterable[RecordedResource] = (),
    policies: Iterable[Guardrail] = POLICIES,
) -> list[Violation]:
    """Every violation the policies report over these resources, in policy order."""
    resources = list(resources)
    by_urn = {r.urn: r for r in resources}
    providers = {
        r.urn: PolicyProviderResource(r.type, unknown_checking_proxy(r.inputs), r.urn, r.name)
        for r in resources if r.type.startswith("pulumi:providers:")
    }
    inputs = {r.urn: unknown_checking_proxy(r.inputs) for r in resources}
    everything = resources + list(components)
    options = {r.urn: _options(r) for r in everything}

    # Stack state: every resource with its outputs, parents and property dependencies linked.
    stack = {
        r.urn: PolicyResource(r.type, unknown_checking_proxy(r.outputs), r.urn, r.name, options[r.urn],
                              providers.get(r.provider), None, [], {})
        for r in everything
    }
    for r in everything:
        stack[r.urn].parent = stack.get(r.parent)
        stack[r.urn].property_dependencies = {
            key: [stack[urn] for urn in urns if urn in stack] for key, urns in r.property_dependencies.items()
        }

    violations: list[Violation] = []
    for policy in policies:
        level = (policy.enforcement_level or PACK_ENFORCEMENT_LEVEL).value
        policy_settings = dict(config.get(policy.name, {}))
        if isinstance(policy, ResourceValidationPolicy):
            for urn, resource in by_urn.items():
                resource_args = ResourceValidationArgs(resource.type, inputs[urn], urn, resource.name,
                                                       options[urn], providers.get(resource.provider),
                                                       policy_settings)
                _run(policy.validate(resource_args, _Reporter(violations, policy.name, level, urn)))
        elif isinstance(policy, StackValidationPolicy):
            stack_args = StackValidationArgs(list(stack.values()), policy_settings)
            _run(policy.validate(stack_args, _Reporter(violations, policy.name, level)))
    return violations


@dataclass(frozen=True)
class _Reporter:
    """The report_violation callback of one policy (and, for resource policies, one resource)."""

    violations: list[Violation]
    policy: str
    enforcement: str
    resource_urn: str | None = None

    def __call__(self, message: str, urn: str | None = None) -> None:
        # CrossGuard ties a resource policy's violation to the resource validated, whatever urn is passed.
        where = self.resource_urn or urn or ""
        self.violations.append(Violation(self.policy, self.enforcement, where, message))


def rendering_violations(
    rendering: Rendering, config: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Violation]:
    """The pack over a rendering, with the config derived from its settings unless one is given."""
    config = pack_config(rendering.settings) if config is None else config
    return run_pack(rendering.resources, config, rendering.components)


def stack_pack_config(rendering: Rendering) -> tuple[dict[str, dict[str, Any]], str]:
    """The checked-in `policies/policy-config.<stack>.json` when there is one (an account added
    to the stack config but not to the pack config is then reported), else the derived config."""
    path = PROJECT_DIR / "policies" / f"policy-config.{rendering.stack}.json"
    if path.exists():
        return json.loads(path.read_text()), f"policies/{path.name}"
    return pack_config(rendering.settings), "derived from the stack settings"


def guardrails_section(rendering: Rendering) -> Section:
    config, source = stack_pack_config(rendering)
    violations = rendering_violations(rendering, config)
    mandatory = sum(v.mandatory for v in violations)
    lines = [f"[{v.enforcement}] {v.policy}  {v.urn or '(stack)'}: {v.message}" for v in violations]
    if not violations:
        lines.append(f"{len(POLICIES)} policies over {len(rendering.resources)} resources: no violations.")
    lines.append(f"Pack config: {source}.")
    title = (f"Guardrails ({PACK_NAME}, {len(POLICIES)} policies): {mandatory} mandatory, "
             f"{len(violations) - mandatory} advisory violations")
    return Section(
        title=title,
        text="\n".join(lines),
        json_key="violations",
        json_value=[asdict(v) for v in violations],
        failed=mandatory > 0,
    )
