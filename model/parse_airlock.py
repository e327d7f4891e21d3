"""The curation airlock's keys (publicIngest: airlock): the vetted repository, the allow-list of public
packages, the cooldown, the waivers and the admission policy. Given with `direct`, they would do nothing, so
they are refused there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from model.names import DEFAULTS, PUBLIC_INGEST_MODES, SEVERITIES
from model.parse_values import Problems, read_list, read_string
from model.rules import COOLDOWN, NORMALISED_NAME, REPOSITORY_NAME, SPDX_ID, WAIVER_PACKAGE, normalised_name_hint
from model.settings import Waiver

AIRLOCK_ONLY_KEYS = ("vettedRepositoryName", "publicPackages", "cooldown", "waivers", "refuseSeverity",
                     "allowedLicenses")


@dataclass(frozen=True)
class AirlockSection:
    public_ingest: str
    vetted_repository: str
    public_packages: tuple[str, ...]
    cooldown: str
    waivers: tuple[Waiver, ...]
    refuse_severity: str
    allowed_licenses: tuple[str, ...]


def parse_airlock(raw: Mapping[str, Any], problems: Problems, store: str | None, internal: str | None,
                  prefixes: list[str] | None) -> AirlockSection:
    """The airlock's keys: the mode, the vetted repository, the allow-list, the cooldown, the waivers and the
    admission policy. The other keys apply only in airlock mode; given with `direct`, they would do nothing."""
    mode = _mode(raw, problems)
    vetted = _vetted_repository(raw, problems, store, internal)
    packages = _public_packages(raw, problems, prefixes)
    cooldown = _cooldown(raw, problems)
    waivers = _waivers(raw, problems, packages)
    severity = _refuse_severity(raw, problems)
    licenses = _allowed_licenses(raw, problems)
    return AirlockSection(mode if mode in PUBLIC_INGEST_MODES else DEFAULTS["publicIngest"], vetted or
                          DEFAULTS["vettedRepositoryName"], tuple(packages), cooldown, tuple(waivers), severity,
                          tuple(licenses))


def _mode(raw: Mapping[str, Any], problems: Problems) -> str | None:
    mode = read_string(raw, "publicIngest", problems, default=DEFAULTS["publicIngest"])
    if mode is not None and mode not in PUBLIC_INGEST_MODES:
        problems.add("publicIngest", f"{mode!r} must be one of {', '.join(PUBLIC_INGEST_MODES)}")
    if mode != "airlock":
        # The CLI fills in Pulumi.yaml's defaults, so only a value other than the default says anything.
        for key in AIRLOCK_ONLY_KEYS:
            if raw.get(key) is not None and raw[key] != DEFAULTS[key] and raw[key] not in ("", "[]"):
                problems.add(key, "applies only with publicIngest: airlock (public packages come straight from "
                                  "public PyPI otherwise); set publicIngest or remove the key")
    return mode


def _vetted_repository(raw: Mapping[str, Any], problems: Problems, store: str | None, internal: str | None) -> str:
    vetted = read_string(raw, "vettedRepositoryName", problems, default=DEFAULTS["vettedRepositoryName"]) or ""
    if vetted and not REPOSITORY_NAME.fullmatch(vetted):
        problems.add("vettedRepositoryName", f"{vetted!r} must match {REPOSITORY_NAME.pattern}")
    for other_key, other in (("storeRepositoryName", store), ("internalRepositoryName", internal)):
        if vetted and other is not None and vetted.lower() == other.lower():
            problems.add("vettedRepositoryName", f"must differ from {other_key}, ignoring case")
    return vetted


def _public_packages(raw: Mapping[str, Any], problems: Problems, prefixes: list[str] | None) -> list[str]:
    packages: list[str] = []
    for i, value in enumerate(read_list(raw, "publicPackages", problems)):
        key = f"publicPackages[{i}]"
        if not isinstance(value, str) or not NORMALISED_NAME.fullmatch(value):
            hint = normalised_name_hint(value)
            problems.add(key, f"{value!r} is not a PEP 503 normalised package name{hint}")
        elif prefixes is not None and (prefix := next((p for p in prefixes if value.startswith(p)), None)):
            problems.add(key, f"{value!r} is under the internal prefix {prefix!r}: internal names never come from "
                              "public PyPI (dependency confusion)")
        elif value in packages:
            problems.add(key, f"{value!r} is listed twice")
        else:
            packages.append(value)
    return packages


def _cooldown(raw: Mapping[str, Any], problems: Problems) -> str:
    cooldown = raw.get("cooldown", DEFAULTS["cooldown"])
    if not isinstance(cooldown, str) or not COOLDOWN.fullmatch(cooldown):
        problems.add("cooldown", f"{cooldown!r} must be a positive whole number of days, hours or minutes: "
                                 "<int>d, <int>h or <int>m (e.g. 3d)")
        cooldown = DEFAULTS["cooldown"]
    return str(cooldown)


def _waivers(raw: Mapping[str, Any], problems: Problems, packages: list[str]) -> list[Waiver]:
    waivers: list[Waiver] = []
    for i, value in enumerate(read_list(raw, "waivers", problems)):
        waiver = _waiver(f"waivers[{i}]", value, problems)
        if waiver is None:
            continue
        if any((w.name, w.version) == (waiver.name, waiver.version) for w in waivers):
            problems.add(f"waivers[{i}].package", f"{waiver.name}=={waiver.version} is waived twice")
            continue
        if waiver.name not in packages:
            problems.add(f"waivers[{i}].package", f"{waiver.name!r} is not in publicPackages: the promoter considers "
                                                  "only those, so the waiver would admit nothing")
            continue
        waivers.append(waiver)
    return waivers


def _waiver(key: str, value: Any, problems: Problems) -> Waiver | None:
    """A waivers entry: {package: "name==version", reason: "..."}, one exact version with why."""
    if not isinstance(value, Mapping):
        problems.add(key, "must be an object with package (name==version) and reason")
        return None
    unknown = set(value) - {"package", "reason"}
    if unknown:
        problems.add(key, f"unknown fields {sorted(map(str, unknown))}; allowed: package, reason")
    package, reason = value.get("package"), value.get("reason")
    match = WAIVER_PACKAGE.fullmatch(package) if isinstance(package, str) else None
    ok = True
    if match is None:
        problems.add(f"{key}.package", f"{package!r} must name one exact version as name==version, the name PEP 503 "
                                       "normalised (e.g. requests==2.32.3); no ranges or wildcards")
        ok = False
    if not isinstance(reason, str) or not reason.strip():
        problems.add(f"{key}.reason", "must say why the version is waived (a non-empty string); git history is the "
                                      "audit trail")
        ok = False
    if not ok or match is None or not isinstance(reason, str):
        return None
    return Waiver(match["name"], match["version"], reason.strip())



def _refuse_severity(raw: Mapping[str, Any], problems: Problems) -> str:
    severity = raw.get("refuseSeverity", DEFAULTS["refuseSeverity"])
    if severity not in SEVERITIES:
        problems.add("refuseSeverity", f"{severity!r} must be one of {', '.join(SEVERITIES)} (OSV's severities, "
                                       "lowest first: a version with a known vulnerability at or above it is refused)")
        severity = DEFAULTS["refuseSeverity"]
    return str(severity)


def _allowed_licenses(raw: Mapping[str, Any], problems: Problems) -> list[str]:
    licenses: list[str] = []
    for i, value in enumerate(read_list(raw, "allowedLicenses", problems)):
        if not isinstance(value, str) or not SPDX_ID.fullmatch(value):
            problems.add(f"allowedLicenses[{i}]", f"{value!r} must be an SPDX licence identifier (e.g. MIT, "
                                                  "Apache-2.0, BSD-3-Clause)")
        elif value.lower() in (known.lower() for known in licenses):
            problems.add(f"allowedLicenses[{i}]", f"{value!r} is listed twice")
        else:
            licenses.append(value)
    return licenses
