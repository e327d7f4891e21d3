"""The reference pages say exactly what the code has: docs/guardrails.md one section per policy the pack declares,
docs/configuration.md one row per key the settings parser reads, docs/operating.md one row per stack output, and
the README stays a front door that links to every page of docs/. A policy, key or output added, renamed or removed
without its page following fails here; each check is shown failing on a page changed to be wrong."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from model.names import SCALAR_KEYS, STRUCTURED_KEYS
from policies.guardrails import POLICIES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README_MAX_LINES = 200
# The reader journeys the README must link to, one page each.
JOURNEYS = ("operating.md", "consuming.md", "publishing.md", "audit.md", "guardrails.md", "configuration.md",
            "airlock.md", "backup.md", "performance.md")
# Besides the pypi-registry keys, the program reads the stack's region (pulumi.Config("aws").get("region")).
PROGRAM_KEYS = frozenset({*SCALAR_KEYS, *STRUCTURED_KEYS, "aws:region"})


def section(text: str, heading: str) -> str:
    """The body of a `## heading` section, up to the next `## ` heading."""
    marker = f"\n{heading}\n"
    assert marker in text, f"no {heading!r} section"
    return text.split(marker, 1)[1].split("\n## ", 1)[0]


def differences(documented: Iterable[str], actual: Iterable[str], what: str) -> list[str]:
    documented, actual = list(documented), set(actual)
    repeated = {name for name in documented if documented.count(name) > 1}
    problems = [f"{what} documented twice: {name}" for name in sorted(repeated)]
    problems += [f"{what} not documented: {name}" for name in sorted(actual - set(documented))]
    problems += [f"documented, but no such {what}: {name}" for name in sorted(set(documented) - actual)]
    return problems


# --- the guardrails: one `### `name`` section per policy, in the "## Policies" section ---------------------------


def documented_policies(page: str) -> list[str]:
    names = []
    for line in section(page, "## Policies").splitlines():
        if line.startswith("#"):
            match = re.fullmatch(r"### `([a-z0-9-]+)`", line)
            assert match, f"a heading in the Policies section that names no policy: {line!r}"
            names.append(match[1])
    return names


def policy_problems(page: str) -> list[str]:
    return differences(documented_policies(page), (p.name for p in POLICIES), "policy")


def test_the_guardrails_page_names_every_policy_of_the_pack_and_no_other():
    assert policy_problems((DOCS / "guardrails.md").read_text(encoding="utf-8")) == []


def test_the_policy_check_bites():
    page = (DOCS / "guardrails.md").read_text(encoding="utf-8")
    first = POLICIES[0].name
    assert policy_problems(page.replace(f"### `{first}`\n", "", 1)) == [f"policy not documented: {first}"]
    assert policy_problems(page.replace(f"### `{first}`\n", f"### `{first}`\n\n### `no-such-policy`\n", 1)) == [
        "documented, but no such policy: no-such-policy"]
    renamed = page.replace(f"### `{first}`\n", f"### `{first}-v2`\n", 1)
    assert policy_problems(renamed) == [f"policy not documented: {first}",
                                        f"documented, but no such policy: {first}-v2"]


# --- the configuration reference: one row per key in the "## Keys" table -------------------------------------------


def documented_keys(page: str) -> list[str]:
    return re.findall(r"^\| `([A-Za-z:-]+)` \|", section(page, "## Keys"), flags=re.MULTILINE)


def key_problems(page: str) -> list[str]:
    return differences(documented_keys(page), PROGRAM_KEYS, "configuration key")


def test_the_configuration_reference_names_every_key_the_settings_parser_reads_and_no_other():
    assert key_problems((DOCS / "configuration.md").read_text(encoding="utf-8")) == []


def test_the_key_check_bites():
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith("| `cooldown` |"))
    assert key_problems(page.replace(row + "\n", "")) == ["configuration key not documented: cooldown"]
    assert key_problems(page.replace(row, row + "\n| `coolDown` | string | `3d` | a typo |")) == [
        "documented, but no such configuration key: coolDown"]


# --- the outputs: one row per pulumi.export of __main__.py ----------------------------------------------------------


def exported_outputs() -> set[str]:
    tree = ast.parse((ROOT / "__main__.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "export"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "pulumi"):
            assert isinstance(node.args[0], ast.Constant), "an output whose name is not a literal"
            names.add(node.args[0].value)
    assert names, "__main__.py exports nothing"
    return names


def documented_outputs(page: str) -> list[str]:
    rows = [line for line in section(page, "## Outputs").splitlines() if line.startswith("| `")]
    return [name for row in rows for name in re.findall(r"`([A-Za-z]+)`", row.split("|")[1])]


def output_problems(page: str) -> list[str]:
    return differences(documented_outputs(page), exported_outputs(), "output")


def test_the_outputs_table_lists_every_output_the_program_exports():
    assert output_problems((DOCS / "operating.md").read_text(encoding="utf-8")) == []


def test_the_output_check_bites():
    page = (DOCS / "operating.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if line.startswith("| `githubReaderRoleArns` |"))
    assert output_problems(page.replace(row + "\n", "")) == ["output not documented: githubReaderRoleArns"]
    added = page.replace(row, row + "\n| `tokens` | never |")
    assert output_problems(added) == ["documented, but no such output: tokens"]


# --- the README: a front door that fits, linking to every page -----------------------------------------------------


def readme_problems(readme: str, pages: Iterable[str]) -> list[str]:
    problems = []
    lines = readme.count("\n") + (not readme.endswith("\n"))
    if lines > README_MAX_LINES:
        problems.append(f"README.md has {lines} lines, over {README_MAX_LINES}: move the detail into docs/")
    linked = set(re.findall(r"\]\(docs/([A-Za-z0-9_.-]+\.md)(?:#[^)]*)?\)", readme))
    problems += [f"README.md does not link to docs/{page}" for page in sorted(set(pages) - linked)]
    return problems


def test_the_readme_is_short_and_links_to_every_journey_and_every_page_of_docs():
    pages = {p.name for p in DOCS.glob("*.md")}
    assert set(JOURNEYS) <= pages, sorted(set(JOURNEYS) - pages)
    assert readme_problems((ROOT / "README.md").read_text(encoding="utf-8"), pages | set(JOURNEYS)) == []


def test_the_readme_check_bites():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_problems(readme + "more\n" * README_MAX_LINES, JOURNEYS) == [
        f"README.md has {readme.count(chr(10)) + README_MAX_LINES} lines, over {README_MAX_LINES}: "
        "move the detail into docs/"]
    unlinked = readme.replace("](docs/airlock.md)", "](https://example.com/airlock)")
    assert readme_problems(unlinked, JOURNEYS) == ["README.md does not link to docs/airlock.md"]
