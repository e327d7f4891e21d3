"""Stack configuration as the Pulumi CLI would pass it: schema defaults + Pulumi.<stack>.yaml.

Both files are read as YAML 1.2 with ruamel.yaml (`yes`/`on` are strings, `010` is ten, a
duplicate key is an error, as in the CLI's YAML library), and a malformed file is reported
with its path, line and column. The CLI then checks values against the types declared in
Pulumi.yaml; this does the same, a little stricter where the CLI would quietly keep a value's
text: a YAML number given for a string key (an account ID losing its leading zero once it
sits in a list) is refused here, and must be quoted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode

from components.settings import ConfigError

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


def project_file(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    path = project_dir / "Pulumi.yaml"
    project = read_yaml(path).data
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise ConfigError([f"{path}: must be a mapping with a string `name`"])
    return project


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
    stack_path = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_path.exists():
        raise ConfigError([f"stack {stack!r}: no {stack_path.name} in {project_dir}"])
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
