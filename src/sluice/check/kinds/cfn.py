"""CloudFormation stacks: each template is linted by cfn-lint once per environment, with the
parameter values sluice.yaml gives the stack there, so a value allowed in dev but not in prod
fails prod's unit only. A stack's ``lint:`` options (ignored and included checks, registry
schemas, regions) are passed to cfn-lint, which also reads the project's ``.cfnlintrc`` (it
runs in the project root). A CDK stack is synthesised first and its template linted."""

from __future__ import annotations

import glob
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sluice.check.base import Unit, UnitOutcome, findings_outcome
from sluice.check.context import CheckContext
from sluice.check.model import Finding
from sluice.config import CONFIG_FILE, ProjectConfig, load_project
from sluice.config.components import CdkApp, CfnLintOptions
from sluice.errors import SluiceError

DEFAULT_REGION = "us-east-1"
_REGISTRY_TYPE = re.compile(r"Resource type '(?P<type>[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+)' "
                            r"does not exist")
#: resource type namespaces of AWS itself (an unknown type there is a typo, not a registry type)
_AWS_NAMESPACES = ("AWS::", "Alexa::", "Custom::")
#: Environment parameters that name the AWS region, in order of preference.
REGION_PARAMETERS = ("region", "aws_region")
#: Project settings cfn-lint reads from its working directory (the project root).
CFNLINT_CONFIGS = (".cfnlintrc", ".cfnlintrc.yaml", ".cfnlintrc.yml")

# cfn-lint's console script, run by this interpreter (`python -m cfnlint` has no __main__).
# `-P` keeps the project root off sys.path, so no module of the project shadows cfn-lint's.
_ENTRY = "import sys; from cfnlint.runner import main; sys.exit(main())"
# Exit status bits that only say which levels of findings were printed.
_FINDING_BITS = 2 | 4 | 8


@dataclass(frozen=True)
class StackLint:
    """One stack's template with one environment's parameter values."""

    stack: str
    env: str
    template: str | None  # None: a CDK stack, synthesised for the lint
    parameters: dict[str, str]
    region: str
    timeout: int
    options: CfnLintOptions = field(default_factory=CfnLintOptions)
    cdk: CdkApp | None = None


def cfn_lint_version() -> str | None:
    try:
        return importlib.metadata.version("cfn-lint")
    except importlib.metadata.PackageNotFoundError:
        return None


class CfnCheck:
    kind = "cfn"
    description = "CloudFormation templates linted with cfn-lint, once per environment's parameters"

    def units(self, ctx: CheckContext) -> list[Unit]:
        cfg = ctx.config
        if cfg is None or not cfg.stacks:
            return []
        version = cfn_lint_version()
        rc_files = tuple(f for f in CFNLINT_CONFIGS if f in ctx.files)
        per_env = {env: _env_config(ctx, env) for env in cfg.promotion_order()}
        units: list[Unit] = []
        for stack in sorted(cfg.stacks):
            for env, env_cfg in per_env.items():
                if env_cfg is None or stack not in env_cfg.stacks:
                    continue  # a broken environment: the config check says why
                spec = env_cfg.stacks[stack]
                lint = StackLint(stack, env, spec.template, dict(spec.parameters),
                                 _region(env_cfg, env), env_cfg.checks.timeout,
                                 spec.lint, spec.cdk)
                # a CDK app may read any file of the project
                read = (spec.template, *spec.lint.registry_schemas) if spec.template \
                    else tuple(ctx.files)
                units.append(Unit(
                    "cfn", f"{stack}@{env}", _runner(ctx, lint, version),
                    files=(*read, CONFIG_FILE, *rc_files),
                    key={"parameters": lint.parameters, "region": lint.region,
                         "cfn-lint": version or "missing",
                         **({"lint": options} if (options := spec.lint.model_dump(
                             exclude_defaults=True)) else {})}))
        return units


def _env_config(ctx: CheckContext, env: str) -> ProjectConfig | None:
    try:
        return load_project(ctx.root, environment=env)
    except SluiceError:
        return None


def _region(cfg: ProjectConfig, env: str) -> str:
    environment = cfg.environment(env)
    region = getattr(environment.target, "region", None)  # an AWS target, once there is one
    if isinstance(region, str) and region:
        return region
    params = environment.parameters
    return next((params[p] for p in REGION_PARAMETERS if params.get(p)), DEFAULT_REGION)


def _runner(ctx: CheckContext, lint: StackLint, version: str | None) -> Callable[[], UnitOutcome]:
    def run() -> UnitOutcome:
        return lint_stack(ctx, lint, version)

    return run


def lint_stack(ctx: CheckContext, lint: StackLint, version: str | None) -> UnitOutcome:
    """Run cfn-lint on the stack's template with the environment's parameter values."""
    if version is None:
        raise SluiceError("cfn-lint is not installed, so CloudFormation templates cannot be "
                          "checked", tip="pip install cfn-lint (sluice depends on it)")
    if lint.template is None:
        return _lint_cdk(ctx, lint, version)
    if not (ctx.root / lint.template).is_file():
        path, line, col = ctx.locate("stacks", lint.stack, "template")
        return findings_outcome([Finding(
            f"stack {lint.stack}: template {lint.template} not found", path, line, col,
            tip=f"create it or fix stacks.{lint.stack}.template in {CONFIG_FILE}")])
    return _run_lint(ctx, lint, version, lint.template, lint.template)


