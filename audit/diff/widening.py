"""What the diff fails on and how a reviewed widening is accepted: the exit statuses, DiffError, one item of
widening and the digest of them all, and the acceptance file's entries."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from audit.diff.sides import Json

# Exit status of `python -m audit` (also without --diff-against).
EXIT_CLEAN = 0
EXIT_FAILED = 1  # a check failed; for the diff: widening not accepted, or the engines disagree
EXIT_INVALID = 2  # invalid configuration; for the diff also: the base cannot be rendered


class DiffError(Exception):
    """The diff cannot be made (unknown ref, a base that does not render): exit status 2."""


def acceptance_path(stack: str) -> str:
    """The reviewed list of accepted widenings (docs/audit.md, "Access diff"), beside the pack config."""
    return f"policies/accepted-widening.{stack}.json"


@dataclass(frozen=True)
class Acceptance:
    """One entry of the acceptance file: the digest of exactly one widening, and why it is wanted."""

    sha256: str
    reason: str

    def as_json(self) -> Json:
        return {"sha256": self.sha256, "reason": self.reason}


def read_acceptances(path: Path) -> list[Acceptance]:
    """The entries of an acceptance file, [] when there is none; DiffError when it cannot be read
    (fail closed: a malformed file stops the diff rather than accept or ignore anything)."""
    if not path.exists():
        return []
    shape = '{"accepted": [{"sha256": 64 lower-case hex digits, "reason": text}, ...]}'
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DiffError(f"{path} cannot be read ({error}): expected {shape}") from None
    if not isinstance(document, dict) or set(document) != {"accepted"} or not isinstance(document["accepted"], list):
        raise DiffError(f"{path}: expected {shape}")
    entries = []
    for index, entry in enumerate(document["accepted"]):
        if not (isinstance(entry, dict) and set(entry) == {"sha256", "reason"}
                and isinstance(entry["sha256"], str) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
                and isinstance(entry["reason"], str) and entry["reason"].strip()):
            raise DiffError(f"{path}: entry {index} is not {{\"sha256\": 64 lower-case hex digits, "
                            f"\"reason\": non-empty text}}: {json.dumps(entry)}")
        entries.append(Acceptance(entry["sha256"], entry["reason"]))
    return entries


def new_acceptances(base: Path, changed: Path) -> list[Acceptance]:
    """The entries `changed` adds to `base`: only those can accept a widening, so an entry that is
    already on the base branch never accepts anything again (re-accepting the same widening later
    takes a new entry, with its own reason)."""
    already = set(read_acceptances(base))
    return [entry for entry in read_acceptances(changed) if entry not in already]


@dataclass(frozen=True)
class Widening:
    kind: str  # "new principal", "new account", "allowed", "trusted", "document", "origin"
    text: str
    key: str = ""  # what the digest covers, when the text holds more (a Z3 counterexample)

    def as_json(self) -> Json:
        return {"kind": self.kind, "text": self.text}


def widening_digest(stack: str, widening: Iterable[Widening]) -> str:
    """SHA-256 of the canonical widening report: the stack and each item's kind and statement,
    sorted, without Z3's counterexamples (another valid request may be found another time)."""
    canonical = {"stack": stack, "widening": sorted([w.kind, w.key or w.text] for w in widening)}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()
