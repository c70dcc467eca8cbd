"""``sluice check`` kind ``asl``: Step Functions definitions (Amazon States Language).

One unit per workflow. Its definition gets its ``substitutions`` and the first environment's
parameters filled in (:mod:`sluice.workflows.definition`), then is validated as AWS's
``ValidateStateMachineDefinition`` does (:mod:`sluice.workflows.validate`): each finding at
its file:line:column with AWS's code. Glue and Lambda tasks that name a project component
must name one that runs there (a pyspark or glue job, a function); a full ARN, a qualified
name or a name under the workflow's ``external`` is another's and accepted, and an unknown
plain name is a warning (AWS accepts it; the local runner would need a mock).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.model import Finding
from sluice.config import CONFIG_FILE
from sluice.config.base import did_you_mean
from sluice.errors import ConfigError
from sluice.workflows.definition import Definition, load_definition, values
from sluice.workflows.positions import JsonIndex
from sluice.workflows.resources import GLUE_RUN, GLUE_RUN_TYPES, LAMBDA_INVOKE
from sluice.workflows.validate import Diagnostic, validate_document

_DEFINED_IN = "the environment's parameters or workflows.{}.substitutions in sluice.yaml"

_LAMBDA_RESOURCE = re.compile(r"arn:[^:]*:lambda:")
_LAMBDA_ARN = re.compile(  # arn:aws:lambda:<region>:<account>:function:<name>[:<alias>]
    r"arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:(?P<name>[^:]+)(:[^:]+)?")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")
_PARTIAL_ARN = re.compile(r"(\d{12}:function:)?(?P<name>[A-Za-z0-9_-]+)(:[^:]+)?")
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
    glue = GLUE_RUN.fullmatch(resource)
    if not glue and not LAMBDA_INVOKE.fullmatch(resource):
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
    """The component name in a reference (a function's without its ARN parts or qualifier),
    or None when it has no valid form."""
    if not isinstance(ref.value, str):
        return None
    if ref.kind == "function":
        arn = _LAMBDA_ARN.fullmatch(ref.value) or _PARTIAL_ARN.fullmatch(ref.value)
        return arn.group("name") if arn else None
    return ref.value if _PLAIN_NAME.fullmatch(ref.value) else None


def _qualified(ref: _Ref) -> bool:
    """Whether a function reference says more than a name (an ARN, an account, a qualifier):
    one the project does not have is another's, which AWS resolves."""
    return ref.kind == "function" and isinstance(ref.value, str) and ":" in ref.value


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
    """The findings of one definition: AWS's validation, then the project's components."""

    def __init__(self, rel: str, text: str, jobs: Mapping[str, str],
                 functions: Collection[str], external: Collection[str]) -> None:
        self.rel, self.text, self.jobs, self.functions = rel, text, jobs, functions
        self._index: JsonIndex | None = None
        self.external = external
        self.findings: list[Finding] = []

    @property
    def index(self) -> JsonIndex:
        """Positions in the text, read once a finding needs one (valid JSON only)."""
        if self._index is None:
            self._index = JsonIndex(self.text)
        return self._index

    def finding(self, d: Diagnostic) -> None:
        line, col = (d.line, d.col) if d.line else self.index.locate(d.path, d.offset)
        self.findings.append(Finding(d.message, self.rel, line, col,
                                     severity="error" if d.severity == "ERROR" else "warning",
                                     code=d.code, tip=d.tip))

    def error(self, path: Path, message: str, tip: str, *, warning: bool = False) -> None:
        self.finding(Diagnostic("", message, path, tip, "WARNING" if warning else "ERROR"))

    def components(self, data: Any, path: Path = (), where: str = "") -> None:
        """Every Glue or Lambda task that names a project component names one that can run."""
        if isinstance(data, list):
            for i, item in enumerate(data):
                self.components(item, (*path, i), where)
            return
        if not isinstance(data, dict):
            return
        if path[-2:-1] == ("States",):
            where = f"state {path[-1]!r}"
        if data.get("Type") == "Task":
            self.task(data, path, where)
        for key, value in data.items():
            self.components(value, (*path, key), where)

    def task(self, state: Mapping[str, Any], path: Path, where: str) -> None:
        """A Glue or Lambda task names a pyspark or glue job or a function of the project; a
        full ARN, a qualified name or a name listed under ``external`` is another's."""
        ref = _task_ref(state)
        if ref is None or ref.value in self.external:
            return
        at = (*path, *ref.field)
        field = ".".join(str(p) for p in ref.field)
        if ref.value is None:
            self.error(at, f"{where} needs {field}: the {ref.kind} to run",
                       f"add \"{ref.field[-1]}\" to \"{ref.field[0]}\"")
            return
        name = _name(ref)
        if _qualified(ref) and name not in self.functions:
            return  # another account's or another stack's function: AWS resolves it
        external = f"or list it under workflows.<name>.external in {CONFIG_FILE}"
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
                self.error(at, f"{where}: Glue job {name!r} is not a job of this project"
                           f"{did_you_mean(name, runnable)}",
                           f"pyspark and glue jobs in sluice.yaml: "
                           f"{', '.join(runnable) or 'none'}; if it is another's, {external}",
                           warning=True)
        elif name is None:
            self.error(at, f"{where}: {field} {ref.value!r} is not a function name or ARN",
                       "write a function of sluice.yaml, by name or as "
                       "arn:aws:lambda:<region>:<account>:function:<name>")
        elif name not in self.functions:
            self.error(at, f"{where}: function {name!r} is not a function of this project"
                       + did_you_mean(name, self.functions),
                       f"functions in sluice.yaml: {', '.join(sorted(self.functions)) or 'none'}"
                       f"; if it is another's, {external}", warning=True)


class AslCheck:
    """Validates each workflow's Amazon States Language definition."""

    kind = "asl"
    description = ("Step Functions definitions as AWS validates them, and the jobs and "
                   "functions their tasks run")

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
            loaded = _load(ctx, name, text, rel) if text is not None else None
            tasks = _tasks(loaded.data) if isinstance(loaded, Definition) else iter(())
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


def _load(ctx: CheckContext, name: str, text: str, rel: str) -> Definition | Finding:
    """The definition with its placeholders filled (see :mod:`sluice.workflows.definition`),
    or the finding that keeps it from being read."""
    cfg = ctx.config
    try:
        params = values(cfg.workflows[name], ctx.params, name) if cfg else dict(ctx.params)
        return load_definition(text, params, where=rel, defined_in=_DEFINED_IN.format(name))
    except ConfigError as exc:
        # The message starts with where:line:column (see substitution.substitute).
        at = re.match(r"(.*?):(\d+):(\d+): (.*)", exc.message, re.S)
        if at:
            return Finding(at[4], at[1], int(at[2]), int(at[3]), tip=exc.tip or "")
        return Finding(exc.message, rel, tip=exc.tip or "")


def _runner(ctx: CheckContext, name: str, rel: str, jobs: Mapping[str, str],
            functions: Collection[str]) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        text = _read(ctx, rel)
        if text is None:
            where, line, col = ctx.locate("workflows", name, "definition")
            return findings_outcome([Finding(
                f"workflow {name!r}: cannot read {rel!r} (missing, or not UTF-8 text)", where,
                line, col, tip="fix the definition path in sluice.yaml or create the file")])
        loaded = _load(ctx, name, text, rel)
        if isinstance(loaded, Finding):
            return findings_outcome([loaded])
        workflow = ctx.config.workflows[name] if ctx.config else None
        check = _Validator(rel, loaded.text, jobs, functions,
                           workflow.external if workflow else ())
        for problem in loaded.problems:
            check.finding(problem)
        if loaded.data is None:
            return findings_outcome(check.findings)
        problems, count = validate_document(loaded.data)
        unfilled = {p.path for p in loaded.problems}  # a placeholder left: say that only
        for problem in problems:
            if problem.path not in unfilled:
                check.finding(problem)
        check.components(loaded.data)
        return findings_outcome(check.findings, f"{count} state{'s' * (count != 1)} checked")

    return run
