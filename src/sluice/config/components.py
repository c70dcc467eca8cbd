"""Deployable components besides jobs: Step Functions workflows, CloudFormation stacks and
Lambda functions, and the ``checks:`` section that configures ``sluice check``."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from sluice.config.base import ConfigModel, Loc, duplicates, problems_error
from sluice.config.names import DatasetKey, ParamName, ParamValue, RelPath


class MockThrow(ConfigModel):
    """An error a mocked task raises: its name (Retry and Catch match it) and cause."""

    error: str = Field(min_length=1)
    cause: str = ""


class MockAnswer(ConfigModel):
    """One answer of a mocked task: the result it returns, or the error it throws."""

    returns: Any = Field(default=None, alias="return")
    throw: MockThrow | None = None
    #: how long the task takes (seconds): past the task's TimeoutSeconds it times out
    delay: float = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _one(self) -> Self:
        if (self.throw is None) == ("returns" not in self.model_fields_set):
            raise ValueError("a mock answer is either {return: VALUE} or {throw: {error: "
                             "NAME, cause: TEXT}}")
        return self

    def to_answer(self) -> dict[str, Any]:
        if self.throw is not None:
            return {"throw": {"error": self.throw.error, "cause": self.throw.cause},
                    "delay": self.delay}
        return {"return": self.returns, "delay": self.delay}


class Workflow(ConfigModel):
    """A Step Functions state machine; its ASL definition is JSON with ``${param}`` values."""

    definition: RelPath
    description: str | None = None
    #: the state machine's execution role (default: the aws target's ``execution_role``)
    role: str | None = None
    #: sources whose new files start the workflow (an EventBridge rule on their S3 prefix)
    triggers: list[DatasetKey] = Field(default_factory=list)
    #: CloudFormation-style ``${Name}`` placeholders of the definition and their values
    #: (``DefinitionSubstitutions``); a value may use ``${param}``
    substitutions: dict[ParamName, ParamValue] = Field(default_factory=dict)
    #: Glue jobs and Lambda functions the definition runs that are not this project's
    #: (names as the definition writes them): the check accepts them
    external: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    #: local runs: answers of tasks by state name or resource ARN (SNS, DynamoDB, another
    #: team's Lambda …), in order of the calls, the last repeating
    mocks: dict[Annotated[str, Field(min_length=1)], list[MockAnswer]] = Field(
        default_factory=dict)


class CdkApp(ConfigModel):
    """A CDK app whose stack is synthesised at release time (``cdk synth``)."""

    app: str = Field(min_length=1)  # as cdk.json's "app": e.g. "python app.py", "node app.js"
    stack: str = Field(min_length=1)  # the stack's id in the app
    context: dict[str, ParamValue] = Field(default_factory=dict)  # --context k=v


class CfnLintOptions(ConfigModel):
    """cfn-lint options for one stack (on top of the project's ``.cfnlintrc``)."""

    ignore_checks: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    include_checks: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    registry_schemas: list[RelPath] = Field(default_factory=list)
    regions: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)


class Stack(ConfigModel):
    """A CloudFormation stack: a template in the repo (or a CDK app's stack), parameter
    values per environment (``${param}`` in a value is the environment's parameter)."""

    template: RelPath | None = None
    cdk: CdkApp | None = None
    lint: CfnLintOptions = Field(default_factory=CfnLintOptions)
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    description: str | None = None
    #: CloudWatch alarms that roll the stack back when they fire during the update …
    rollback_alarms: list[str] = Field(default_factory=list)
    #: … or within this many minutes after it
    monitoring_minutes: int = Field(default=0, ge=0, le=180)
    #: a CloudFormation service role: the stack's resources are made with its permissions,
    #: so the deployer needs only sluice's own (``sluice export iam-policy``) plus PassRole
    role: str | None = None

    @model_validator(mode="after")
    def _template_or_cdk(self) -> Self:
        if (self.template is None) == (self.cdk is None):
            raise problems_error("Stack", [(("template",), (
                "give a stack either `template: PATH` or `cdk: {app: COMMAND, stack: NAME}`"
                ", exactly one of the two"))])
        return self


