"""The admission decision: a pure function of one candidate version, the time and the policy.

Order of the rules (each reason is recorded, so a refusal says every reason, not only the first):
1. An OSV malicious-package advisory (`MAL-`) refuses, waiver or not; so does a version with no files
   on PyPI (there is nothing to ingest).
2. A yanked version, a vulnerability at or above `refuse_severity` (or of a severity OSV does not state:
   not understood, so refusing), and a licence outside `allowed_licenses` (when that list is not empty)
   refuse, unless an exact waiver names the version.
3. A version younger than the cooldown waits, unless an exact waiver names it.
4. Everything else is admitted; a waived version is admitted as "waived", with the waiver's reason.
The only input that changes with time is `now`, and only rule 3 reads it: a version admitted at t is
admitted at every later t with the same facts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from promoter.config import SEVERITIES, PromoterConfig, Waiver, normalise_name

Outcome = Literal["admitted", "refused", "waived", "waiting"]
MALICIOUS_PREFIX = "MAL-"


@dataclass(frozen=True)
class Advisory:
    """One OSV advisory naming the version; `severity` is one of SEVERITIES, or None when OSV gives none."""

    id: str
    severity: str | None

    @property
    def malicious(self) -> bool:
        return self.id.startswith(MALICIOUS_PREFIX)


@dataclass(frozen=True)
class Candidate:
    """A public version and what the sources say about it.

    `upload_time` is the earliest upload time of the version's files on PyPI (timezone-aware), None when
    the version has no files; `licence` is an SPDX expression, None when PyPI states none we understand.
    """

    name: str
    version: str
    upload_time: datetime | None
    advisories: tuple[Advisory, ...]
    licence: str | None
    yanked: bool = False


@dataclass(frozen=True)
class Policy:
    cooldown: timedelta
    refuse_severity: str
    allowed_licenses: tuple[str, ...]
    waivers: tuple[Waiver, ...]

    def __post_init__(self) -> None:
        if self.refuse_severity not in SEVERITIES:
            raise ValueError(f"refuse_severity {self.refuse_severity!r} is not one of {SEVERITIES}")
        if self.cooldown < timedelta(0):
            raise ValueError("cooldown must not be negative")

    @classmethod
    def from_config(cls, config: PromoterConfig) -> Policy:
        return cls(
            cooldown=timedelta(seconds=config.cooldown_seconds),
            refuse_severity=config.refuse_severity,
            allowed_licenses=config.allowed_licenses,
            waivers=config.waivers,
        )


@dataclass(frozen=True)
class Decision:
    name: str
    version: str
    outcome: Outcome
    reasons: tuple[str, ...]
    waiver: Waiver | None = None

    @property
    def admits(self) -> bool:
        """Whether the version goes into the vetted repository."""
        return self.outcome in ("admitted", "waived")


def matching_waiver(name: str, version: str, waivers: Sequence[Waiver]) -> Waiver | None:
    """The waiver naming exactly this version (normalised name, version string as written), if any."""
    for waiver in waivers:
        if waiver.matches(name, version):
            return waiver
    return None


def severity_refuses(severity: str | None, refuse_severity: str) -> bool:
    """Whether an advisory of this severity refuses; an unknown severity is not understood, so it refuses."""
    if severity not in SEVERITIES:
        return True
    return SEVERITIES.index(severity) >= SEVERITIES.index(refuse_severity)


def advisory_reasons(advisories: Sequence[Advisory], refuse_severity: str) -> tuple[list[str], list[str]]:
    """(malicious reasons, which nothing overrides; vulnerability reasons, which a waiver overrides)."""
    malicious = [f"{a.id}: OSV malicious-package advisory" for a in advisories if a.malicious]
    vulnerable = [
        f"{a.id}: severity {a.severity or 'not stated'} (refusing at {refuse_severity} and above)"
        for a in advisories
        if not a.malicious and severity_refuses(a.severity, refuse_severity)
    ]
    return malicious, vulnerable


def decide(candidate: Candidate, now: datetime, policy: Policy) -> Decision:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    name = normalise_name(candidate.name)
    waiver = matching_waiver(name, candidate.version, policy.waivers)

    malicious, vulnerable = advisory_reasons(candidate.advisories, policy.refuse_severity)
    final = list(malicious)
    upload_time = candidate.upload_time
    if upload_time is None:
        final.append("no files on PyPI")
    waivable = list(vulnerable)
    if candidate.yanked:
        waivable.append("yanked on PyPI")
    if policy.allowed_licenses and not licence_allowed(candidate.licence, policy.allowed_licenses):
        waivable.append(f"licence {candidate.licence or 'not stated'} is not among the allowed licences")
    if final or upload_time is None:
        if waiver is not None:
            final.append(f"the waiver ({waiver.reason}) does not override this")
        return Decision(name, candidate.version, "refused", (*final, *waivable), waiver)

    admissible_at = upload_time + policy.cooldown
    uploaded = f"uploaded {_iso(upload_time)}"
    cooling = f"{uploaded}, in cooldown until {_iso(admissible_at)}" if now < admissible_at else ""

    if waiver is not None:
        overridden = [*waivable, cooling] if cooling else waivable
        reasons = [f"waived: {waiver.reason}", *(f"overrides: {reason}" for reason in overridden)]
        return Decision(name, candidate.version, "waived", tuple(reasons), waiver)
    if waivable:
        return Decision(name, candidate.version, "refused", tuple(waivable))
    if cooling:
        return Decision(name, candidate.version, "waiting", (cooling,))
    reasons = [f"{uploaded}, past the cooldown ({_iso(admissible_at)})"]
    if candidate.advisories:
        reasons.append(f"advisories below {policy.refuse_severity}: " + ", ".join(a.id for a in candidate.advisories))
    else:
        reasons.append("no OSV advisory")
    if policy.allowed_licenses:
        reasons.append(f"licence {candidate.licence} is allowed")
    return Decision(name, candidate.version, "admitted", tuple(reasons))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# A small SPDX licence-expression reader (SPDX 2.3 annex D: OR, AND, WITH and parentheses). The Lambda
# runtime ships only the standard library and boto3, so the license-expression package is not available.
_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class _LicenceExpression:
    def __init__(self, expression: str, allowed: Sequence[str]) -> None:
        self.tokens = _TOKEN.findall(expression)
        self.position = 0
        self.allowed = {licence.casefold() for licence in allowed}

    def evaluate(self) -> bool:
        result = self._or()
        if self.position != len(self.tokens):
            raise ValueError("trailing tokens")
        return result

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        word = self._peek()
        if word is None:
            raise ValueError("expression ends early")
        self.position += 1
        return word

    def _or(self) -> bool:
        result = self._and()
        while (self._peek() or "").upper() == "OR":
            self._take()
            right = self._and()
            result = result or right
        return result

    def _and(self) -> bool:
        result = self._term()
        while (self._peek() or "").upper() == "AND":
            self._take()
            right = self._term()
            result = result and right
        return result

    def _term(self) -> bool:
        word = self._take()
        if word == "(":
            result = self._or()
            if self._take() != ")":
                raise ValueError("unbalanced parenthesis")
            return result
        if word == ")" or word.upper() in ("AND", "OR", "WITH"):
            raise ValueError(f"unexpected {word}")
        if (self._peek() or "").upper() == "WITH":
            # A licence with an exception is its own licence: allowed only when written out in the list.
            self._take()
            exception = self._take()
            return f"{word} WITH {exception}".casefold() in self.allowed
        return word.casefold() in self.allowed


def licence_allowed(expression: str | None, allowed: Sequence[str]) -> bool:
    """Whether an SPDX expression is satisfiable from the allowed licences; unknown or unreadable is not."""
    if not expression or not expression.strip():
        return False
    try:
        return _LicenceExpression(expression, allowed).evaluate()
    except ValueError:
        return False
