"""JSONata in Step Functions: ``{% … %}`` strings evaluated with the reserved ``$states``
variable (``input``, ``result``, ``errorOutput``, ``context``), the workflow's variables and
Step Functions' own functions (``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid``,
``$parse``). An expression that fails is ``States.QueryEvaluationError``."""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sluice.workflows.errors import StatesError
from sluice.workflows.intrinsics import HASHLIB_NAMES

_EXPRESSION = re.compile(r"\s*\{%(.*)%\}\s*", re.S)
_HASHES = HASHLIB_NAMES
_compiled = threading.local()  # a compiled expression is not shared between threads
TIMEOUT_MS = 5_000  # one expression's evaluation
MAX_DEPTH = 200  # JSONata's own call depth (each level is several Python frames)


def expression_of(value: Any) -> str | None:
    """The JSONata expression of a ``{% … %}`` string; None for any other value."""
    if isinstance(value, str) and value.startswith(("{%", " ", "\t", "\n")):
        found = _EXPRESSION.fullmatch(value)
        if found:
            return found[1]
    return None


def _partition(items: Any, size: Any) -> list[Any]:
    if not isinstance(items, list) or not isinstance(size, int | float) or size < 1:
        raise ValueError("$partition takes an array and a positive chunk size")
    step = int(size)
    return [items[i:i + step] for i in range(0, len(items), step)]


def _range(start: Any, end: Any, step: Any) -> list[int]:
    values = range(int(start), int(end) + (1 if step > 0 else -1), int(step))
    if len(values) > 1000:  # counted before any list is built
        raise ValueError("$range gives at most 1000 items")
    return list(values)


def _hash(data: Any, algorithm: Any) -> str:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    if algorithm not in _HASHES:
        raise ValueError(f"$hash's algorithm is one of {', '.join(_HASHES)}")
    return hashlib.new(_HASHES[algorithm], text.encode("utf-8")).hexdigest()


def _random(seed: Any = None) -> float:
    return (random.Random(seed) if seed is not None else random).random()


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "partition": _partition,
    "range": _range,
    "hash": _hash,
    "random": _random,
    "uuid": lambda: str(uuid.uuid4()),
    "parse": lambda text: json.loads(text),
}


def _compile(expr: str) -> Any:
    cache: dict[str, Any] | None = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = {}
    found = cache.get(expr)
    if found is None:
        from jsonata import Jsonata  # type: ignore[import-untyped]

        found = Jsonata(expr)
        found.set_output_convert_nulls(False)  # null stays apart from undefined
        for name, fn in _FUNCTIONS.items():
            found.register_lambda(name, fn)
        if len(cache) > 4096:
            cache.clear()
        cache[expr] = found
    return found


def _to_jsonata(value: Any, null: Any) -> Any:
    """JSON ``null`` as JSONata's null (Python's None is JSONata's *undefined*)."""
    if value is None:
        return null
    if isinstance(value, dict):
        return {k: _to_jsonata(v, null) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_jsonata(v, null) for v in value]
    return value


def _from_jsonata(value: Any, null: Any) -> Any:
    if value is null:
        return None
    if isinstance(value, dict):
        return {k: _from_jsonata(v, null) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_jsonata(v, null) for v in value]
    return value


class _Bindings:
    """The variables an expression sees, converted once for every expression of a field."""

    def __init__(self, states: Mapping[str, Any], variables: Mapping[str, Any]) -> None:
        self.states, self.variables = states, variables
        self._converted: dict[str, Any] | None = None

    def get(self) -> dict[str, Any]:
        if self._converted is None:
            from jsonata.utils import Utils  # type: ignore[import-untyped]

            self._converted = _to_jsonata({**self.variables, "states": dict(self.states)},
                                          Utils.NULL_VALUE)
        return self._converted


def _evaluate(expr: str, bindings: _Bindings, field: str) -> Any:
    from jsonata.jexception import JException  # type: ignore[import-untyped]
    from jsonata.utils import Utils

    try:
        compiled = _compile(expr)
        frame = compiled.create_frame()
        for name, value in bindings.get().items():
            frame.bind(name, value)
        # a runaway expression (endless recursion, a huge loop) ends as an evaluation error
        frame.set_runtime_bounds(TIMEOUT_MS, MAX_DEPTH)
        result = compiled.evaluate(None, frame)
    except JException as exc:
        raise StatesError("States.QueryEvaluationError",
                          f"An error occurred while evaluating the JSONata expression "
                          f"'{expr.strip()}' of the field '{field}': {exc}") from None
    except (ValueError, TypeError, ZeroDivisionError, RecursionError) as exc:
        raise StatesError("States.QueryEvaluationError",
                          f"the JSONata expression '{expr.strip()}' of the field '{field}' "
                          f"failed: {exc}") from None
    if result is None:
        raise StatesError("States.QueryEvaluationError",
                          f"The JSONata expression '{expr.strip()}' of the field '{field}' "
                          "returned nothing (undefined)")
    return _from_jsonata(result, Utils.NULL_VALUE)


def evaluate(expr: str, states: Mapping[str, Any], variables: Mapping[str, Any],
             *, field: str) -> Any:
    """The value of one JSONata expression; States.QueryEvaluationError when it fails or
    gives nothing (JSONata's undefined)."""
    return _evaluate(expr, _Bindings(states, variables), field)


def resolve(template: Any, states: Mapping[str, Any], variables: Mapping[str, Any],
            *, field: str) -> Any:
    """``template`` with every ``{% … %}`` string (at any depth) replaced by its value."""
    return _resolve(template, _Bindings(states, variables), field)


def _resolve(template: Any, bindings: _Bindings, field: str) -> Any:
    expr = expression_of(template)
    if expr is not None:
        return _evaluate(expr, bindings, field)
    if isinstance(template, dict):
        return {k: _resolve(v, bindings, f"{field}.{k}") for k, v in template.items()}
    if isinstance(template, list):
        return [_resolve(v, bindings, field) for v in template]
    return template
