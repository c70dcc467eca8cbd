"""``sluice check`` kind ``asl``: Step Functions definitions (Amazon States Language).

One unit per workflow. Its definition gets ``${param}`` substitution with the first
environment's parameters, then must be a state machine whose transitions resolve, whose
states are all reachable and can all reach an end, and whose Glue and Lambda tasks name the
project's pyspark or glue jobs and functions. Parallel branches and Map processors are
checked as state machines of their own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.kinds.asl_json import JsonIndex
from sluice.check.model import Finding
from sluice.config import CONFIG_FILE
from sluice.config.base import did_you_mean
from sluice.config.substitution import substitute
from sluice.errors import ConfigError

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
_FLOWING = ("Task", "Pass", "Wait", "Parallel", "Map")  # need exactly one of Next, End: true
_WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
_GLUE_RUN = re.compile(r"arn:aws[\w-]*:states:::glue:startJobRun(\.sync)?")
_LAMBDA_INVOKE = re.compile(r"arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?")
_LAMBDA_RESOURCE = re.compile(r"arn:[^:]*:lambda:")
_LAMBDA_ARN = re.compile(  # arn:aws:lambda:<region>:<account>:function:<name>[:<alias>]
    r"arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[^:]+)(:[^:]+)?")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")
#: the job types that run as Glue jobs on AWS (a ``glue:startJobRun`` task may name them)
GLUE_RUN_TYPES = ("pyspark", "glue")
_REQUIRED: dict[str, tuple[str, type, str]] = {  # Type -> (field, its JSON shape, example)
    "Task": ("Resource", str, '"Resource": the ARN of the service or function to run'),
    "Choice": ("Choices", list, '"Choices": [{"Variable": …, "StringEquals": …, "Next": …}]'),
    "Parallel": ("Branches", list, '"Branches": [{"StartAt": …, "States": {…}}, …]'),
}

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class _Ref:
    """A project component a Task names: a literal ``value`` at ``field`` of the state."""

    kind: str  # "job" or "function"
    field: Path
    value: Any  # None when the state lacks the field


def _task_ref(state: Mapping[str, Any]) -> _Ref | None:
    """The job or function a Task state names; None for other resources or dynamic names."""
    resource = state.get("Resource")
    if not isinstance(resource, str):
        return None
    if _LAMBDA_RESOURCE.match(resource):
        return _Ref("function", ("Resource",), resource)
    glue = _GLUE_RUN.fullmatch(resource)
    if not glue and not _LAMBDA_INVOKE.fullmatch(resource):
        return None
    kind, key = ("job", "JobName") if glue else ("function", "FunctionName")
    section = "Arguments" if "Arguments" in state else "Parameters"  # Arguments: JSONata
    args = state.get(section)
    args = args if isinstance(args, dict) else {}
    value = args.get(key)
    if f"{key}.$" in args or (isinstance(value, str) and value.startswith("{%")):
        return None
    return _Ref(kind, (section, key), value)


def _name(ref: _Ref) -> str | None:
    """The component name in a reference, or None when it has no valid form."""
    if not isinstance(ref.value, str):
        return None
    arn = _LAMBDA_ARN.fullmatch(ref.value) if ref.kind == "function" else None
    name = arn.group("name") if arn else ref.value
    return name if _PLAIN_NAME.fullmatch(name) else None


def _tasks(data: Any) -> Iterator[Mapping[str, Any]]:
    """Every Task state, at any depth."""
    if isinstance(data, dict):
        if data.get("Type") == "Task":
            yield data
        for value in data.values():
            yield from _tasks(value)
    elif isinstance(data, list):
        for value in data:
            yield from _tasks(value)


class _Validator:
    """Collects the findings of one definition."""

    def __init__(self, rel: str, index: JsonIndex, jobs: Mapping[str, str],
                 functions: Collection[str]) -> None:
        self.rel, self.index, self.jobs, self.functions = rel, index, jobs, functions
        self.findings: list[Finding] = []
        self.states = 0

    def error(self, path: Path, message: str, tip: str) -> None:
        line, col = self.index.locate(path)
        self.findings.append(Finding(message, self.rel, line, col, tip=tip))

    def machine(self, data: Any, path: Path, scope: str) -> None:
        """One state machine: the definition, a Parallel branch or a Map's processor."""
        if not isinstance(data, dict):
            self.error(path, f"state machine{scope} must be a JSON object with StartAt and "
                       "States", "write {\"StartAt\": \"First\", \"States\": {\"First\": …}}")
            return
        states = data.get("States")
        if not isinstance(states, dict) or not states:
            self.error((*path, "States"), f"state machine{scope} needs 'States': a non-empty "
                       "object of states by name", "add the states under \"States\"")
            return
        start = data.get("StartAt")
        starts = isinstance(start, str) and start in states
        if not isinstance(start, str):
            self.error((*path, "StartAt"), f"state machine{scope} needs 'StartAt': the name "
                       "of its first state", f"states: {', '.join(states)}")
        elif not starts:
            self.error((*path, "StartAt"), f"StartAt{scope} names no state: {start!r}"
                       + did_you_mean(start, states), f"states: {', '.join(states)}")
        edges: dict[str, list[str]] = {}
        terminal: set[str] = set()
        sound = starts
        for name, state in states.items():
            targets = self.state(name, state, (*path, "States", name), states, scope)
            if targets is None:
                sound = False
                continue
            edges[name] = targets
            if state["Type"] in ("Succeed", "Fail") or state.get("End") is True:
                terminal.add(name)
        if sound and isinstance(start, str):  # paths only make sense once every link holds
            self.liveness(start, edges, terminal, path, scope)

    def state(self, name: str, state: Any, path: Path, states: Mapping[str, Any],
              scope: str) -> list[str] | None:
        """The states this one can go to; None when it is broken (reported)."""
        self.states += 1
        where = f"state {name!r}{scope}"
        if not isinstance(state, dict):
            self.error(path, f"{where} must be a JSON object", "write {\"Type\": \"Pass\", …}")
            return None
        kind = state.get("Type")
        if kind not in STATE_TYPES:
            found = "needs a Type" if kind is None else f"has unknown Type {kind!r}"
            hint = did_you_mean(kind, STATE_TYPES) if isinstance(kind, str) else ""
            self.error((*path, "Type"), f"{where} {found}{hint}",
                       f"Type is one of {', '.join(STATE_TYPES)}")
            return None
        sound = self.fields(kind, state, path, where)
        targets: list[str] = []
        jumps = ("Next", "Default") if kind == "Choice" else ("Next",)
        links: list[tuple[Path, Any]] = [((*path, k), state[k]) for k in jumps if k in state]
        if kind == "Choice":
            links += self.labelled(state, "Choices", path, where)
        links += self.labelled(state, "Catch", path, where)
        for at, target in links:
            if isinstance(target, str) and target in states:
                targets.append(target)
                continue
            sound = False
            shown = repr(target) if isinstance(target, str) else f"a {type(target).__name__}"
            hint = did_you_mean(target, states) if isinstance(target, str) else ""
            self.error(at, f"{where}: {at[-1]} names no state: {shown}{hint}",
                       f"states{scope}: {', '.join(states)}")
        if kind == "Parallel" and isinstance(state.get("Branches"), list):
            for i, branch in enumerate(state["Branches"]):
                self.machine(branch, (*path, "Branches", i), f" (branch {i + 1} of {name!r})")
        elif kind == "Map":
            key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            if isinstance(state.get(key), dict):  # else fields() reported it
                self.machine(state[key], (*path, key), f" (in {key} of {name!r})")
        elif kind == "Task":
            self.task(state, path, where)
        return targets if sound else None

    def labelled(self, state: Mapping[str, Any], key: str, path: Path,
                 where: str) -> list[tuple[Path, Any]]:
        """(path, target) of each ``Next`` in the list ``key`` (Choices, Catch)."""
        out: list[tuple[Path, Any]] = []
        items = state.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and "Next" in item:
                out.append(((*path, key, i, "Next"), item["Next"]))
            else:
                self.error((*path, key, i), f"{where}: {key}[{i}] needs a Next",
                           "name the state to go to with \"Next\"")
        return out

    def fields(self, kind: str, state: Mapping[str, Any], path: Path, where: str) -> bool:
        """Whether the state has the fields its Type requires (and none it forbids)."""
        before = len(self.findings)
        has_next, has_end = "Next" in state, state.get("End") is True
        if kind in _FLOWING and has_next == has_end:
            both = "has both Next and End: true" if has_next else "needs Next or End: true"
            self.error(path, f"{where} {both}", "a state either goes to Next or ends the "
                       "machine (\"End\": true)")
        elif kind not in _FLOWING and (has_next or "End" in state):
            key = "Next" if has_next else "End"
            self.error((*path, key), f"{where}: a {kind} state cannot have {key}",
                       f"remove {key!r}" + (" (use Default or Choices[].Next)"
                                            if kind == "Choice" else ": it ends the machine"))
        if kind in _REQUIRED:
            key, shape, example = _REQUIRED[kind]
            if not (isinstance(state.get(key), shape) and state[key]):
                what = "a string" if shape is str else "a non-empty list"
                self.error(path, f"{where} needs {key}: {what}", f"add {example}")
        if kind == "Wait" and sum(k in state for k in _WAIT_FIELDS) != 1:
            self.error(path, f"{where} needs exactly one of {', '.join(_WAIT_FIELDS)}",
                       "e.g. \"Seconds\": 60")
        if kind == "Map" and not isinstance(state.get("ItemProcessor", state.get("Iterator")),
                                            dict):
            self.error(path, f"{where} needs ItemProcessor (or Iterator): the state machine "
                       "run for each item", "add {\"StartAt\": …, \"States\": {…}}")
        return len(self.findings) == before

    def task(self, state: Mapping[str, Any], path: Path, where: str) -> None:
        """A Glue or Lambda task must name a pyspark or glue job, or a function, of the
        project."""
        ref = _task_ref(state)
        if ref is None:
            return
        at = (*path, *ref.field)
        field = ".".join(str(p) for p in ref.field)
        if ref.value is None:
            self.error(at, f"{where} needs {field}: the {ref.kind} to run",
                       f"add \"{ref.field[-1]}\" to \"{ref.field[0]}\"")
            return
        name = _name(ref)
        if ref.kind == "job":
            runnable = sorted(n for n, t in self.jobs.items() if t in GLUE_RUN_TYPES)
            if name is None:
                self.error(at, f"{where}: {field} {ref.value!r} is not a job name",
                           "write the name of a pyspark or glue job of sluice.yaml")
            elif self.jobs.get(name, "glue") not in GLUE_RUN_TYPES:
                self.error(at, f"{where}: job {name!r} is a {self.jobs[name]} job; only pyspark "
                           "and glue jobs run on Glue",
                           f"pyspark and glue jobs: {', '.join(runnable) or 'none'}")
            elif name not in self.jobs:
                self.error(at, f"{where}: unknown Glue job {name!r}"
                           f"{did_you_mean(name, runnable)}",
                           f"pyspark and glue jobs in sluice.yaml: "
                           f"{', '.join(runnable) or 'none'}")
        elif name is None:
            self.error(at, f"{where}: {field} {ref.value!r} is not a function name or ARN",
                       "write a function of sluice.yaml, by name or as "
                       "arn:aws:lambda:<region>:<account>:function:<name>")
        elif name not in self.functions:
            self.error(at, f"{where}: unknown function {name!r}"
                       + did_you_mean(name, self.functions),
                       f"functions in sluice.yaml: {', '.join(sorted(self.functions)) or 'none'}")

    def liveness(self, start: str, edges: Mapping[str, list[str]], terminal: set[str],
                 path: Path, scope: str) -> None:
        """Every state is reachable from StartAt, and from each some path reaches an end."""
        reached, todo = {start}, [start]
        while todo:
            for target in edges[todo.pop()]:
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        for name in edges:
            if name not in reached:
                self.error((*path, "States", name), f"state {name!r}{scope} is unreachable "
                           f"from StartAt {start!r}", "go to it with Next, Default, Choices "
                           "or Catch from a reachable state, or remove it")
        ends, grew = set(terminal), True
        while grew:
            more = {n for n, targets in edges.items() if n not in ends and ends & set(targets)}
            ends |= more
            grew = bool(more)
        trapped = [n for n in edges if n in reached and n not in ends]
        if trapped:
            names = ", ".join(repr(n) for n in trapped)
            loop = f"states {names}{scope} loop" if trapped[1:] else f"state {names}{scope} loops"
            self.error((*path, "States", trapped[0]), f"{loop} with no way out: none reaches "
                       "End: true, a Succeed or a Fail state",
                       "give the loop an exit: a Choice Default or rule going to a final state")


