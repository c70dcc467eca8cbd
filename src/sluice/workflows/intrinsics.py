"""Intrinsic functions of JSONPath-mode states (``"Key.$": "States.Format('{}', $.x)"``):
their grammar and arity.

An intrinsic is ``States.Name(arg, …)``; each argument is a string literal in single quotes
(``\\'``, ``\\{``, ``\\}`` and ``\\\\`` escaped), a number, ``true``/``false``/``null``, a path
(``$.x``, ``$$.Execution.Id``, ``$var``) or another intrinsic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sluice.workflows.paths import PathSyntaxError, check_path

#: name -> (fewest, most) arguments; None: no upper bound
ARITY: dict[str, tuple[int, int | None]] = {
    "States.Format": (1, None),
    "States.StringToJson": (1, 1),
    "States.JsonToString": (1, 1),
    "States.Array": (0, None),
    "States.ArrayPartition": (2, 2),
    "States.ArrayContains": (2, 2),
    "States.ArrayRange": (3, 3),
    "States.ArrayGetItem": (2, 2),
    "States.ArrayLength": (1, 1),
    "States.ArrayUnique": (1, 1),
    "States.Base64Encode": (1, 1),
    "States.Base64Decode": (1, 1),
    "States.Hash": (2, 2),
    "States.JsonMerge": (3, 3),
    "States.MathRandom": (2, 3),
    "States.MathAdd": (2, 2),
    "States.StringSplit": (2, 2),
    "States.UUID": (0, 0),
}
#: States.Hash's (and JSONata $hash's) algorithms and hashlib's names for them
HASHLIB_NAMES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
                 "SHA-512": "sha512"}
HASH_ALGORITHMS = tuple(HASHLIB_NAMES)

_FUNCTION = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"true|false|null")


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Arg, ...]
    offset: int


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | None
    raw: str = ""  # a string's text between its quotes, escapes kept (States.Format's holes)


@dataclass(frozen=True)
class PathArg:
    path: str
    offset: int


Arg = Call | Literal | PathArg


class IntrinsicError(ValueError):
    """An intrinsic that does not parse or has the wrong arguments, at ``offset``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def looks_intrinsic(text: str) -> bool:
    return text.lstrip().startswith("States.")


@lru_cache(maxsize=4096)
def parse_intrinsic(text: str) -> Call:
    """The call tree of one intrinsic expression; IntrinsicError where it is not one."""
    parser = _Parser(text)
    call = parser.call()
    parser.space()
    if parser.i != len(text):
        raise IntrinsicError("unexpected text after the function's closing ')'", parser.i)
    return call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.i = text, 0

    def space(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in " \t\n\r":
            self.i += 1

    def call(self) -> Call:
        self.space()
        start = self.i
        name = _FUNCTION.match(self.text, self.i)
        if not name:
            raise IntrinsicError("expected an intrinsic function: States.Name(…)", start)
        if name[0] not in ARITY:
            from sluice.config.base import did_you_mean

            raise IntrinsicError(f"unknown intrinsic function {name[0]}"
                                 + did_you_mean(name[0], ARITY), start)
        self.i = name.end()
        self.space()
        if self.text[self.i:self.i + 1] != "(":
            raise IntrinsicError(f"expected '(' after {name[0]}", self.i)
        self.i += 1
        args: list[Arg] = []
        self.space()
        if self.text[self.i:self.i + 1] == ")":
            self.i += 1
        else:
            while True:
                args.append(self.arg())
                self.space()
                sep = self.text[self.i:self.i + 1]
                self.i += 1
                if sep == ")":
                    break
                if sep != ",":
                    raise IntrinsicError(f"expected ',' or ')' in the arguments of {name[0]}",
                                         self.i - 1)
        least, most = ARITY[name[0]]
        if len(args) < least or (most is not None and len(args) > most):
            wanted = (str(least) if least == most else
                      f"at least {least}" if most is None else f"{least} to {most}")
            raise IntrinsicError(f"{name[0]} takes {wanted} argument{'s' * (wanted != '1')}, "
                                 f"got {len(args)}", start)
        call = Call(name[0], tuple(args), start)
        _check_literals(call)
        return call

    def arg(self) -> Arg:
        self.space()
        char = self.text[self.i:self.i + 1]
        if char == "'":
            start = self.i
            value = self.string()
            return Literal(value, self.text[start + 1:self.i - 1])
        if char == "$":
            return self.path()
        if self.text.startswith("States.", self.i):
            return self.call()
        for pattern, convert in ((_NUMBER, _number), (_WORD, _word)):
            found = pattern.match(self.text, self.i)
            if found:
                self.i = found.end()
                return Literal(convert(found[0]))
        raise IntrinsicError("expected an argument: a 'string', a number, true, false, null, "
                             "a $.path or an intrinsic", self.i)

    def string(self) -> str:
        start, out = self.i, []
        self.i += 1
        while self.i < len(self.text):
            char = self.text[self.i]
            if char == "\\" and self.i + 1 < len(self.text):
                out.append(self.text[self.i + 1])
                self.i += 2
                continue
            if char == "'":
                self.i += 1
                return "".join(out)
            out.append(char)
            self.i += 1
        raise IntrinsicError("unterminated string (a ' is missing)", start)

    def path(self) -> PathArg:
        start, depth, quote = self.i, 0, ""
        while self.i < len(self.text):
            char = self.text[self.i]
            if quote:
                if char == "\\":
                    self.i += 1
                elif char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char in "[(":
                depth += 1
            elif char in "])" and depth:
                depth -= 1
            elif char in ",)" or (char in " \t" and not depth):
                break
            self.i += 1
        path = self.text[start:self.i]
        try:
            check_path(path)
        except PathSyntaxError as exc:
            raise IntrinsicError(f"argument {path!r}: {exc.message}", start + exc.offset) from None
        return PathArg(path, start)


def format_holes(raw: str) -> int:
    """How many ``{}`` a States.Format template (as written, escapes kept) has."""
    return len(re.findall(r"(?<!\\)\{\}", re.sub(r"\\\\", "", raw)))


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def _word(text: str) -> bool | None:
    return {"true": True, "false": False, "null": None}[text]


def _check_literals(call: Call) -> None:
    """What can be told before a run: literal arguments of the wrong kind."""
    args = call.args
    if call.name == "States.Hash" and len(args) == 2 and isinstance(args[1], Literal) and \
            args[1].value not in HASH_ALGORITHMS:
        raise IntrinsicError(f"States.Hash's algorithm is one of {', '.join(HASH_ALGORITHMS)}"
                             f", got {args[1].value!r}", call.offset)
    if call.name == "States.JsonMerge" and len(args) == 3 and isinstance(args[2], Literal) and \
            args[2].value is not False:
        raise IntrinsicError("States.JsonMerge's third argument must be false (only a "
                             "shallow merge is supported)", call.offset)
    if call.name == "States.Format" and args and isinstance(args[0], Literal):
        if not isinstance(args[0].value, str):
            raise IntrinsicError("States.Format's first argument is its template, a string",
                                 call.offset)
        holes = format_holes(args[0].raw)
        if holes != len(args) - 1:
            raise IntrinsicError(f"States.Format's template has {holes} {{}} but "
                                 f"{len(args) - 1} value{'s' * (len(args) != 2)} follow",
                                 call.offset)