class Crawler(ConfigModel):
    """A Glue crawler cataloguing sources' files into a Glue database (aws target)."""

    sources: list[DatasetKey] = Field(min_length=1)
    database: str = Field(min_length=1, pattern=r"^[a-z0-9_]+$")
    schedule: str | None = None  # e.g. cron(0 5 * * ? *)
    role: str | None = None  # default: the aws target's ``execution_role``
    description: str | None = None


class Shift(ConfigModel):
    """How a Lambda alias moves to a new version: all at once, a canary share for some
    minutes, or linear steps; the function's ``alarms`` are watched throughout."""

    kind: Literal["all-at-once", "canary", "linear"] = "all-at-once"
    percent: int = Field(default=10, ge=1, le=99)
    minutes: float = Field(default=5, gt=0, le=120)


class Function(ConfigModel):
    """A Lambda function: its code (a file or folder) and handler (``module.function``)."""

    code: RelPath
    handler: str = Field(min_length=1)
    runtime: str = "python3.11"
    description: str | None = None
    role: str | None = None  # default: the aws target's ``execution_role``
    environment: dict[str, ParamValue] = Field(default_factory=dict)
    timeout: Annotated[int, Field(ge=1, le=900)] = 60
    memory: Annotated[int, Field(ge=128, le=10240)] = 256
    shift: Shift = Field(default_factory=Shift)
    alarms: list[str] = Field(default_factory=list)  # CloudWatch alarms watched while shifting


class Acknowledgement(ConfigModel):
    """A breaking contract change someone decided to make, and why."""

    dataset: DatasetKey
    change: str = Field(min_length=1)  # as `sluice check` names it, e.g. "removed:discount"
    reason: str = Field(min_length=1)


class UnitChecks(ConfigModel):
    """The ``unit`` check: the project's pytest folders and the packages its tests need."""

    folders: list[RelPath] = Field(default_factory=lambda: ["tests"], min_length=1)
    #: a pip requirements file, installed into a cached virtual environment the tests run in
    requirements: RelPath | None = None

    @model_validator(mode="after")
    def _check_folders(self) -> Self:
        problems: list[tuple[Loc, str]] = [
            (("folders", i), f"{f!r} is listed twice")
            for i, f in duplicates([f.rstrip("/") for f in self.folders])]
        if problems:
            raise problems_error("UnitChecks", problems)
        return self


class Checks(ConfigModel):
    """Settings of ``sluice check``."""

    samples: RelPath | None = None  # folder laid out like an environment's objects/ (data/)
    tests: RelPath | None = None  # the project's pytest folder (default: tests/ when present)
    unit: UnitChecks | None = None  # several test folders, test requirements (replaces tests)
    acknowledge: list[Acknowledgement] = Field(default_factory=list)
    timeout: int = Field(default=900, ge=1)  # seconds, per tool run (pytest, cfn-lint …)

    @model_validator(mode="after")
    def _one_way_to_name_tests(self) -> Self:
        if self.tests is not None and self.unit is not None:
            raise problems_error("Checks", [(("tests",), (
                "give the test folder either here or in checks.unit.folders, not both "
                f"(e.g. checks.unit.folders: [{self.tests}])"))])
        return self

    def unit_folders(self) -> list[str]:
        """The pytest folders of the ``unit`` check, as configured (default ``tests``)."""
        if self.unit is not None:
            return [f.rstrip("/") for f in self.unit.folders]
        return [self.tests.rstrip("/") if self.tests else "tests"]


class Migrations(ConfigModel):
    """Schema migrations (``migrations/``, Flyway naming): the dialect they are written in,
    when it is not the project's (e.g. Redshift scripts in a DuckDB-first project)."""

    dialect: str | None = None
