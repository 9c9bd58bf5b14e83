"""A committed stack's settings, read from its Pulumi.<stack>.yaml as the program reads them; bad
config or an unknown stack is a usage error naming the file or the stacks there are."""

from __future__ import annotations

from pathlib import Path

from components.settings import Settings, SettingsError, load_settings
from gate.stack_files import read_stack_config, stack_names

from .exits import UsageError

PROJECT_DIR = Path(__file__).resolve().parent.parent


def stack_settings(stack: str, option: str = "--stack") -> Settings:
    known = stack_names(PROJECT_DIR)
    if stack not in known:
        raise UsageError(f"{option} {stack}: no Pulumi.{stack}.yaml (stacks: {', '.join(sorted(known))})")
    config = read_stack_config(PROJECT_DIR, stack)
    try:
        return load_settings(config.values, config.secret_keys)
    except SettingsError as error:
        raise UsageError(f"{config.path.name}: {error}") from None


def committed_stacks() -> dict[str, Settings]:
    return {stack: stack_settings(stack) for stack in stack_names(PROJECT_DIR)}
