"""The components of a release on AWS besides data: CloudFormation stacks, Glue jobs (one per
``pyspark`` or ``glue`` job), Lambda functions and Step Functions workflows.

Resources are named ``<project>-<env>-<name>``. ``plan`` only reads (stacks: a change set,
which is what a stack plan is); ``apply`` deploys stacks one after another first (they may
create what the rest uses), then Glue jobs and functions side by side, then workflows, each
kind on a bounded thread pool (botocore's adaptive retries absorb throttling). A component
that did not change makes no write call. Each deployed component is journaled with the
version it replaced, so a failed deploy and ``sluice rollback`` can move aliases back.

In a workflow's definition, a Glue ``startJobRun`` task may name a project job and a Lambda
task a project function by their names in ``sluice.yaml``; they are resolved to the
environment's resources (``JobName`` → the Glue job, ``FunctionName`` → the function's
``live`` alias).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sluice.config import GlueJob, ProjectConfig, PySparkJob, qualify, substitute
from sluice.errors import ConfigError, ReleaseError
from sluice.release.zips import zip_tree
from sluice.stacks import packaged_template_paths
from sluice.targets.aws import (
    assets,
    crawlers,
    events,
    functions,
    glue_arguments,
    gluejobs,
    stacks,
    workflows,
)
from sluice.targets.aws.session import aws_errors

if TYPE_CHECKING:
    from sluice.targets.aws.target import AwsTarget

WORKERS = 8
Journal = Callable[[str, dict[str, Any]], object]


@dataclass
class ComponentChange:
    kind: str  # stack | glue_job | function | workflow
    name: str  # as in sluice.yaml
    resource: str  # the AWS name
    action: str  # create | update | none
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def package(code: Path) -> bytes:
    """A deterministic zip of a file or folder (:func:`sluice.release.zips.zip_tree`), so
    unchanged code has the same CodeSha256 and makes no Lambda write."""
    return zip_tree(code)


def public_parameters(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters that may be shown to AWS (Glue job arguments are readable by anyone with
    glue:GetJob, and land in CloudTrail): secret-looking names stay out; read secrets from
    Secrets Manager in the job instead."""
    from sluice.state.redact import SECRET_KEY_PATTERN

    return {k: v for k, v in sorted(params.items()) if not SECRET_KEY_PATTERN.search(k)}


