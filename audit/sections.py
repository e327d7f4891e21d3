"""What one part of the audit contributes: text for people, JSON for machines, pass or fail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Section:
    title: str
    text: str
    json_key: str | None = None  # top-level key added to `--json` output
    json_value: Any = None
    failed: bool = False
