"""`python -m audit --stack prod [--json]`: render the stack offline and report on it.

`--diff-against REF` instead shows who gained or lost what between REF and the working tree
(or, with `--program-from DIR`, REF carrying DIR's program, judged by REF's audit), by
principalmapper and by Z3 (audit/diff/; docs/audit.md, "Access diff").

Exit status: 0 clean, 1 when a check fails (with --diff-against: widening that was not accepted
with --accept-widening, or the two engines disagree), 2 for invalid configuration (with
--diff-against also: a ref that names no commit, or a base whose stack does not render), 141 when the reader of
its output left early (`| head`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from audit.access import access_section, expand_decisions
from audit.dependabot import dependabot_yml
from audit.guardrails import guardrails_section, pack_config, pack_config_path, render_pack_config
from audit.render import Rendering, render
from audit.sections import Section
from audit.summary import resources_section
from model.settings import ConfigError
from model.stack_file import PROJECT_DIR, load_stack_config, stack_settings

# Each check turns the rendering into one section of the report.
SECTIONS: list[Callable[[Rendering], Section]] = [
    resources_section,
    guardrails_section,
    access_section,
]


EXIT_BROKEN_PIPE = 141

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="prod", help="stack name; reads Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--expand-decisions", action="store_true",
                        help="with --json: also list every access decision per principal (access.decisions), "
                             "not only once per group of principals decided alike (access.decision_groups)")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="folder holding Pulumi.yaml")
    parser.add_argument("--diff-against", metavar="REF",
                        help="show the access changes from this git ref (main, a commit) to the working tree")
    parser.add_argument("--accept-widening", action="store_true",
                        help="with --diff-against: exit 0 on widening (the engines must still agree)")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="with --diff-against: also write the diff as Markdown (the pull request comment)")
    parser.add_argument("--program-from", type=Path, metavar="DIR",
                        help="with --diff-against: compare with REF carrying DIR's program and configuration "
                             "(__main__.py, components/, Pulumi.yaml, Pulumi.<stack>.yaml, the pack config), "
                             "both rendered by REF's audit: how CI judges a pull request")
    parser.add_argument("--write-pack-config", action="store_true",
                        help="write policies/policy-config.<stack>.json, the pack config the stack's settings "
                             "derive (the file `pulumi preview --policy-pack-config` reads), and exit")
    parser.add_argument("--dependabot-yml", metavar="OWNER/NAME",
                        help="print the .github/dependabot.yml that lets this dependabotReaders repository's "
                             "Dependabot read the registry through its reader role, and exit")
    args = parser.parse_args(argv)
    if args.diff_against is None and (args.accept_widening or args.markdown or args.program_from):
        parser.error("--accept-widening, --markdown and --program-from go with --diff-against")
    if args.expand_decisions and (not args.json or args.diff_against is not None):
        parser.error("--expand-decisions goes with --json, without --diff-against")
    if args.diff_against is not None:
        return _diff(args)

    project_dir = args.project_dir.resolve()
    try:
        if args.write_pack_config or args.dependabot_yml:
            # The settings are all it takes: nothing is rendered.
            settings = stack_settings(load_stack_config(args.stack, project_dir))
        else:
            rendering = render(args.stack, project_dir=project_dir)
    except ConfigError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return 2

    if args.dependabot_yml:
        try:
            print(dependabot_yml(settings, args.dependabot_yml), end="")
        except ValueError as error:
            print(f"error: stack {args.stack}: {error}", file=sys.stderr)
            return 2
        return 0
    if args.write_pack_config:
        path = pack_config_path(project_dir, args.stack)
        path.write_text(render_pack_config(pack_config(settings)), encoding="utf-8")
        print(f"wrote {path.relative_to(project_dir)}")
        return 0

    sections = [build(rendering) for build in SECTIONS]
    failed = [s.title for s in sections if s.failed]
    if args.json:
        print(json.dumps(audit_document(rendering, sections, args.expand_decisions), indent=2, sort_keys=False))
    else:
        for section in sections:
            print(f"== {section.title}")
            print(section.text)
            print()
        print("FAILED: " + "; ".join(failed) if failed else "All checks passed.")
    return 1 if failed else 0


def audit_document(rendering: Rendering, sections: list[Section], expanded: bool = False) -> dict[str, Any]:
    """What `--json` prints: the rendering, each section's part, and the titles of failed checks."""
    document = rendering.as_json()
    for section in sections:
        if section.json_key:
            document[section.json_key] = section.json_value
    if expanded:
        document["access"]["decisions"] = expand_decisions(document["access"]["decision_groups"])
    document["failed"] = [s.title for s in sections if s.failed]
    return document


def _diff(args: argparse.Namespace) -> int:
    # Imported here, not at the top: audit.diff brings audit.smt and Z3, which a plain audit never uses.
    from audit import diff

    project_dir = args.project_dir.resolve()
    try:
        report = diff.diff_against(
            args.diff_against, args.stack, project_dir,
            lambda: diff.rendering_json(render(args.stack, project_dir=project_dir)),
            accepted=args.accept_widening, program_from=args.program_from,
        )
    except ConfigError as error:
        print(f"error: stack {args.stack}: {error}", file=sys.stderr)
        return diff.EXIT_INVALID
    except diff.DiffError as error:
        print(f"error: --diff-against {args.diff_against}: {error}", file=sys.stderr)
        return diff.EXIT_INVALID
    if args.markdown:
        args.markdown.write_text(report.markdown(), encoding="utf-8")
    print(json.dumps(report.as_json(), indent=2) if args.json else report.text())
    return report.exit_status


if __name__ == "__main__":
    # One short-lived run: the collector's passes over a growing heap cost more than the garbage
    # they free (audit.render.collector_paused); exiting frees everything anyway.
    gc.disable()
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left early (`| head`): as Python's signal documentation advises, point stdout at devnull so
        # the flush at exit cannot raise again, and exit as a process killed by SIGPIPE would, 128 + 13.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = EXIT_BROKEN_PIPE
    # All is printed: freeze, so the collection at exit skips every object the run made (~0.25 s).
    gc.freeze()
    sys.exit(status)
