"""Stack configuration as the Pulumi CLI would pass it: schema defaults + Pulumi.<stack>.yaml.

Both files are read as YAML 1.2 with ruamel.yaml (`yes`/`on` are strings, `010` is ten, a
duplicate key is an error, as in the CLI's YAML library), and a malformed file is reported
with its path, line and column. The CLI then checks values against the types declared in
Pulumi.yaml; this does the same, a little stricter where the CLI would quietly keep a value's
text: a YAML number given for a string key (an account ID losing its leading zero once it
sits in a list) is refused here, and must be quoted.

Every other key of both files is either honoured as the CLI honours it or refused (ConfigError,
exit 2): the keys that would make `pulumi up` run another program, read the stack file from
elsewhere, load other plugins or pull values from outside the repository (docs/configuration.md, "How the stack
file is read").
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode

from model.names import PROJECT
from model.parse import parse_settings
from model.settings import ConfigError, Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
YAML_VERSION = (1, 2)

_TYPES = {"string": str, "boolean": bool, "integer": int, "array": list, "object": dict}
# The only spellings the Pulumi CLI accepts for a boolean key written as a top-level scalar.
_BOOLEAN_TEXTS = ("true", "false")


class YamlDocument:
    """One parsed YAML file: its data, and the source text of the scalars under `config:`."""

    def __init__(self, data: Any, config_texts: dict[str, str]):
        self.data = data
        self.config_texts = config_texts


def _where(path: Path, mark: Any) -> str:
    return f"{path}:{mark.line + 1}:{mark.column + 1}"


def read_yaml(path: Path) -> YamlDocument:
    """Parse one file as YAML 1.2 (core schema), refusing duplicate keys; raise ConfigError naming
    the file, line and column of the first problem."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot be read ({error.strerror})"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: is not UTF-8 (byte {error.start} cannot be decoded)"]) from None
    yaml = YAML(typ="safe", pure=True)  # the constructor refuses duplicate keys by default
    try:
        node = yaml.compose(text)
        # A `%YAML 1.1` directive would switch the resolver to 1.1 (`yes` a boolean, `010` eight).
        if yaml.resolver.processing_version != YAML_VERSION:
            version = ".".join(map(str, yaml.resolver.processing_version))
            raise ConfigError([f"{path}:1:1: declares %YAML {version}; it is read as YAML 1.2, remove the directive"])
        data = yaml.constructor.construct_document(node) if node is not None else None
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        location = _where(path, mark) if mark is not None else str(path)
        problem = " ".join(str(error.problem or error.context or "is not valid YAML").split())
        context = error.context_mark
        if error.context and error.problem and context is not None:
            problem += f" ({error.context} at line {context.line + 1}, column {context.column + 1})"
        raise ConfigError([f"{location}: {problem}"]) from None
    except YAMLError as error:
        raise ConfigError([f"{path}: is not valid YAML ({' '.join(str(error).split())})"]) from None
    return YamlDocument(data, _config_texts(node))


def _config_texts(node: Any) -> dict[str, str]:
    """Source text of every scalar directly under the top-level `config:` mapping."""
    if not isinstance(node, MappingNode):
        return {}
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.value == "config" and isinstance(value, MappingNode):
            return {
                k.value: v.value
                for k, v in value.value
                if isinstance(k, ScalarNode) and isinstance(v, ScalarNode)
            }
    return {}


