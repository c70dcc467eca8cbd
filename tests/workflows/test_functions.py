"""Lambda functions run locally: a handler in warm processes of its own, its environment, a
Lambda-shaped context, its timeout enforced, errors shaped as Lambda returns them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.workflows.functions import FunctionPool, FunctionSpec

HANDLER = '''\
import os
import sys
import time

def handler(event, context):
    print("seen", event)
    print("to stderr", file=sys.stderr)
    if event.get("raise"):
        raise KeyError(event["raise"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit") is not None:
        os._exit(event["exit"])
    if event.get("unjson"):
        return {"when": object()}
    return {"pid": os.getpid(), "name": context.function_name,
            "arn": context.invoked_function_arn, "request": context.aws_request_id,
            "left": context.get_remaining_time_in_millis(), "memory": context.memory_limit_in_mb,
            "greeting": os.environ.get("GREETING"), "leak": os.environ.get("SLUICE_SECRET"),
            "aws": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "region": os.environ.get("AWS_REGION"), "event": event}
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLER, encoding="utf-8")
    return tmp_path


@pytest.fixture
def pool(code: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FunctionPool]:
    monkeypatch.setenv("SLUICE_SECRET", "s3cr3t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "developer-credentials")
    spec = FunctionSpec("alerts", code, "app.handler", {"GREETING": "hej"}, timeout=3,
                        memory=512, region="eu-west-1")
    with FunctionPool(spec, size=2) as p:
        yield p


def test_a_handler_gets_its_event_context_and_environment(pool: FunctionPool) -> None:
    answer = pool.invoke({"n": 1})
    assert not answer.failed, answer.error
    got = answer.payload
    assert got["event"] == {"n": 1}
    assert got["name"] == "alerts"
    assert got["arn"] == "arn:aws:lambda:eu-west-1:123456789012:function:alerts"
    assert got["request"] == answer.request_id
    assert 0 < got["left"] <= 3000
    assert (got["memory"], got["greeting"], got["region"]) == ("512", "hej", "eu-west-1")
    assert got["leak"] is None  # sluice's own settings (secrets) never reach a function
    assert got["aws"] is None  # nor the shell's credentials: only what sluice.yaml gives it
    assert got["pid"] != os.getpid()
    assert answer.logs == "seen {'n': 1}\nto stderr\n"  # prints are logs, not the answer


def test_processes_are_kept_warm(pool: FunctionPool) -> None:
    pids = {pool.invoke({"i": i}).payload["pid"] for i in range(5)}
    assert len(pids) == 1  # one caller at a time: one sandbox, reused


def test_an_exception_is_lambdas_error_payload(pool: FunctionPool) -> None:
    answer = pool.invoke({"raise": "order_id"})
    assert answer.error is not None
    assert answer.error["errorType"] == "KeyError"
    assert answer.error["errorMessage"] == "'order_id'"
    assert any('app.py", line 9, in handler' in line for line in answer.error["stackTrace"])
    assert pool.invoke({"n": 2}).payload["event"] == {"n": 2}  # the sandbox lives on


def test_the_timeout_ends_the_sandbox(pool: FunctionPool) -> None:
    answer = pool.invoke({"sleep": 10}, timeout=1)
    assert answer.error is not None and answer.error["errorType"] == "Sandbox.Timedout"
    assert answer.error["errorMessage"].endswith("Task timed out after 1.00 seconds")
    assert answer.seconds < 5
    assert pool.invoke({"n": 3}).payload["event"] == {"n": 3}  # a new sandbox


def test_a_sandbox_that_exits_is_a_runtime_exit_error(pool: FunctionPool) -> None:
    answer = pool.invoke({"exit": 7})
    assert answer.error is not None and answer.error["errorType"] == "Runtime.ExitError"
    assert answer.error["errorMessage"].endswith("Runtime exited with error: exit status 7")


def test_a_result_that_is_not_json_is_a_marshal_error(pool: FunctionPool) -> None:
    answer = pool.invoke({"unjson": True})
    assert answer.error is not None and answer.error["errorType"] == "Runtime.MarshalError"


@pytest.mark.parametrize(("handler", "kind", "message"), [
    ("nowhere.handler", "Runtime.ImportModuleError",
     "Unable to import module 'nowhere': No module named 'nowhere'"),
    ("app.missing", "Runtime.HandlerNotFound", "Handler 'missing' missing on module 'app'"),
    ("handler", "Runtime.MalformedHandlerName", "Bad handler 'handler': not enough values "
                                                "to unpack (expected 2, got 1)"),
])
def test_a_handler_that_cannot_load_says_so_as_lambda_does(
        code: Path, handler: str, kind: str, message: str) -> None:
    with FunctionPool(FunctionSpec("f", code, handler)) as pool:
        answer = pool.invoke({})
    assert answer.error is not None
    assert (answer.error["errorType"], answer.error["errorMessage"]) == (kind, message)
