"""Lambda functions: update code and configuration, publish a version, then shift the alias
all at once, as a canary (e.g. 10 % for 5 minutes) or linearly (e.g. 10 % more every
minute), watching CloudWatch alarms during the shift and moving the alias back to the old
version when one fires. A function whose code and configuration did not change makes no
write call."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sluice.targets.aws.session import AwsError, AwsSession, aws_errors

ALIAS = "live"


@dataclass(frozen=True)
class Shift:
    """How traffic moves to a new version."""

    kind: Literal["all-at-once", "canary", "linear"] = "all-at-once"
    percent: int = 10  # canary: the first share; linear: the step
    minutes: float = 5  # canary: how long the first share runs; linear: between steps

    def steps(self) -> list[int]:
        """Percentages of traffic on the new version before it takes it all."""
        if self.kind == "canary":
            return [self.percent]
        if self.kind == "linear":
            return list(range(self.percent, 100, self.percent))
        return []


@dataclass
class FunctionSpec:
    name: str
    zip_bytes: bytes
    handler: str
    runtime: str
    role_arn: str
    environment: dict[str, str] = field(default_factory=dict)
    timeout: int = 60
    memory: int = 256


@dataclass(frozen=True)
class FunctionDeploy:
    name: str
    version: str
    previous_version: str | None
    changed: bool


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 of the deployment package."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def deploy_function(aws: AwsSession, spec: FunctionSpec, *, shift: Shift = Shift(),
                    alarms: Sequence[str] = (), alias: str = ALIAS,
                    sleep: Callable[[float], None] = time.sleep,
                    poll_seconds: float = 30.0) -> FunctionDeploy:
    lam = aws.client("lambda")
    config = _wanted_config(spec)
    sha = code_sha256(spec.zip_bytes)
    with aws_errors(f"deploy function {spec.name}"):
        current = _get(lam, spec.name)
        live = _alias_version(lam, spec.name, alias) if current else None
        if current is None:
            lam.create_function(FunctionName=spec.name, Code={"ZipFile": spec.zip_bytes},
                                Publish=False, **config)
        else:
            live_conf = lam.get_function_configuration(FunctionName=spec.name,
                                                       Qualifier=live) if live else None
            if live_conf is not None and live_conf["CodeSha256"] == sha and \
                    _same_config(live_conf, config):
                return FunctionDeploy(spec.name, str(live), live, False)
            lam.update_function_code(FunctionName=spec.name, ZipFile=spec.zip_bytes)
            _wait_updated(lam, spec.name, sleep)
            lam.update_function_configuration(FunctionName=spec.name, **config)
        _wait_updated(lam, spec.name, sleep)
        version = str(lam.publish_version(FunctionName=spec.name, CodeSha256=sha)["Version"])
        if live is None:
            lam.create_alias(FunctionName=spec.name, Name=alias, FunctionVersion=version)
            return FunctionDeploy(spec.name, version, None, True)
    _shift(aws, spec.name, alias, live, version, shift, alarms, sleep, poll_seconds)
    return FunctionDeploy(spec.name, version, live, True)


def _shift(aws: AwsSession, name: str, alias: str, old: str, new: str, shift: Shift,
           alarms: Sequence[str], sleep: Callable[[float], None], poll: float) -> None:
    lam = aws.client("lambda")
    try:
        _steps(aws, lam, name, alias, old, new, shift, alarms, sleep, poll)
    except BaseException:
        # not only an alarm: throttling, a denied call or an interrupt must not leave a split
        with aws_errors(f"move {name}:{alias} back to version {old}"):
            lam.update_alias(FunctionName=name, Name=alias, FunctionVersion=old,
                             RoutingConfig={"AdditionalVersionWeights": {}})
        raise


def _steps(aws: AwsSession, lam: Any, name: str, alias: str, old: str, new: str,
           shift: Shift, alarms: Sequence[str], sleep: Callable[[float], None],
           poll: float) -> None:
    with aws_errors(f"shift {name}:{alias} to version {new}"):
        for percent in shift.steps():
            lam.update_alias(FunctionName=name, Name=alias, FunctionVersion=old,
                             RoutingConfig={"AdditionalVersionWeights": {new: percent / 100}})
            waited = 0.0
            while waited < shift.minutes * 60:
                fired = _firing(aws, alarms)
                if fired:  # the caller moves the alias back
                    raise AwsError(
                        f"alarm {', '.join(fired)} fired while {percent}% of {name}:{alias} "
                        f"ran version {new}; the alias is back on version {old}",
                        tip="look at the alarm and the new version's logs, then deploy a fix")
                step = min(poll, shift.minutes * 60 - waited)
                sleep(step)
                waited += step
        lam.update_alias(FunctionName=name, Name=alias, FunctionVersion=new,
                         RoutingConfig={"AdditionalVersionWeights": {}})


def rollback_function(aws: AwsSession, deployed: FunctionDeploy, alias: str = ALIAS) -> None:
    if not deployed.changed or deployed.previous_version is None:
        return
    point_alias(aws, deployed.name, deployed.previous_version, alias)


def point_alias(aws: AwsSession, name: str, version: str, alias: str = ALIAS) -> None:
    """All of the alias's traffic to one version (rollback)."""
    with aws_errors(f"point {name}:{alias} at version {version}"):
        aws.client("lambda").update_alias(FunctionName=name, Name=alias, FunctionVersion=version,
                                          RoutingConfig={"AdditionalVersionWeights": {}})


