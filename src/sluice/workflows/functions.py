"""Lambda functions run locally: each function's handler in warm processes of its own
(:mod:`sluice.workflows.lambda_worker`), with its environment variables, a Lambda-shaped
context and its timeout enforced (a process past it is killed, as Lambda ends a sandbox).

A :class:`FunctionPool` keeps up to ``size`` processes per function, so a Map over many items
reuses them instead of starting Python per item.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

_PASSED = frozenset({"PATH", "HOME", "LANG", "TZ", "TMPDIR", "TEMP", "TMP", "PYTHONPATH",
                     "VIRTUAL_ENV", "SYSTEMROOT"})


@dataclass(frozen=True)
class FunctionSpec:
    """What a local invocation needs to know about one function."""

    name: str
    root: Path  # the folder the handler's module is imported from
    handler: str
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    memory: int = 256
    region: str = "us-east-1"
    account: str = "123456789012"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"


@dataclass
class Invocation:
    """One invocation's answer, as Lambda's Invoke returns it."""

    request_id: str
    payload: Any = None
    error: dict[str, Any] | None = None  # {"errorMessage", "errorType", "stackTrace"}
    logs: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


class _Sandbox:
    def __init__(self, spec: FunctionSpec) -> None:
        # what a process needs to run at all; nothing else of this shell (credentials,
        # tokens, sluice's own settings): a function sees what sluice.yaml gives it
        env = {k: v for k, v in os.environ.items() if k in _PASSED or k.startswith("LC_")}
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory), "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region, "LAMBDA_TASK_ROOT": str(spec.root),
            "_HANDLER": spec.handler, "PYTHONUNBUFFERED": "1",
        })
        env.update(spec.environment)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sluice.workflows.lambda_worker"], cwd=spec.root, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, encoding="utf-8", bufsize=1,
            start_new_session=True)  # its own process group: what it starts ends with it
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin: IO[str] = self.proc.stdin
        self.stdout: IO[str] = self.proc.stdout
        self.stdin.write(json.dumps({"root": str(spec.root), "handler": spec.handler,
                                     "name": spec.name, "arn": spec.arn,
                                     "memory": spec.memory}) + "\n")
        self.stdin.flush()

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | str:
        """The answer; "timeout" when the process gave none within ``timeout``, "exit" when
        it ended instead."""
        try:
            self.stdin.write(json.dumps(request) + "\n")
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            return "exit"
        with selectors.DefaultSelector() as sel:
            sel.register(self.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                return "timeout"
        line = self.stdout.readline()
        if not line:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
            return "exit"
        return json.loads(line)  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the sandbox and whatever it started
        self.proc.wait()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class FunctionPool:
    """Warm processes of one function, up to ``size`` at once."""

    def __init__(self, spec: FunctionSpec, size: int = 10) -> None:
        self.spec, self.size = spec, max(size, 1)
        self._idle: list[_Sandbox] = []
        self._all: list[_Sandbox] = []
        self._free = threading.Semaphore(self.size)
        self._lock = threading.Lock()

    def invoke(self, event: Any, *, timeout: float | None = None) -> Invocation:
        """Run the handler on ``event``. ``timeout`` (seconds) can only shorten the
        function's own."""
        limit = min(self.spec.timeout, timeout) if timeout else self.spec.timeout
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        with self._free:
            sandbox = self._take()
            answer = sandbox.ask({"event": event, "request_id": request_id,
                                  "deadline_ms": int((time.time() + limit) * 1000)}, limit)
            seconds = time.monotonic() - started
            if isinstance(answer, str):
                code = sandbox.proc.poll()
                self._drop(sandbox)
                return Invocation(request_id, error=_lost(request_id, answer, code, limit),
                                  seconds=seconds)
            with self._lock:
                self._idle.append(sandbox)
        error = answer.get("error")
        return Invocation(request_id, answer.get("result"), error, answer.get("logs", ""),
                          seconds)

    def _take(self) -> _Sandbox:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        sandbox = _Sandbox(self.spec)
        with self._lock:
            self._all.append(sandbox)
        return sandbox

    def _drop(self, sandbox: _Sandbox) -> None:
        sandbox.close()
        with self._lock:
            if sandbox in self._all:
                self._all.remove(sandbox)

    def close(self) -> None:
        with self._lock:
            sandboxes, self._all, self._idle = list(self._all), [], []
        for sandbox in sandboxes:
            sandbox.close()

    def __enter__(self) -> FunctionPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _lost(request_id: str, why: str, code: int | None, limit: float) -> dict[str, Any]:
    """The error Lambda reports for a sandbox that ended or ran out of time."""
    if why == "exit":
        return {"errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                f"exit status {code}",
                "errorType": "Runtime.ExitError", "stackTrace": []}
    return {"errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                            f"{limit:.2f} seconds",
            "errorType": "Sandbox.Timedout", "stackTrace": []}
