"""How the code is put together, held in place: an existing stack sees no replacement, the pack
stands apart from the program it guards, each default is written once, and the audit says the same
thing byte for byte (tests/model/test_layering.py holds the packages' layers)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

import policies.aws_facts as pack_facts
from audit.render import render
from model import names as program_names
from model.documents import actions as program_actions
from model.names import DEFAULTS
from model.stack_file import PROJECT_DIR

FIXTURES = Path(__file__).parents[1] / "fixtures"


def test_every_urn_of_the_deployed_stack_is_kept_or_aliased():
    """tests/fixtures/prod-urns.txt lists the URNs the prod stack had; a resource may move only
    with an alias to its old URN, or Pulumi would replace it. Update the file with a change that
    adds or removes resources on purpose."""
    before = set(FIXTURES.joinpath("prod-urns.txt").read_text().split())
    # As deployed by a stack that created the GitHub OIDC provider itself (the default).
    rendering = render("prod", overrides={"pypi-registry:createGithubOidcProvider": True})
    now = rendering.resources + rendering.components
    answered = {r.urn for r in now} | {alias for r in now for alias in r.aliases}
    assert before - answered == set(), "these URNs would be deleted and recreated"
    added = {r.urn for r in now if r.urn not in before and not set(r.aliases) & before}
    assert added == set(), "new resources: add them to tests/fixtures/prod-urns.txt if intended"


def test_moved_providers_alias_exactly_their_former_urn():
    rendering = render("prod")
    moved = {r.name: r.aliases for r in rendering.resources if r.aliases}
    assert moved == {
        f"reader-{account}-provider": [
            f"urn:pulumi:prod::pypi-registry::pypi-registry:index:SecondaryAccountReader$pulumi:providers:aws"
            f"::reader-{account}-provider"
        ]
        for account in rendering.settings.secondary_account_ids
    }


# --- the pack stands apart --------------------------------------------------------------------

PROGRAM_PACKAGES = {"model", "components", "audit", "bootstrap", "pypi_login", "bench", "tests"}


def _imported_top_level(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_the_policy_pack_imports_nothing_from_the_program():
    for path in sorted((PROJECT_DIR / "policies").glob("*.py")):
        assert _imported_top_level(path) & PROGRAM_PACKAGES == set(), path.name


def test_the_pack_is_served_at_its_own_levels_with_no_initial_config():
    """What the CLI runs is the policies at the levels they declare: `PolicyPack` gets the name, the
    policies and the pack's mandatory default, nothing that could lower a level behind the audit's back."""
    from pulumi_policy import EnforcementLevel

    from policies.guardrails import PACK_ENFORCEMENT_LEVEL

    calls = [node for node in ast.walk(ast.parse((PROJECT_DIR / "policies" / "__main__.py").read_text()))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "PolicyPack"]
    assert len(calls) == 1 and not calls[0].args
    keywords = {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    assert keywords == {"name": "guardrails.PACK_NAME", "policies": "[*guardrails.POLICIES]",
                        "enforcement_level": "guardrails.PACK_ENFORCEMENT_LEVEL"}
    assert PACK_ENFORCEMENT_LEVEL == EnforcementLevel.MANDATORY


def test_the_pack_project_file_runs_the_pack_folder_with_its_lock():
    """PulumiPolicy.yaml decides what the CLI runs: only these keys, the Python runtime and its venv."""
    pack = yaml.safe_load((PROJECT_DIR / "policies" / "PulumiPolicy.yaml").read_text())
    assert set(pack) == {"description", "runtime", "version"}
    assert pack["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    assert not (PROJECT_DIR / "policies" / "PulumiPolicy.json").exists()


def test_the_packs_own_facts_equal_the_programs():
    shared = ["GITHUB_OIDC_HOST", "GITHUB_OIDC_AUDIENCE", "CODEARTIFACT_SERVICE", "RESOURCE_POLICY_LIMIT",
              "TRUST_POLICY_LIMIT", "MANAGED_POLICY_LIMIT", "INLINE_ROLE_POLICY_LIMIT", "IRREVERSIBLE_ACTIONS",
              "OVERWRITE_ACTIONS", "REOPEN_ACTIONS", "STATUS_ACTIONS", "KEY_LOSS_ACTIONS"]
    for name in shared:
        (program,) = (getattr(module, name) for module in (program_names, program_actions) if hasattr(module, name))
        assert getattr(pack_facts, name) == program, name
    assert pack_facts.PUBLISH_ACTION in program_actions.PUBLISH_ACTIONS


def test_the_audit_takes_no_facts_from_the_program():
    """The audit may read the program's settings (what the stack is configured to be), never its documents
    or lists of actions: dropping an action from the program's Deny must not drop it from the proof."""
    documents = ("model.documents", "model.trust_policy", "components")
    for path in sorted((PROJECT_DIR / "audit").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            else:
                continue
            assert not [name for name in imported if name.startswith(documents)], f"{path} imports {imported}"


def test_the_programs_denies_name_exactly_the_judges_facts(prod):
    """The rendered domain and key policies deny exactly the actions the pack and the audit check for."""
    def denies(name: str, key: str) -> dict[str, list[str]]:
        resource = next(r for r in prod.resources if r.name == name)
        statements = json.loads(resource.inputs[key])["Statement"]
        return {s["Sid"]: s["Action"] for s in statements if s["Effect"] == "Deny"}

    assert denies("registry-domain-policy", "policyDocument") == {
        "DenyIrreversibleDeletes": list(pack_facts.IRREVERSIBLE_ACTIONS),
        "DenyOverwritingVersions": list(pack_facts.OVERWRITE_ACTIONS),
        "DenyReopeningInternalNames": list(pack_facts.REOPEN_ACTIONS),
        "DenyChangingVersionStatus": list(pack_facts.STATUS_ACTIONS),
    }
    assert denies("registry-key", "policy") == {"DenyKeyLoss": list(pack_facts.KEY_LOSS_ACTIONS)}


# --- one source for each default ----------------------------------------------------------------


def test_pulumi_yaml_declares_the_settings_defaults():
    declared = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]
    defaults = {key: spec["default"] for key, spec in declared.items()
                if isinstance(spec, dict) and "default" in spec and ":" not in key}
    assert defaults == DEFAULTS


def _readme_default(value) -> str:
    if value == "":
        return "unset"
    return f"`{json.dumps(value)}`" if not isinstance(value, str) else f"`{value}`"


def test_the_readme_configuration_table_shows_the_settings_defaults():
    text = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    section = text[text.index("\n## Keys\n"):]
    table = section[:section.index("\n## ", 1)]
    # | key | type | default | rule |
    rows = dict(re.findall(r"^\| `([A-Za-z:]+)` \| [^|]+ \| ([^|]+?) \|", table, flags=re.MULTILINE))
    for key, value in DEFAULTS.items():
        assert rows.get(key) == _readme_default(value), key


# --- stable output ----------------------------------------------------------------------------------


def test_the_audit_json_is_byte_identical_across_runs():
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-m", "audit", "--stack", "prod", "--json"], cwd=PROJECT_DIR,
                                capture_output=True, env=env, check=False)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
