"""The policy pack, run offline over the recorded resources as `pulumi preview --policy-pack` would.

Each recorded resource becomes a `ResourceValidationArgs` (its inputs as props, wrapped
in the same unknown-checking proxies CrossGuard uses) for every resource policy, and the
whole stack one `StackValidationArgs` (outputs as props, as the engine sends stack state)
for every stack policy. The pack config is derived from the stack's settings;
policies/policy-config.prod.json is the same config for the Pulumi CLI, and is applied as the CLI
applies it: `all` and each policy's `enforcementLevel` set the levels the policies run at, and a
checked-in config that lowers a policy, or names what the pack does not declare, fails the audit.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
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
from model.settings import Settings
from policies import iam_documents as iam
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
        # Publishers, CI and Dependabot readers alike: every repository a GitHub role of the stack trusts.
        "allowedGithubOwners": sorted({repository.split("/", 1)[0] for repository in (
            *(p.repository for p in settings.publishers),
            *(r.repository for r in (*settings.github_readers, *settings.dependabot_readers)))}),
        "internalPrefixes": list(settings.internal_prefixes),
        "publisherPackages": {p.repository: list(p.packages) for p in settings.publishers},
        "publisherSubjects": {p.repository: list(p.subjects) for p in settings.publishers},
        "breakGlassRoleArn": settings.break_glass_role_arn or "",
        "deployPrincipalArns": list(settings.deploy_principal_arns),
        # Airlock mode only: a direct stack's pack config stays as it was.
        **({"publicIngest": settings.public_ingest, "promoterRoleArn": settings.promoter_role_arn,
            "pullBackRoleArn": settings.pull_back_role_arn, "vettedRepositoryName": settings.vetted_repository,
            "internalRepositoryName": settings.internal_repository} if settings.airlock_mode else {}),
        # Backup only: a stack without one keeps its pack config as it was.
        **({"backupBucketName": settings.backup_bucket_name, "backupReplicaBucketName": settings.replica_bucket_name,
            "backupRoleArn": settings.backup_role_arn, "reconcileRoleArn": settings.reconcile_role_arn,
            "replicationRoleArn": settings.replication_role_arn, "internalRepositoryName": settings.internal_repository,
            **({"retentionRoleArn": settings.retention_role_arn} if settings.retention_mode else {})}
           if settings.backup_mode else {}),
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


# What a policy's violations block, by level: pulumi_policy's analyzer reports a validation at
# `remediate` as mandatory (its remediation, if any, runs first), and skips a `disabled` policy.
_STRENGTH = {EnforcementLevel.DISABLED: 0, EnforcementLevel.ADVISORY: 1,
             EnforcementLevel.MANDATORY: 2, EnforcementLevel.REMEDIATE: 2}
# The pack-wide key of a pack config file, and its key for Pulumi ESC environments.
ALL = "all"
ENVIRONMENTS = "environments"
ENFORCEMENT_LEVEL = "enforcementLevel"


class PackConfigError(ValueError):
    """A pack config the Pulumi CLI refuses to run with."""


@dataclass(frozen=True)
class AppliedPackConfig:
    """A `--policy-pack-config` document applied to the pack as the Pulumi CLI applies it
    (pulumi/pulumi pkg/resource/analyzer/config.go: parsePolicyPackConfig, then
    ReconcilePolicyPackConfig): every policy's level and properties, with schema defaults."""

    levels: dict[str, EnforcementLevel]
    properties: dict[str, dict[str, Any]]
    # Each policy whose level the document sets, and what set it: "all" or the policy's own entry.
    level_sources: dict[str, str]
    environments: list[str]


def _level(value: object, key: str) -> EnforcementLevel:
    if not isinstance(value, str) or value not in {level.value for level in EnforcementLevel}:
        raise PackConfigError(f"{key}: {value!r} is not an enforcement level "
                              f"({', '.join(level.value for level in EnforcementLevel)})")
    return EnforcementLevel(value)


def own_level(policy: Guardrail) -> EnforcementLevel:
    """The level the pack serves a policy at (its own, else the pack's), before any config."""
    return policy.enforcement_level or PACK_ENFORCEMENT_LEVEL


