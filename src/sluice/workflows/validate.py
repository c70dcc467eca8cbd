"""Validate an ASL definition as AWS's ``ValidateStateMachineDefinition`` does.

:func:`validate_definition` takes the definition's JSON text and returns every
:class:`Diagnostic`: AWS's code (``SCHEMA_VALIDATION_FAILED``, ``INVALID_RESOURCE``,
``MISSING_TRANSITION_TARGET`` …), a message, the JSON path it is at and what to do next.
Warnings (``NO_DOLLAR``, ``NO_PATH``, ``PASS_RESULT_IS_STATIC``, a loop with no exit) do not
make a definition invalid. Nothing here knows the project: whether a Task names one of its jobs
or functions is the ``asl`` check's business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sluice.config.base import did_you_mean
from sluice.workflows import spec
from sluice.workflows.clauses import Clauses
from sluice.workflows.diagnostics import (
    ERROR,
    TIMESTAMP,
    Diagnostic,
    JsonPath,
    is_int,
    is_number,
    jsonata_of,
    kind_of,
    leaves,
    parse_definition,
)
from sluice.workflows.intrinsics import looks_intrinsic

__all__ = ["Diagnostic", "JsonPath", "is_valid", "parse_definition", "validate_definition",
           "validate_document"]

_LABEL_BAD = re.compile(r"[\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]")


def validate_definition(text: str) -> list[Diagnostic]:
    """Every diagnostic of a definition's JSON text, errors and warnings."""
    data, found = parse_definition(text)
    if data is None:
        return found
    return found + validate_document(data)[0]


def validate_document(data: Any) -> tuple[list[Diagnostic], int]:
    """The diagnostics of a parsed definition and how many states it has (at every depth)."""
    checker = _Checker()
    checker.machine(data, (), "top", "JSONPath")
    return checker.found, checker.states


def is_valid(diagnostics: list[Diagnostic]) -> bool:
    return not any(d.severity == ERROR for d in diagnostics)


