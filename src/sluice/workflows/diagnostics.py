"""What the validator reports (:class:`Diagnostic`) and reading a definition's text: JSON
syntax, duplicate keys; helpers for describing JSON values."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeGuard

JsonPath = tuple[str | int, ...]

ERROR, WARNING = "ERROR", "WARNING"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_JSONATA = re.compile(r"\{%(.*)%\}", re.S)


@dataclass(frozen=True)
class Diagnostic:
    """One problem of a definition, as ValidateStateMachineDefinition would name it."""

    code: str
    message: str
    path: JsonPath = ()
    tip: str = ""
    severity: str = ERROR
    #: where a JSON syntax error is (1-based); None for the others, which ``path`` locates
    line: int | None = None
    col: int | None = None
    #: the character of the string value at ``path`` the problem is at, when known
    offset: int | None = None

    @property
    def location(self) -> str:
        """AWS's form of ``path``: ``/States/Load/Next``."""
        return "/" + "/".join(str(p) for p in self.path)


def parse_definition(text: str) -> tuple[Any, list[Diagnostic]]:
    """The definition's JSON (None when it has none) and the problems of its text: empty,
    not JSON, or with a key twice in one object."""
    if not text.strip():
        return None, [Diagnostic("MISSING_DESCRIPTION", "the definition is empty",
                                 tip="write {\"StartAt\": …, \"States\": {…}}")]
    duplicates: list[tuple[int, str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                duplicates.append((id(seen), key))
            seen[key] = value
        return seen

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except RecursionError:
        return None, [_too_deep()]
    except json.JSONDecodeError as exc:
        return None, [Diagnostic("INVALID_JSON_DESCRIPTION", f"not valid JSON: {exc.msg}",
                                 tip="fix the JSON syntax (a trailing comma or a missing "
                                     "quote is common)", line=exc.lineno, col=exc.colno)]
    if depth(data) > MAX_DEPTH:
        return None, [_too_deep()]
    found = []
    if duplicates:
        owners = {id_: key for id_, key in duplicates}
        for path, node in objects(data, ()):
            if id(node) in owners:
                for id_, key in duplicates:
                    if id_ == id(node):
                        found.append(_duplicate(path, key))
    return data, found


#: nesting deeper than this is refused before anything walks the document
MAX_DEPTH = 200


def depth(value: Any) -> int:
    """How deeply ``value`` nests (iteratively: any depth is safe to measure)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        node, level = todo.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            todo.extend((v, level + 1) for v in node.values())
        elif isinstance(node, list):
            todo.extend((v, level + 1) for v in node)
    return deepest


def _too_deep() -> Diagnostic:
    return Diagnostic("TOO_DEEPLY_NESTED", f"the definition nests more than {MAX_DEPTH} "
                      "levels of objects and arrays", tip="flatten the definition", line=1,
                      col=1)


def _duplicate(path: JsonPath, key: str) -> Diagnostic:
    if path and path[-1] == "States":
        return Diagnostic("DUPLICATE_STATE_NAME", f"state {key!r} is defined twice",
                          (*path, key), "give each state its own name")
    return Diagnostic("SCHEMA_VALIDATION_FAILED", f"field {key!r} appears twice in one object",
                      (*path, key), "keep one of them (JSON keeps only the last)")


def objects(node: Any, path: JsonPath) -> Iterator[tuple[JsonPath, dict[str, Any]]]:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from objects(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from objects(value, (*path, i))

def kind_of(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object", type(None): "null"}.get(type(value), "a value")


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def jsonata_of(value: Any) -> str | None:
    """The expression of a ``{% … %}`` string, else None."""
    if isinstance(value, str):
        found = _JSONATA.fullmatch(value.strip())
        if found:
            return found[1]
    return None

def strings(value: Any, at: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, (*at, i))


def leaves(value: Any) -> Iterator[tuple[str | None, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield None, value
