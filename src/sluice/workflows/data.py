"""JSONPath-mode data processing: selecting with a path, placing a result with ResultPath and
filling payload templates (``Parameters``, ``ResultSelector``, ``ItemSelector``, ``Assign``).

A path reads the state's input (``$``), the context object (``$$``) or a variable
(``$name``). A reference path selects one node; a path with wildcards, slices or filters
selects a list of the matches (as AWS's Jayway-based evaluation does).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sluice.workflows.errors import StatesError, runtime
from sluice.workflows.intrinsics import looks_intrinsic, parse_intrinsic
from sluice.workflows.paths import PathSyntaxError, Root, compile_path, parse_reference

_MISSING = object()


class Scope:
    """What paths read besides the input: the context object and the variables in view."""

    def __init__(self, context: Mapping[str, Any], variables: Mapping[str, Any]) -> None:
        self.context = context
        self.variables = variables


def _root(root: Root, data: Any, scope: Scope, text: str) -> Any:
    if root.kind == "input":
        return data
    if root.kind == "context":
        return scope.context
    if root.name not in scope.variables:
        raise runtime(f"The variable '${root.name}' of the path '{text}' is not defined")
    return scope.variables[root.name]


def _walk(node: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return _MISSING
            node = node[step]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return _MISSING
    return node


def select(text: str, data: Any, scope: Scope, *, field: str) -> Any:
    """What the path ``text`` selects; States.Runtime (naming ``field``) when it selects
    nothing."""
    try:
        root, compiled = compile_path(text)
    except PathSyntaxError as exc:
        raise runtime(f"the path '{text}' of {field} does not parse: {exc.message}") from None
    base = _root(root, data, scope, text)
    if compiled is None:
        _, steps = parse_reference("$" + text[root.length:])
        found = _walk(base, steps)
        if found is _MISSING:
            raise runtime(f"The JSONPath '{text}' specified for the field '{field}' could not "
                          f"be found in the input '{_short(base)}'")
        return found
    return [m.value for m in compiled.find(base)]


def place(result_path: str | None, data: Any, result: Any) -> Any:
    """The state's output when ResultPath puts ``result`` into ``data`` (the state's input):
    ``$`` replaces it, None discards the result, ``$.a.b`` sets that field (creating the
    objects on the way). States.ResultPathMatchFailure where the input has no place there.

    ``data`` is not changed: the containers along the path are copied (values are never
    changed in place anywhere in an execution, so the rest is shared)."""
    if result_path is None:
        return data
    _, steps = parse_reference(result_path)
    if not steps:
        return result

    def refused() -> StatesError:
        return StatesError("States.ResultPathMatchFailure",
                           f"Unable to apply ResultPath \"{result_path}\" to input "
                           f"\"{_short(data)}\"")

    def put(node: Any, at: int) -> Any:
        step = steps[at]
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                raise refused()
            out_list = list(node)
            out_list[step] = result if at == len(steps) - 1 else put(node[step], at + 1)
            return out_list
        if node is _MISSING:
            node = {}
        if not isinstance(node, dict):
            raise refused()
        out = dict(node)
        if at == len(steps) - 1:
            out[step] = result
        else:
            child = node.get(step, _MISSING)
            if child is not _MISSING and not isinstance(child, dict | list):
                raise refused()  # a value already there is not an object to put into
            out[step] = put(child, at + 1)
        return out

    return put(data, 0)


def fill(template: Any, data: Any, scope: Scope, *, field: str,
         intrinsic: Callable[[str, Any, Scope], Any]) -> Any:
    """A payload template with each ``"key.$"`` replaced by ``"key"`` and what its path or
    intrinsic gives; other values as written (objects inside arrays are filled too)."""
    if isinstance(template, dict):
        out: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$") and isinstance(value, str):
                name = key[:-2]
                out[name] = (intrinsic(value, data, scope) if looks_intrinsic(value)
                             else select(value, data, scope, field=key))
            else:
                out[key] = fill(value, data, scope, field=field, intrinsic=intrinsic)
        return out
    if isinstance(template, list):
        return [fill(v, data, scope, field=field, intrinsic=intrinsic) for v in template]
    return template


def _short(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 200 else text[:197] + "..."


__all__ = ["Scope", "fill", "parse_intrinsic", "place", "select"]
