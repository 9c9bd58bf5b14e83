"""Read a stack's committed `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to the program."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Encrypted values cannot be decrypted offline; the render uses this stand-in, still as a secret.
OFFLINE_SECRET = "offline-render-placeholder"


class StackFileError(Exception):
    pass


@dataclass(frozen=True)
class StackConfig:
    stack: str
    path: Path
    values: dict[str, str]
    secret_keys: frozenset[str]

    def with_overrides(self, overrides: dict[str, Any], secret_keys: frozenset[str] = frozenset()) -> "StackConfig":
        """A copy with some keys replaced (None removes a key): used by tests and drills."""
        values = dict(self.values)
        for key, value in overrides.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = _as_config_string(value)
        return StackConfig(self.stack, self.path, values, self.secret_keys | secret_keys)


def _as_config_string(value: Any) -> str:
    # The CLI passes objects and lists as JSON and scalars as their YAML text.
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_stack_config(project_dir: Path, stack: str) -> StackConfig:
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise StackFileError(f"{path}: no such stack file")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise StackFileError(f"{path}: not valid YAML: {exc}") from None
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config' must be a mapping")
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for key, value in config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = OFFLINE_SECRET
            secrets.add(key)
        else:
            values[key] = _as_config_string(value)
    return StackConfig(stack, path, values, frozenset(secrets))