def apply_pack_config(document: Mapping[str, Any], policies: Iterable[Guardrail] = POLICIES) -> AppliedPackConfig:
    """Raise PackConfigError where the CLI refuses the document; schema checks are pack_config_problems'."""
    if not isinstance(document, Mapping):
        raise PackConfigError(f"must be a JSON object of policy names, got {type(document).__name__}")
    entries = dict(document)
    environments = entries.pop(ENVIRONMENTS, [])
    if not isinstance(environments, list) or not all(isinstance(e, str) for e in environments):
        raise PackConfigError(f"{ENVIRONMENTS}: must be a list of strings")
    parsed: dict[str, tuple[EnforcementLevel | None, dict[str, Any]]] = {}
    for key, value in entries.items():
        if isinstance(value, str):  # a string is the policy's level
            parsed[key] = (_level(value, key), {})
        elif isinstance(value, Mapping):
            properties = dict(value)
            level = properties.pop(ENFORCEMENT_LEVEL, None)
            parsed[key] = (None if level is None else _level(level, f"{key}.{ENFORCEMENT_LEVEL}"), properties)
        else:
            raise PackConfigError(f"{key}: {value!r} is neither an enforcement level nor an object")

    policies = list(policies)
    levels = {policy.name: own_level(policy) for policy in policies}
    properties = {
        policy.name: {key: copy.deepcopy(schema["default"]) for key, schema in policy.config_schema.properties.items()
                      if "default" in schema} if policy.config_schema else {}
        for policy in policies
    }
    sources: dict[str, str] = {}
    everyone, _ = parsed.get(ALL, (None, {}))
    if everyone is not None:  # `all` first, then each policy's own entry over it
        levels = dict.fromkeys(levels, everyone)
        sources = dict.fromkeys(levels, ALL)
    for key, (level, given) in parsed.items():
        if key not in levels:  # `all`, or a name no policy has: the CLI keeps it, nothing reads it
            continue
        if level is not None:
            levels[key], sources[key] = level, key
        properties[key].update(given)
    return AppliedPackConfig(levels, properties, sources, environments)


def run_pack(
    resources: Iterable[RecordedResource],
    config: Mapping[str, Any],
    components: Iterable[RecordedResource] = (),
    policies: Iterable[Guardrail] = POLICIES,
) -> list[Violation]:
    """Every violation the policies report over these resources, in policy order, at the levels
    `config` (a `--policy-pack-config` document) gives them, as the CLI would run the pack."""
    policies = list(policies)
    applied = apply_pack_config(config, policies)
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
        if applied.levels[policy.name] == EnforcementLevel.DISABLED:
            continue
        level = (EnforcementLevel.MANDATORY if applied.levels[policy.name] == EnforcementLevel.REMEDIATE
                 else applied.levels[policy.name]).value
        policy_settings = applied.properties[policy.name]
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
    rendering: Rendering, config: Mapping[str, Any] | None = None
) -> list[Violation]:
    """The pack over a rendering, with the config derived from its settings unless one is given."""
    config = pack_config(rendering.settings) if config is None else config
    return run_pack(rendering.resources, config, rendering.components)


def read_pack_config(path: Path) -> object:
    """A pack config file as JSON; PackConfigError for what the CLI cannot read, and for a key given
    twice (both readers keep the last, which a reviewer may not see)."""
    text = path.read_text(encoding="utf-8")
    if not text.strip():  # the CLI runs an empty file as no config at all
        return {}

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        twice = iam.duplicated_keys(pairs)
        if twice:
            raise PackConfigError(f"{', '.join(twice)}: given twice")
        return dict(pairs)

    try:
        return json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as error:
        raise PackConfigError(f"is not valid JSON ({error})") from None


@dataclass(frozen=True)
class PackConfigProblem:
    """Why a checked-in pack config fails the audit: `subject` is the policy, `all`, `environments`,
    the unknown name, or "" for the file as a whole."""

    subject: str
    reason: str


def pack_config_problems(document: object, policies: Iterable[Guardrail] = POLICIES) -> list[PackConfigProblem]:
    """Why a checked-in pack config fails the audit (none: it runs every policy at least at its own level).

    A policy run below its own level (`disabled` below `advisory` below `mandatory`), a name the
    pack does not have, a property a policy does not declare or whose value its schema refuses,
    ESC environments (values the audit cannot read) and a level `remediate` on a policy that has a
    remediation (the audit does not run remediations) are refused. `remediate` on a policy without
    one is what pulumi_policy makes of it, mandatory, so it is accepted."""
    # Imported here: only a checked-in config is validated against the schemas, once per audit.
    from jsonschema import Draft7Validator

    policies = list(policies)
    if not isinstance(document, Mapping):
        return [PackConfigProblem("", f"must be a JSON object of policy names, got {type(document).__name__}")]
    try:
        applied = apply_pack_config(document, policies)
    except PackConfigError as refused:
        return [PackConfigProblem("", str(refused))]
    problems = []
    if applied.environments:
        problems.append(PackConfigProblem(ENVIRONMENTS, f"imports Pulumi ESC environments "
                                          f"({', '.join(applied.environments)}) the audit cannot read; remove it"))
    everyone = document.get(ALL)
    if isinstance(everyone, Mapping) and set(everyone) - {ENFORCEMENT_LEVEL}:
        problems.append(PackConfigProblem(ALL, f"takes only {ENFORCEMENT_LEVEL}; "
                                          f"{', '.join(sorted(set(everyone) - {ENFORCEMENT_LEVEL}))} would reach "
                                          "no policy"))
    problems += [PackConfigProblem(name, "is not a policy of the pack; remove it or correct the name")
                 for name in document if name not in (ALL, ENVIRONMENTS) and name not in applied.levels]
    for policy in policies:
        level, own = applied.levels[policy.name], own_level(policy)
        via = f' (from "{ALL}")' if applied.level_sources.get(policy.name) == ALL else ""
        if _STRENGTH[level] < _STRENGTH[own]:
            effect = "not run it" if level == EnforcementLevel.DISABLED else "only warn"
            problems.append(PackConfigProblem(
                policy.name, f"{level.value}{via} is below its own level, {own.value}: pulumi up would {effect}"))
        elif (level == EnforcementLevel.REMEDIATE and isinstance(policy, ResourceValidationPolicy)
              and policy.has_remediation()):
            problems.append(PackConfigProblem(
                policy.name, f"remediate{via} runs its remediation, which the audit does not run"))
        declared = policy.config_schema.properties if policy.config_schema else {}
        given = document.get(policy.name)
        for key in given if isinstance(given, Mapping) else ():
            if key != ENFORCEMENT_LEVEL and key not in declared:
                takes = f"it declares {', '.join(declared)}" if declared else "it declares none"
                problems.append(PackConfigProblem(policy.name, f"{key} is not a property of this policy ({takes})"))
        if policy.config_schema:
            # As the CLI validates a policy's properties: {"type": "object", "properties", "required"}.
            schema: dict[str, Any] = {"type": "object", "properties": declared}
            if policy.config_schema.required:
                schema["required"] = policy.config_schema.required
            for error in Draft7Validator(schema).iter_errors(applied.properties[policy.name]):
                where = "/".join(str(part) for part in error.absolute_path)
                problems.append(PackConfigProblem(policy.name, f"{where + ': ' if where else ''}{error.message}"))
    return problems


