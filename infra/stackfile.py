"""Reading ``Pulumi.<stack>.yaml`` safely: every way a file can be unreadable becomes a Problem.

The loader is PyYAML's safe loader (no tags that build Python objects) with two strictnesses added:
a key given twice in one mapping is a problem (YAML would silently keep the last one, so a service
listed twice merges into one), and the file must be one document whose ``config:`` is a mapping.
Pure: no Pulumi calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.problems import ConfigError, Problem


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that remembers keys given twice in the same mapping (with their line)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[str, int]] = []
        """(key, line) of every key seen twice in one mapping."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[str] = set()
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            if key_node.value in seen:
                loader.duplicates.append((key_node.value, key_node.start_mark.line + 1))
            seen.add(key_node.value)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _key_paths(node: yaml.Node, prefix: str, out: dict[int, str]) -> None:
    """Line of every duplicated key -> its dotted path in the document (for the problem's path)."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = str(getattr(key_node, "value", "?"))
            path = f"{prefix}.{key}" if prefix else key
            out.setdefault(key_node.start_mark.line + 1, path)
            _key_paths(value_node, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _key_paths(item, f"{prefix}[{i}]", out)


def _config_path(doc_path: str) -> str:
    """``config.phasescale:services.api.port`` -> ``phasescale:services.api.port`` (the config path)."""
    return doc_path.removeprefix("config.")


def load(path: Path) -> dict[str, Any]:
    """The ``config:`` mapping of a stack file. Raises :class:`ConfigError` for a file that cannot be
    read, is not YAML, holds several documents or tags, repeats a key, or whose ``config`` is not a
    mapping."""
    where = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError([Problem(where, f"byte {err.start}", "a UTF-8 text file (YAML)")]) from None
    except OSError as err:
        raise ConfigError([Problem(where, err.strerror or type(err).__name__, "a readable stack file")]) from None
    if "\x00" in text:
        raise ConfigError([Problem(where, "binary content", "a YAML text file")])
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()  # type: ignore[no-untyped-call]
        doc = loader.construct_document(node) if node is not None else None  # type: ignore[no-untyped-call]
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        what = (err.problem or "").strip()
        if "expected a single document" in (err.context or ""):
            what = "several documents ('---')"
        raise ConfigError([Problem(where, at, f"valid YAML, one document, no tags: {what}")]) from None
    except yaml.YAMLError as err:
        raise ConfigError([Problem(where, str(err).splitlines()[0], "valid YAML")]) from None
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]
    problems = []
    if loader.duplicates and node is not None:
        lines: dict[int, str] = {}
        _key_paths(node, "", lines)
        for key, line in loader.duplicates:
            problems.append(Problem(_config_path(lines.get(line, key)), f"line {line}",
                                    "each key once per mapping (YAML would keep only the last)"))
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        problems.append(Problem(where, type(doc).__name__, "a mapping with a config: key"))
        raise ConfigError(problems)
    config = doc.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        problems.append(Problem("config", _yaml_type(config), "a mapping of phasescale:<key>: value"))
    if problems:
        raise ConfigError(problems)
    return {str(k): v for k, v in config.items()}


def _yaml_type(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
