"""The program's settings as the Pulumi engine passes them: the one module of `model/` that imports pulumi, read
once by the program's entry (__main__.py)."""

from __future__ import annotations

import json
from typing import Any

import pulumi

from model.names import PROJECT, SCALAR_KEYS, STRUCTURED_KEYS
from model.parse import parse_settings
from model.settings import ConfigError, Settings


def load_settings() -> Settings:
    """Read `pulumi.Config` once and validate it (the only place config is read)."""
    config = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for key in SCALAR_KEYS:
        value = config.get(key)
        if value is not None:
            raw[key] = value
    for key in STRUCTURED_KEYS:
        value = config.get(key)
        if value is not None:
            try:
                raw[key] = json.loads(value)
            except json.JSONDecodeError as error:
                raise ConfigError([f"{PROJECT}:{key}: is not valid structured config ({error})"]) from None
    region = pulumi.Config("aws").get("region")
    return parse_settings(raw, region)