# The top-level keys of a project file, from the CLI's schema (pulumi/pulumi
# sdk/go/common/workspace/project.json) and its Project struct (project.go, which adds
# requiredPulumiVersion). Informational ones are allowed as they are; `name`, `runtime`, `main`,
# `config`, `stackConfigDir` and `options` are honoured or refused by _project_problems; the
# rest change what `pulumi up` runs or where it keeps state, and are refused with the reason.
INFORMATIONAL_PROJECT_KEYS = ("name", "description", "author", "website", "license", "requiredPulumiVersion")
REFUSED_PROJECT_KEYS = {
    "plugins": "makes the CLI run local provider, analyzer or language plugin binaries instead of the "
               "released ones the audit's SDKs match",
    "packages": "makes the CLI install provider packages from sources other than the locks",
    "backend": "picks the state backend, which decides what `pulumi up` deletes and which resources stay "
               "protected (it overrides `pulumi login`); choose it with `pulumi login` or PULUMI_BACKEND_URL",
    "template": "is read by `pulumi new` only, and its config would seed a new stack with values the audit "
                "never reads; this project is not a template",
}
# The Python runtime exactly as the locks install it and the audit renders it: another toolchain
# resolves other dependencies, another virtualenv (possibly committed) runs another interpreter.
RUNTIME = "python"
RUNTIME_OPTIONS: dict[str, tuple[str, ...]] = {
    "toolchain": ("pip",),
    "virtualenv": (".venv",),
    "typechecker": ("mypy", "pyright"),  # runs before the program; deploys nothing
}
REQUIRED_RUNTIME_OPTIONS = ("toolchain", "virtualenv")
# Project options (schema: `refresh: always` only): refreshing first reads the real state, it adds nothing.
PROJECT_OPTIONS = {"refresh": ("always",)}
# The CLI looks for Pulumi.json, then Pulumi.yaml, then Pulumi.yml (sdk/go/common/encoding Exts):
# a second project file would be read instead of, or beside, the one the audit reads.
OTHER_PROJECT_FILES = ("Pulumi.json", "Pulumi.yml")
# The top-level keys of a stack file (ProjectStack in project.go); `environment` (Pulumi ESC)
# imports values from outside the repository, which the audit cannot read.
STACK_FILE_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt")


def _inside(directory: Path, relative: str) -> Path | None:
    """`directory/relative` cleaned as the CLI's filepath.Join cleans it, or None when it leaves `directory`."""
    if os.path.isabs(relative):
        return None
    joined = os.path.normpath(os.path.join(directory, relative))
    root = os.path.normpath(directory)
    return Path(joined) if os.path.commonpath([joined, root]) == root else None


def _project_problems(project: dict[Any, Any], path: Path, project_dir: Path) -> list[str]:
    problems = []
    home = _inside(project_dir, ".")
    for key, value in project.items():
        if key in INFORMATIONAL_PROJECT_KEYS:
            if key != "name" and value is not None and not isinstance(value, str):
                problems.append(f"{path}: {key}: must be a string, got {type(value).__name__}")
        elif key in REFUSED_PROJECT_KEYS:
            if value not in (None, {}, []):
                problems.append(f"{path}: {key}: {REFUSED_PROJECT_KEYS[key]}; it is refused, remove it")
        elif key == "runtime":
            problems += _runtime_problems(value, path)
        elif key == "main":
            # The program is project_dir/__main__.py: `main` may only name that directory again.
            if value not in (None, "") and (not isinstance(value, str) or _inside(project_dir, value) != home):
                problems.append(f"{path}: main: {value!r} makes the CLI run another program than the one the audit "
                                f"renders ({project_dir / '__main__.py'}); remove it")
        elif key == "stackConfigDir":
            if value not in (None, "") and (not isinstance(value, str) or _inside(project_dir, value) is None):
                problems.append(f"{path}: stackConfigDir: {value!r} must be a relative directory inside "
                                f"{project_dir}, where the stack file is reviewed with the program")
        elif key == "config":
            if isinstance(value, str):
                problems.append(f"{path}: config: {value!r} is the deprecated spelling of stackConfigDir; "
                                "config must be the mapping of declared keys")
            elif value is not None and not isinstance(value, dict):
                problems.append(f"{path}: config: must be a mapping of declared keys, got {type(value).__name__}")
        elif key == "options":
            options = {} if value is None else value
            if not isinstance(options, dict):
                problems.append(f"{path}: options: must be a mapping, got {type(value).__name__}")
                continue
            for option, setting in options.items():
                if setting not in PROJECT_OPTIONS.get(option, ()):
                    allowed = ", ".join(f"{k}: {v}" for k, values in PROJECT_OPTIONS.items() for v in values)
                    problems.append(f"{path}: options.{option}: {setting!r} is refused; only {allowed} is allowed")
        else:
            problems.append(f"{path}: {key}: is not a Pulumi.yaml key the audit knows, and the CLI may act on "
                            "it; it is refused, remove it")
    for other in OTHER_PROJECT_FILES:
        if (project_dir / other).exists():
            problems.append(f"{project_dir / other}: the CLI reads Pulumi.json, Pulumi.yaml and Pulumi.yml in "
                            "that order, and the audit reads Pulumi.yaml only; remove it")
    return problems


