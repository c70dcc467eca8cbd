"""Lambda: versions and the alias on moto's server; traffic shifting with alarm watch through
botocore's Stubber (moto does not shift traffic or change alarm states on its own)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from sluice.targets.aws.functions import (
    FunctionSpec,
    Shift,
    code_sha256,
    deploy_function,
    rollback_function,
)
from sluice.targets.aws.session import AwsError, AwsSession, AwsSettings

pytestmark = pytest.mark.aws
ROLE = "arn:aws:iam::123456789012:role/lambda"


def package(body: str) -> bytes:
    """A deterministic package: fixed entry timestamps, so the same code has one digest."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("notify.py", date_time=(2026, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


def spec(body: str = "def handler(e, c):\n    return 1\n") -> FunctionSpec:
    return FunctionSpec("retail-notify", package(body), "notify.handler", "python3.11", ROLE,
                        {"TOPIC": "alerts"})


def test_publish_alias_unchanged_and_rollback(aws: str) -> None:
    s = AwsSession(AwsSettings("eu-west-1", endpoint_url=aws), env="dev", actor="ci")
    s.client("iam").create_role(RoleName="lambda", AssumeRolePolicyDocument="{}")
    first = deploy_function(s, spec(), sleep=lambda _: None)
    assert first.changed and first.previous_version is None
    lam = s.client("lambda")
    assert lam.get_alias(FunctionName="retail-notify", Name="live")["FunctionVersion"] == \
        first.version

    writes: list[str] = []
    lam.meta.events.register("before-call.lambda", lambda event_name, **_: writes.append(
        event_name.rsplit(".", 1)[-1]) if not event_name.rsplit(".", 1)[-1].startswith(
        "Get") else None)
    same = deploy_function(s, spec(), sleep=lambda _: None)
    assert not same.changed and writes == []  # unchanged: no write call

    second = deploy_function(s, spec("def handler(e, c):\n    return 2\n"),
                             sleep=lambda _: None)
    assert second.changed and second.previous_version == first.version
    assert lam.get_alias(FunctionName="retail-notify", Name="live")["FunctionVersion"] == \
        second.version
    rollback_function(s, second)
    assert lam.get_alias(FunctionName="retail-notify", Name="live")["FunctionVersion"] == \
        first.version


def _stubbed(stub_calls: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> Any:
    """A session whose lambda and cloudwatch clients answer only the given calls."""
    import boto3
    from botocore.stub import Stubber

    s = AwsSession(AwsSettings("eu-west-1"), env="prod", actor="ci")
    clients = {name: boto3.client(name, region_name="eu-west-1", aws_access_key_id="x",
                                  aws_secret_access_key="x")
               for name in ("lambda", "cloudwatch")}
    s._clients.update(clients)
    stubs = {name: Stubber(c) for name, c in clients.items()}
    for service, op, response, params in stub_calls:  # type: ignore[misc]
        stubs[service].add_response(op, response, params)
    for st in stubs.values():
        st.activate()
    return s, stubs


def _updated_calls(new_zip: bytes) -> list[Any]:
    sha = code_sha256(new_zip)
    conf = {"FunctionName": "retail-notify", "CodeSha256": "old", "Handler": "notify.handler",
            "Runtime": "python3.11", "Role": ROLE, "Timeout": 60, "MemorySize": 256,
            "Environment": {"Variables": {"TOPIC": "alerts"}}, "LastUpdateStatus": "Successful",
            "State": "Active"}
    wanted = {"Handler": "notify.handler", "Runtime": "python3.11", "Role": ROLE,
              "Timeout": 60, "MemorySize": 256,
              "Environment": {"Variables": {"TOPIC": "alerts"}}}
    return [
        ("lambda", "get_function", {"Configuration": conf}, {"FunctionName": "retail-notify"}),
        ("lambda", "get_alias", {"Name": "live", "FunctionVersion": "4"},
         {"FunctionName": "retail-notify", "Name": "live"}),
        ("lambda", "get_function_configuration", conf,
         {"FunctionName": "retail-notify", "Qualifier": "4"}),
        ("lambda", "update_function_code", conf,
         {"FunctionName": "retail-notify", "ZipFile": new_zip}),
        ("lambda", "get_function_configuration", conf, {"FunctionName": "retail-notify"}),
        ("lambda", "update_function_configuration", conf,
         {"FunctionName": "retail-notify", **wanted}),
        ("lambda", "get_function_configuration", conf, {"FunctionName": "retail-notify"}),
        ("lambda", "publish_version", {"Version": "5"},
         {"FunctionName": "retail-notify", "CodeSha256": sha}),
    ]


def _alias(version: str, weights: dict[str, float]) -> tuple[Any, ...]:
    return ("lambda", "update_alias", {"Name": "live", "FunctionVersion": version},
            {"FunctionName": "retail-notify", "Name": "live", "FunctionVersion": version,
             "RoutingConfig": {"AdditionalVersionWeights": weights}})


def _alarm(state: str) -> tuple[Any, ...]:
    return ("cloudwatch", "describe_alarms", {"MetricAlarms": [
        {"AlarmName": "notify-errors", "StateValue": state}]},
        {"AlarmNames": ["notify-errors"]})


def test_linear_shift_moves_the_alias_step_by_step() -> None:
    new = spec("v5").zip_bytes
    calls = _updated_calls(new)
    for pct in (25, 50, 75):
        calls += [_alias("4", {"5": pct / 100}), _alarm("OK"), _alarm("OK")]
    calls.append(_alias("5", {}))
    s, stubs = _stubbed(calls)
    slept: list[float] = []
    done = deploy_function(s, spec("v5"), shift=Shift("linear", 25, 1),
                           alarms=["notify-errors"], sleep=slept.append, poll_seconds=30)
    assert (done.version, done.previous_version) == ("5", "4")
    assert slept == [30, 30] * 3
    for st in stubs.values():
        st.assert_no_pending_responses()


def test_a_canary_whose_alarm_fires_moves_the_alias_back() -> None:
    new = spec("v5").zip_bytes
    calls = [*_updated_calls(new), _alias("4", {"5": 0.1}), _alarm("OK"), _alarm("ALARM"),
             _alias("4", {})]
    s, stubs = _stubbed(calls)
    with pytest.raises(AwsError) as info:
        deploy_function(s, spec("v5"), shift=Shift("canary", 10, 5), alarms=["notify-errors"],
                        sleep=lambda _: None, poll_seconds=60)
    assert info.value.message == ("alarm notify-errors fired while 10% of retail-notify:live "
                                  "ran version 5; the alias is back on version 4")
    for st in stubs.values():
        st.assert_no_pending_responses()
