"""Read a stack's committed `Pulumi.<stack>.yaml` the way the Pulumi CLI hands it to the program,
after checking the project file `Pulumi.yaml` the CLI would read first."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.exits import UsageError
from cli.files import load_yaml

# Encrypted values cannot be decrypted offline; the render uses this stand-in, still as a secret.
OFFLINE_SECRET = "offline-render-placeholder"
PROJECT_NAME = "continuity"
STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class StackFileError(UsageError):
    pass


def check_project_file(project_dir: Path) -> None:
    """`Pulumi.yaml` must describe this project as the CLI runs it: name and Python runtime."""
    path = project_dir / "Pulumi.yaml"
    document = load_yaml(path, "project file")
    if not isinstance(document, dict):
        raise StackFileError(f"{path}: must be a mapping with name and runtime")
    if document.get("name") != PROJECT_NAME:
        raise StackFileError(
            f"{path}: name is {document.get('name')!r}; stack references and drills expect {PROJECT_NAME!r}"
        )
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise StackFileError(f"{path}: runtime is {runtime_name!r}; the program is Python (runtime: python)")


def stack_names(project_dir: Path) -> list[str]:
    """The stacks that have a committed stack file."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


@dataclass(frozen=True)
class StackConfig:
    stack: str
    path: Path
    values: dict[str, str]
    secret_keys: frozenset[str]

    def with_overrides(
        self, overrides: dict[str, Any], secret_keys: frozenset[str] = frozenset()
    ) -> StackConfig:
        """A copy with some keys replaced (None removes a key): used by tests and drills."""
        values = dict(self.values)
        for key, value in overrides.items():
            if value is None:
                values.pop(key, None)
            else:
                values[key] = _as_config_string(value)
        return StackConfig(self.stack, self.path, values, self.secret_keys | secret_keys)

    def raw(self, key: str) -> Any:
        """A `continuity:` value as the stack file gives it (objects and lists decoded), unvalidated:
        what another revision's config says, which the current settings model may not accept."""
        text = self.values.get(f"continuity:{key}")
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text


def _as_config_string(value: Any) -> str:
    # The CLI passes objects and lists as JSON and scalars as their YAML text.
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def read_stack_config(project_dir: Path, stack: str) -> StackConfig:
    if not STACK_NAME.match(stack):
        raise StackFileError(f"stack name {stack!r} is not a stack name (letters, digits, '-', '_', '.')")
    check_project_file(project_dir)
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise StackFileError(f"{path}: no such stack file")
    document = load_yaml(path, "stack file") or {}
    if not isinstance(document, dict):
        raise StackFileError(
            f"{path}: must be a mapping with a 'config' key, not a {type(document).__name__}"
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StackFileError(f"{path}: 'config' must be a mapping")
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for key, value in config.items():
        if not isinstance(key, str):
            raise StackFileError(f"{path}: config key {key!r} is not a string")
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = OFFLINE_SECRET
            secrets.add(key)
        else:
            values[key] = _as_config_string(value)
    return StackConfig(stack, path, values, frozenset(secrets))
