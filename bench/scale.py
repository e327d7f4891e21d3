"""Render, access evaluation and guardrails: 1 to 1000 accounts and publishers, 10 to 10,000 StackSet members.

`python -m bench.scale` prints the machine, then one table. Each row runs in its own process, and
so does its floor (bench/floor.py: the same resource types and counts declared bare under the
mock engine, with no settings, components, policy generation or recording), so that each peak
memory is its own. `--row N M MODE` runs a single row and prints it as JSON; `--floor N M MODE`
does the same for the floor.

Times are process CPU seconds (time.process_time: user + system, all threads), for the row and
its floor alike; MiB are peak resident set sizes (ru_maxrss). `--repeat K` runs each row and its
floor K times, in turns, each in a fresh process, and keeps the best (the least of each time and
of each peak); the default is 1, which is what the full table uses.

Rows render under the stack name "bench", which has no checked-in policies/policy-config.<stack>.json,
so the guardrails check the pack config derived from the bench's own settings. The exit status is
1 when any row fails a check (guardrails or access) or exceeds a policy size limit; stderr names it.

In StackSet mode the accounts are the members of the target organizational units: the stack
names only the OUs (STACKSET_OUS of them), so N is a count the configuration never spells out,
and what the program declares, and how long it takes, must not depend on it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import floor

# Nothing from audit/, components/ or policies/ is imported here at module level: `--floor`
# runs in a process that must load no more of the program than the floor does.
if TYPE_CHECKING:
    from audit.render import Rendering

PROJECT_DIR = Path(__file__).resolve().parents[1]
ACCOUNT_COUNTS = (1, 10, 100, 1000)
STACKSET_ACCOUNT_COUNTS = (10, 100, 1000, 10000)
PUBLISHER_COUNTS = (1, 10, 100)
MODES = floor.MODES
OWNER = floor.OWNER
ORGANIZATION = "o-a1b2c3d4e5"
STACKSET_OUS = floor.STACKSET_OUS
STACK_SET = "aws:cloudformation/stackSet:StackSet"
# No policies/policy-config.bench.json is checked in: the guardrails derive the pack config.
BENCH_STACK = "bench"


def config_for(accounts: int, publishers: int, mode: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "aws:region": floor.REGION,
        "pypi-registry:ownerAccountId": OWNER,
        "pypi-registry:domainName": floor.DOMAIN,
        "pypi-registry:internalPrefixes": list(floor.INTERNAL_PREFIXES),
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
    from model.trust_policy import to_json
    from policies.templates import read_template

    sizes = [0]
    for stack_set in rendering.of_type(STACK_SET):
        template = read_template(stack_set.inputs["templateBody"])
        documents = [r.trust for r in template.roles] if trust else [p.document for p in template.policies]
        sizes += [len(to_json(d)) for d in documents if d is not None]
    return max(sizes)


def run_row(
    accounts: int,
    publishers: int,
    mode: str,
    stack: str = BENCH_STACK,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Render one configuration and run the audit's checks on it, in this process.

    `stack` names the stack the program runs as (a stack with a checked-in pack config is checked
    against that config); `overrides` patch the bench configuration ({"project:key": value}).
    """
    from audit.render import collector_paused

    # As `python -m audit` runs: the collector off for the whole run (its process then exits).
    with collector_paused():
        return _run_row(accounts, publishers, mode, stack, overrides)


