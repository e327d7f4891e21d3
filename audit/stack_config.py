"""Stack configuration as the Pulumi CLI would pass it: schema defaults + Pulumi.<stack>.yaml.

The CLI checks values against the types declared in Pulumi.yaml; this does the same,
so a YAML number given for a string key (an account ID losing its leading zero) fails
here exactly as it would in `pulumi preview`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.settings import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent

_TYPES = {"string": str, "boolean": bool, "integer": int, "array": list, "object": dict}


def project_file(project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    return yaml.safe_load((project_dir / "Pulumi.yaml").read_text())


def _type_problem(key: str, value: Any, schema: Mapping[str, Any]) -> str | None:
    declared = schema.get("type")
    if declared is None or value is None:
        return None
    expected = _TYPES[declared]
    if isinstance(value, bool) and expected is int:
        return f"{key}: must be of type {declared}, got boolean"
    if not isinstance(value, expected):
        hint = " (quote it in YAML)" if declared == "string" else ""
        return f"{key}: must be of type {declared}{hint}, got {type(value).__name__} {value!r}"
    if declared == "array" and "items" in schema:
        for index, item in enumerate(value):
            problem = _type_problem(f"{key}[{index}]", item, schema["items"])
            if problem:
                return problem
    return None


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
    stack_values = (yaml.safe_load(stack_path.read_text()) or {}).get("config", {}) or {}

    schema: dict[str, Mapping[str, Any]] = {}
    values: dict[str, Any] = {}
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
    values.update(stack_values)
    values.update(overrides or {})

    problems = []
    for key, value in values.items():
        if key in schema:
            problem = _type_problem(key, value, schema[key])
            if problem:
                problems.append(problem)
        elif key.startswith(f"{name}:"):
            problems.append(f"{key}: is not declared in Pulumi.yaml")
    if problems:
        raise ConfigError(problems)
    return values


def as_engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Serialise as the engine hands config to a program: strings as-is, the rest as JSON."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
