"""The guardrails: CrossGuard policies that block an unsafe registry, one module per concern.

`pulumi preview --policy-pack policies` serves `POLICIES` (policies/__main__.py); the
offline audit (audit/guardrails.py) and the tests call the very same objects'
`validate` with `ResourceValidationArgs`/`StackValidationArgs`.

- policies/codeartifact.py: CodeArtifact resource policies and external connections
- policies/trust.py: role trust policies, GitHub OIDC pinning
- policies/identity.py: identity policies, attachments, the scope of GitHub-assumable roles
- policies/kms.py: key policies and the domain's key
- policies/stack.py: rules over the whole stack (deletes denied, prefixes guarded, protection)
- policies/stacksets.py: StackSet templates, run by the documents and cross-account rules (their
  roles and policies pass every rule above as well)
- policies/documents.py: every document valid, unambiguous and within its AWS limit
- policies/airlock.py: the curation airlock (upstream paths, the ledger, the airlock's roles)
- policies/inventory.py: the resource types the checks evaluate; every other type is refused
"""

from __future__ import annotations

from collections.abc import Mapping

from . import airlock, backup, codeartifact, documents, identity, inventory, kms, stack, trust
from .config import CONFIG_PROPERTIES, PACK_ENFORCEMENT_LEVEL, Guardrail

PACK_NAME = "pypi-registry-guardrails"

POLICIES: list[Guardrail] = [
    *codeartifact.POLICIES,
    *trust.POLICIES,
    *identity.POLICIES,
    *kms.POLICIES,
    *stack.POLICIES,
    *documents.POLICIES,
    *inventory.POLICIES,
    *airlock.POLICIES,
    *backup.POLICIES,
]

__all__ = ["CONFIG_PROPERTIES", "PACK_ENFORCEMENT_LEVEL", "PACK_NAME", "POLICIES", "Guardrail", "policy_config"]


def policy_config(values: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Spread one set of config values over the policies that declare them.

    The result is the `--policy-pack-config` file format: {policy name: {property: value}}.
    """
    unknown = set(values) - set(CONFIG_PROPERTIES)
    if unknown:
        raise KeyError(f"not policy pack config properties: {sorted(unknown)}")
    config = {}
    for policy in POLICIES:
        if policy.config_schema is None:
            continue
        properties = {k: values[k] for k in policy.config_schema.properties if k in values}
        if properties:
            config[policy.name] = properties
    return config
