"""Run a state machine locally, with AWS's semantics.

:func:`run_definition` executes a (validated) definition on an input and returns an
:class:`Execution`: status, output or error and cause, and the states entered. Each state is
one step of an iterative loop (no recursion per transition); Parallel branches and Map
iterations are state machines of their own, run on threads up to their concurrency. Task
states call a :class:`~sluice.workflows.resources.Resources`; time comes from a
:class:`~sluice.workflows.clock.Clock`, so waits and retry delays can take no time.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import ChainMap
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sluice.workflows import data as jp
from sluice.workflows.choices import matches
from sluice.workflows.clock import Clock, RealClock, iso
from sluice.workflows.errors import UNCATCHABLE, StatesError, runtime
from sluice.workflows.expressions import expression_of, resolve
from sluice.workflows.intrinsic_functions import call_intrinsic
from sluice.workflows.resources import Mocks, Resources, TaskCall

#: more transitions than this is a runaway loop, not a workflow
MAX_TRANSITIONS = 1_000_000
_DEFAULT_RETRY = {"IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 2.0}


@dataclass
class Execution:
    """What an execution did."""

    status: str  # SUCCEEDED, FAILED, TIMED_OUT
    output: Any = None
    error: str | None = None
    cause: str | None = None
    states: list[str] = field(default_factory=list)
    transitions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "output": self.output, "error": self.error,
                "cause": self.cause, "states": list(self.states)}


class _Stop(Exception):
    """A sibling branch or iteration failed: stop this one at its next transition."""


@dataclass
class _Run:
    """What every state machine of one execution shares."""

    resources: Resources
    clock: Clock
    context: dict[str, Any]
    deadline: datetime | None
    transitions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> None:
        with self.lock:
            self.transitions += 1
            if self.transitions > MAX_TRANSITIONS:
                raise runtime(f"the execution took more than {MAX_TRANSITIONS} transitions "
                              "(a loop without an exit?)")
        if self.deadline is not None and self.clock.now() > self.deadline:
            raise StatesError("States.Timeout", "the execution ran past its TimeoutSeconds")


@dataclass
class _Frame:
    """One state machine being run: the top level, a Parallel branch or a Map iteration."""

    run: _Run
    variables: MutableMapping[str, Any]
    language: str
    stopped: threading.Event | None = None
    map_item: dict[str, Any] | None = None
    record: list[str] | None = None  # the states entered (the top level only)

    def child(self, language: str, stopped: threading.Event | None,
              map_item: dict[str, Any] | None = None) -> _Frame:
        scope: MutableMapping[str, Any] = ChainMap({}, self.variables)  # reads outer ones
        return _Frame(self.run, scope, language, stopped, map_item)


def run_definition(definition: Mapping[str, Any], execution_input: Any, *,
                   resources: Resources | None = None, clock: Clock | None = None,
                   name: str = "local", execution_name: str | None = None,
                   role_arn: str = "", region: str = "us-east-1",
                   account: str = "123456789012") -> Execution:
    """Run ``definition`` on ``execution_input``; never raises for what the workflow does."""
    clock = clock or RealClock()
    started = clock.now()
    execution_name = execution_name or str(uuid.uuid4())
    machine_arn = f"arn:aws:states:{region}:{account}:stateMachine:{name}"
    context = {
        "Execution": {"Id": f"arn:aws:states:{region}:{account}:execution:{name}:"
                            f"{execution_name}", "Input": execution_input,
                      "Name": execution_name, "RoleArn": role_arn, "StartTime": iso(started),
                      "RedriveCount": 0},
        "StateMachine": {"Id": machine_arn, "Name": name},
    }
    timeout = definition.get("TimeoutSeconds")
    deadline = started + timedelta(seconds=timeout) if isinstance(timeout, int) else None
    run = _Run(resources or Mocks({}), clock, context, deadline)
    record: list[str] = []
    frame = _Frame(run, {}, str(definition.get("QueryLanguage", "JSONPath")), record=record)
    try:
        output = _machine(definition, execution_input, frame)
    except StatesError as exc:
        status = "TIMED_OUT" if exc.error == "States.Timeout" and run.deadline is not None \
            and clock.now() > run.deadline else "FAILED"
        return Execution(status, None, exc.error, exc.cause, record, run.transitions)
    return Execution("SUCCEEDED", output, None, None, record, run.transitions)


def _machine(machine: Mapping[str, Any], value: Any, frame: _Frame) -> Any:
    """Run a state machine from StartAt to its end; its output, or the StatesError it
    failed with."""
    states = machine["States"]
    name: str | None = machine["StartAt"]
    language = str(machine.get("QueryLanguage", frame.language))
    while name is not None:
        if frame.stopped is not None and frame.stopped.is_set():
            raise _Stop()
        frame.run.count()
        if frame.record is not None:
            frame.record.append(name)
        state = states[name]
        name, value = _state(name, state, value, frame,
                             str(state.get("QueryLanguage", language)))
    return value


def _context(frame: _Frame, name: str, retry: int = 0, *, item: bool = False) -> dict[str, Any]:
    context = dict(frame.run.context)
    context["State"] = {"Name": name, "EnteredTime": iso(frame.run.clock.now()),
                        "RetryCount": retry}
    if item and frame.map_item is not None:
        context["Map"] = {"Item": frame.map_item}
    return context


def _scope(frame: _Frame, context: Mapping[str, Any]) -> jp.Scope:
    return jp.Scope(context, frame.variables)


def _fill(template: Any, value: Any, scope: jp.Scope, field_name: str) -> Any:
    return jp.fill(template, value, scope, field=field_name, intrinsic=call_intrinsic)


def _states_var(value: Any, context: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {"input": value, "context": context, **more}


# ---------------------------------------------------------------------------- states
def _state(name: str, state: Mapping[str, Any], value: Any, frame: _Frame,
           language: str) -> tuple[str | None, Any]:
    """Run one state on its input: the state to go to (None: the machine ends) and the
    output."""
    kind = state["Type"]
    if kind in ("Task", "Parallel", "Map"):
        return _with_handlers(name, state, value, frame, language)
    context = _context(frame, name)
    if language == "JSONata":
        return _simple_jsonata(name, kind, state, value, frame, context)
    scope = _scope(frame, context)
    effective = _input(state, value, scope)
    if kind == "Pass":
        result = state["Result"] if "Result" in state else (
            _fill(state["Parameters"], effective, scope, "Parameters")
            if "Parameters" in state else effective)
        _assign(state, result, scope, frame, language)
        output = _output(state, jp.place(state.get("ResultPath", "$"), value, result), scope)
        return _next(state), output
    if kind == "Choice":
        for rule in state["Choices"]:
            if matches(rule, effective, scope):  # a rule's Assign replaces the state's
                _assign(rule if "Assign" in rule else state, effective, scope, frame,
                        language)
                return rule["Next"], _output(state, effective, scope)
        if "Default" in state:
            _assign(state, effective, scope, frame, language)
            return state["Default"], _output(state, effective, scope)
        raise StatesError("States.NoChoiceMatched",
                          f"No Choice Rules matched the input of state '{name}'")
    if kind == "Wait":
        _wait(state, effective, scope, frame)
        _assign(state, effective, scope, frame, language)
        return _next(state), _output(state, effective, scope)
    if kind == "Succeed":
        return None, _output(state, effective, scope)
    if kind == "Fail":
        raise StatesError(*_failure(state, value, scope))
    raise runtime(f"state '{name}' has unknown Type {kind!r}")


def _simple_jsonata(name: str, kind: str, state: Mapping[str, Any], value: Any,
                    frame: _Frame, context: Mapping[str, Any]) -> tuple[str | None, Any]:
    """Pass, Choice, Wait, Succeed and Fail in JSONata."""
    states = _states_var(value, context)
    variables = frame.variables
    if kind == "Fail":
        error = resolve(state.get("Error", ""), states, variables, field="Error")
        cause = resolve(state.get("Cause", ""), states, variables, field="Cause")
        raise StatesError(str(error or ""), str(cause or ""))
    target: str | None = state.get("Next")
    holder: Mapping[str, Any] = state
    if kind == "Choice":
        for rule in state["Choices"]:
            condition = resolve(rule["Condition"], states, variables, field="Condition")
            if not isinstance(condition, bool):
                raise StatesError("States.QueryEvaluationError",
                                  f"the Condition of a rule of state '{name}' gave "
                                  f"{condition!r}, not a boolean")
            if condition:
                target, holder = rule["Next"], rule
                break
        else:
            if "Default" not in state:
                raise StatesError("States.NoChoiceMatched",
                                  f"No Choice Rules matched the input of state '{name}'")
            target = state["Default"]
    if kind == "Wait":
        _wait_jsonata(state, states, frame)
    if kind == "Succeed":
        target = None
    output = resolve(holder.get("Output", state.get("Output", "{% $states.input %}")),
                     states, variables, field="Output")
    _assign_jsonata(holder if "Assign" in holder else state, states, frame)
    return (None if state.get("End") is True else target), output


def _next(state: Mapping[str, Any]) -> str | None:
    return None if state.get("End") is True else state.get("Next")


def _input(state: Mapping[str, Any], value: Any, scope: jp.Scope) -> Any:
    if "InputPath" not in state:
        return value
    path = state["InputPath"]
    return {} if path is None else jp.select(path, value, scope, field="InputPath")


def _output(state: Mapping[str, Any], value: Any, scope: jp.Scope) -> Any:
    if "OutputPath" not in state:
        return value
    path = state["OutputPath"]
    return {} if path is None else jp.select(path, value, scope, field="OutputPath")


def _assign(holder: Mapping[str, Any], value: Any, scope: jp.Scope, frame: _Frame,
            language: str) -> None:
    """JSONPath Assign: evaluated on ``value`` (the state's result), all at once, visible
    from the next state on."""
    if "Assign" not in holder:
        return
    new = _fill(holder["Assign"], value, scope, "Assign")
    frame.variables.update(new)


def _assign_jsonata(holder: Mapping[str, Any], states: Mapping[str, Any],
                    frame: _Frame) -> None:
    if "Assign" not in holder:
        return
    new = resolve(holder["Assign"], states, frame.variables, field="Assign")
    frame.variables.update(new)


def _failure(state: Mapping[str, Any], value: Any, scope: jp.Scope) -> tuple[str, str]:
    out = []
    for key in ("Error", "Cause"):
        if f"{key}Path" in state:
            path = state[f"{key}Path"]
            found = call_intrinsic(path, value, scope) if path.startswith("States.") else \
                jp.select(path, value, scope, field=f"{key}Path")
            if not isinstance(found, str):
                raise runtime(f"{key}Path {path!r} selected {found!r}, not a string")
            out.append(found)
        else:
            out.append(str(state.get(key, "")))
    return out[0], out[1]


def _wait(state: Mapping[str, Any], effective: Any, scope: jp.Scope, frame: _Frame) -> None:
    clock = frame.run.clock
    if "Seconds" in state:
        seconds: float = state["Seconds"]
    elif "SecondsPath" in state:
        found = jp.select(state["SecondsPath"], effective, scope, field="SecondsPath")
        if isinstance(found, bool) or not isinstance(found, int) or found < 0:
            raise runtime(f"SecondsPath selected {found!r}, not a non-negative integer")
        seconds = found
    else:
        stamp = state["Timestamp"] if "Timestamp" in state else jp.select(
            state["TimestampPath"], effective, scope, field="TimestampPath")
        seconds = _until(stamp, clock)
    clock.sleep(seconds)


def _wait_jsonata(state: Mapping[str, Any], states: Mapping[str, Any], frame: _Frame) -> None:
    clock = frame.run.clock
    if "Seconds" in state:
        seconds = resolve(state["Seconds"], states, frame.variables, field="Seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise StatesError("States.QueryEvaluationError",
                              f"Seconds gave {seconds!r}, not a non-negative number")
        clock.sleep(float(seconds))
    else:
        stamp = resolve(state["Timestamp"], states, frame.variables, field="Timestamp")
        clock.sleep(_until(stamp, clock))


def _until(stamp: Any, clock: Clock) -> float:
    from sluice.workflows.choices import _timestamp

    moment = _timestamp(stamp)
    if moment is None:
        raise runtime(f"{stamp!r} is not an RFC 3339 timestamp")
    return max((moment - clock.now()).total_seconds(), 0.0)


# ---------------------------------------------------------------------------- Retry, Catch
def _handles(handler: Mapping[str, Any], error: str) -> bool:
    names = handler.get("ErrorEquals", [])
    if error in names:
        return True
    if error in UNCATCHABLE:
        return False
    return "States.ALL" in names or ("States.TaskFailed" in names and
                                     error != "States.Timeout")


def _with_handlers(name: str, state: Mapping[str, Any], value: Any, frame: _Frame,
                   language: str) -> tuple[str | None, Any]:
    """Task, Parallel and Map: run, retrying as Retry says; a failure Catch handles goes to
    its Next."""
    retriers = state.get("Retry", [])
    attempts = [0] * len(retriers)
    retry_count = 0
    while True:
        try:
            return _next(state), _run_state(name, state, value, frame, language, retry_count)
        except StatesError as exc:
            if exc.error in UNCATCHABLE:
                raise
            index = next((i for i, r in enumerate(retriers) if _handles(r, exc.error)), None)
            if index is not None:
                retrier = {**_DEFAULT_RETRY, **retriers[index]}
                if attempts[index] < retrier["MaxAttempts"]:
                    frame.run.clock.sleep(_delay(retrier, attempts[index]))
                    attempts[index] += 1
                    retry_count += 1
                    continue
            catcher = next((c for c in state.get("Catch", []) if _handles(c, exc.error)), None)
            if catcher is None:
                raise
            return catcher["Next"], _caught(name, catcher, value, exc, frame, language)


def _delay(retrier: Mapping[str, Any], attempt: int) -> float:
    delay = float(retrier["IntervalSeconds"]) * float(retrier["BackoffRate"]) ** attempt
    if "MaxDelaySeconds" in retrier:
        delay = min(delay, float(retrier["MaxDelaySeconds"]))
    if retrier.get("JitterStrategy") == "FULL":
        delay = random.uniform(0, delay)
    return delay


def _caught(name: str, catcher: Mapping[str, Any], value: Any, exc: StatesError,
            frame: _Frame, language: str) -> Any:
    context = _context(frame, name)
    if language == "JSONata":
        states = _states_var(value, context, errorOutput=exc.output)
        output = resolve(catcher.get("Output", "{% $states.errorOutput %}"), states,
                         frame.variables, field="Output")
        _assign_jsonata(catcher, states, frame)
        return output
    scope = _scope(frame, context)
    _assign(catcher, exc.output, scope, frame, language)
    return jp.place(catcher.get("ResultPath", "$"), value, exc.output)


def _run_state(name: str, state: Mapping[str, Any], value: Any, frame: _Frame,
               language: str, retry: int) -> Any:
    """One attempt of a Task, Parallel or Map state: its output."""
    from sluice.workflows.fanout import run_map, run_parallel

    kind = state["Type"]
    context = _context(frame, name, retry)
    if language == "JSONata":
        states = _states_var(value, context)
        arguments = resolve(state.get("Arguments", "{% $states.input %}") if kind != "Map"
                            else "{% $states.input %}", states, frame.variables,
                            field="Arguments")
        if kind == "Task":
            result = _task(name, state, arguments, context, frame, states)
        elif kind == "Parallel":
            result = run_parallel(state, arguments, frame, "JSONata")
        else:
            result = run_map(name, state, arguments, frame, "JSONata", context)
        states = _states_var(value, context, result=result)
        output = resolve(state.get("Output", "{% $states.result %}"), states, frame.variables,
                         field="Output")
        _assign_jsonata(state, states, frame)
        return output
    scope = _scope(frame, context)
    effective = _input(state, value, scope)
    if kind == "Map":
        result = run_map(name, state, effective, frame, "JSONPath", context)
    else:
        arguments = _fill(state["Parameters"], effective, scope, "Parameters") \
            if "Parameters" in state else effective
        result = _task(name, state, arguments, context, frame, None) if kind == "Task" \
            else run_parallel(state, arguments, frame, "JSONPath")
    if "ResultSelector" in state:
        result = _fill(state["ResultSelector"], result, scope, "ResultSelector")
    _assign(state, result, scope, frame, language)
    return _output(state, jp.place(state.get("ResultPath", "$"), value, result), scope)


def _task(name: str, state: Mapping[str, Any], arguments: Any, context: Mapping[str, Any],
          frame: _Frame, states: Mapping[str, Any] | None) -> Any:
    def seconds(key: str) -> float | None:
        """TimeoutSeconds or HeartbeatSeconds: literal, from its …Path, or JSONata."""
        value = state.get(key)
        if f"{key}Path" in state:
            value = jp.select(state[f"{key}Path"], arguments, _scope(frame, context),
                              field=f"{key}Path")
        elif states is not None and expression_of(value) is not None:
            value = resolve(value, states, frame.variables, field=key)
        return _seconds(value)

    call = TaskCall(name, state["Resource"], arguments, context, seconds("TimeoutSeconds"),
                    seconds("HeartbeatSeconds"), frame.run.clock.sleep)
    return frame.run.resources.invoke(call)


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None
