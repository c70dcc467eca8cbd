"""What the intrinsic functions do (``States.Format``, ``States.ArrayPartition``, …), as the
Step Functions developer guide describes each; a failure is ``States.Runtime``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

from sluice.workflows.data import Scope, select
from sluice.workflows.errors import runtime
from sluice.workflows.intrinsics import (
    HASHLIB_NAMES,
    Arg,
    Call,
    IntrinsicError,
    Literal,
    PathArg,
    parse_intrinsic,
)

_HASHES = HASHLIB_NAMES
_RANGE_LIMIT = 1000


def call_intrinsic(text: str, data: Any, scope: Scope) -> Any:
    """The value of the intrinsic expression ``text`` on a state's ``data``."""
    try:
        call = parse_intrinsic(text)
    except IntrinsicError as exc:
        raise runtime(f"the intrinsic function {text!r} does not parse: {exc.message}") from None
    return _evaluate(call, data, scope)


def _evaluate(call: Call, data: Any, scope: Scope) -> Any:
    args = [_arg(a, data, scope) for a in call.args]
    try:
        return _FUNCTIONS[call.name](args, call)
    except (TypeError, ValueError, KeyError, IndexError, binascii.Error,
            UnicodeDecodeError) as exc:
        raise runtime(f"{call.name} failed: {exc}") from None


def _arg(arg: Arg, data: Any, scope: Scope) -> Any:
    if isinstance(arg, Literal):
        return arg.value
    if isinstance(arg, PathArg):
        return select(arg.path, data, scope, field="intrinsic argument")
    return _evaluate(arg, data, scope)


def _format(args: list[Any], call: Call) -> str:
    first = call.args[0]
    template = first.raw if isinstance(first, Literal) else args[0]
    if not isinstance(template, str):
        raise TypeError("the template (first argument) must be a string")
    values = iter(args[1:])
    out: list[str] = []
    i = 0
    escaped = isinstance(first, Literal)
    while i < len(template):
        char = template[i]
        if escaped and char == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
            continue
        if template.startswith("{}", i):
            try:
                value = next(values)
            except StopIteration:
                raise ValueError("more {} in the template than values") from None
            out.append(value if isinstance(value, str) else json.dumps(value,
                                                                       separators=(",", ":")))
            i += 2
            continue
        out.append(char)
        i += 1
    if next(values, _END) is not _END:
        raise ValueError("more values than {} in the template")
    return "".join(out)


_END = object()


def _array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"{what} must be an array, not {type(value).__name__}")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise TypeError(f"{what} must be an integer, not {value!r}")
    return int(value)


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    return value


def _partition(args: list[Any], _: Call) -> list[list[Any]]:
    items, size = _array(args[0], "the array"), _integer(args[1], "the chunk size")
    if size <= 0:
        raise ValueError("the chunk size must be positive")
    return [items[i:i + size] for i in range(0, len(items), size)]


def _range(args: list[Any], _: Call) -> list[int]:
    start, end, step = (_integer(a, n) for a, n in zip(args, ("start", "end", "step"),
                                                        strict=True))
    if step == 0:
        raise ValueError("the step must not be 0")
    values = range(start, end + (1 if step > 0 else -1), step)
    if len(values) > _RANGE_LIMIT:  # counted before any list is built
        raise ValueError(f"the range has {len(values)} items; at most {_RANGE_LIMIT}")
    return list(values)


def _get_item(args: list[Any], _: Call) -> Any:
    items, index = _array(args[0], "the array"), _integer(args[1], "the index")
    if not 0 <= index < len(items):
        raise IndexError(f"index {index} is outside the array of {len(items)}")
    return items[index]


def _unique(args: list[Any], _: Call) -> list[Any]:
    seen: list[Any] = []
    for item in _array(args[0], "the array"):
        if item not in seen:
            seen.append(item)
    return seen


def _hash(args: list[Any], _: Call) -> str:
    value = args[0] if isinstance(args[0], str) else json.dumps(args[0], separators=(",", ":"))
    algorithm = _HASHES.get(args[1])
    if algorithm is None:
        raise ValueError(f"unknown algorithm {args[1]!r} (one of {', '.join(_HASHES)})")
    return hashlib.new(algorithm, value.encode("utf-8")).hexdigest()


def _merge(args: list[Any], _: Call) -> dict[str, Any]:
    if args[2] is not False:
        raise ValueError("only a shallow merge (false) is supported")
    left, right = args[0], args[1]
    if not isinstance(left, dict) or not isinstance(right, dict):
        raise TypeError("both values must be objects")
    return {**left, **right}


def _random(args: list[Any], _: Call) -> int:
    start, end = _integer(args[0], "start"), _integer(args[1], "end")
    if end <= start:
        raise ValueError("end must be greater than start")
    generator = random.Random(_integer(args[2], "seed")) if len(args) == 3 else random
    return generator.randrange(start, end)


def _split(args: list[Any], _: Call) -> list[str]:
    text, delimiters = _string(args[0], "the string"), _string(args[1], "the delimiters")
    if not delimiters:
        return [text]
    return [p for p in re.split("[" + re.escape(delimiters) + "]", text) if p]


def _decode(args: list[Any], _: Call) -> str:
    return base64.b64decode(_string(args[0], "the data"), validate=True).decode("utf-8")


_FUNCTIONS: dict[str, Callable[[list[Any], Call], Any]] = {
    "States.Format": _format,
    "States.StringToJson": lambda a, _: json.loads(_string(a[0], "the string")),
    "States.JsonToString": lambda a, _: json.dumps(a[0], separators=(",", ":")),
    "States.Array": lambda a, _: list(a),
    "States.ArrayPartition": _partition,
    "States.ArrayContains": lambda a, _: a[1] in _array(a[0], "the array"),
    "States.ArrayRange": _range,
    "States.ArrayGetItem": _get_item,
    "States.ArrayLength": lambda a, _: len(_array(a[0], "the array")),
    "States.ArrayUnique": _unique,
    "States.Base64Encode": lambda a, _: base64.b64encode(
        _string(a[0], "the data").encode("utf-8")).decode("ascii"),
    "States.Base64Decode": _decode,
    "States.Hash": _hash,
    "States.JsonMerge": _merge,
    "States.MathRandom": _random,
    "States.MathAdd": lambda a, _: _integer(a[0], "the first value") + _integer(
        a[1], "the second value"),
    "States.StringSplit": _split,
    "States.UUID": lambda a, _: str(uuid.uuid4()),
}
