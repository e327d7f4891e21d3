"""The resource summary: every resource the stack declares, grouped by account."""

from __future__ import annotations

from collections import defaultdict

from audit.render import Rendering
from audit.sections import Section


def account_label(rendering: Rendering, account: str) -> str:
    settings = rendering.settings
    if account == settings.owner_account_id:
        return f"{account} (owner)"
    if account in settings.secondary_account_ids:
        return f"{account} (secondary)"
    return account or "(no account: default provider)"


def resources_section(rendering: Rendering) -> Section:
    by_account = defaultdict(list)
    for resource in rendering.resources:
        by_account[resource.account].append(resource)
    lines = []
    for account in sorted(by_account, key=lambda a: (a != rendering.settings.owner_account_id, a)):
        resources = sorted(by_account[account], key=lambda r: (r.type, r.name))
        region = resources[0].region
        lines.append(f"{account_label(rendering, account)}  {region}  {len(resources)} resources")
        for resource in resources:
            kept = [flag for flag, on in (("protected", resource.protect),
                                          ("retained on delete", resource.retain_on_delete)) if on]
            flags = f" [{', '.join(kept)}]" if kept else ""
            lines.append(f"  {resource.type:<75} {resource.name}{flags}")
    lines.append("")
    lines.append("Outputs")
    for key, value in rendering.outputs.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines.extend(f"    {k}: {v}" for k, v in value.items())
        else:
            lines.append(f"  {key}: {value}")
    # A resource without an explicit provider would land in whatever account the
    # ambient credentials point at.
    stray = [r.name for r in rendering.resources if not r.account]
    if stray:
        lines.append(f"ERROR: resources without an account-pinned provider: {', '.join(stray)}")
    return Section(title=f"Stack {rendering.stack}: {len(rendering.resources)} resources",
                   text="\n".join(lines), failed=bool(stray))
