"""Render, access evaluation and guardrails: 1 to 1000 accounts and publishers, 10 to 10,000 StackSet members.

`python -m bench.scale` prints one table; each row runs in its own process so that its
peak memory is its own. `--row N M MODE` runs a single row and prints it as JSON.

In StackSet mode the accounts are the members of the target organizational units: the stack
names only the OUs (STACKSET_OUS of them), so N is a count the configuration never spells out,
and what the program declares, and how long it takes, must not depend on it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

from audit.render import Rendering, render
from components import policy_documents as docs
from components.settings import ConfigError
from policies.templates import read_template

ACCOUNT_COUNTS = (1, 10, 100, 1000)
STACKSET_ACCOUNT_COUNTS = (10, 100, 1000, 10000)
PUBLISHER_COUNTS = (1, 10, 100)
MODES = ("explicit", "organization", "stackset")
OWNER = "111122223333"
ORGANIZATION = "o-a1b2c3d4e5"
STACKSET_OUS = 4
STACK_SET = "aws:cloudformation/stackSet:StackSet"


def config_for(accounts: int, publishers: int, mode: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "aws:region": "eu-west-1",
        "pypi-registry:ownerAccountId": OWNER,
        "pypi-registry:domainName": "acme",
        "pypi-registry:internalPrefixes": ["acme-"],
        "pypi-registry:secondaryAccountIds": [f"{200000000000 + i:012d}" for i in range(accounts)],
        "pypi-registry:publishers": [
            {"repository": f"acme/lib-{i}", "packages": [f"acme-lib-{i}"]} for i in range(publishers)
        ],
    }
    if mode in ("organization", "stackset"):
        config["pypi-registry:organizationId"] = ORGANIZATION
    if mode == "stackset":
        # The members of the OUs are nowhere in the configuration: only the OUs are.
        config["pypi-registry:secondaryAccountIds"] = []
        config["pypi-registry:readerDeployment"] = "stackset"
        config["pypi-registry:organizationalUnitIds"] = [f"ou-a1b2-{i:08d}" for i in range(STACKSET_OUS)]
    return config


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def largest(rendering: Rendering, type_: str, key: str) -> int:
    return max((len(r.inputs[key]) for r in rendering.of_type(type_)), default=0)


def largest_in_templates(rendering: Rendering, trust: bool) -> int:
    """The largest managed policy (or trust policy) of the StackSet templates, compact as IAM counts it."""
    sizes = [0]
    for stack_set in rendering.of_type(STACK_SET):
        template = read_template(stack_set.inputs["templateBody"])
        documents = [r.trust for r in template.roles] if trust else [p.document for p in template.policies]
        sizes += [len(docs.to_json(d)) for d in documents if d is not None]
    return max(sizes)


def run_row(accounts: int, publishers: int, mode: str) -> dict[str, Any]:
    from audit.__main__ import SECTIONS

    row: dict[str, Any] = {"accounts": accounts, "publishers": publishers, "mode": mode}
    started = time.perf_counter()
    try:
        rendering = render(config=config_for(accounts, publishers, mode))
    except ConfigError as error:
        row["rejected"] = error.problems[0].split("; at most ")[-1] if error.problems else str(error)
        return row
    row["resources"] = len(rendering.resources)
    row["render_s"] = time.perf_counter() - started
    row["render_mib"] = peak_mib()
    for build in SECTIONS[1:]:
        started = time.perf_counter()
        section = build(rendering)
        name = build.__name__.removesuffix("_section")
        row[f"{name}_s"] = time.perf_counter() - started
        row[f"{name}_mib"] = peak_mib()
        row[f"{name}_failed"] = section.failed
    row["domain_policy"] = largest(rendering, "aws:codeartifact/domainPermissions:DomainPermissions", "policyDocument")
    row["repository_policy"] = largest(
        rendering, "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy", "policyDocument"
    )
    row["managed_policy"] = max(largest(rendering, "aws:iam/policy:Policy", "policy"),
                                largest_in_templates(rendering, trust=False))
    row["trust_policy"] = max(largest(rendering, "aws:iam/role:Role", "assumeRolePolicy"),
                              largest_in_templates(rendering, trust=True))
    return row


def format_table(rows: list[dict[str, Any]]) -> str:
    limits = (f"limits: resource policy {docs.RESOURCE_POLICY_LIMIT}, managed policy "
              f"{docs.MANAGED_POLICY_LIMIT}, trust policy {docs.TRUST_POLICY_LIMIT} characters")
    phases = sorted({k[:-2] for row in rows for k in row if k.endswith("_s") and k != "render_s"})
    header = ["N", "M", "mode", "resources", "render s", "render MiB"]
    for phase in phases:
        header += [f"{phase} s", f"{phase} MiB"]
    header += ["domain", "repository", "managed", "trust"]
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for row in rows:
        mode = f"stackset ({STACKSET_OUS} OUs)" if row["mode"] == "stackset" else row["mode"]
        cells = [str(row["accounts"]), str(row["publishers"]), mode]
        if "rejected" in row:
            cells.append(f"config rejected: at most {row['rejected']}")
            lines.append(" | ".join(cells))
            continue
        cells += [str(row["resources"]), f"{row['render_s']:.2f}", f"{row['render_mib']:.0f}"]
        for phase in phases:
            cells += [f"{row.get(phase + '_s', 0):.2f}", f"{row.get(phase + '_mib', 0):.0f}"]
        cells += [str(row["domain_policy"]), str(row["repository_policy"]), str(row["managed_policy"]),
                  str(row["trust_policy"])]
        lines.append(" | ".join(cells))
    return "\n".join(lines) + "\n" + limits


def over_limit(row: dict[str, Any]) -> bool:
    return "rejected" not in row and (
        max(row["domain_policy"], row["repository_policy"]) > docs.RESOURCE_POLICY_LIMIT
        or row["managed_policy"] > docs.MANAGED_POLICY_LIMIT
        or row["trust_policy"] > docs.TRUST_POLICY_LIMIT
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--row", nargs=3, metavar=("N", "M", "MODE"), help="run one row, print JSON")
    parser.add_argument("--accounts", type=int, nargs="*", default=list(ACCOUNT_COUNTS))
    parser.add_argument("--stackset-accounts", type=int, nargs="*", default=list(STACKSET_ACCOUNT_COUNTS),
                        help="member accounts of the OUs in StackSet mode")
    parser.add_argument("--publishers", type=int, nargs="*", default=list(PUBLISHER_COUNTS))
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)
    if args.row:
        print(json.dumps(run_row(int(args.row[0]), int(args.row[1]), args.row[2])))
        return 0
    rows = []
    for mode in args.modes:
        for accounts in (args.stackset_accounts if mode == "stackset" else args.accounts):
            for publishers in args.publishers:
                result = subprocess.run(  # noqa: S603 (our own module, fixed arguments)
                    [sys.executable, "-m", "bench.scale", "--row", str(accounts), str(publishers), mode],
                    capture_output=True, text=True, check=True,
                )
                rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
                print(f"  {mode} N={accounts} M={publishers} done", file=sys.stderr)
    print(format_table(rows))
    bad = [r for r in rows if over_limit(r)]
    if bad:
        print(f"{len(bad)} rows exceed a size limit", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
