"""Input files read defensively: bounded size, UTF-8 text, no duplicate keys, no alias bombs.

Every problem is a `UsageError` naming the file (and the line where there is one), so a stack file,
a waiver list, a pack config or a drill record that is broken, binary, enormous or hostile stops the
tool with one clear line instead of a traceback, a hang or an exhausted memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from .exits import UsageError

# Stack files, waivers, pack configs and drill records are a few kilobytes; a megabyte is generous.
MAX_INPUT_BYTES = 1 << 20
# Nodes a YAML document may expand to once aliases are followed (a 2 KB alias bomb reaches billions).
MAX_YAML_NODES = 100_000


def read_text(path: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """The file's text; refuses a missing, oversized, binary or non-UTF-8 file, naming it."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if path.is_dir():
        raise UsageError(f"{path}: is a directory, not a {what}")
    if size > max_bytes:
        raise UsageError(f"{path}: {size} bytes is more than a {what} can be ({max_bytes} bytes)")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"{path}: cannot read the {what}: {error.strerror}") from None
    if b"\x00" in data:
        raise UsageError(f"{path}: is binary, not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{path}: is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys (PyYAML would keep the last one silently)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {seen[key]})", key_node.start_mark
                    )
                seen[key] = key_node.start_mark.line + 1
            except TypeError:
                pass  # an unhashable key: the constructor reports it below
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: Node) -> int:
    """Nodes the document would have with every alias copied out; stops counting past the limit."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise UsageError("a YAML alias refers to itself")
        visiting.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            for child in node.value:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                total += size(key_node) + size(value_node)
                if total > MAX_YAML_NODES:
                    break
        visiting.discard(key)
        sizes[key] = total
        return total

    return size(root)


def load_yaml(path: Path, what: str) -> Any:
    """A YAML document, checked before it is built: size, encoding, alias expansion, duplicate keys."""
    text = read_text(path, what)
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        try:
            expanded = _expanded_size(root)
        except UsageError as error:
            raise UsageError(f"{path}: {error}") from None
        if expanded > MAX_YAML_NODES:
            raise UsageError(
                f"{path}: its aliases expand to more than {MAX_YAML_NODES} nodes; refusing to load it"
            )
        return loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f":{mark.line + 1}" if mark else ""
        raise UsageError(f"{path}{line}: not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: not valid YAML: {error}") from None
    except (ValueError, TypeError, RecursionError) as error:
        # PyYAML builds dates itself: 2026-02-30 matches its date pattern and raises here.
        raise UsageError(f"{path}: a value cannot be read: {error}") from None
    finally:
        loader.dispose()


def load_json(path: Path, what: str, max_bytes: int = MAX_INPUT_BYTES) -> Any:
    """A JSON document, refusing duplicate keys and naming the line of any error."""
    text = read_text(path, what, max_bytes)

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise UsageError(f"{path}: duplicate key {key!r}")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    except RecursionError:
        raise UsageError(f"{path}: nested too deeply") from None
