"""`python -m audit --stack prod [--json]`: render the stack offline and report on it.

Exit status: 0 clean, 1 when a check fails, 2 for invalid configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from audit.access import access_section
from audit.guardrails import guardrails_section
from audit.render import Rendering, render
from audit.sections import Section
from audit.stack_config import PROJECT_DIR
from audit.summary import resources_section
from components.settings import ConfigError

# Each check turns the rendering into one section of the report.
SECTIONS: list[Callable[[Rendering], Section]] = [
    resources_section,
    guardrails_section,
    access_section,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod", help="stack name; reads Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="folder holding Pulumi.yaml")
    args = parser.parse_args(argv)

    try:
        rendering = render(args.stack, project_dir=args.project_dir.resolve())
    except ConfigError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return 2

    sections = [build(rendering) for build in SECTIONS]
    failed = [s.title for s in sections if s.failed]
    if args.json:
        document = rendering.as_json()
        for section in sections:
            if section.json_key:
                document[section.json_key] = section.json_value
        document["failed"] = failed
        print(json.dumps(document, indent=2, sort_keys=False))
    else:
        for section in sections:
            print(f"== {section.title}")
            print(section.text)
            print()
        print("FAILED: " + "; ".join(failed) if failed else "All checks passed.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
