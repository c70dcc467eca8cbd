"""YAML parsing that remembers where every key and value is, for located config errors.

PyYAML's composed node tree carries start marks; :func:`parse_yaml` walks it once, recording
the marks of each mapping key and value under its path (``("jobs", "orders", "sql")``), then
constructs plain Python data with the safe constructor. Errors use 1-based line:column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sluice.errors import ConfigError, Location

Path = tuple[Any, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Aliases are expanded by the walk (and later by validation); a "billion laughs" document
# would never finish, so refuse documents past a size no real sluice.yaml approaches.
MAX_NODES = 50_000
# Composing and constructing recurse once per level: a document nested thousands of levels
# deep would exhaust the stack. No sluice.yaml needs more than a handful.
MAX_DEPTH = 64
# A plain scalar of more digits than this is no count, size or port: Python refuses to
# convert integers past 4,300 digits, so stop well before with a located error.
MAX_DIGITS = 100
_NUMBER = re.compile(
    r"[-+]?(0[xXoObB])?[0-9_a-fA-F]*[0-9][0-9_a-fA-F]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?")


@dataclass(frozen=True)
class NodeMark:
    """Where one value sits in the file and how its scalar was written."""

    key: Location | None
    value: Location
    single_line: bool
    quoted: bool

    def at_offset(self, offset: int) -> Location:
        """Location of character ``offset`` inside a single-line scalar value."""
        if not self.single_line:
            return self.value
        shift = offset + (1 if self.quoted else 0)
        return Location(self.value.source, self.value.line, self.value.column + shift)


@dataclass
class YamlDocument:
    """Parsed data plus the marks of every mapping key, value and list item by path."""

    source: str
    data: Any
    marks: dict[Path, NodeMark] = field(default_factory=dict)

    def locate(self, path: Sequence[Any], *, key: bool = False) -> Location:
        """Location of ``path``, or of its nearest ancestor present in the file.

        With ``key=True``, the mapping key is preferred over its value (unknown keys).
        """
        p = tuple(path)
        while p not in self.marks and p:
            p = p[:-1]
        mark = self.marks.get(p)
        if mark is None:
            return Location(self.source, 1, 1)
        return mark.key if key and mark.key is not None else mark.value


_SIMPLE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def display_path(path: Sequence[Any]) -> str:
    """``jobs.orders.outputs[0]``; keys with dots are bracketed: ``datasets["raw.orders"]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.fullmatch(str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f'["{part}"]'
    return out or "(top level)"


def format_problems(problems: Iterable[tuple[Location, str]]) -> str:
    """One ``file:line:col: text`` line per problem, in file order, without repeats.

    Problems at the same place keep their given order (pydantic's field order).
    """
    ordered = sorted(dict.fromkeys(problems), key=lambda p: (p[0].line, p[0].column))
    return "\n".join(f"{loc}: {text}" for loc, text in ordered)


# libyaml's parser (in PyYAML's wheels) is ~5x faster than the pure-Python one, which matters
# for `sluice check` start-up on projects with hundreds of datasets; marks are the same.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that never builds Python objects beyond plain data (no tags)."""


class _PyLoader(yaml.SafeLoader):
    """The pure-Python parser: re-run on a syntax error for its more precise messages."""


def _loc(source: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(source, 1, 1)
    return Location(source, mark.line + 1, mark.column + 1)


class _YamlSyntaxError(ConfigError):
    """A YAML syntax error (re-read with the Python parser, whose messages are better)."""


def parse_yaml(text: str, *, source: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys raise a located ConfigError."""
    try:
        return _parse(_Loader, text, source)
    except _YamlSyntaxError:
        return _parse(_PyLoader, text, source)  # the same error, in the Python parser's words


def _check_depth(loader_type: type[yaml.SafeLoader], text: str, source: str) -> None:
    """Refuse nesting past MAX_DEPTH from the event stream (the parser does not recurse;
    composing does), at the line where it gets too deep."""
    depth = 0
    for event in yaml.parse(text, Loader=loader_type):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
                raise ConfigError(
                    f"{where}: nested too deeply (more than "
                    f"{MAX_DEPTH} levels of mappings and lists)",
                    tip="flatten the structure; sluice.yaml needs only a few levels")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _parse(loader_type: type[yaml.SafeLoader], text: str, source: str) -> YamlDocument:
    try:
        _check_depth(loader_type, text, source)
        loader = loader_type(text)
    except yaml.reader.ReaderError as exc:
        # a control character (NUL …) or an undecodable byte: PyYAML gives only an offset
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else 1
        raise ConfigError(
            f"{source}:{line}: unacceptable character #x{exc.character:04x} "
            "(a control character: is this a text file?)" if isinstance(exc.character, int)
            else f"{source}:{line}: {exc.reason}",
            tip="remove the character, or quote it as an escape in a double-quoted string",
        ) from exc
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, source) from exc
    try:
        node = loader.get_single_node()
        doc = YamlDocument(source=source, data=None)
        if node is not None:
            _Walker(loader, doc).walk(node, (), None)
            doc.data = loader.construct_document(node)
        return doc
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, source) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: cannot parse YAML: {exc}") from exc
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, source: str) -> ConfigError:
    where = _loc(source, exc.problem_mark or exc.context_mark)
    problem = exc.problem or exc.context or "invalid YAML"
    context = f" ({exc.context})" if exc.context and exc.problem else ""
    return _YamlSyntaxError(
        f"{where}: YAML syntax error: {problem}{context}",
        tip="check indentation at that line, and quote values containing ':', '#', "
        "'{', '}', '[' or ']'",
    )


class _Walker:
    def __init__(self, loader: yaml.SafeLoader, doc: YamlDocument) -> None:
        self.loader = loader
        self.doc = doc
        self.count = 0
        self.stack: set[int] = set()

    def walk(self, node: Node, path: Path, key: Location | None) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise ConfigError(
                f"{_loc(self.doc.source, node.start_mark)}: the document is too large (over "
                f"{MAX_NODES} nodes after "
                "expanding aliases)",
                tip="remove deeply nested anchors/aliases",
            )
        src = self.doc.source
        if (isinstance(node, ScalarNode) and not node.style  # plain: None, or "" from libyaml
                and len(node.value) > MAX_DIGITS and _NUMBER.fullmatch(node.value)):
            raise ConfigError(
                f"{_loc(src, node.start_mark)}: a number of {len(node.value)} characters "
                f"(at most {MAX_DIGITS})", tip="use a sensible value, or quote it if it is text")
        self.doc.marks[path] = NodeMark(
            key=key,
            value=_loc(src, node.start_mark),
            single_line=node.start_mark.line == node.end_mark.line,
            quoted=isinstance(node, ScalarNode) and node.style in ("'", '"'),
        )
        if id(node) in self.stack:
            # Recursive data has no meaning in a config and would recurse forever later.
            raise ConfigError(
                f"{_loc(src, node.start_mark)}: a recursive alias (an anchor used inside itself)",
                tip="replace the alias with the values it should repeat",
            )
        self.stack.add(id(node))
        try:
            if isinstance(node, MappingNode):
                self._mapping(node, path)
            elif isinstance(node, SequenceNode):
                for i, item in enumerate(node.value):
                    self.walk(item, (*path, i), None)
        finally:
            self.stack.discard(id(node))

    def _mapping(self, node: MappingNode, path: Path) -> None:
        seen: dict[Any, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # `<<: *base` — merged keys live where the anchor is; own keys override below.
                merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for m in merged:
                    if isinstance(m, MappingNode):
                        self._mapping(m, path)
                continue
            if not isinstance(key_node, ScalarNode):
                continue  # a complex key; validation rejects it as a non-string key
            key = self.loader.construct_object(key_node, deep=True)
            where = _loc(self.doc.source, key_node.start_mark)
            if key in seen:
                first = seen[key]
                raise ConfigError(
                    f"{where}: duplicate key {key!r} (first defined at line {first.line})",
                    tip="remove one of them; YAML would silently keep only the last",
                )
            seen[key] = where
            self.walk(value_node, (*path, key), where)
