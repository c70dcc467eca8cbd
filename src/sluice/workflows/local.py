"""A project's workflow run on the local target: its Task states resolved to the project.

- ``glue:startJobRun`` (``.sync`` or not) naming a pyspark or glue job runs that job in the
  environment with write-audit-publish (a deployment of kind ``run`` of that job alone);
- ``lambda:invoke`` and function ARNs or names run the project's handler
  (:mod:`sluice.workflows.functions`);
- ``states:startExecution`` (``.sync``, ``.sync:2`` or not) naming a project workflow runs it
  as a nested execution;
- anything else is answered by the workflow's ``mocks`` (by state name or resource), or fails
  naming the resource.

``s3:getObject``/``s3:listObjectsV2`` of a distributed Map's ItemReader and a ResultWriter's
writes use the environment's object store (the bucket is ignored; keys are paths in it).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sluice.config import ProjectConfig, substitute
from sluice.errors import SluiceError
from sluice.workflows.clock import Clock, iso
from sluice.workflows.errors import StatesError
from sluice.workflows.functions import FunctionPool, FunctionSpec, Invocation
from sluice.workflows.interpreter import Execution, run_definition
from sluice.workflows.resources import (
    GLUE_RUN,
    GLUE_RUN_TYPES,
    LAMBDA_INVOKE,
    Mocks,
    TaskCall,
    unmocked,
)

_FUNCTION_ARN = re.compile(
    r"(arn:aws[\w-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?"
    r"(?P<name>[A-Za-z0-9_-]+)(:(?P<qualifier>[^:]+))?")
_START = re.compile(r"arn:aws[\w-]*:states:::states:startExecution(?P<sync>\.sync(:2)?)?")
_MACHINE = re.compile(r"(arn:aws[\w-]*:states:[a-z0-9-]+:\d{12}:stateMachine:)?(?P<name>[^:]+)")
MAX_DEPTH = 8  # nested executions


@dataclass
class Project:
    """What the run resolves names against: the release live in the environment."""

    config: ProjectConfig
    release_dir: Path
    env: str
    objects: Path
    #: runs job ``name`` with write-audit-publish; raises SluiceError when it fails
    run_job: Callable[[str], Mapping[str, Any]]

    def resource_names(self, name: str) -> list[str]:
        """A component's names: the project's and the one it has on AWS."""
        return [name, f"{self.config.project}-{self.env}-{name}".replace("_", "-")[:64]]

    def component(self, value: str, names: Mapping[str, Any]) -> str | None:
        for name in names:
            if value in self.resource_names(name):
                return name
        return None


class ProjectResources:
    """Resolves a Task's resource to the project's jobs, functions and workflows."""

    def __init__(self, project: Project, clock: Clock, *, depth: int = 0,
                 pool_size: int = 10) -> None:
        self.project, self.clock, self.depth = project, clock, depth
        self.pool_size = pool_size
        self._pools: dict[str, FunctionPool] = {}
        self._roots: list[Any] = []  # temporary folders of one-file functions
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ tasks
    def invoke(self, call: TaskCall) -> Any:
        resource = call.resource
        args = call.arguments if isinstance(call.arguments, dict) else {}
        glue = GLUE_RUN.fullmatch(resource)
        if glue:
            return self._glue(call, args, sync=bool(glue[1]))
        if LAMBDA_INVOKE.fullmatch(resource):
            return self._lambda(call, args)
        if ":lambda:" in resource:
            function = self._function(resource)
            if function is not None:
                answer = self.invocation(function, call.arguments, call.timeout)
                if answer.error is not None:
                    raise _function_error(answer)
                return answer.payload
        start = _START.fullmatch(resource)
        if start:
            return self._nested(call, args, start["sync"] or "")
        raise unmocked(call)

    def _glue(self, call: TaskCall, args: Mapping[str, Any], *, sync: bool) -> Any:
        name = self.project.component(str(args.get("JobName", "")), self.project.config.jobs)
        if name is None or self.project.config.jobs[name].type not in GLUE_RUN_TYPES:
            raise unmocked(call)
        run_id = f"jr_{uuid.uuid4().hex}"
        started = self.clock.now()
        try:
            self.project.run_job(name)
        except SluiceError as exc:
            raise StatesError("States.TaskFailed", json.dumps({
                "Id": run_id, "JobName": args["JobName"], "JobRunState": "FAILED",
                "ErrorMessage": exc.message})) from None
        if not sync:
            return {"JobRunId": run_id}
        ended = self.clock.now()
        return {"Id": run_id, "JobName": args["JobName"], "JobRunState": "SUCCEEDED",
                "Attempt": 0, "StartedOn": iso(started), "CompletedOn": iso(ended),
                "ExecutionTime": int((ended - started).total_seconds()),
                "Arguments": args.get("Arguments", {})}

    def _lambda(self, call: TaskCall, args: Mapping[str, Any]) -> Any:
        function = self._function(str(args.get("FunctionName", "")))
        if function is None:
            raise unmocked(call)
        payload = args.get("Payload")
        if isinstance(payload, str) and args.get("Payload") is not None:
            with contextlib.suppress(json.JSONDecodeError):
                payload = json.loads(payload)
        answer = self.invocation(function, payload, call.timeout)
        if answer.error is not None:
            raise _function_error(answer)
        return {"ExecutedVersion": "$LATEST", "Payload": answer.payload, "StatusCode": 200,
                "SdkHttpMetadata": {"HttpStatusCode": 200},
                "SdkResponseMetadata": {"RequestId": answer.request_id}}

    def _function(self, value: str) -> str | None:
        found = _FUNCTION_ARN.fullmatch(value)
        if found is None:
            return None
        return self.project.component(found["name"], self.project.config.functions)

    def invocation(self, function: str, event: Any, timeout: float | None = None) -> Invocation:
        """One invocation of the project's function ``function`` (warm processes reused)."""
        with self._lock:
            pool = self._pools.get(function)
            if pool is None:
                pool = self._pools[function] = FunctionPool(self.spec(function),
                                                            self.pool_size)
        return pool.invoke(event, timeout=timeout)

    def spec(self, function: str) -> FunctionSpec:
        fn = self.project.config.functions[function]
        code = (self.project.release_dir / fn.code).resolve()
        if not code.is_relative_to(self.project.release_dir.resolve()):
            raise SluiceError(f"function {function}: its code {fn.code} is outside the release")
        params = {**self.project.config.environment(self.project.env).parameters,
                  "env": self.project.env, "project": self.project.config.project}
        environment = {k: substitute(v, params, where=f"functions.{function}.environment")
                       for k, v in fn.environment.items()}
        if code.is_dir():
            root = code
        else:  # Lambda's package of a one-file function holds that file alone: so does this
            import shutil
            import tempfile

            holder = tempfile.TemporaryDirectory(prefix=f"sluice-fn-{function}-")
            self._roots.append(holder)
            root = Path(holder.name)
            shutil.copy2(code, root / code.name)
        return FunctionSpec(function, root, fn.handler, environment, float(fn.timeout),
                            fn.memory)

    def _nested(self, call: TaskCall, args: Mapping[str, Any], sync: str) -> Any:
        target = _MACHINE.fullmatch(str(args.get("StateMachineArn", "")))
        name = self.project.component(target["name"], self.project.config.workflows) \
            if target else None
        if name is None:
            raise unmocked(call)
        if self.depth >= MAX_DEPTH:
            raise StatesError("States.Runtime", f"workflows nest deeper than {MAX_DEPTH}")
        given = args.get("Input", {})
        if isinstance(given, str):
            with contextlib.suppress(json.JSONDecodeError):
                given = json.loads(given)
        started = self.clock.now()
        inner = ProjectResources(self.project, self.clock, depth=self.depth + 1,
                                 pool_size=self.pool_size)
        inner._pools = self._pools  # one set of warm functions per run
        done = run_workflow_definition(self.project, name, given, inner, self.clock,
                                       execution_name=str(args.get("Name") or uuid.uuid4()))
        arn = f"arn:aws:states:us-east-1:123456789012:execution:{name}:{uuid.uuid4()}"
        if not sync:
            return {"ExecutionArn": arn, "StartDate": iso(started)}
        described = {"ExecutionArn": arn, "Input": json.dumps(given), "Name": name,
                     "StartDate": iso(started), "StopDate": iso(self.clock.now()),
                     "StateMachineArn": f"arn:aws:states:us-east-1:123456789012:"
                                        f"stateMachine:{name}", "Status": done.status}
        if done.status != "SUCCEEDED":
            raise StatesError("States.TaskFailed", json.dumps(
                {**described, "Error": done.error, "Cause": done.cause}))
        described["Output"] = done.output if sync == ".sync:2" else json.dumps(done.output)
        return described

    # ------------------------------------------------------------------ objects
    def _object(self, key: str) -> Path:
        root = self.project.objects.resolve()
        try:
            path = (root / key.lstrip("/")).resolve()
        except (ValueError, OSError) as exc:  # a NUL byte, a name the file system refuses
            raise StatesError("S3.InvalidKey", f"key {key!r} is not a usable name: {exc}") \
                from None
        if path == root or not path.is_relative_to(root):
            raise StatesError("S3.AccessDenied", f"key {key!r} leaves the environment's "
                                                 "object store")
        return path

    def read_object(self, bucket: str, key: str) -> bytes:
        path = self._object(key)
        if not path.is_file():
            raise StatesError("S3.NoSuchKey", f"no object {key} in {self.project.env}'s "
                                              f"object store ({self.project.objects})")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise StatesError("S3.AccessDenied", f"cannot read {key}: {exc}") from None

    def list_objects(self, bucket: str, prefix: str) -> list[dict[str, Any]]:
        root = self.project.objects.resolve()
        out = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            key = path.relative_to(root).as_posix()
            if key.startswith(prefix):
                stat = path.stat()
                out.append({"Key": key, "Size": stat.st_size, "StorageClass": "STANDARD",
                            "Etag": f"\"{uuid.uuid5(uuid.NAMESPACE_URL, key).hex}\"",
                            "LastModified": iso(datetime.fromtimestamp(stat.st_mtime, UTC))})
        return out

    def write_object(self, bucket: str, key: str, data: bytes) -> None:
        path = self._object(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:  # a key that is a folder, or under a file
            raise StatesError("S3.InvalidKey", f"cannot write {key}: {exc}") from None

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        for holder in self._roots:
            holder.cleanup()
        self._roots.clear()


def _function_error(answer: Invocation) -> StatesError:
    """A function's error as Step Functions reports it: its errorType, the payload as cause."""
    error = answer.error or {}
    return StatesError(str(error.get("errorType", "Lambda.Unknown")), json.dumps(error))


def run_workflow_definition(project: Project, name: str, execution_input: Any,
                            resources: ProjectResources, clock: Clock, *,
                            execution_name: str | None = None) -> Execution:
    """Run the project's workflow ``name`` (definition as deployed: substitutions and
    parameters filled in, validated) with its mocks in front of the project's resources."""
    from sluice.workflows.definition import executable, load_definition, values

    cfg = project.config
    workflow = cfg.workflows[name]
    params = values(workflow, {**cfg.environment(project.env).parameters, "env": project.env,
                               "project": cfg.project}, name)
    raw = (project.release_dir / workflow.definition).read_text(encoding="utf-8")
    loaded = load_definition(raw, params, where=workflow.definition,
                             defined_in=f"workflows.{name}.substitutions or the environment's "
                                        "parameters in sluice.yaml")
    definition = executable(loaded, workflow.definition)
    mocks = Mocks({key: [a.to_answer() for a in answers]
                   for key, answers in workflow.mocks.items()}, fallback=resources)
    return run_definition(definition, execution_input, resources=mocks, clock=clock,
                          name=name, execution_name=execution_name)