def _run_row(accounts: int, publishers: int, mode: str, stack: str,
             overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    from audit.__main__ import SECTIONS, audit_document
    from audit.guardrails import stack_pack_config
    from audit.render import render
    from model.settings import ConfigError

    row: dict[str, Any] = {"accounts": accounts, "publishers": publishers, "mode": mode, "stack": stack}
    started, started_wall = time.process_time(), time.perf_counter()
    try:
        rendering = render(stack=stack, config=config_for(accounts, publishers, mode), overrides=overrides)
    except ConfigError as error:
        row["rejected"] = error.problems[0].split("; at most ")[-1] if error.problems else str(error)
        return row
    row["resources"] = len(rendering.resources)
    row["render_s"] = time.process_time() - started
    row["render_wall_s"] = time.perf_counter() - started_wall
    row["render_mib"] = peak_mib()
    row["pack_config"] = stack_pack_config(rendering).source
    sections = [SECTIONS[0](rendering)]
    for build in SECTIONS[1:]:
        started, started_wall = time.process_time(), time.perf_counter()
        section = build(rendering)
        sections.append(section)
        name = build.__name__.removesuffix("_section")
        row[f"{name}_s"] = time.process_time() - started
        row[f"{name}_wall_s"] = time.perf_counter() - started_wall
        row[f"{name}_mib"] = peak_mib()
        row[f"{name}_failed"] = section.failed
    # What `python -m audit --json` prints for this stack (decisions grouped), outside the timed phases.
    row["json_bytes"] = len(json.dumps(audit_document(rendering, sections), indent=2))
    row["domain_policy"] = largest(rendering, "aws:codeartifact/domainPermissions:DomainPermissions", "policyDocument")
    row["repository_policy"] = largest(
        rendering, "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy", "policyDocument"
    )
    row["managed_policy"] = max(largest(rendering, "aws:iam/policy:Policy", "policy"),
                                largest_in_templates(rendering, trust=False))
    row["trust_policy"] = max(largest(rendering, "aws:iam/role:Role", "assumeRolePolicy"),
                              largest_in_templates(rendering, trust=True))
    return row


def checks(row: Mapping[str, Any]) -> list[str]:
    """The checks a row ran (guardrails, access...), in the order the audit runs them."""
    return [key.removesuffix("_failed") for key in row if key.endswith("_failed")]


def failed_checks(row: Mapping[str, Any]) -> list[str]:
    return [check for check in checks(row) if row[f"{check}_failed"]]


def phase_seconds(row: Mapping[str, Any]) -> float:
    """Render plus every check: what the floor is compared with."""
    return float(row["render_s"]) + sum(float(row[f"{check}_s"]) for check in checks(row))


def row_peak_mib(row: Mapping[str, Any]) -> float:
    return max(float(row["render_mib"]), *(float(row[f"{check}_mib"]) for check in checks(row)))


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The least of each time and peak over the runs; a check failed if it failed in any run."""
    best = dict(runs[0])
    for run in runs[1:]:
        for key, value in run.items():
            if key.endswith(("_s", "_mib")):
                best[key] = min(best[key], value)
            elif key.endswith("_failed"):
                best[key] = best[key] or value
    return best


def in_subprocess(arguments: list[str]) -> dict[str, Any]:
    """`python -m bench.scale ARGUMENTS` in a fresh process: the JSON object it prints last."""
    command = [sys.executable, "-m", "bench.scale", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PROJECT_DIR)  # noqa: S603 (our own module)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} exited with {result.returncode}:\n{result.stderr[-3000:]}")
    value = json.loads(result.stdout.strip().splitlines()[-1])
    if not isinstance(value, dict):
        raise RuntimeError(f"{' '.join(command[1:])} printed {value!r}, not a JSON object")
    return value


def measure(accounts: int, publishers: int, mode: str, stack: str = BENCH_STACK, repeat: int = 1) -> dict[str, Any]:
    """One table row: the row and its floor, in turns (so that the machine's drift hits both alike),
    each `repeat` times in fresh processes, best of each."""
    size = [str(accounts), str(publishers), mode]
    rows, floors = [], []
    for _ in range(repeat):
        rows.append(in_subprocess(["--row", *size, "--stack", stack]))
        if "rejected" in rows[-1]:
            return rows[-1]
        floors.append(in_subprocess(["--floor", *size]))
    row = best_of(rows)
    row.update({key: value for key, value in best_of(floors).items() if key.startswith("floor_")})
    return row


def machine() -> str:
    return (f"machine: {os.cpu_count()} cores (os.cpu_count()), {platform.python_implementation()} "
            f"{platform.python_version()}, {platform.platform()}")


def format_table(rows: list[dict[str, Any]], repeat: int = 1) -> str:
    from model.names import MANAGED_POLICY_LIMIT, RESOURCE_POLICY_LIMIT, TRUST_POLICY_LIMIT

    limits = (f"limits: resource policy {RESOURCE_POLICY_LIMIT}, managed policy "
              f"{MANAGED_POLICY_LIMIT}, trust policy {TRUST_POLICY_LIMIT} characters")
    phases = list(dict.fromkeys(check for row in rows for check in checks(row)))
    header = ["N", "M", "mode", "resources", "render s", "render MiB"]
    for phase in phases:
        header += [f"{phase} s", f"{phase} MiB"]
    header += [" / ".join(phases) or "checks", "floor s", "floor MiB", "× floor s", "× floor MiB", "--json MiB",
               "domain", "repository", "managed", "trust"]
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
        cells.append(" / ".join(
            "—" if f"{phase}_failed" not in row else "FAIL" if row[f"{phase}_failed"] else "pass" for phase in phases
        ))
        cells += [f"{row['floor_s']:.2f}", f"{row['floor_mib']:.0f}",
                  f"{phase_seconds(row) / row['floor_s']:.2f}", f"{row_peak_mib(row) / row['floor_mib']:.2f}",
                  f"{row['json_bytes'] / 2**20:.1f}"]
        cells += [str(row["domain_policy"]), str(row["repository_policy"]), str(row["managed_policy"]),
                  str(row["trust_policy"])]
        lines.append(" | ".join(cells))
    runs = "one run" if repeat == 1 else f"best of {repeat} runs"
    footer = [
        limits,
        f"s: process CPU seconds (time.process_time, user + system of all threads), {runs}; MiB: peak RSS "
        "(ru_maxrss); each row and each floor in a fresh process.",
        f"floor: bench/floor.py, the same resource types and counts declared bare under the mock engine; "
        f"× floor s = (render + {' + '.join(phases) or 'checks'}) s / floor s, × floor MiB = the row's peak / "
        "the floor's peak. Both run with Python's cyclic garbage collector paused, as `python -m audit` does.",
        "--json MiB: what `python -m audit --json` prints for the row's stack (decisions once per group).",
    ]
    return "\n".join([machine(), "", *lines, "", *footer])


def over_limit(row: Mapping[str, Any]) -> bool:
    from model.names import MANAGED_POLICY_LIMIT, RESOURCE_POLICY_LIMIT, TRUST_POLICY_LIMIT

    return "rejected" not in row and (
        max(row["domain_policy"], row["repository_policy"]) > RESOURCE_POLICY_LIMIT
        or row["managed_policy"] > MANAGED_POLICY_LIMIT
        or row["trust_policy"] > TRUST_POLICY_LIMIT
    )


def problems(rows: list[dict[str, Any]]) -> list[str]:
    """What makes the run fail: each row with a failed check or over a size limit."""
    found = []
    for row in rows:
        where = f"{row['mode']} N={row['accounts']} M={row['publishers']}"
        failed = failed_checks(row)
        if failed:
            found.append(f"{where}: {', '.join(failed)} failed (stack {row.get('stack', BENCH_STACK)}, "
                         f"pack config {row.get('pack_config', '?')})")
        if over_limit(row):
            found.append(f"{where}: a policy exceeds its size limit")
    return found


def _size(parser: argparse.ArgumentParser, values: list[str]) -> tuple[int, int, str]:
    accounts, publishers, mode = values
    if mode not in MODES:
        parser.error(f"MODE must be one of {', '.join(MODES)}, not {mode!r}")
    try:
        return int(accounts), int(publishers), mode
    except ValueError:
        parser.error(f"N and M must be whole numbers, not {accounts!r} and {publishers!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    single = parser.add_mutually_exclusive_group()
    single.add_argument("--row", nargs=3, metavar=("N", "M", "MODE"), help="run one row, print JSON")
    single.add_argument("--floor", nargs=3, metavar=("N", "M", "MODE"),
                        help="run the floor (bench/floor.py) of one row, print JSON")
    parser.add_argument("--accounts", type=int, nargs="*", default=list(ACCOUNT_COUNTS))
    parser.add_argument("--stackset-accounts", type=int, nargs="*", default=list(STACKSET_ACCOUNT_COUNTS),
                        help="member accounts of the OUs in StackSet mode")
    parser.add_argument("--publishers", type=int, nargs="*", default=list(PUBLISHER_COUNTS))
    parser.add_argument("--modes", nargs="*", choices=MODES, default=list(MODES))
    parser.add_argument("--repeat", type=int, default=1, metavar="K",
                        help="run each row and floor K times, each in a fresh process, and keep the best (default 1)")
    parser.add_argument("--stack", default=BENCH_STACK,
                        help="stack name the rows render as (default %(default)s: the pack config is derived from "
                        "the bench settings; a stack with policies/policy-config.<stack>.json is checked against it)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.row:
        print(json.dumps(run_row(*_size(parser, args.row), stack=args.stack)))
        return 0
    if args.floor:
        print(json.dumps(floor.run_floor(*_size(parser, args.floor))))
        return 0
    rows = []
    for mode in args.modes:
        for accounts in (args.stackset_accounts if mode == "stackset" else args.accounts):
            for publishers in args.publishers:
                rows.append(measure(accounts, publishers, mode, args.stack, args.repeat))
                print(f"  {mode} N={accounts} M={publishers} done", file=sys.stderr)
    print(format_table(rows, args.repeat))
    found = problems(rows)
    for problem in found:
        print(f"FAILED: {problem}", file=sys.stderr)
    if found:
        print(f"{len(found)} problems in {len(rows)} rows", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
