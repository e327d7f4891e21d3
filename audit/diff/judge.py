"""The renderings compared: REF's in a temporary git worktree by that commit's own audit, in a subprocess,
and the working tree's in this process, or, with --program-from, REF carrying DIR's program (the judge CI
runs), in a second worktree and subprocess (diff_against)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from audit.diff.report import DiffReport, compare_renderings, failed_checks
from audit.diff.sides import Json
from audit.diff.widening import EXIT_CLEAN, EXIT_FAILED, DiffError, acceptance_path, new_acceptances

BASE_TIMEOUT_SECONDS = 600

# What a pull request supplies when another commit's audit judges it (--program-from), relative
# to the folder holding Pulumi.yaml: the program, every package it imports (the settings and
# documents, the components, the Lambda code they deploy; tests/model/test_layering.py holds this
# to the imports), and its configuration. Everything else (the
# audit, the pack, the action table, the locks, anything the pull request adds elsewhere, such
# as a module that would shadow a library) is the judge's.
PROGRAM_PATHS = ("__main__.py", "components", "model", "promoter", "backup", "Pulumi.yaml")


# Inside those, what stays the judge's: the reader of Pulumi.yaml and Pulumi.<stack>.yaml, which
# decides what configuration the rendering sees and refuses what the CLI would read otherwise. A
# pull request's own reader could drop a key its stack file sets, so the audit would render
# another configuration than `pulumi up` deploys.
KEPT_FROM_JUDGE = ("model/stack_file.py",)


def program_paths(stack: str) -> tuple[str, ...]:
    return (*PROGRAM_PATHS, f"Pulumi.{stack}.yaml", f"policies/policy-config.{stack}.json", acceptance_path(stack))


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
    if result.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def repository_root(project_dir: Path) -> Path:
    return Path(_git(project_dir, "rev-parse", "--show-toplevel")).resolve()


def resolve_commit(repo: Path, ref: str) -> str:
    """The full commit ID a ref names, else DiffError."""
    if ref.startswith("-"):
        raise DiffError(f"{ref!r} is not a git ref")
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    except DiffError:
        raise DiffError(f"{ref!r} names no commit in {repo} (with actions/checkout, fetch-depth: 0 "
                        "brings the base branch)") from None


@contextlib.contextmanager
def base_worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A temporary worktree of `commit`, removed afterwards; the working tree is not touched."""
    parent = Path(tempfile.mkdtemp(prefix="access-diff-"))
    tree = parent / "base"
    try:
        _git(repo, "worktree", "add", "--detach", "--quiet", str(tree), commit)
        yield tree
    finally:
        with contextlib.suppress(DiffError):
            _git(repo, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(parent, ignore_errors=True)


def overlay_program(source: Path, target: Path, stack: str) -> None:
    """Put `source`'s program and configuration (program_paths) in place of `target`'s: a path
    `source` lacks is removed from `target` too, links are copied as links, bytecode is left.
    KEPT_FROM_JUDGE stay `target`'s."""
    kept = {relative: (target / relative).read_bytes() for relative in KEPT_FROM_JUDGE
            if (target / relative).is_file() and not (target / relative).is_symlink()}
    for relative in program_paths(stack):
        destination, origin = target / relative, source / relative
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        elif destination.exists() or destination.is_symlink():
            destination.unlink()
        if origin.is_dir() and not origin.is_symlink():
            shutil.copytree(origin, destination, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        elif origin.exists() or origin.is_symlink():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, destination, follow_symlinks=False)
    for relative in KEPT_FROM_JUDGE:
        destination = target / relative
        if destination.is_symlink() or destination.exists():
            destination.unlink()
        if relative in kept:
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(kept[relative])


def start_audit(project_dir: Path, stack: str) -> subprocess.Popen[str]:
    """`python -m audit --stack STACK --json` of the code in `project_dir` (a worktree), with this
    interpreter's packages."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.Popen(  # noqa: S603 (this interpreter, fixed arguments)
        [sys.executable, "-m", "audit", "--stack", stack, "--json"],
        cwd=project_dir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish_audit(process: subprocess.Popen[str], where: str) -> Json:
    """The audit JSON of a start_audit process; DiffError when the stack did not render `where`
    ("at main", "with the program of DIR") or the audit predates access decisions."""
    try:
        stdout, stderr = process.communicate(timeout=BASE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise DiffError(f"the audit {where} did not finish in {BASE_TIMEOUT_SECONDS} s") from None
    # 0 and 1 both render the stack (1: one of its checks failed, which the audit itself reports).
    if process.returncode not in (EXIT_CLEAN, EXIT_FAILED):
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise DiffError(f"the stack does not render {where} (exit status {process.returncode}): {tail}")
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        raise DiffError(f"the audit {where} printed no JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("access"), dict) or \
            not {"decisions", "decision_groups"} & set(document["access"]):
        raise DiffError(f"the audit {where} has no access decisions (it predates them): pick a later base")
    return document


def _stop(*processes: subprocess.Popen[str]) -> None:
    """Kill and reap the processes still running."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.communicate()


def diff_against(ref: str, stack: str, project_dir: Path, render_working_tree: Callable[[], Json],
                 accepted: bool = False, program_from: Path | None = None) -> DiffReport:
    """Render `stack` at `ref` (its own code, in a temporary worktree, in a subprocess) and in the
    working tree (`render_working_tree()`, in this process, meanwhile), and compare them.

    With `program_from` (a folder holding Pulumi.yaml), the second rendering is `ref` with that
    folder's program and configuration (program_paths) in place of `ref`'s, in a second worktree
    and subprocess: `ref`'s audit renders both, and nothing of `program_from` runs in this process.

    Raises DiffError when either side cannot be rendered in a subprocess; whatever rendering the
    working tree raises (ConfigError) propagates."""
    project_dir = project_dir.resolve()
    repo = repository_root(project_dir)
    commit = resolve_commit(repo, ref)
    inside = project_dir.relative_to(repo)
    seconds = {}
    started = time.perf_counter()
    if program_from is None:
        with base_worktree(repo, commit) as tree:
            process = start_audit(tree / inside, stack)
            try:
                new_audit = render_working_tree()
            except BaseException:
                _stop(process)
                raise
            seconds["working tree"] = time.perf_counter() - started
            old_audit = finish_audit(process, f"at {ref}")
            seconds["base"] = time.perf_counter() - started
            acceptances = new_acceptances(tree / inside / acceptance_path(stack), project_dir / acceptance_path(stack))
        new_side = "working tree"
    else:
        source = program_from.resolve()
        if not source.is_dir():
            raise DiffError(f"--program-from {program_from}: not a folder")
        new_side = f"the program of {program_from}"
        with base_worktree(repo, commit) as tree, base_worktree(repo, commit) as judged:
            overlay_program(source, judged / inside, stack)
            acceptances = new_acceptances(tree / inside / acceptance_path(stack),
                                          judged / inside / acceptance_path(stack))
            process = start_audit(tree / inside, stack)
            judged_process = start_audit(judged / inside, stack)
            try:
                new_audit = finish_audit(judged_process, f"with {new_side} (judged by {ref})")
                seconds["pull request"] = time.perf_counter() - started
                old_audit = finish_audit(process, f"at {ref}")
                seconds["base"] = time.perf_counter() - started
            finally:
                _stop(process, judged_process)
    report = compare_renderings(old_audit, new_audit, stack=stack, base_ref=ref, base_commit=commit, accepted=accepted,
                                acceptances=acceptances)
    report.new_side = new_side
    if program_from is not None:
        # REF's pack and access proof over the pull request's program: their verdict is REF's, not
        # the pull request's own checks job's (which runs the pull request's audit).
        report.failed_checks = failed_checks(new_audit)
    report.seconds = {**seconds, **report.seconds, "total": time.perf_counter() - started}
    return report