def _lint_cdk(ctx: CheckContext, lint: StackLint, version: str) -> UnitOutcome:
    """Synthesise the CDK stack (as a release would) and lint its template."""
    from sluice.errors import ReleaseError
    from sluice.stacks.cdk import synthesise

    assert lint.cdk is not None
    with tempfile.TemporaryDirectory(prefix="sluice-cdk-check-") as tmp:
        try:
            out = synthesise(ctx.root, lint.stack, lint.cdk, Path(tmp) / "cdk.out",
                             lint.timeout)
        except ReleaseError as exc:
            path, line, col = ctx.locate("stacks", lint.stack, "cdk")
            return findings_outcome([Finding(exc.message, path, line, col,
                                             tip=exc.tip or "")])
        synthesised = out / f"{lint.cdk.stack}.template.json"
        if not synthesised.is_file():
            path, line, col = ctx.locate("stacks", lint.stack, "cdk", "stack")
            return findings_outcome([Finding(
                f"stack {lint.stack}: the CDK app made no stack {lint.cdk.stack!r}", path,
                line, col, tip=f"fix stacks.{lint.stack}.cdk.stack in {CONFIG_FILE}")])
        return _run_lint(ctx, lint, version, str(synthesised),
                         f"{lint.stack} (synthesised by cdk)")


def _run_lint(ctx: CheckContext, lint: StackLint, version: str, template: str,
              shown: str) -> UnitOutcome:
    regions = lint.options.regions or [lint.region]
    args = ["--format", "json", "--regions", *regions]
    if lint.parameters:
        args += ["--parameters", *(f"{k}={v}" for k, v in lint.parameters.items())]
    for flag, values in (("--ignore-checks", lint.options.ignore_checks),
                         ("--include-checks", lint.options.include_checks),
                         ("--registry-schemas", lint.options.registry_schemas)):
        if values:
            args += [flag, *values]
    # cfn-lint globs its template arguments; a literal `[` in a path must not be a pattern.
    args += ["--", glob.escape(template)]
    try:
        proc = subprocess.run([sys.executable, "-P", "-c", _ENTRY, *args], cwd=ctx.root,
                              capture_output=True, text=True, timeout=lint.timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SluiceError(
            f"cfn-lint did not finish {shown} ({lint.env}) within the {lint.timeout}s "
            "timeout", tip=f"raise checks.timeout in {CONFIG_FILE}") from exc
    except OSError as exc:
        raise SluiceError(f"cannot run cfn-lint: {exc.strerror}") from exc
    findings = [_finding(item, lint, shown if template != lint.template else None)
                for item in _parse(proc, lint, shown)]
    with_values = f", parameters of {lint.env}" if lint.parameters else ", no parameters"
    return findings_outcome(findings, f"cfn-lint {version}{with_values}")


def _parse(proc: subprocess.CompletedProcess[str], lint: StackLint,
           shown: str) -> list[dict[str, Any]]:
    data: Any = None
    if not proc.returncode & ~_FINDING_BITS:
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            data = None
    if isinstance(data, list) and all(isinstance(item, dict) for item in data):
        return data
    lines = [ln[:300] for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
    said = "\n".join(lines[-5:]) or "no output"
    raise SluiceError(
        f"cfn-lint failed on {shown} with {lint.env}'s parameters "
        f"(exit status {proc.returncode}):\n{said}",
        tip=f"run it yourself: cfn-lint --regions {lint.region} -- {lint.template or shown}")


def _finding(item: dict[str, Any], lint: StackLint, shown: str | None = None) -> Finding:
    """One cfn-lint result; ``shown`` names a template outside the project (synthesised)."""
    rule = item.get("Rule") or {}
    start = (item.get("Location") or {}).get("Start") or {}
    code = str(rule.get("Id", ""))
    message = str(item.get("Message", ""))
    # E2900 checks the values themselves; W1030-W1036 judge values resolved from them.
    level = "error" if item.get("Level") == "Error" else "warning"
    registry = _REGISTRY_TYPE.search(message) if code == "E3006" else None
    if registry and not registry["type"].startswith(_AWS_NAMESPACES):
        # a third-party type of the CloudFormation registry: cfn-lint has no schema for it,
        # CloudFormation takes it once it is activated in the account
        level = "warning"
        message = (f"resource type {registry['type']} is not one cfn-lint knows (a "
                   "third-party type of the CloudFormation registry?)")
        tip = (f"activate it in the account ({registry['type']} must be registered in "
               "each region the stack deploys to); cfn-lint checks its properties given its "
               "schema (cfn-lint --registry-schemas)")
    elif (code == "E2900" or " is resolved" in message) and lint.parameters:
        message += f" (with {lint.env}'s parameters)"
        tip = (f"the values are stacks.{lint.stack}.parameters in {CONFIG_FILE}, "
               f"substituted with {lint.env}'s parameters")
    else:
        tip = str(rule.get("ShortDescription") or rule.get("Description") or "")
        if rule.get("Source"):
            tip = f"{tip} ({rule['Source']})" if tip else str(rule["Source"])
    return Finding(
        message, shown or str(item.get("Filename") or lint.template),
        _number(start, "LineNumber"),
        _number(start, "ColumnNumber"), level, code, tip)


def _number(position: dict[str, Any], key: str) -> int | None:
    value = position.get(key)
    return value if isinstance(value, int) and value > 0 else None