class AslCheck:
    """Validates each workflow's Amazon States Language definition."""

    kind = "asl"
    description = "Step Functions definitions: structure, transitions, reachability, resources"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None:
            return []
        jobs = {name: job.type for name, job in cfg.jobs.items()}
        runnable = sorted(n for n, t in jobs.items() if t in GLUE_RUN_TYPES)
        functions = sorted(cfg.functions)
        units = []
        for name, workflow in cfg.workflows.items():
            rel = workflow.definition
            text = _read(ctx, rel)
            parsed = _parse(text, ctx.params, rel) if text is not None else None
            tasks = _tasks(parsed[1]) if isinstance(parsed, tuple) else iter(())
            refs = {_name(r) for r in map(_task_ref, tasks) if r is not None}
            units.append(Unit(
                self.kind, name, _runner(ctx, name, rel, jobs, functions),
                files=(rel, CONFIG_FILE),
                nodes=frozenset(n for n in refs if n in {*runnable, *functions}),
                key={"workflow": workflow.model_dump(mode="json"), "jobs": runnable,
                     "functions": functions, "params": ctx.params}))
        return units


def _read(ctx: CheckContext, rel: str) -> str | None:
    try:
        return (ctx.root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _parse(text: str, params: Mapping[str, str], rel: str) -> tuple[str, Any] | Finding:
    """The definition with ``${param}`` substituted and its JSON, or why there are none."""
    try:
        text = substitute(text, params, where=rel)
    except ConfigError as exc:
        # The message starts with where:line:column (see substitution.substitute).
        at = re.match(re.escape(rel) + r":(\d+):(\d+): (.*)", exc.message, re.S)
        if at:
            return Finding(at[3], rel, int(at[1]), int(at[2]), tip=exc.tip or "")
        return Finding(exc.message, rel, tip=exc.tip or "")
    try:
        return text, json.loads(text)
    except json.JSONDecodeError as exc:
        return Finding(f"not valid JSON: {exc.msg}", rel, exc.lineno, exc.colno,
                       tip="fix the JSON syntax (a trailing comma or a missing quote is common)")


def _runner(ctx: CheckContext, name: str, rel: str, jobs: Mapping[str, str],
            functions: Collection[str]) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        text = _read(ctx, rel)
        if text is None:
            where, line, col = ctx.locate("workflows", name, "definition")
            return findings_outcome([Finding(
                f"workflow {name!r}: cannot read {rel!r} (missing, or not UTF-8 text)", where,
                line, col, tip="fix the definition path in sluice.yaml or create the file")])
        parsed = _parse(text, ctx.params, rel)
        if isinstance(parsed, Finding):
            return findings_outcome([parsed])
        check = _Validator(rel, JsonIndex(parsed[0]), jobs, functions)
        check.machine(parsed[1], (), "")
        count = check.states
        return findings_outcome(check.findings, f"{count} state{'s' * (count != 1)} checked")

    return run
