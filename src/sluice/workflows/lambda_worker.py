"""A Lambda function's process, run by :mod:`sluice.workflows.functions`: a warm sandbox.

It reads its function on the first line of stdin (code folder, handler, name, ARN, memory),
imports the handler once, then answers one invocation per line: ``{"event", "request_id",
"deadline_ms"}`` in, ``{"result"}`` or ``{"error": {"errorMessage", "errorType",
"stackTrace"}}`` out, with what the handler printed as ``logs``. Answers go on a copy of the
original stdout; the handler's own prints never reach it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO


class LambdaContext:
    """The ``context`` argument of a handler, as Lambda's Python runtime gives it."""

    def __init__(self, spec: dict[str, Any], request_id: str, deadline_ms: int) -> None:
        self.function_name = spec["name"]
        self.function_version = spec.get("version", "$LATEST")
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = str(spec.get("memory", 128))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec['name']}"
        self.log_stream_name = f"local/{os.getpid()}"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def _error(kind: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": kind, "stackTrace": stack or []}


def _load(spec: dict[str, Any]) -> Callable[..., Any] | dict[str, Any]:
    """The handler, or the error every invocation of a function that cannot load gets."""
    module_name, _, attribute = spec["handler"].rpartition(".")
    if not module_name:
        return _error("Runtime.MalformedHandlerName",
                      f"Bad handler '{spec['handler']}': not enough values to unpack "
                      "(expected 2, got 1)")
    sys.path.insert(0, spec["root"])
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as exc:  # what Lambda reports at its init phase
        return _error("Runtime.ImportModuleError",
                      f"Unable to import module '{module_name}': {exc}",
                      traceback.format_exception_only(exc))
    handler = getattr(module, attribute, None)
    if not callable(handler):
        return _error("Runtime.HandlerNotFound",
                      f"Handler '{attribute}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


#: what a handler prints is kept up to this many characters (the rest is counted, not kept)
LOG_LIMIT = 256 * 1024
#: Lambda's largest synchronous response (6 MB)
RESPONSE_LIMIT = 6 * 1024 * 1024


class _Logs(io.TextIOBase):
    """A handler's prints: the first :data:`LOG_LIMIT` characters, and how many more."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = LOG_LIMIT - self.size
        if room > 0:
            self.kept.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(len(text) - max(room, 0), 0)
        return len(text)

    def getvalue(self) -> str:
        tail = f"\n[{self.dropped} more characters of logs dropped]\n" if self.dropped else ""
        return "".join(self.kept) + tail


def _invoke(handler: Callable[..., Any], spec: dict[str, Any],
            request: dict[str, Any]) -> dict[str, Any]:
    logs = _Logs()
    context = LambdaContext(spec, request["request_id"], int(request["deadline_ms"]))
    answer: dict[str, Any]
    with contextlib.redirect_stdout(logs), contextlib.redirect_stderr(logs):
        try:
            result = handler(request["event"], context)
            size = len(json.dumps(result))
            answer = {"result": result} if size <= RESPONSE_LIMIT else {"error": _error(
                "Function.ResponseSizeTooLarge",
                f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                f"({RESPONSE_LIMIT} bytes).")}
        except (TypeError, ValueError) as exc:
            if "not JSON serializable" in str(exc) or "Circular reference" in str(exc):
                answer = {"error": _error("Runtime.MarshalError",
                                          f"Unable to marshal response: {exc}")}
            else:
                answer = {"error": _failure(exc)}
        except Exception as exc:
            answer = {"error": _failure(exc)}
    answer["logs"] = logs.getvalue()
    return answer


def _failure(exc: BaseException) -> dict[str, Any]:
    stack = [line for line in traceback.format_tb(exc.__traceback__)[1:]]  # not this file's
    return _error(type(exc).__name__, str(exc), stack)


def main(stdin: TextIO = sys.stdin) -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # what the handler prints (print, subprocesses) never reaches the answers
    spec = json.loads(stdin.readline())
    handler = _load(spec)
    for line in stdin:
        request = json.loads(line)
        answer = {"error": handler} if isinstance(handler, dict) else \
            _invoke(handler, spec, request)
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