def _substitute_strings(node: Any, params: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return substitute(node, params, where=where)
    if isinstance(node, list):
        return [_substitute_strings(v, params, where) for v in node]
    if isinstance(node, dict):
        return {k: _substitute_strings(v, params, where) for k, v in node.items()}
    return node


class AwsComponents:
    def __init__(self, target: AwsTarget, execution_role: str | None,
                 workers: int = WORKERS) -> None:
        self.target, self.aws = target, target.aws
        self.execution_role, self.workers = execution_role, workers

    # ------------------------------------------------------------------ naming
    def resource(self, cfg: ProjectConfig, name: str) -> str:
        return f"{cfg.project}-{self.target.env}-{name}".replace("_", "-")[:64]

    def _role(self, own: str | None, what: str) -> str:
        role = own or self.execution_role
        if not role:
            raise ConfigError(f"{what} needs an IAM role to run as",
                              tip="set `execution_role:` in the environment's aws target, or "
                                  "`role:` on the component")
        return role

    # ------------------------------------------------------------------ specs
    def glue_specs(self, cfg: ProjectConfig, release_dir: Path) -> dict[str, gluejobs.GlueJobSpec]:
        return {name: self.glue_spec(cfg, release_dir, name)
                for name, job in sorted(cfg.jobs.items())
                if isinstance(job, PySparkJob | GlueJob)}

    def glue_spec(self, cfg: ProjectConfig, release_dir: Path,
                  name: str) -> gluejobs.GlueJobSpec:
        """The Glue job of one PySpark job (through the launcher) or glue job (as written)."""
        job = cfg.jobs[name]
        if isinstance(job, GlueJob):
            return self._glue_script_spec(cfg, release_dir, name, job)
        assert isinstance(job, PySparkJob)
        params = public_parameters(cfg.environment(self.target.env).parameters)
        args = {"--sluice-job": name, **{f"--{k}": v for k, v in params.items()},
                **dict(job.glue.arguments)}
        return gluejobs.GlueJobSpec(
            name=self.resource(cfg, name), script=(release_dir / job.script).read_bytes(),
            script_name=Path(job.script).name,
            role_arn=self._role(job.glue.role, f"job {name}"),
            glue_version=job.glue.glue_version, worker_type=job.glue.worker_type,
            workers=job.glue.workers, arguments=args, description=f"sluice job {name}")

    def _glue_script_spec(self, cfg: ProjectConfig, release_dir: Path, name: str,
                          job: GlueJob) -> gluejobs.GlueJobSpec:
        """A glue job: its script is the job's ScriptLocation, its version-free arguments
        the DefaultArguments (no sluice argument: the script parses them itself)."""
        glue_arguments.check_outputs(cfg, name, release_dir)
        glue_arguments.refuse_secrets(name, job.arguments, release_dir)
        args = glue_arguments.default_arguments(cfg, name, self.target.objects_url())
        return gluejobs.GlueJobSpec(
            name=self.resource(cfg, name), script=(release_dir / job.script).read_bytes(),
            script_name=Path(job.script).name,
            role_arn=self._role(job.glue.role, f"job {name}"),
            glue_version=job.glue.version, worker_type=job.glue.worker_type,
            workers=job.glue.workers, arguments=args, description=f"sluice glue job {name}",
            launcher=False)

    def source_prefix(self, cfg: ProjectConfig, source: str, what: str) -> str:
        """The S3 key prefix under which a file source's files land (for crawlers and
        triggers): the source path up to its first wildcard."""
        spec = cfg.sources.get(qualify(source))
        if spec is None or spec.path is None:
            raise ConfigError(f"{what}: {source!r} is not a file source",
                              tip="name sources that have a path")
        folder = re.split(r"[*?\[]", spec.path, maxsplit=1)[0]
        return f"{self.target.root}/objects/{folder}"

    def function_specs(self, cfg: ProjectConfig,
                       release_dir: Path) -> dict[str, functions.FunctionSpec]:
        return {name: functions.FunctionSpec(
            name=self.resource(cfg, name), zip_bytes=package(release_dir / fn.code),
            handler=fn.handler, runtime=fn.runtime,
            role_arn=self._role(fn.role, f"function {name}"),
            environment=dict(fn.environment), timeout=fn.timeout, memory=fn.memory)
            for name, fn in sorted(cfg.functions.items())}

    def definition(self, cfg: ProjectConfig, release_dir: Path, name: str) -> str:
        """The workflow's ASL with its ``substitutions`` and ``${param}`` filled in (as the
        check fills them: :mod:`sluice.workflows.definition`) and project names resolved."""
        from sluice.workflows.definition import executable, load_definition, values

        wf = cfg.workflows[name]
        params = values(wf, {**cfg.environment(self.target.env).parameters,
                             "env": self.target.env, "project": cfg.project}, name)
        raw = (release_dir / wf.definition).read_text(encoding="utf-8")
        loaded = load_definition(raw, params, where=wf.definition,
                                 defined_in=f"workflows.{name}.substitutions or the "
                                            "environment's parameters in sluice.yaml")
        data = executable(loaded, wf.definition)
        jobs = {j for j, spec in cfg.jobs.items() if isinstance(spec, PySparkJob | GlueJob)}
        self._resolve(data, cfg, jobs, set(cfg.functions))
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    def _resolve(self, node: Any, cfg: ProjectConfig, jobs: set[str], fns: set[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._resolve(item, cfg, jobs, fns)
            return
        if not isinstance(node, dict):
            return
        if node.get("Type") == "Task" and isinstance(node.get("Resource"), str):
            for section in ("Parameters", "Arguments"):
                args = node.get(section)
                if not isinstance(args, dict):
                    continue
                if "glue:startJobRun" in node["Resource"] and args.get("JobName") in jobs:
                    args["JobName"] = self.resource(cfg, args["JobName"])
                if ":lambda:invoke" in node["Resource"] and args.get("FunctionName") in fns:
                    args["FunctionName"] = f"{self.resource(cfg, args['FunctionName'])}:" \
                                           f"{functions.ALIAS}"
        for value in node.values():
            self._resolve(value, cfg, jobs, fns)

    def crawler_specs(self, cfg: ProjectConfig) -> dict[str, crawlers.CrawlerSpec]:
        out = {}
        for name, cr in sorted(cfg.crawlers.items()):
            paths = [f"s3://{self.target.bucket}/"
                     f"{self.source_prefix(cfg, source, f'crawler {name}')}"
                     for source in cr.sources]
            out[name] = crawlers.CrawlerSpec(
                name=self.resource(cfg, name), role_arn=self._role(cr.role, f"crawler {name}"),
                database=self.target.glue.database_prefix + cr.database,
                paths=tuple(paths), schedule=cr.schedule, description=cr.description or "")
        return out

    def _template_store(self) -> stacks.TemplateStore:
        return stacks.TemplateStore(self.target.bucket, self.target.prefix,
                                    self.aws.settings.region, self.target.encryption())

    def stack_template(self, cfg: ProjectConfig, release_dir: Path, name: str) -> str:
        """The template the stack deploys: the release's packaged one (its artifacts
        uploaded to the bucket, their locations filled in), else the template as written."""
        for rel in packaged_template_paths(name):
            if (release_dir / rel).is_file():
                self.target.ensure_bucket()  # a plan too: the change set reads the artifacts
                return assets.Assets(self.aws, self._template_store(), release_dir).resolve(
                    (release_dir / rel).read_text(encoding="utf-8"))
        st = cfg.stacks[name]
        if st.template is None:
            raise ReleaseError(f"stack {name}: the release holds no synthesised template of "
                               "its CDK app (it was built by an older sluice?)",
                               tip="build a new release with `sluice release`")
        return (release_dir / st.template).read_text(encoding="utf-8")

    def _stack_plan(self, cfg: ProjectConfig, release_dir: Path, name: str) -> stacks.StackPlan:
        st = cfg.stacks[name]
        return stacks.plan_stack(self.aws, self.resource(cfg, name),
                                 self.stack_template(cfg, release_dir, name),
                                 {k: str(v) for k, v in st.parameters.items()},
                                 rollback_alarms=st.rollback_alarms,
                                 monitoring_minutes=st.monitoring_minutes,
                                 tags={"sluice:project": cfg.project,
                                       "sluice:env": self.target.env},
                                 role_arn=st.role, store=self._template_store())

    # ------------------------------------------------------------------ plan
    def plan(self, cfg: ProjectConfig, release_dir: Path) -> list[ComponentChange]:
        """What a deploy of this release would change (reads only; stacks: change sets)."""
        changes: list[ComponentChange] = []
        for name in sorted(cfg.stacks):
            if stacks.failed_create(self.aws, self.resource(cfg, name)):
                changes.append(ComponentChange("stack", name, self.resource(cfg, name), "create",
                                               ["its first creation failed: the deploy deletes "
                                                "it and creates it again"]))
                continue
            p = self._stack_plan(cfg, release_dir, name)
            action = "none" if p.empty else p.kind.lower()
            changes.append(ComponentChange("stack", name, p.stack, action, [
                f"{c.action} {c.logical_id} ({c.resource_type})"
                + (f" replacement={c.replacement}" if c.replacement else "")
                for c in p.changes]))
            if p.change_set:  # a plan leaves nothing behind
                cfn = self.aws.client("cloudformation")
                with aws_errors(f"drop the planning change set of {p.stack}"):
                    cfn.delete_change_set(ChangeSetName=p.change_set, StackName=p.stack)
                    if p.kind == "CREATE":  # the empty REVIEW_IN_PROGRESS stack it made
                        cfn.delete_stack(StackName=p.stack)

        def glue(item: tuple[str, gluejobs.GlueJobSpec]) -> ComponentChange:
            name, spec = item
            return ComponentChange("glue_job", name, spec.name, gluejobs.planned(
                self.aws, self.target.bucket, self.target.prefix, spec))

        def fn(item: tuple[str, functions.FunctionSpec]) -> ComponentChange:
            name, spec = item
            return ComponentChange("function", name, spec.name, functions.planned(self.aws, spec))

        def crawl(item: tuple[str, crawlers.CrawlerSpec]) -> ComponentChange:
            name, spec = item
            return ComponentChange("crawler", name, spec.name, crawlers.planned(self.aws, spec))

        def wf(name: str) -> ComponentChange:
            resource = self.resource(cfg, name)
            role = self._role(cfg.workflows[name].role, f"workflow {name}")
            return ComponentChange("workflow", name, resource, workflows.planned(
                self.aws, resource, self.definition(cfg, release_dir, name), role))

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            changes += pool.map(glue, self.glue_specs(cfg, release_dir).items())
            changes += pool.map(fn, self.function_specs(cfg, release_dir).items())
            changes += pool.map(crawl, self.crawler_specs(cfg).items())
            changes += pool.map(wf, sorted(cfg.workflows))
        return changes

    # ------------------------------------------------------------------ apply
    def apply(self, cfg: ProjectConfig, release_dir: Path, journal: Journal,
              on_event: Callable[[str], None] = lambda line: None) -> list[ComponentChange]:
        """Deploy every component; journal each one as it lands."""
        done: list[ComponentChange] = []
        self.target.ensure_bucket()
        for name in sorted(cfg.stacks):
            if stacks.failed_create(self.aws, self.resource(cfg, name)):
                stacks.delete_failed_create(self.aws, self.resource(cfg, name))
            p = self._stack_plan(cfg, release_dir, name)
            if not p.empty:
                def event(e: stacks.StackEvent, stack: str = p.stack) -> None:
                    on_event(f"{stack}: {e.logical_id} {e.status} {e.reason}".rstrip())

                stacks.apply_stack(self.aws, p, on_event=event)
            change = ComponentChange("stack", name, p.stack, "none" if p.empty else
                                     p.kind.lower())
            journal(f"component:stack:{name}", {"changed": not p.empty})
            done.append(change)
        extra = self.target.encryption()
        Landed = tuple[ComponentChange, str, dict[str, Any]]

        def glue(item: tuple[str, gluejobs.GlueJobSpec]) -> Landed:
            name, spec = item
            got = gluejobs.deploy_glue_job(self.aws, self.target.bucket, self.target.prefix,
                                           spec, extra)
            return (ComponentChange("glue_job", name, spec.name,
                                    "update" if got.changed else "none"),
                    f"component:glue_job:{name}",
                    {"changed": got.changed, "script": got.script_location})

        def fn(item: tuple[str, functions.FunctionSpec]) -> Landed:
            name, spec = item
            fc = cfg.functions[name]
            got = functions.deploy_function(
                self.aws, spec, shift=functions.Shift(fc.shift.kind, fc.shift.percent,
                                                      fc.shift.minutes), alarms=fc.alarms)
            return (ComponentChange("function", name, spec.name,
                                    "update" if got.changed else "none"),
                    f"component:function:{name}",
                    {"changed": got.changed, "resource": spec.name, "version": got.version,
                     "previous": got.previous_version})

        def crawl(item: tuple[str, crawlers.CrawlerSpec]) -> Landed:
            name, spec = item
            changed = crawlers.deploy_crawler(self.aws, spec)
            return (ComponentChange("crawler", name, spec.name,
                                    "update" if changed else "none"),
                    f"component:crawler:{name}", {"changed": changed})

        def wf(name: str) -> Landed:
            resource = self.resource(cfg, name)
            got = workflows.deploy_workflow(
                self.aws, resource, self.definition(cfg, release_dir, name),
                self._role(cfg.workflows[name].role, f"workflow {name}"),
                description=f"release {release_dir.name}")
            for source in cfg.workflows[name].triggers:
                self._trigger(cfg, name, source, got.alias_arn)
            return (ComponentChange("workflow", name, resource,
                                    "update" if got.changed else "none"),
                    f"component:workflow:{name}",
                    {"changed": got.changed, "arn": got.arn, "alias": got.alias_arn,
                     "version": got.version_arn, "previous": got.previous_version_arn})

        glue_specs = self.glue_specs(cfg, release_dir)
        function_specs = self.function_specs(cfg, release_dir)
        crawler_specs = self.crawler_specs(cfg)
        if any(spec.launcher for spec in glue_specs.values()):
            gluejobs.upload_launcher(self.aws, self.target.bucket, self.target.prefix, extra)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            done += self._journal([pool.submit(glue, i) for i in glue_specs.items()]
                                  + [pool.submit(fn, i) for i in function_specs.items()]
                                  + [pool.submit(crawl, i) for i in crawler_specs.items()],
                                  journal)
            # workflows last: they run the jobs and functions
            done += self._journal([pool.submit(wf, n) for n in sorted(cfg.workflows)], journal)
        return done

    def _trigger(self, cfg: ProjectConfig, workflow: str, source: str, alias_arn: str) -> None:
        """Start the workflow (its live alias) when files land under the source's prefix."""
        events.ensure_source_trigger(
            self.aws, name=f"{self.resource(cfg, workflow)}-{source}".replace(".", "-")[:64],
            bucket=self.target.bucket,
            prefix=self.source_prefix(cfg, source, f"workflow {workflow}: trigger"),
            target_arn=alias_arn, role_arn=self._role(cfg.workflows[workflow].role,
                                                     f"workflow {workflow}"))

    @staticmethod
    def _journal(batch: list[Future[tuple[ComponentChange, str, dict[str, Any]]]],
                 journal: Journal) -> list[ComponentChange]:
        """Journal each component as it lands (on this thread: the state store is not
        shared across threads); the first failure is raised once the rest have landed."""
        landed: list[ComponentChange] = []
        failure: BaseException | None = None
        for future in as_completed(batch):
            try:
                change, step, detail = future.result()
            except BaseException as exc:
                failure = failure or exc
                continue
            journal(step, detail)
            landed.append(change)
        if failure is not None:
            raise failure
        return sorted(landed, key=lambda c: c.name)

    # ------------------------------------------------------------------ back
    def roll_to(self, cfg: ProjectConfig, release_dir: Path,
                records: Mapping[str, Mapping[str, Any]], journal: Journal) -> None:
        """Make the components what they were when ``release_dir`` was live: aliases back to
        the versions it deployed (journaled in ``records``), the rest re-applied from it."""
        versions = {step: rec for step, rec in records.items() if rec.get("version")}
        for step, rec in sorted(versions.items()):
            _, kind, _ = step.split(":", 2)
            if kind == "workflow":
                workflows.point_alias(self.aws, str(rec["alias"]), str(rec["version"]))
            elif kind == "function":
                functions.point_alias(self.aws, str(rec["resource"]), str(rec["version"]))
            journal(step, dict(rec))  # a later rollback to this state finds them again
        pinned = {step.split(":", 2)[2] for step in versions}
        partial = cfg.model_copy(update={
            "workflows": {n: w for n, w in cfg.workflows.items() if n not in pinned},
            "functions": {n: f for n, f in cfg.functions.items() if n not in pinned}})
        self.apply(partial, release_dir, journal)


