"""What a Task state runs, seen from the interpreter: one call per attempt
(:class:`TaskCall`), answered by a :class:`Resources` (the project's jobs and functions, a
nested workflow, or mocks), plus the object store a distributed Map reads and writes."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sluice.workflows.errors import UNMOCKED, StatesError

#: the Task resources that name a project's Glue job or Lambda function
GLUE_RUN = re.compile(r"arn:aws[\w-]*:states:::glue:startJobRun(\.sync)?")
LAMBDA_INVOKE = re.compile(r"arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?")
#: the job types that run as Glue jobs on AWS (a ``glue:startJobRun`` task may name them)
GLUE_RUN_TYPES = ("pyspark", "glue")


@dataclass(frozen=True)
class TaskCall:
    """One attempt of a Task state: its resource and the arguments it evaluated."""

    state: str
    resource: str
    arguments: Any
    context: Mapping[str, Any]
    #: the task's TimeoutSeconds (None: Step Functions' default, a year)
    timeout: float | None = None
    #: the task's HeartbeatSeconds (None: it need not send heartbeats)
    heartbeat: float | None = None
    #: waits on the execution's clock (a mocked task that takes time)
    sleep: Callable[[float], None] = lambda seconds: None


class Resources(Protocol):
    def invoke(self, call: TaskCall) -> Any:
        """The task's result; StatesError (its error name and cause) when it fails."""
        ...

    def read_object(self, bucket: str, key: str) -> bytes: ...

    def list_objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]: ...

    def write_object(self, bucket: str, key: str, data: bytes) -> None: ...


class NoObjects:
    """An object store with nothing in it, for executions that read none."""

    def read_object(self, bucket: str, key: str) -> bytes:
        raise StatesError("S3.NoSuchKey", f"no object s3://{bucket}/{key} here")

    def list_objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        return []

    def write_object(self, bucket: str, key: str, data: bytes) -> None:
        raise StatesError("States.ResultWriterFailed", "no object store to write to")


class Mocks(NoObjects):
    """Answers declared per state name (or per resource ARN): a list of ``{"return": value}``
    or ``{"throw": {"error": …, "cause": …}}``, the n-th call of the state getting the n-th
    answer (retries are calls too), the last repeating. Anything else: ``fallback``, or an
    error naming the unmocked resource.

    An answer's ``delay`` (seconds, on the execution's clock) is how long the task takes: one
    that reaches the task's TimeoutSeconds fails with ``States.Timeout`` and one that reaches
    its HeartbeatSeconds (a task that sends no heartbeat) with ``States.HeartbeatTimeout``."""

    def __init__(self, answers: Mapping[str, Sequence[Mapping[str, Any]]],
                 fallback: Resources | None = None) -> None:
        self.answers = {k: list(v) for k, v in answers.items()}
        self.fallback = fallback
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def invoke(self, call: TaskCall) -> Any:
        key = call.state if call.state in self.answers else call.resource
        answers = self.answers.get(key)
        if not answers:
            if self.fallback is not None:
                return self.fallback.invoke(call)
            raise unmocked(call)
        with self._lock:
            n = self.calls.get(key, 0)
            self.calls[key] = n + 1
        answer = answers[min(n, len(answers) - 1)]
        _take_time(call, float(answer.get("delay") or 0))
        if "throw" in answer:
            thrown = answer["throw"]
            raise StatesError(str(thrown.get("error", "Error")), str(thrown.get("cause", "")))
        return answer.get("return")

    def read_object(self, bucket: str, key: str) -> bytes:
        if self.fallback is not None:
            return self.fallback.read_object(bucket, key)
        return super().read_object(bucket, key)

    def list_objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        if self.fallback is not None:
            return self.fallback.list_objects(bucket, prefix)
        return super().list_objects(bucket, prefix)

    def write_object(self, bucket: str, key: str, data: bytes) -> None:
        if self.fallback is not None:
            self.fallback.write_object(bucket, key, data)
            return
        super().write_object(bucket, key, data)


def _take_time(call: TaskCall, delay: float) -> None:
    limits = [(call.timeout, "States.Timeout", "TimeoutSeconds"),
              (call.heartbeat, "States.HeartbeatTimeout", "HeartbeatSeconds")]
    hit = [(limit, error, name) for limit, error, name in limits
           if limit is not None and delay >= limit]
    if hit:
        limit, error, name = min(hit)
        call.sleep(limit)
        raise StatesError(error, f"state '{call.state}' ran past its {name} ({limit:g} s)")
    if delay > 0:
        call.sleep(delay)


def unmocked(call: TaskCall) -> StatesError:
    """The error of a task whose resource nothing here can run."""
    return StatesError(UNMOCKED,
                       f"state '{call.state}' calls {call.resource}, which is neither a job, "
                       "function or workflow of this project nor mocked (add it under "
                       "workflows.<name>.mocks in sluice.yaml, by state name or resource)")
