"""The stack file read as the Pulumi CLI reads it: YAML 1.2, duplicate keys refused, every
problem at its file, line and column, and `python -m audit` exits 2 without a traceback."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest

from model.names import SCALAR_KEYS, STRUCTURED_KEYS
from model.parse import parse_settings
from model.pulumi_config import load_settings
from model.settings import ConfigError
from model.stack_file import PROJECT_DIR, as_engine_config, load_stack_config, project_file, read_yaml

HEADER = (
    "config:\n"
    "  aws:region: eu-west-1\n"
    "  pypi-registry:ownerAccountId: '111122223333'\n"
    "  pypi-registry:domainName: acme\n"
    "  pypi-registry:internalPrefixes: [acme-]\n"
)


def project(tmp_path: Path, stack_yaml: str, *, header: bool = True) -> Path:
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copy(PROJECT_DIR / "__main__.py", tmp_path / "__main__.py")
    (tmp_path / "Pulumi.bad.yaml").write_text((HEADER if header else "") + stack_yaml)
    return tmp_path


def settings_from(tmp_path: Path, stack_yaml: str):
    values = load_stack_config("bad", project(tmp_path, stack_yaml))
    raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith("pypi-registry:")}
    return parse_settings(raw, values.get("aws:region"))


def problems(tmp_path: Path, stack_yaml: str, *, header: bool = True) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_stack_config("bad", project(tmp_path, stack_yaml, header=header))
    return raised.value.problems


# --- YAML 1.2, as the CLI's YAML library reads it ----------------------------------


def test_yes_no_on_off_are_strings_not_booleans(tmp_path):
    # YAML 1.1 (PyYAML) would read these as booleans and refuse them as tag values.
    settings = settings_from(tmp_path, "  pypi-registry:tags: {approved: yes, public: no, reviewed: on, legacy: off}\n")
    assert settings.tags == {"approved": "yes", "public": "no", "reviewed": "on", "legacy": "off"}


def test_a_domain_named_on_is_a_string(tmp_path):
    path = project(tmp_path, "", header=False)
    (path / "Pulumi.bad.yaml").write_text(HEADER.replace("domainName: acme", "domainName: on"))
    assert load_stack_config("bad", path)["pypi-registry:domainName"] == "on"


@pytest.mark.parametrize(("item", "read_as"), [
    ("0o12", "int 10"),           # a YAML 1.2 octal
    ("012345678901", "int 12345678901"),  # an unquoted account ID loses its leading zero
    ("010", "int 10"),            # 1.2: decimal ten (1.1 would say eight)
    ("0x1F", "int 31"),
    ("1e3", "float 1000.0"),
])
def test_numbers_in_a_list_of_account_ids_are_refused_as_yaml_1_2_reads_them(tmp_path, item, read_as):
    found = problems(tmp_path, f"  pypi-registry:secondaryAccountIds: [{item}]\n")
    assert found == [
        f"pypi-registry:secondaryAccountIds[0]: must be of type string (quote it in YAML), got {read_as}"
    ]


def test_a_null_in_a_list_is_refused(tmp_path):
    assert problems(tmp_path, "  pypi-registry:secondaryAccountIds: [~]\n") == [
        "pypi-registry:secondaryAccountIds[0]: must be of type string, got null"
    ]


def test_quoted_account_ids_keep_their_leading_zero(tmp_path):
    settings = settings_from(tmp_path, "  pypi-registry:secondaryAccountIds: ['012345678901', \"044455556666\"]\n")
    assert settings.secondary_account_ids == ("012345678901", "044455556666")


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ("'false'", False)])
def test_boolean_keys_take_the_spellings_the_cli_accepts(tmp_path, text, value):
    settings = settings_from(tmp_path, f"  pypi-registry:createGithubOidcProvider: {text}\n")
    assert settings.create_github_oidc_provider is value


@pytest.mark.parametrize("text", ["True", "TRUE", "yes", "on", "1"])
def test_other_boolean_spellings_are_refused_as_the_cli_refuses_them(tmp_path, text):
    assert problems(tmp_path, f"  pypi-registry:createGithubOidcProvider: {text}\n") == [
        f"pypi-registry:createGithubOidcProvider: must be true or false, got {text!r}"
    ]


def test_a_date_is_refused_rather_than_rewritten(tmp_path):
    assert problems(tmp_path, "  pypi-registry:tags: {reviewed: 2024-01-31}\n") == [
        "pypi-registry:tags.reviewed: '2024-01-31' is read as a YAML date, not a string; quote it"
    ]


def test_a_key_without_a_namespace_is_refused(tmp_path):
    assert problems(tmp_path, "  tags: {owner: platform}\n") == [
        "'tags': is not a config key; write it as <namespace>:<name>, e.g. pypi-registry:tags"
    ]


@pytest.mark.parametrize("key", ["pulumi:autonaming", "pulumi:disable-default-providers", "pulumi:tags"])
def test_an_engine_setting_in_the_stack_file_is_refused(tmp_path, key):
    found = problems(tmp_path, f"  {key}: anything\n")
    assert [p for p in found if key in p] == [
        f"{tmp_path / 'Pulumi.bad.yaml'}: {key}: is an engine setting that changes what the CLI deploys, which "
        "the audit does not apply; remove it from the stack file"]


def test_deploy_principal_arns_is_declared_and_typed(tmp_path):
    role = "arn:aws:iam::111122223333:role/pypi-registry-ci-deploy"
    settings = settings_from(tmp_path, f"  pypi-registry:deployPrincipalArns:\n    - {role}\n")
    assert settings.deploy_principal_arns == (role,)
    assert problems(tmp_path, "  pypi-registry:deployPrincipalArns: [111122223333]\n") == [
        "pypi-registry:deployPrincipalArns[0]: must be of type string (quote it in YAML), got int 111122223333"
    ]


# --- malformed files: file, line, column ----------------------------------------


@pytest.mark.parametrize(("stack_yaml", "where", "what"), [
    ("  aws:region: eu-west-2\n", ":6:3:", 'found duplicate key "aws:region"'),
    # Quoting does not make it another key.
    ('  "pypi-registry:domainName": other\n', ":6:3:", 'found duplicate key "pypi-registry:domainName"'),
    ("  pypi-registry:publishers:\n    - repository: acme/a\n      packages: [acme-a]\n      repository: acme/b\n",
     ":9:7:", 'found duplicate key "repository"'),
    ("  pypi-registry:tags: {owner: a, owner: b}\n", ":6:34:", 'found duplicate key "owner"'),
    ("  pypi-registry:tags: {owner: platform\n", ":7:1:", "expected ',' or '}'"),
    ("\tpypi-registry:tags: {}\n", ":6:1:", "found character '\\t' that cannot start any token"),
    ("  pypi-registry:tags: *anchor\n", ":6:23:", "found undefined alias 'anchor'"),
    ("  pypi-registry:tags: !Ref owner\n", ":6:23:", "could not determine a constructor for the tag '!Ref'"),
    ("---\nconfig: {}\n", ":6:1:", "but found another document"),
])
def test_malformed_yaml_names_file_line_and_column(tmp_path, stack_yaml, where, what):
    (problem,) = problems(tmp_path, stack_yaml)
    assert problem.startswith(f"{tmp_path / 'Pulumi.bad.yaml'}{where} ")
    assert what in problem


def test_a_yaml_1_1_directive_is_refused(tmp_path):
    (problem,) = problems(tmp_path, "%YAML 1.1\n---\n" + HEADER, header=False)
    assert problem.endswith("Pulumi.bad.yaml:1:1: declares %YAML 1.1; it is read as YAML 1.2, remove the directive")


def test_a_file_that_is_not_utf8_is_refused(tmp_path):
    path = project(tmp_path, "")
    (path / "Pulumi.bad.yaml").write_bytes(HEADER.encode("utf-16"))
    with pytest.raises(ConfigError, match=r"Pulumi\.bad\.yaml: is not UTF-8 \(byte 0 cannot be decoded\)"):
        load_stack_config("bad", path)


def test_config_must_be_a_mapping(tmp_path):
    (problem,) = problems(tmp_path, "config: [aws:region]\n", header=False)
    assert problem.endswith("Pulumi.bad.yaml: `config:` must be a mapping of namespace:key to value")


def test_the_project_file_is_read_the_same_way(tmp_path):
    path = project(tmp_path, "")
    text = (path / "Pulumi.yaml").read_text()
    (path / "Pulumi.yaml").write_text(text + "name: another\n")
    with pytest.raises(ConfigError, match=r'Pulumi\.yaml:\d+:1: found duplicate key "name"'):
        project_file(path)


def test_the_shipped_files_read_cleanly():
    assert project_file()["name"] == "pypi-registry"
    assert read_yaml(PROJECT_DIR / "Pulumi.prod.yaml").config_texts["pypi-registry:domainName"] == "acme"


@pytest.mark.parametrize("stack_yaml", [
    "  aws:region: eu-west-2\n",
    "  pypi-registry:tags: {owner: platform\n",
])
def test_audit_exits_2_with_file_line_and_column_and_no_traceback(tmp_path, stack_yaml):
    path = project(tmp_path, stack_yaml)
    result = subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "bad", "--project-dir", str(path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert re.search(r"Pulumi\.bad\.yaml:\d+:\d+: ", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- every key of Pulumi.yaml and of the stack file: honoured or refused ------------

RUNTIME_BLOCK = "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"


def edited_project(tmp_path: Path, edit, stack_yaml: str = "") -> Path:
    """A copy of the project whose Pulumi.yaml is `edit(text)`."""
    path = project(tmp_path, stack_yaml)
    text = (path / "Pulumi.yaml").read_text()
    assert RUNTIME_BLOCK in text
    (path / "Pulumi.yaml").write_text(edit(text))
    return path


def appended(extra: str):
    return lambda text: text + extra


def runtime(block: str):
    return lambda text: text.replace(RUNTIME_BLOCK, block)


def project_problems(tmp_path: Path, edit) -> list[str]:
    path = edited_project(tmp_path, edit)
    with pytest.raises(ConfigError) as raised:
        load_stack_config("bad", path)
    assert all(problem.startswith(str(path)) for problem in raised.value.problems), raised.value.problems
    return [problem.removeprefix(str(path / "Pulumi.yaml")) for problem in raised.value.problems]


@pytest.mark.parametrize(("edit", "expected"), [
    (appended("main: src\n"), ": main: 'src' makes the CLI run another program than the one the audit renders"),
    (appended("main: ../other-repo\n"), ": main: '../other-repo' makes the CLI run another program"),
    (appended("main: __main__.py\n"), ": main: '__main__.py' makes the CLI run another program"),
    (appended("stackConfigDir: ../elsewhere\n"),
     ": stackConfigDir: '../elsewhere' must be a relative directory inside"),
    (appended("stackConfigDir: /etc/stacks\n"), ": stackConfigDir: '/etc/stacks' must be a relative directory inside"),
    (appended("plugins:\n  providers:\n    - name: aws\n      path: ./bin\n"),
     ": plugins: makes the CLI run local provider, analyzer or language plugin binaries"),
    (appended("plugins:\n  analyzers:\n    - name: policy\n      path: ./bin\n"), ": plugins: makes the CLI run local"),
    (appended("packages:\n  aws: ./vendor/pulumi-aws\n"), ": packages: makes the CLI install provider packages"),
    (appended("backend:\n  url: s3://someone-elses-state\n"), ": backend: picks the state backend"),
    (appended("template:\n  description: a template\n"), ": template: is read by `pulumi new` only"),
    (appended("options:\n  refresh: never\n"), ": options.refresh: 'never' is refused; only refresh: always"),
    (appended("options:\n  preview: skip\n"), ": options.preview: 'skip' is refused"),
    (appended("entrypoint: other.py\n"), ": entrypoint: is not a Pulumi.yaml key the audit knows"),
    (appended("author: [not, a, string]\n"), ": author: must be a string, got list"),
    (lambda text: text.replace("config:\n  # Every", "stackConfig: x\nconfig:\n  # Every"),
     ": stackConfig: is not a Pulumi.yaml key the audit knows"),
    (runtime("runtime: python\n"), ": runtime: 'python': runtime must be {name: python, options: {toolchain: pip, "
                                   "virtualenv: .venv}}"),
    (runtime("runtime:\n  name: nodejs\n  options:\n    toolchain: pip\n    virtualenv: .venv\n"),
     ": runtime.name: 'nodejs': runtime must be"),
    (runtime("runtime:\n  name: python\n  options:\n    toolchain: uv\n    virtualenv: .venv\n"),
     ": runtime.options.toolchain: 'uv' is refused; pip only"),
    (runtime("runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: vendor/venv\n"),
     ": runtime.options.virtualenv: 'vendor/venv' is refused; .venv only"),
    (runtime("runtime:\n  name: python\n  options:\n    toolchain: pip\n"),
     ": runtime.options.virtualenv: is missing"),
    (runtime(RUNTIME_BLOCK + "    main: other.py\n"), ": runtime.options.main: is not an option the audit knows"),
    (runtime(RUNTIME_BLOCK + "    address: 127.0.0.1:9999\n"), ": runtime.options.address: is not an option"),
    (runtime(RUNTIME_BLOCK + "  entrypoint: other.py\n"), ": runtime.entrypoint: is not a runtime key"),
], ids=["main", "main-outside", "main-file", "stack-config-dir-outside", "stack-config-dir-absolute",
        "plugins-providers", "plugins-analyzers", "packages", "backend", "template", "options-refresh",
        "options-unknown", "unknown-key", "author-not-string", "unknown-key-first", "runtime-string",
        "runtime-name", "toolchain", "virtualenv", "virtualenv-missing", "runtime-option-main",
        "runtime-option-address", "runtime-unknown-key"])
def test_a_project_key_that_changes_what_the_cli_runs_is_refused(tmp_path, edit, expected):
    found = project_problems(tmp_path, edit)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_the_deprecated_config_directory_is_refused(tmp_path):
    (problem,) = project_problems(tmp_path, lambda text: text.split("config:\n")[0] + "config: stacks\n")
    assert problem == ": config: 'stacks' is the deprecated spelling of stackConfigDir; config must be the " \
                      "mapping of declared keys"


def test_every_refused_project_key_is_reported_at_once(tmp_path):
    found = project_problems(tmp_path, appended("main: src\nplugins: {providers: []}\nbackend: {url: file://x}\n"))
    assert [problem.split(":")[1].strip() for problem in found] == ["main", "plugins", "backend"]


@pytest.mark.parametrize("other", ["Pulumi.json", "Pulumi.yml"])
def test_a_second_project_file_is_refused(tmp_path, other):
    path = project(tmp_path, "")
    (path / other).write_text('{"name": "pypi-registry", "runtime": "python", "main": "elsewhere"}\n')
    with pytest.raises(ConfigError) as raised:
        project_file(path)
    assert raised.value.problems == [
        f"{path / other}: the CLI reads Pulumi.json, Pulumi.yaml and Pulumi.yml in that order, and the audit reads "
        "Pulumi.yaml only; remove it"]


@pytest.mark.parametrize("extra", [
    "main: .\n", "main: ./\n", "main:\n", "main: sub/..\n", "stackConfigDir: .\n", "options:\n  refresh: always\n",
    "author: platform team\nlicense: Apache-2.0\nwebsite: https://example.com\nrequiredPulumiVersion: '>=3.200.0'\n",
    "plugins: {}\n", "packages: {}\n",
])
def test_keys_that_keep_what_the_audit_renders_are_accepted(tmp_path, extra):
    path = edited_project(tmp_path, appended(extra))
    assert load_stack_config("bad", path)["pypi-registry:domainName"] == "acme"


def test_a_typechecker_is_accepted(tmp_path):
    path = edited_project(tmp_path, runtime(RUNTIME_BLOCK + "    typechecker: mypy\n"))
    assert load_stack_config("bad", path)["pypi-registry:domainName"] == "acme"


def test_the_stack_file_is_read_from_stack_config_dir(tmp_path):
    path = edited_project(tmp_path, appended("stackConfigDir: stacks\n"))
    (path / "stacks").mkdir()
    (path / "stacks" / "Pulumi.bad.yaml").write_text(HEADER.replace("domainName: acme", "domainName: acme-real"))
    # The file beside Pulumi.yaml is not the one the CLI reads any more.
    assert load_stack_config("bad", path)["pypi-registry:domainName"] == "acme-real"
    (path / "stacks" / "Pulumi.bad.yaml").unlink()
    with pytest.raises(ConfigError, match=r"no Pulumi\.bad\.yaml in .*/stacks$"):
        load_stack_config("bad", path)


ESC_REFUSED = "environment: imports Pulumi ESC values the audit cannot read; put the values under config:"


@pytest.mark.parametrize(("stack_yaml", "expected"), [
    ("environment:\n  - prod-secrets\n", ESC_REFUSED),
    ("environment:\n  imports: [prod-secrets]\n", ESC_REFUSED),
    ("imports: [prod-secrets]\n",
     "imports: is not a stack file key the audit knows (config, secretsprovider, encryptedkey, encryptionsalt); "
     "remove it"),
])
def test_a_stack_file_key_other_than_config_and_secrets_is_refused(tmp_path, stack_yaml, expected):
    assert problems(tmp_path, stack_yaml) == [f"{tmp_path / 'Pulumi.bad.yaml'}: {expected}"]


def test_the_secrets_keys_of_a_stack_file_are_accepted(tmp_path):
    path = project(tmp_path, "secretsprovider: passphrase\nencryptionsalt: v1:c2FsdA==:v1:aXY=:Y2lwaGVy\n"
                             "encryptedkey: ''\n")
    assert load_stack_config("bad", path)["pypi-registry:domainName"] == "acme"


@pytest.mark.parametrize(("edit", "stack_yaml", "expected"), [
    (appended("main: src\n"), "", "Pulumi.yaml: main: 'src' makes the CLI run another program"),
    (appended(""), "environment: [prod-secrets]\n", "Pulumi.bad.yaml: environment: imports Pulumi ESC values"),
])
def test_audit_exits_2_naming_the_file_and_the_refused_key(tmp_path, edit, stack_yaml, expected):
    path = edited_project(tmp_path, edit, stack_yaml)
    result = subprocess.run(
        [sys.executable, "-m", "audit", "--stack", "bad", "--project-dir", str(path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: stack bad: invalid configuration:\n")
    assert f"  - {path}/{expected}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


# --- the engine path: what `pulumi up` hands the program ---------------------------


def test_every_declared_key_is_read_by_the_program():
    declared = {key for key in project_file()["config"] if ":" not in key}
    assert declared == set(SCALAR_KEYS) | set(STRUCTURED_KEYS)


def test_the_program_reads_deploy_principals_from_engine_config():
    role = "arn:aws:iam::111122223333:role/pypi-registry-ci-deploy"
    values = load_stack_config("prod", overrides={"pypi-registry:deployPrincipalArns": [role]})
    pulumi.runtime.set_all_config(as_engine_config(values), secret_keys=[])
    try:
        assert load_settings().deploy_principal_arns == (role,)
    finally:
        pulumi.runtime.set_all_config({}, secret_keys=[])
    assert json.loads(as_engine_config(values)["pypi-registry:deployPrincipalArns"]) == [role]


def test_readme_configuration_table_lists_every_declared_key():
    reference = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    section = reference.split("\n## Keys\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([A-Za-z:]+)` \|", section, re.MULTILINE))
    declared = {key for key in project_file()["config"] if not key.startswith("pulumi:")}
    assert declared | {"aws:region"} == listed