@dataclass(frozen=True)
class StackPackConfig:
    # The `--policy-pack-config` document the pack runs with; None when the file cannot be read.
    document: Mapping[str, Any] | None
    source: str
    problems: list[PackConfigProblem]


def pack_config_path(project_dir: Path, stack: str) -> Path:
    return project_dir / "policies" / f"policy-config.{stack}.json"


def render_pack_config(config: Mapping[str, Any]) -> str:
    """The checked-in file's text: `python -m audit --write-pack-config` (`make pack-config`) writes it."""
    return json.dumps(config, indent=2) + "\n"


def _differences_from_derived(document: Mapping[str, Any], derived: Mapping[str, Any]) -> list[str]:
    """The properties the stack's settings derive that a checked-in pack config gives another value or leaves
    out, as policy.property. Levels, and names the pack does not declare, are pack_config_problems' to report."""
    found = []
    for policy, properties in derived.items():
        given = document.get(policy)
        given = given if isinstance(given, Mapping) else {}
        found += [f"{policy}.{key}" for key, value in properties.items() if given.get(key) != value]
    return found


def stack_pack_config(rendering: Rendering) -> StackPackConfig:
    """The checked-in `policies/policy-config.<stack>.json` when there is one (an account added
    to the stack config but not to the pack config is then reported, and so is a lowered level,
    and any difference from what the settings derive), else the derived config."""
    path = pack_config_path(rendering.project_dir, rendering.stack)
    if not path.exists():
        return StackPackConfig(pack_config(rendering.settings), "derived from the stack settings", [])
    source = f"policies/{path.name}"
    try:
        document = read_pack_config(path)
    except (PackConfigError, OSError, UnicodeDecodeError) as error:
        return StackPackConfig(None, source, [PackConfigProblem("", str(error))])
    problems = pack_config_problems(document)
    if not isinstance(document, Mapping):
        return StackPackConfig(None, source, problems)
    try:
        apply_pack_config(document)
    except PackConfigError:  # a level or entry the CLI refuses: pack_config_problems reported it
        return StackPackConfig(None, source, problems)
    differences = _differences_from_derived(document, pack_config(rendering.settings))
    if differences:
        problems.append(PackConfigProblem("", f"says other than the stack's settings derive "
                                              f"({', '.join(differences)}): run `make pack-config` (one source: "
                                              "the stack file)"))
    return StackPackConfig(document, source, problems)


def guardrails_section(rendering: Rendering) -> Section:
    config = stack_pack_config(rendering)
    # A file the CLI would refuse runs no policy there; here neither, and its problems say why.
    violations = [] if config.document is None else rendering_violations(rendering, config.document)
    problems = [Violation(problem.subject, "mandatory", "",
                          f"{config.source}: {problem.subject + ': ' if problem.subject else ''}{problem.reason}")
                for problem in config.problems]
    mandatory = sum(v.mandatory for v in violations)
    lines = [f"[{v.enforcement}] {v.policy}  {v.urn or '(stack)'}: {v.message}" for v in violations]
    lines += [f"[pack config] {problem.message}" for problem in problems]
    if not violations and not problems:
        lines.append(f"{len(POLICIES)} policies over {len(rendering.resources)} resources: no violations.")
    lines.append(f"Pack config: {config.source}.")
    title = (f"Guardrails ({PACK_NAME}, {len(POLICIES)} policies): {mandatory} mandatory, "
             f"{len(violations) - mandatory} advisory violations")
    if problems:
        title += f", {len(problems)} pack config problems"
    return Section(
        title=title,
        text="\n".join(lines),
        json_key="violations",
        json_value=[asdict(v) for v in violations + problems],
        failed=mandatory > 0 or bool(problems),
    )