def _runtime_problems(runtime: Any, path: Path) -> list[str]:
    expected = (f"runtime must be {{name: {RUNTIME}, options: {{"
                + ", ".join(f"{k}: {RUNTIME_OPTIONS[k][0]}" for k in REQUIRED_RUNTIME_OPTIONS)
                + "}}, the environment the locks install and the audit renders in")
    if not isinstance(runtime, dict):
        return [f"{path}: runtime: {runtime!r}: {expected}"]
    problems = []
    for key in runtime:
        if key not in ("name", "options"):
            problems.append(f"{path}: runtime.{key}: is not a runtime key (name, options); remove it")
    if runtime.get("name") != RUNTIME:
        problems.append(f"{path}: runtime.name: {runtime.get('name')!r}: {expected}")
    options = runtime.get("options")
    if not isinstance(options, dict):
        return [*problems, f"{path}: runtime.options: {options!r}: {expected}"]
    for key, value in options.items():
        if key not in RUNTIME_OPTIONS:
            problems.append(f"{path}: runtime.options.{key}: is not an option the audit knows (it may change "
                            f"which program or interpreter runs); only {', '.join(RUNTIME_OPTIONS)} are allowed")
        elif value not in RUNTIME_OPTIONS[key]:
            problems.append(f"{path}: runtime.options.{key}: {value!r} is refused; "
                            f"{' or '.join(RUNTIME_OPTIONS[key])} only ({expected})")
    problems += [f"{path}: runtime.options.{key}: is missing; {expected}"
                 for key in REQUIRED_RUNTIME_OPTIONS if key not in options]
    return problems