class _Checker(Clauses):
    """Checks machines and states; collects every diagnostic."""

    def __init__(self) -> None:
        super().__init__()
        self.names: dict[str, JsonPath] = {}  # every state name, machine-wide
        self.labels: set[str] = set()
        self.states = 0
        self.broken = 0  # transitions to no state (reachability means nothing while any is)

    def machine(self, data: Any, path: JsonPath, kind: str, language: str) -> None:
        """The definition (kind "top"), a Parallel branch or a Map's processor."""
        scope = {"top": "the state machine", "branch": "a Parallel branch",
                 "processor": "a Map's ItemProcessor"}[kind]
        if not isinstance(data, dict):
            self.error(path, f"{scope} must be an object with StartAt and States, not "
                       f"{kind_of(data)}", "write {\"StartAt\": \"First\", \"States\": {…}}")
            return
        allowed = {"top": spec.MACHINE_FIELDS, "branch": spec.BRANCH_FIELDS,
                   "processor": spec.PROCESSOR_FIELDS}[kind]
        self.unknown(data, path, allowed, scope)
        language = self.language(data, path, language)
        if kind == "top" and "TimeoutSeconds" in data:
            self.integer(data, path, "TimeoutSeconds", 1)
        if "Version" in data and not isinstance(data["Version"], str):
            self.error((*path, "Version"), "Version must be a string", "e.g. \"1.0\"")
        states = data.get("States")
        if not isinstance(states, dict) or not states:
            self.error((*path, "States"), f"{scope} needs States: a non-empty object of "
                       "states by name", "add the states under \"States\"")
            return
        start = data.get("StartAt")
        if not isinstance(start, str):
            self.error((*path, "StartAt"), f"{scope} needs StartAt: the name of its first "
                       "state", f"states: {', '.join(states)}")
        elif start not in states:
            self.error((*path, "StartAt"), f"StartAt names no state of {scope}: {start!r}"
                       + did_you_mean(start, states), f"states: {', '.join(states)}",
                       "MISSING_TRANSITION_TARGET")
        edges: dict[str, list[str]] = {}
        terminal: set[str] = set()
        broken = self.broken
        for name, state in states.items():
            at = (*path, "States", name)
            self.state_name(name, at)
            targets = self.state(name, state, at, states, language)
            edges[name] = targets
            if isinstance(state, dict) and (state.get("Type") in ("Succeed", "Fail")
                                            or state.get("End") is True):
                terminal.add(name)
        if not terminal and self.broken == broken:
            self.error(path, f"{scope} has no terminal state: none is a Succeed or Fail state "
                       "or has End: true", "end the last state with \"End\": true",
                       "MISSING_END_STATE")
        elif isinstance(start, str) and start in states and self.broken == broken:
            self.reachability(start, edges, terminal, path, scope)

    def state_name(self, name: str, at: JsonPath) -> None:
        if not name or len(name) > spec.STATE_NAME_MAX or any(
                ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            self.error(at, f"state name {name!r} is invalid: 1 to {spec.STATE_NAME_MAX} "
                       "characters, no control characters", "rename the state",
                       "INVALID_STATE_NAME")
        if name in self.names:
            self.error(at, f"state name {name!r} is used twice (state names are unique across "
                       "the whole machine, branches and Map processors included)",
                       "rename one of them", "DUPLICATE_STATE_NAME")
        else:
            self.names[name] = at

    def reachability(self, start: str, edges: Mapping[str, list[str]], terminal: set[str],
                     path: JsonPath, scope: str) -> None:
        reached, todo = {start}, [start]
        while todo:
            for target in edges[todo.pop()]:
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        for name in edges:
            if name not in reached:
                self.error((*path, "States", name), f"state {name!r} is not reachable from "
                           f"StartAt {start!r} in {scope}",
                           "go to it with Next, Default, Choices or Catch from a reachable "
                           "state, or remove it")
        ends, grew = set(terminal), True
        while grew:
            more = {n for n, targets in edges.items() if n not in ends and ends & set(targets)}
            ends |= more
            grew = bool(more)
        trapped = [n for n in edges if n in reached and n not in ends]
        if trapped:
            names = ", ".join(repr(n) for n in trapped)
            self.warn((*path, "States", trapped[0]), f"state{'s' * bool(trapped[1:])} {names} "
                      f"of {scope} never reach{'es' * (not trapped[1:])} an end: the execution "
                      "would loop until it times out",
                      "give the loop an exit: a Choice rule or Default going to a final state")

    # ------------------------------------------------------------------ states
    def state(self, name: str, state: Any, path: JsonPath, states: Mapping[str, Any],
              language: str) -> list[str]:
        """Check one state; the states it can go to."""
        self.states += 1
        where = f"state {name!r}"
        if not isinstance(state, dict):
            self.error(path, f"{where} must be an object, not {kind_of(state)}",
                       "write {\"Type\": \"Pass\", …}")
            return []
        kind = state.get("Type")
        if kind not in spec.STATE_TYPES:
            found = "needs a Type" if kind is None else f"has unknown Type {kind!r}"
            hint = did_you_mean(kind, spec.STATE_TYPES) if isinstance(kind, str) else ""
            self.error((*path, "Type"), f"{where} {found}{hint}",
                       f"Type is one of {', '.join(spec.STATE_TYPES)}")
            return []
        language = self.language(state, path, language)
        where = f"{kind} state {name!r}"
        self.unknown(state, path, spec.FIELDS[kind][language], where, kind=kind,
                     language=language)
        for names in spec.REQUIRED.get(kind, ()):
            present = [n for n in names if n in state]
            if not present:
                self.error(path, f"{where} needs {' or '.join(names)}",
                           f"add \"{names[0]}\"")
            elif len(present) > 1:
                self.error((*path, present[1]), f"{where} takes one of {', '.join(names)}, "
                           f"not {' and '.join(present)}", f"keep one of {', '.join(present)}")
        targets: list[str] = []
        self.flow(state, path, kind, where, states, targets)
        self.common(state, path, kind, language, where)
        check = getattr(self, f"s_{kind.lower()}")
        check(state, path, language, where, states, targets)
        for key in ("Retry", "Catch"):
            if key in state:
                getattr(self, key.lower())(state[key], (*path, key), language, states, targets,
                                           where)
        return targets

    def flow(self, state: Mapping[str, Any], path: JsonPath, kind: str, where: str,
             states: Mapping[str, Any], targets: list[str]) -> None:
        if "End" in state and not isinstance(state["End"], bool):
            self.error((*path, "End"), f"{where}: End must be true or false, not "
                       f"{kind_of(state['End'])}", "\"End\": true")
        has_next, has_end = "Next" in state, state.get("End") is True
        if kind in spec.FLOWING:
            if has_next and has_end:
                self.error((*path, "Next"), f"{where} has both Next and End: true",
                           "a state either goes to Next or ends (\"End\": true)")
            elif not has_next and not has_end:
                self.broken += 1
                self.error(path, f"{where} needs Next or End: true",
                           "a state either goes to Next or ends (\"End\": true)")
        else:
            for key in ("Next", "End"):
                if key in state:
                    self.error((*path, key), f"{where} cannot have {key}",
                               f"remove {key!r}" + (" (use Default or Choices[].Next)"
                                                    if kind == "Choice" else
                                                    ": it ends the machine"))
            return
        if has_next:
            self.target(state["Next"], (*path, "Next"), states, targets, where)

    def target(self, value: Any, at: JsonPath, states: Mapping[str, Any],
               targets: list[str], where: str) -> None:
        if isinstance(value, str) and value in states:
            targets.append(value)
            return
        self.broken += 1
        shown = repr(value) if isinstance(value, str) else kind_of(value)
        hint = did_you_mean(value, states) if isinstance(value, str) else ""
        self.error(at, f"{where}: {at[-1]} names no state: {shown}{hint}",
                   f"states here: {', '.join(states)}", "MISSING_TRANSITION_TARGET")

    def common(self, state: Mapping[str, Any], path: JsonPath, kind: str, language: str,
               where: str) -> None:
        """Fields several state types share."""
        if "Comment" in state and not isinstance(state["Comment"], str):
            self.error((*path, "Comment"), f"{where}: Comment must be a string")
        for key in ("InputPath", "OutputPath"):
            if key in state and state[key] is not None:
                self.path_value(state[key], (*path, key), key)
        if "ResultPath" in state and state["ResultPath"] is not None:
            self.reference(state["ResultPath"], (*path, "ResultPath"), "ResultPath",
                           variables=False)
        for key in ("Parameters", "ResultSelector", "ItemSelector", "Credentials"):
            if key in state and not (kind == "Map" and key == "Parameters" and
                                     not isinstance(state[key], dict)):
                self.payload(state[key], (*path, key), key, language, template=True)
        if "Assign" in state:
            self.assign(state["Assign"], (*path, "Assign"), language)
        for key in ("Arguments", "Output"):
            if key in state:
                self.jsonata_value(state[key], (*path, key), key)
        if kind in ("Task", "Parallel", "Map") and "ResultSelector" in state and \
                not isinstance(state["ResultSelector"], dict):
            self.error((*path, "ResultSelector"), f"{where}: ResultSelector must be an object")

    def s_task(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
               states: Mapping[str, Any], targets: list[str]) -> None:
        if "Resource" in state:
            self.resource(state["Resource"], (*path, "Resource"), where)
        for key in ("TimeoutSeconds", "HeartbeatSeconds"):
            if key in state and f"{key}Path" in state:
                self.error((*path, f"{key}Path"), f"{where} takes {key} or {key}Path, not both",
                           f"keep one of {key}, {key}Path")
            if key in state:
                self.integer(state, path, key, 1, language=language)
            if f"{key}Path" in state:
                self.reference(state[f"{key}Path"], (*path, f"{key}Path"), f"{key}Path")
        timeout, beat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if is_int(timeout) and is_int(beat) and beat >= timeout:
            self.error((*path, "HeartbeatSeconds"), f"{where}: HeartbeatSeconds ({beat}) must "
                       f"be smaller than TimeoutSeconds ({timeout})",
                       "lower HeartbeatSeconds or raise TimeoutSeconds")
        if "Credentials" in state and not isinstance(state["Credentials"], dict):
            self.error((*path, "Credentials"), f"{where}: Credentials must be an object",
                       "{\"RoleArn\": \"arn:aws:iam::…:role/…\"}")

    def s_pass(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
               states: Mapping[str, Any], targets: list[str]) -> None:
        result = state.get("Result")
        if "Result" in state and any(
                (isinstance(k, str) and k.endswith(".$")) or
                (isinstance(v, str) and (v.startswith("$.") or looks_intrinsic(v)))
                for k, v in leaves(result)):
            self.warn((*path, "Result"), f"{where}: Result is static: its paths and '.$' "
                      "fields are not evaluated", "use Parameters to build the output from "
                      "the input", "PASS_RESULT_IS_STATIC")

    def s_choice(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
                 states: Mapping[str, Any], targets: list[str]) -> None:
        choices = state.get("Choices")
        if "Choices" in state and not (isinstance(choices, list) and choices):
            self.error((*path, "Choices"), f"{where}: Choices must be a non-empty array of "
                       "rules", "[{\"Variable\": \"$.x\", \"NumericGreaterThan\": 0, \"Next\": …}]")
            choices = []
        for i, rule in enumerate(choices or []):
            self.rule(rule, (*path, "Choices", i), language, top=True)
            if isinstance(rule, dict) and "Next" in rule:
                self.target(rule["Next"], (*path, "Choices", i, "Next"), states, targets,
                            where)
        if "Default" in state:
            self.target(state["Default"], (*path, "Default"), states, targets, where)

    def s_wait(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
               states: Mapping[str, Any], targets: list[str]) -> None:
        if "Seconds" in state:
            self.integer(state, path, "Seconds", 0, language=language)
        if "Timestamp" in state:
            value = state["Timestamp"]
            if not (language == "JSONata" and jsonata_of(value) is not None) and not (
                    isinstance(value, str) and TIMESTAMP.fullmatch(value)):
                self.error((*path, "Timestamp"), f"{where}: Timestamp must be an RFC 3339 "
                           f"timestamp, not {value!r}", "e.g. \"2026-01-31T09:00:00Z\"")
            else:
                self.jsonata_value(value, (*path, "Timestamp"), "Timestamp")
        for key in ("SecondsPath", "TimestampPath"):
            if key in state:
                self.reference(state[key], (*path, key), key)

    def s_succeed(self, *_: Any) -> None:
        return

    def s_fail(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
               states: Mapping[str, Any], targets: list[str]) -> None:
        for key in ("Error", "Cause"):
            if key in state and f"{key}Path" in state:
                self.error((*path, f"{key}Path"), f"{where} takes {key} or {key}Path, not both")
            if key in state and not isinstance(state[key], str):
                self.error((*path, key), f"{where}: {key} must be a string")
            elif key in state:
                self.jsonata_value(state[key], (*path, key), key)
            if f"{key}Path" in state:
                value = state[f"{key}Path"]
                if isinstance(value, str) and looks_intrinsic(value):
                    self.intrinsic(value, (*path, f"{key}Path"))
                else:
                    self.reference(value, (*path, f"{key}Path"), f"{key}Path")

    def s_parallel(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
                   states: Mapping[str, Any], targets: list[str]) -> None:
        branches = state.get("Branches")
        if "Branches" not in state:
            return
        if not (isinstance(branches, list) and branches):
            self.error((*path, "Branches"), f"{where}: Branches must be a non-empty array of "
                       "state machines", "[{\"StartAt\": …, \"States\": {…}}, …]")
            return
        for i, branch in enumerate(branches):
            self.machine(branch, (*path, "Branches", i), "branch", language)

    def s_map(self, state: Mapping[str, Any], path: JsonPath, language: str, where: str,
              states: Mapping[str, Any], targets: list[str]) -> None:
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
        processor = state.get(key)
        mode = "INLINE"
        if isinstance(processor, dict):
            config = processor.get("ProcessorConfig", {})
            if key == "Iterator" and "ProcessorConfig" in processor:
                self.error((*path, key, "ProcessorConfig"), "Iterator takes no ProcessorConfig",
                           "rename Iterator to ItemProcessor")
            elif not isinstance(config, dict):
                self.error((*path, key, "ProcessorConfig"), "ProcessorConfig must be an object")
            else:
                mode = self.processor_config(config, (*path, key, "ProcessorConfig"))
            self.machine({k: v for k, v in processor.items() if k != "ProcessorConfig"}
                         if key == "ItemProcessor" else processor, (*path, key),
                         "processor", language)
        elif key in state:
            self.error((*path, key), f"{where}: {key} must be an object with StartAt and "
                       "States")
        if "ItemSelector" in state and "Parameters" in state:
            self.error((*path, "Parameters"), f"{where} takes ItemSelector or Parameters (its "
                       "older name), not both", "keep ItemSelector")
        if "ItemsPath" in state:
            self.reference(state["ItemsPath"], (*path, "ItemsPath"), "ItemsPath")
        if "Items" in state:
            items = state["Items"]
            if not isinstance(items, list) and jsonata_of(items) is None:
                self.error((*path, "Items"), f"{where}: Items must be an array or a {{% … %}} "
                           "expression")
            self.jsonata_value(items, (*path, "Items"), "Items")
        for name, least in (("MaxConcurrency", 0), ("ToleratedFailureCount", 0)):
            if name in state and f"{name}Path" in state:
                self.error((*path, f"{name}Path"), f"{where} takes {name} or {name}Path, "
                           "not both")
            if name in state:
                self.integer(state, path, name, least, language=language)
            if f"{name}Path" in state:
                self.reference(state[f"{name}Path"], (*path, f"{name}Path"), f"{name}Path")
        if "ToleratedFailurePercentage" in state:
            value = state["ToleratedFailurePercentage"]
            if not (language == "JSONata" and jsonata_of(value) is not None) and not (
                    is_number(value) and 0 <= value <= 100):
                self.error((*path, "ToleratedFailurePercentage"), f"{where}: "
                           "ToleratedFailurePercentage must be a number from 0 to 100, not "
                           f"{value!r}")
        if "ToleratedFailurePercentagePath" in state:
            self.reference(state["ToleratedFailurePercentagePath"],
                           (*path, "ToleratedFailurePercentagePath"),
                           "ToleratedFailurePercentagePath")
        distributed_only = [k for k in ("ItemReader", "ItemBatcher", "ResultWriter", "Label",
                                        "ToleratedFailurePercentage", "ToleratedFailureCount",
                                        "ToleratedFailurePercentagePath",
                                        "ToleratedFailureCountPath") if k in state]
        if mode != "DISTRIBUTED" and distributed_only:
            self.error((*path, distributed_only[0]), f"{where}: {distributed_only[0]} needs a "
                       "distributed Map", "set ItemProcessor.ProcessorConfig to {\"Mode\": "
                       "\"DISTRIBUTED\", \"ExecutionType\": \"STANDARD\"}")
        if "Label" in state:
            self.label(state["Label"], (*path, "Label"))
        for name, fields in (("ItemReader", spec.ITEM_READER_FIELDS),
                             ("ItemBatcher", spec.ITEM_BATCHER_FIELDS),
                             ("ResultWriter", spec.RESULT_WRITER_FIELDS)):
            if name in state:
                self.map_part(state[name], (*path, name), name, fields[language], language)

    def processor_config(self, config: Mapping[str, Any], at: JsonPath) -> str:
        self.unknown(config, at, frozenset({"Mode", "ExecutionType"}), "ProcessorConfig")
        mode = config.get("Mode", "INLINE")
        if mode not in ("INLINE", "DISTRIBUTED"):
            self.error((*at, "Mode"), f"Mode is INLINE or DISTRIBUTED, not {mode!r}")
            return "INLINE"
        execution = config.get("ExecutionType")
        if mode == "DISTRIBUTED" and execution not in ("STANDARD", "EXPRESS"):
            self.error((*at, "ExecutionType") if "ExecutionType" in config else at,
                       "a distributed Map needs ExecutionType: STANDARD or EXPRESS",
                       "\"ExecutionType\": \"STANDARD\"")
        elif mode == "INLINE" and "ExecutionType" in config:
            self.error((*at, "ExecutionType"), "ExecutionType is for a distributed Map only")
        return str(mode)

    def map_part(self, value: Any, at: JsonPath, name: str, fields: frozenset[str],
                 language: str) -> None:
        if not isinstance(value, dict):
            self.error(at, f"{name} must be an object")
            return
        self.unknown(value, at, fields, name, language=language)
        if name != "ItemBatcher":
            if "Resource" not in value:
                self.error(at, f"{name} needs Resource", "e.g. \"arn:aws:states:::s3:getObject\"")
            else:
                self.resource(value["Resource"], (*at, "Resource"), name)
            for key in ("Parameters", "Arguments"):
                if key in value:
                    self.payload(value[key], (*at, key), key, language, template=True)
            if name == "ItemReader" and "ReaderConfig" in value:
                config = value["ReaderConfig"]
                if isinstance(config, dict):
                    self.unknown(config, (*at, "ReaderConfig"), spec.READER_CONFIG_FIELDS,
                                 "ReaderConfig")
                    if "MaxItems" in config:
                        self.integer(config, (*at, "ReaderConfig"), "MaxItems", 0,
                                     language=language)
                else:
                    self.error((*at, "ReaderConfig"), "ReaderConfig must be an object")
            return
        for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
            if key in value:
                self.integer(value, at, key, 1, language=language)
            if f"{key}Path" in value:
                self.reference(value[f"{key}Path"], (*at, f"{key}Path"), f"{key}Path")
        if "BatchInput" in value:
            self.payload(value["BatchInput"], (*at, "BatchInput"), "BatchInput", language,
                         template=True)

    def label(self, value: Any, at: JsonPath) -> None:
        if not isinstance(value, str) or not value or len(value) > spec.LABEL_MAX or \
                _LABEL_BAD.search(value):
            self.error(at, f"Label {value!r} is invalid: 1 to {spec.LABEL_MAX} characters, no "
                       "spaces or special characters", "e.g. \"ProcessFiles\"",
                       "INVALID_LABEL_NAME")
        elif value in self.labels:
            self.error(at, f"Label {value!r} is used twice", "give each Map its own Label",
                       "DUPLICATE_LABEL_NAME")
        else:
            self.labels.add(value)

    # ------------------------------------------------------------------ Retry and Catch
