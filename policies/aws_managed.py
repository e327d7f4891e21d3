"""AWS-managed IAM policies, read by ARN from policies/aws_managed_policies.json.

The table is checked in next to this file and generated from the dump of every AWS-managed
policy that moto keeps (`moto/iam/aws_managed_policies.py`, refreshed with each moto release) by
`python -m policies.aws_managed --write` (`make managed-policies`; without --write it only says
whether the file is current). It holds each policy's document only, keyed by path and name as the
ARN spells them, and names the moto version and the SHA-256 of the data file it came from.
tests/policies/test_aws_managed_table.py regenerates it in memory from the installed moto and fails while
the two differ, so an upgrade of moto (a dev dependency, requirements-dev.in) without
regenerating fails there. The pack and the audit only read the file: the pack installs no moto.

A policy not in the table is None: callers then fail closed and treat the attachment as allowing
everything.

Layout: {"generated_from": {...}, "generator": "...", "policies": {"AdministratorAccess": {...},
"service-role/AWS_ConfigRole": {...}}}: compact JSON, keys sorted, one policy per line, so a
regeneration diffs by policy. Measured with moto 5.2.5 (1582 policies): 3,400,650 bytes against
the 4,734,350 of moto's data file; read and parsed once, on first use, in about 30 ms (and about
20 MiB), only by a run that meets an AWS-managed policy ARN.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import TypedDict

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"
TABLE_PATH = Path(__file__).with_name("aws_managed_policies.json")
GENERATOR = "python -m policies.aws_managed --write (make managed-policies)"


class Table(TypedDict):
    """The contents of aws_managed_policies.json."""

    generated_from: dict[str, str]  # moto's version and the SHA-256 of its data file
    generator: str
    policies: dict[str, dict[str, object]]  # path + name (no leading "/") -> document


def is_aws_managed(policy_arn: str) -> bool:
    return policy_arn.startswith(AWS_MANAGED_PREFIX)


@cache
def _documents() -> dict[str, dict[str, object]]:
    table: Table = json.loads(TABLE_PATH.read_bytes())
    return table["policies"]


def aws_managed_document(policy_arn: str) -> dict[str, object] | None:
    """The document of an AWS-managed policy ARN, or None when it cannot be read."""
    if not is_aws_managed(policy_arn):
        return None
    return _documents().get(policy_arn.removeprefix(AWS_MANAGED_PREFIX))


# --- the generator: moto's data file is read here only -------------------------------------------


def _moto_data_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("moto is not installed (requirements-dev.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "iam" / "aws_managed_policies.py"


def generate_table() -> Table:
    """The table from the installed moto's dump: every policy's document by path and name."""
    import hashlib
    import runpy
    from importlib.metadata import version

    path = _moto_data_file()
    # Only the data file runs, not moto itself: it assigns one JSON string.
    data = json.loads(runpy.run_path(str(path))["aws_managed_policies_data"])
    policies: dict[str, dict[str, object]] = {}
    for name, entry in data.items():
        key = f"{entry.get('Path', '/')}{name}".lstrip("/")
        document = entry["Document"]
        if not isinstance(document, dict) or key in policies:
            raise ValueError(f"moto's dump holds {key!r} twice or without a document object")
        policies[key] = document
    return {
        "generated_from": {"moto": version("moto"),
                           "aws_managed_policies_sha256": hashlib.sha256(path.read_bytes()).hexdigest()},
        "generator": GENERATOR,
        "policies": dict(sorted(policies.items())),
    }


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True)


def render_table(table: Table) -> str:
    """The file's text: compact, keys sorted, one policy per line."""
    lines = [f"{_compact(name)}:{_compact(document)}" for name, document in sorted(table["policies"].items())]
    return (f'{{"generated_from":{_compact(table["generated_from"])},\n'
            f'"generator":{_compact(table["generator"])},\n'
            '"policies":{\n' + ",\n".join(lines) + "\n}}\n")


def table_differences(table: Table, reference: Table) -> list[str]:
    """How `table` differs from `reference` (the one generated from the installed moto): its source,
    each policy absent from one or with another document. Empty when they agree."""
    found = []
    if table["generated_from"] != reference["generated_from"]:
        found.append(f"generated from {_compact(table['generated_from'])}; the installed moto gives "
                     f"{_compact(reference['generated_from'])}")
    if table["generator"] != reference["generator"]:
        found.append(f"generator {table['generator']!r}, expected {reference['generator']!r}")
    mine, theirs = table["policies"], reference["policies"]
    for name in sorted(mine.keys() | theirs.keys()):
        if name not in theirs:
            found.append(f"{name}: in the table, not in moto's dump")
        elif name not in mine:
            found.append(f"{name}: in moto's dump, not in the table")
        elif _compact(mine[name]) != _compact(theirs[name]):
            found.append(f"{name}: another document in the table")
    return found


def main(argv: list[str] | None = None) -> int:
    """Without --write, exit 1 (listing why) when the checked-in table is not the installed moto's;
    with --write, rewrite it."""
    from .generated_tables import table_command

    return table_command(argv, prog="python -m policies.aws_managed", path=TABLE_PATH, generator=GENERATOR,
                         generate=generate_table, render=render_table, differences=table_differences,
                         summary=lambda table, text: f"{len(table['policies'])} policies, {len(text.encode()):,} "
                                                     f"bytes, from {_compact(table['generated_from'])}")


if __name__ == "__main__":
    sys.exit(main())
