"""JSONPath as Step Functions reads it, in JSONPath-mode states.

Two kinds of path (the ASL specification's terms):

- a **reference path** names one node: ``$``, then ``.name``, ``['name']`` or ``[n]`` steps
  (``ResultPath``, ``ItemsPath``, ``Variable``, the ``…Path`` comparators and fields);
- a **path** may select several (``InputPath``, ``OutputPath``, ``.$`` payload fields): a
  reference path plus wildcards, ``..``, slices, unions and filters, as jsonpath-ng's
  extended grammar parses them.

Either may start at the context object (``$$``) or at a workflow variable (``$name``) where a
state's own input is ``$``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

Step = str | int

_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_NAME_CHAR = re.compile(r"[^.\[\]\s'\"*()?@,:]+")
_INDEX = re.compile(r"\[(\d+)\]")
_QUOTED = re.compile(r"""\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]""")


class PathSyntaxError(ValueError):
    """A path that does not parse: ``message`` about the character at ``offset``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Root:
    """Where a path starts: ``$`` (the state's input), ``$$`` (the context object) or a
    variable ``$name``."""

    kind: str  # "input", "context" or "variable"
    name: str = ""
    length: int = 1  # characters of the root in the text


def root_of(text: str) -> Root:
    """The root a path starts at; PathSyntaxError when it does not start with ``$``."""
    if text.startswith("$$"):
        return Root("context", length=2)
    variable = _VARIABLE.match(text)
    if variable:
        return Root("variable", variable[1], variable.end())
    if text.startswith("$"):
        return Root("input")
    raise PathSyntaxError("a path starts with $", 0)


@lru_cache(maxsize=4096)
def parse_reference(text: str) -> tuple[Root, tuple[Step, ...]]:
    """The root and steps of a reference path; PathSyntaxError where it is not one."""
    root = root_of(text)
    steps: list[Step] = []
    i = root.length
    while i < len(text):
        if text.startswith("..", i):
            raise PathSyntaxError("a reference path cannot use '..' (it selects one node)", i)
        if text[i] == ".":
            name = _NAME_CHAR.match(text, i + 1)
            if not name:
                raise PathSyntaxError("expected a field name after '.'", i + 1)
            steps.append(name[0])
            i = name.end()
            continue
        index = _INDEX.match(text, i)
        if index:
            steps.append(int(index[1]))
            i = index.end()
            continue
        quoted = _QUOTED.match(text, i)
        if quoted:
            raw = quoted[1] if quoted[1] is not None else quoted[2]
            steps.append(re.sub(r"\\(.)", r"\1", raw))
            i = quoted.end()
            continue
        if text[i] in "*?@,:" or text.startswith("[*", i) or text.startswith("[?", i):
            raise PathSyntaxError("a reference path names one node: no wildcards, filters, "
                                  "slices or unions", i)
        raise PathSyntaxError(f"unexpected {text[i]!r}", i)
    return root, tuple(steps)


def is_reference(text: str) -> bool:
    try:
        parse_reference(text)
    except PathSyntaxError:
        return False
    return True


@lru_cache(maxsize=4096)
def compile_path(text: str) -> tuple[Root, Any]:
    """The root of a path and its compiled jsonpath-ng expression over that root (None when
    the path is the root alone or a reference path, which :func:`parse_reference` serves
    faster); PathSyntaxError where jsonpath-ng's extended grammar refuses it."""
    root = root_of(text)
    rest = text[root.length:]
    if not rest or is_reference("$" + rest):
        return root, None
    from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
    from jsonpath_ng.ext.parser import parse

    try:
        return root, parse("$" + rest)
    except (JsonPathLexerError, JsonPathParserError, ValueError, AttributeError) as exc:
        column = _column_of(str(exc))  # of "$" + rest, 0-based
        at = len(text) if column is None else column + root.length - 1
        raise PathSyntaxError(_short(str(exc)), at) from None


def check_path(text: str) -> None:
    """PathSyntaxError unless ``text`` is a path (:func:`compile_path`)."""
    compile_path(text)


def _column_of(message: str) -> int | None:
    found = re.search(r"at \d+:(\d+)", message)
    return int(found[1]) if found else None


def _short(message: str) -> str:
    return message.strip().splitlines()[0][:160]
