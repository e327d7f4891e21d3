"""No module under tests/ imports a test file: what several test files share lives in a support module (tests/stacks.py,
tests/renderings.py, tests/<package>/support.py, ...), and a fixture that several test files use lives in a
conftest.py. A test file imported by another is run again under the importer's name when a fixture comes along, and
ties one file's tests to another's helpers.

The rule, explicit: a test file is a file whose name matches pytest's `python_files` patterns. Every import of every
Python file under tests/ (outside the directories pytest does not recurse into) is resolved to the file it loads:
`import a.b`, `from a import b` (a.b, when b is a module), relative imports, imports inside functions, a literal
`importlib.import_module(...)` or `__import__(...)`, and the modules `pytest_plugins` names, which must be literal.
None of them may load a test file."""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def module_file(root: Path, module: str) -> Path | None:
    """The file under root that defines `module` (a module, or a package's __init__.py); None when none does."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.parent / f"{base.name}.py", base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _literal_names(value: ast.expr) -> list[str] | None:
    """The module names a `pytest_plugins` value lists, None when it is not a literal string or list of strings."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
        return [e.value for e in value.elts if isinstance(e, ast.Constant)]
    return None


def imported_modules(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module name) for every module the file may load; a name that cannot be read is yielded as
    `?` followed by what the source says, so that it is reported rather than skipped."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(root).parent.parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level > len(package):
                yield node.lineno, f"? {ast.unparse(node)}"
                continue
            parts = [*package[:len(package) - node.level + 1]] if node.level else []
            base = ".".join(parts + (node.module.split(".") if node.module else []))
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets):
            names = _literal_names(node.value)
            if names is None:
                yield node.lineno, f"? {ast.unparse(node)}"
            else:
                yield from ((node.lineno, name) for name in names)
        elif isinstance(node, ast.Call) and node.args:
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            first = node.args[0]
            if called in DYNAMIC_IMPORTS and isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def is_test_file(path: Path, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)


def python_files(tests: Path, skipped_dirs: Sequence[str]) -> list[Path]:
    """Every Python file under tests, outside the directories pytest does not recurse into."""
    return sorted(path for path in tests.rglob("*.py")
                  if not any(fnmatch.fnmatch(part, pattern) for part in path.relative_to(tests).parts[:-1]
                             for pattern in skipped_dirs))


def imports_of_test_files(root: Path, patterns: Sequence[str], skipped_dirs: Sequence[str]) -> list[str]:
    """Each import of a test file by a file under root/tests, and each import that cannot be read."""
    problems = []
    for path in python_files(root / "tests", skipped_dirs):
        where = path.relative_to(root)
        for line, module in imported_modules(path, root):
            if module.startswith("?"):
                problems.append(f"{where}:{line}: cannot tell what this imports: {module[2:]}")
                continue
            target = module_file(root, module)
            if target is not None and is_test_file(target, patterns):
                problems.append(f"{where}:{line}: imports {module}, the test file {target.relative_to(root)}")
    return problems


def test_no_module_under_tests_imports_a_test_file(pytestconfig: pytest.Config):
    patterns, skipped = pytestconfig.getini("python_files"), pytestconfig.getini("norecursedirs")
    assert {"test_*.py"} <= set(patterns)
    assert len(python_files(ROOT / "tests", skipped)) > 100  # the whole tree was read
    assert imports_of_test_files(ROOT, patterns, skipped) == []


def test_the_test_file_import_check_bites(tmp_path: Path):
    patterns, skipped = ["test_*.py", "*_test.py"], ["node_modules"]
    files = {
        "tests/__init__.py": "",
        "tests/a/__init__.py": "",
        "tests/a/test_one.py": "def helper():\n    return 1\n",
        "tests/a/two_test.py": "def helper():\n    return 2\n",
        "tests/a/support.py": "def helper():\n    return 3\n",
        "tests/a/node_modules/gyp/test_gyp.py": "from tests.a.test_one import helper\n",
        "tests/b/__init__.py": "",
        "tests/b/test_three.py": "import json\n\nfrom tests.a import support\nfrom tests.a.support import helper\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert imports_of_test_files(tmp_path, patterns, skipped) == []

    one = "imports tests.a.test_one, the test file tests/a/test_one.py"
    bad = {
        "from tests.a.test_one import helper\n": [f"tests/b/test_three.py:1: {one}"],
        "from tests.a import test_one\n": [f"tests/b/test_three.py:1: {one}"],
        "import tests.a.test_one\n": [f"tests/b/test_three.py:1: {one}"],
        "from ..a.test_one import helper\n": [f"tests/b/test_three.py:1: {one}"],
        "from ..a import test_one\n": [f"tests/b/test_three.py:1: {one}"],
        "def f():\n    from tests.a.test_one import helper\n": [f"tests/b/test_three.py:2: {one}"],
        "pytest_plugins = ['tests.a.test_one']\n": [f"tests/b/test_three.py:1: {one}"],
        "import importlib\n\nimportlib.import_module('tests.a.test_one')\n": [f"tests/b/test_three.py:3: {one}"],
        "from tests.a.two_test import helper\n": [
            "tests/b/test_three.py:1: imports tests.a.two_test, the test file tests/a/two_test.py"],
        "pytest_plugins = [name for name in ('tests.a.test_one',)]\n": [
            "tests/b/test_three.py:1: cannot tell what this imports: "
            "pytest_plugins = [name for name in ('tests.a.test_one',)]"],
        "from .... import anything\n": [
            "tests/b/test_three.py:1: cannot tell what this imports: from .... import anything"],
    }
    for source, expected in bad.items():
        (tmp_path / "tests/b/test_three.py").write_text(source)
        assert imports_of_test_files(tmp_path, patterns, skipped) == expected, source
    # A support module or a conftest.py that imports a test file is refused as well.
    (tmp_path / "tests/b/test_three.py").write_text("")
    (tmp_path / "tests/b/conftest.py").write_text("from tests.a.test_one import helper\n")
    assert imports_of_test_files(tmp_path, patterns, skipped) == [f"tests/b/conftest.py:1: {one}"]