def project_file(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """Pulumi.yaml, every key honoured as the CLI honours it or refused (ConfigError)."""
    path = project_dir / "Pulumi.yaml"
    project = read_yaml(path).data
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise ConfigError([f"{path}: must be a mapping with a string `name`"])
    problems = _project_problems(project, path, project_dir)
    if problems:
        raise ConfigError(problems)
    return project


def stack_file_path(project: Mapping[str, Any], project_dir: Path, stack: str) -> Path:
    """Where the CLI reads Pulumi.<stack>.yaml: beside Pulumi.yaml, or in `stackConfigDir`."""
    directory = _inside(project_dir, project.get("stackConfigDir") or ".")
    if directory is None:  # project_file refused it already
        raise ConfigError([f"{project_dir / 'Pulumi.yaml'}: stackConfigDir: leaves {project_dir}"])
    return directory / f"Pulumi.{stack}.yaml"


def _type_problem(key: str, value: Any, schema: Mapping[str, Any], text: str | None = None) -> str | None:
    declared = schema.get("type")
    if declared is None or value is None:
        return None
    expected = _TYPES[declared]
    if declared == "boolean":
        # The CLI takes a top-level scalar's text, and accepts "true" and "false" only.
        if text is not None:
            return None if text in _BOOLEAN_TEXTS else f"{key}: must be true or false, got {text!r}"
        if isinstance(value, bool) or value in _BOOLEAN_TEXTS:
            return None
        return f"{key}: must be true or false, got {type(value).__name__} {value!r}"
    if isinstance(value, bool) and expected is int:
        return f"{key}: must be of type {declared}, got boolean"
    if not isinstance(value, expected):
        hint = " (quote it in YAML)" if declared == "string" else ""
        return f"{key}: must be of type {declared}{hint}, got {type(value).__name__} {value!r}"
    if declared == "array" and "items" in schema and isinstance(value, list):
        for index, item in enumerate(value):
            if item is None:  # the CLI refuses a null item as not of the declared type
                return f"{key}[{index}]: must be of type {schema['items'].get('type')}, got null"
            problem = _type_problem(f"{key}[{index}]", item, schema["items"])
            if problem:
                return problem
    if declared == "object" and isinstance(value, dict) and any(not isinstance(k, str) for k in value):
        return f"{key}: keys must be strings (quote them in YAML)"
    return None


def _plain_problem(key: str, value: Any) -> str | None:
    """Only what JSON can carry reaches the program; the CLI would rewrite a date or a binary."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{key}: {value!r} is not a finite number"
    if isinstance(value, list):
        return next(filter(None, (_plain_problem(f"{key}[{i}]", item) for i, item in enumerate(value))), None)
    if isinstance(value, dict):
        if any(not isinstance(k, str) for k in value):
            return f"{key}: keys must be strings (quote them in YAML)"
        return next(filter(None, (_plain_problem(f"{key}.{k}", item) for k, item in value.items())), None)
    return f"{key}: {str(value)!r} is read as a YAML {type(value).__name__}, not a string; quote it"


def _stack_values(path: Path) -> tuple[dict[Any, Any], dict[str, str]]:
    document = read_yaml(path)
    stack = document.data
    if stack is None:
        return {}, {}
    if not isinstance(stack, dict):
        raise ConfigError([f"{path}: must be a mapping (with a `config:` mapping), got {type(stack).__name__}"])
    refused = [
        f"{path}: environment: imports Pulumi ESC values the audit cannot read; put the values under config:"
        if key == "environment" else
        f"{path}: {key}: is not a stack file key the audit knows ({', '.join(STACK_FILE_KEYS)}); remove it"
        for key in stack if key not in STACK_FILE_KEYS
    ]
    if refused:
        raise ConfigError(refused)
    config = stack.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{path}: `config:` must be a mapping of namespace:key to value"])
    return config, document.config_texts


def load_stack_config(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return {"project:key": value} with Python types, defaults applied, types checked.

    `overrides` (full keys) replace stack file values, for tests and benchmarks.
    """
    project = project_file(project_dir)
    name = project["name"]
    stack_path = stack_file_path(project, project_dir, stack)
    if not stack_path.exists():
        raise ConfigError([f"stack {stack!r}: no {stack_path.name} in {stack_path.parent}"])
    stack_values, texts = _stack_values(stack_path)

    schema: dict[str, Mapping[str, Any]] = {}
    values: dict[object, Any] = {}  # a stack file's keys may be anything YAML reads; each is checked below
    for key, declaration in (project.get("config") or {}).items():
        full = key if ":" in key else f"{name}:{key}"
        if isinstance(declaration, Mapping) and ("type" in declaration or "value" in declaration
                                                  or "default" in declaration):
            schema[full] = declaration
            if "value" in declaration:
                values[full] = declaration["value"]
            elif "default" in declaration:
                values[full] = declaration["default"]
        else:
            values[full] = declaration

    problems = []
    for key in stack_values:
        # The CLI parses every stack config key as <namespace>:<name>.
        if not isinstance(key, str) or not key.partition(":")[0] or not key.partition(":")[2]:
            problems.append(f"{key!r}: is not a config key; write it as <namespace>:<name>, e.g. {name}:tags")
        elif key.startswith("pulumi:"):
            # The engine's own settings (pulumi:autonaming renames resources, pulumi:disable-default-providers
            # overrides Pulumi.yaml's): they change what is deployed, and the audit renders without them.
            problems.append(f"{stack_path}: {key}: is an engine setting that changes what the CLI deploys, which "
                            "the audit does not apply; remove it from the stack file")
    values.update(stack_values)
    values.update(overrides or {})

    for key, value in values.items():
        if not isinstance(key, str):
            continue
        if key in schema:
            text = texts.get(key) if key in stack_values and key not in (overrides or {}) else None
            problem = _type_problem(key, value, schema[key], text) or _plain_problem(key, value)
            if problem:
                problems.append(problem)
        elif key.startswith(f"{name}:"):
            problems.append(f"{key}: is not declared in Pulumi.yaml")
        else:
            problem = _plain_problem(key, value)
            if problem:
                problems.append(problem)
    if problems:
        raise ConfigError(problems)
    # With no problem found every key is a string; the isinstance says so to the type checker.
    return {key: value for key, value in values.items() if isinstance(key, str)}


def as_engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Serialise as the engine hands config to a program: strings as-is, the rest as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def stack_settings(values: Mapping[str, Any]) -> Settings:
    """The settings of a stack's config ({"project:key": value}), validated as the program validates them."""
    raw = {k.split(":", 1)[1]: v for k, v in values.items() if k.startswith(f"{PROJECT}:")}
    return parse_settings(raw, values.get("aws:region"))
