"""The layers of the repository, read from the imports themselves with `ast`: every import counts, at module level,
inside a function or under `if TYPE_CHECKING:`.

Each top-level package (and each module of model/) has a rank and imports only lower ranks, so there is no cycle
and no upward import: model/ knows nothing of Pulumi resources (only model/pulumi_config.py reads pulumi.Config),
nor of components/, audit/ or bootstrap/; components/ never imports the audit or the bootstrap; what ships alone
(the policy pack, the Lambda packages, the login helper) imports nothing of the program. And parse_settings is made
of named steps, none over 40 lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from model.stack_file import PROJECT_DIR

# A package imports only packages of a lower rank. Rank 0 ships or runs alone: the policy pack, the Lambda
# packages (promoter, backup), the login helper and the CI script.
PACKAGE_RANKS = {
    ".ci": 0, "policies": 0, "promoter": 0, "backup": 0, "pypi_login": 0,
    "model": 1,
    "components": 2, "bootstrap": 2,
    "__main__": 3, "audit": 3,
    "bench": 4,
    "tests": 5,
}
# The same inside model/, from the constants up to what reads the stack files and pulumi.Config.
MODEL_RANKS = {
    "model": 0, "model.names": 0,
    "model.rules": 1, "model.github": 1, "model.trust_policy": 1,
    "model.settings": 2,
    "model.documents": 3, "model.documents.actions": 3,
    "model.documents.statements": 4,
    "model.documents.jobs": 5, "model.documents.codeartifact": 5, "model.documents.readers": 5,
    "model.documents.github": 5,
    "model.documents.airlock": 6, "model.documents.backup": 6, "model.documents.sizes": 6,
    "model.parse_values": 3,
    "model.parse_roles": 4, "model.parse_github": 4, "model.parse_airlock": 4, "model.parse_backup": 4,
    "model.parse_stackset": 4,
    "model.parse": 7,
    "model.stack_file": 8, "model.pulumi_config": 8,
}
PARSE_FUNCTION_MAX_LINES = 40
SKIPPED = {".git", ".venv", "node_modules", "__pycache__"}


def python_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*.py")):
        if not SKIPPED & set(path.relative_to(root).parts):
            yield path


def imported_modules(source: str) -> set[str]:
    """Every absolute module an import names, wherever the import is (`from a.b import c` names a.b and a.b.c: c
    may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


def top_level_of(path: Path, root: Path) -> str:
    relative = path.relative_to(root)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def package_graph(root: Path) -> dict[str, set[str]]:
    """Top-level package (or module) -> the repository's top-level packages it imports."""
    files = list(python_files(root))
    tops = {top_level_of(path, root) for path in files}
    graph: dict[str, set[str]] = {top: set() for top in tops}
    for path in files:
        top = top_level_of(path, root)
        graph[top] |= {name.split(".")[0] for name in imported_modules(path.read_text())} & tops - {top}
    return graph


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module of `package` -> the modules of `package` it imports."""
    paths = {module_name(path, root): path for path in python_files(root / package)}
    return {name: imported_modules(path.read_text()) & set(paths) - {name} for name, path in paths.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted: the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def not_downward(graph: Mapping[str, set[str]], ranks: Mapping[str, int]) -> list[tuple[str, str]]:
    """Every import of a node of the same or a higher rank (a node without a rank is refused: place it)."""
    unranked = sorted({node for node, targets in graph.items() for node in (node, *targets)} - set(ranks))
    assert not unranked, f"give these a rank: {unranked}"
    return sorted((node, target) for node, targets in graph.items() for target in targets
                  if ranks[target] >= ranks[node])


def long_functions(source: str, limit: int) -> list[tuple[str, int]]:
    """(name, lines) of every function or method longer than `limit` lines, nested ones included."""
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > limit]


@pytest.fixture(scope="module")
def packages() -> dict[str, set[str]]:
    return package_graph(PROJECT_DIR)


# --- the repository ---------------------------------------------------------------------------------------------


def test_every_top_level_package_has_a_rank(packages):
    assert set(packages) == set(PACKAGE_RANKS)


def test_no_import_cycle_between_top_level_packages(packages):
    assert cycles(packages) == []


def test_each_package_imports_only_lower_layers(packages):
    assert not_downward(packages, PACKAGE_RANKS) == []


def test_the_program_model_and_components_are_where_the_layers_say(packages):
    assert packages["model"] <= {"promoter", "backup"}
    assert not packages["components"] & {"audit", "bootstrap", "bench", "tests"}
    assert packages["__main__"] == {"model", "components"}
    for alone in ("policies", "promoter", "backup", "pypi_login", ".ci"):
        assert packages[alone] == set(), alone


def test_no_import_cycle_between_the_modules_of_model_and_each_imports_lower_layers_only():
    modules = module_graph(PROJECT_DIR, "model")
    assert cycles(modules) == []
    assert not_downward(modules, MODEL_RANKS) == []


def test_model_imports_no_pulumi_but_for_reading_pulumi_config():
    for path in python_files(PROJECT_DIR / "model"):
        pulumi = {name for name in imported_modules(path.read_text()) if name.split(".")[0].startswith("pulumi")}
        allowed = {"pulumi"} if path.name == "pulumi_config.py" else set()
        assert pulumi <= allowed, f"{path.relative_to(PROJECT_DIR)} imports {sorted(pulumi - allowed)}"


def test_the_settings_import_no_document_and_no_parser():
    modules = module_graph(PROJECT_DIR, "model")
    for below in ("model.names", "model.rules", "model.github", "model.trust_policy", "model.settings"):
        assert not [m for m in modules[below] if m.startswith(("model.documents", "model.parse"))], below


def test_every_function_of_the_parser_is_short():
    parsers = sorted((PROJECT_DIR / "model").glob("parse*.py"))
    assert {path.name for path in parsers} >= {"parse.py", "parse_airlock.py", "parse_backup.py"}
    for path in parsers:
        assert long_functions(path.read_text(), PARSE_FUNCTION_MAX_LINES) == [], path.name


# --- the checks bite ------------------------------------------------------------------------------------------


def test_a_cycle_is_found_however_long():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_an_import_under_type_checking_or_in_a_function_makes_an_edge(tmp_path):
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    (tmp_path / "high" / "__init__.py").write_text("from low import thing\n")
    (tmp_path / "low" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from high import Other\n")
    (tmp_path / "low" / "late.py").write_text("def f():\n    import high.deep\n")
    graph = package_graph(tmp_path)
    assert graph == {"high": {"low"}, "low": {"high"}}
    assert cycles(graph) == [["high", "low"]]
    assert not_downward(graph, {"low": 0, "high": 1}) == [("low", "high")]


def test_an_upward_import_or_one_within_a_layer_is_found():
    ranks = {"model": 1, "components": 2, "bootstrap": 2}
    assert not_downward({"model": {"components"}, "components": {"model"}, "bootstrap": set()}, ranks) == [
        ("model", "components")]
    assert not_downward({"components": {"bootstrap"}, "bootstrap": set(), "model": set()}, ranks) == [
        ("components", "bootstrap")]
    with pytest.raises(AssertionError, match="give these a rank"):
        not_downward({"model": {"newcomer"}}, ranks)


def test_a_function_over_the_limit_is_found():
    body = "".join(f"        x{i} = {i}\n" for i in range(40))
    source = f"def short():\n    return 1\n\n\nclass C:\n    def long(self):\n{body}"
    assert long_functions(source, PARSE_FUNCTION_MAX_LINES) == [("long", 41)]


def test_the_judge_takes_every_package_of_the_program_from_the_pull_request(packages):
    """`--program-from` puts the pull request's program in place of the base's (audit.diff.PROGRAM_PATHS): every
    package __main__.py imports, directly or through another (the Lambda code the components package and the
    layouts the documents name), must be in it, or a pull request's settings, documents or functions would be
    judged as the base's. And nothing else is: the rest is the judge's own."""
    from audit.diff.judge import PROGRAM_PATHS

    assert reachable(packages, "__main__") == {path.removesuffix(".py") for path in PROGRAM_PATHS} - {"Pulumi.yaml"}


def reachable(graph: Mapping[str, set[str]], start: str) -> set[str]:
    """`start` and every package it imports, directly or not."""
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph.get(name, ()))
    return seen


def test_what_the_program_reaches_is_found_through_every_package():
    graph = {"__main__": {"components"}, "components": {"model", "promoter"}, "model": {"backup"}, "audit": {"model"}}
    assert reachable(graph, "__main__") == {"__main__", "components", "model", "promoter", "backup"}