def _wanted_config(spec: FunctionSpec) -> dict[str, Any]:
    return {"Handler": spec.handler, "Runtime": spec.runtime, "Role": spec.role_arn,
            "Timeout": spec.timeout, "MemorySize": spec.memory,
            "Environment": {"Variables": dict(spec.environment)}}


def planned(aws: AwsSession, spec: FunctionSpec, alias: str = ALIAS) -> str:
    """What deploy_function would do: create, update or none (reads only)."""
    lam = aws.client("lambda")
    with aws_errors(f"plan function {spec.name}"):
        if _get(lam, spec.name) is None:
            return "create"
        live = _alias_version(lam, spec.name, alias)
        if live is None:
            return "update"
        conf = lam.get_function_configuration(FunctionName=spec.name, Qualifier=live)
    same = conf["CodeSha256"] == code_sha256(spec.zip_bytes) and \
        _same_config(conf, _wanted_config(spec))
    return "none" if same else "update"


def _firing(aws: AwsSession, alarms: Sequence[str]) -> list[str]:
    if not alarms:
        return []
    found = aws.client("cloudwatch").describe_alarms(AlarmNames=list(alarms))
    return [a["AlarmName"] for a in found.get("MetricAlarms", [])
            if a.get("StateValue") == "ALARM"]


def _get(lam: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return dict(lam.get_function(FunctionName=name))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def _alias_version(lam: Any, name: str, alias: str) -> str | None:
    from botocore.exceptions import ClientError

    try:
        return str(lam.get_alias(FunctionName=name, Name=alias)["FunctionVersion"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def _same_config(live: dict[str, Any], wanted: dict[str, Any]) -> bool:
    env = (live.get("Environment") or {}).get("Variables") or {}
    keys = ("Handler", "Runtime", "Role", "Timeout", "MemorySize")
    return all(live.get(k) == wanted[k] for k in keys) and \
        env == wanted["Environment"]["Variables"]


def _wait_updated(lam: Any, name: str, sleep: Callable[[float], None],
                  timeout: float = 300) -> None:
    """Lambda applies code and configuration asynchronously: wait until it is done."""
    waited = 0.0
    while True:
        conf = lam.get_function_configuration(FunctionName=name)
        status = conf.get("LastUpdateStatus", "Successful")
        if status == "Successful" and conf.get("State", "Active") != "Pending":
            return
        if status == "Failed":
            raise AwsError(f"function {name}: update failed: "
                           f"{conf.get('LastUpdateStatusReason', '')}")
        if waited > timeout:
            raise AwsError(f"function {name}: still updating after {timeout:.0f}s")
        sleep(1.0)
        waited += 1.0
