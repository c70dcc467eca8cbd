"""Deployable components besides jobs: Step Functions workflows, CloudFormation stacks and
Lambda functions, and the ``checks:`` section that configures ``sluice check``."""

from __future__ import annotations

from pydantic import Field

from sluice.config.base import ConfigModel
from sluice.config.names import DatasetKey, ParamValue, RelPath


class Workflow(ConfigModel):
    """A Step Functions state machine; its ASL definition is JSON with ``${param}`` values."""

    definition: RelPath
    description: str | None = None


class Stack(ConfigModel):
    """A CloudFormation stack: a template in the repo, parameter values per environment
    (``${param}`` in a value is the environment's parameter)."""

    template: RelPath
    parameters: dict[str, ParamValue] = Field(default_factory=dict)
    description: str | None = None


class Function(ConfigModel):
    """A Lambda function: its code (a file or folder) and handler (``module.function``)."""

    code: RelPath
    handler: str = Field(min_length=1)
    runtime: str = "python3.11"
    description: str | None = None


class Acknowledgement(ConfigModel):
    """A breaking contract change someone decided to make, and why."""

    dataset: DatasetKey
    change: str = Field(min_length=1)  # as `sluice check` names it, e.g. "removed:discount"
    reason: str = Field(min_length=1)


class Checks(ConfigModel):
    """Settings of ``sluice check``."""

    samples: RelPath | None = None  # folder laid out like an environment's objects/ (data/)
    tests: RelPath | None = None  # the project's pytest folder (default: tests/ when present)
    acknowledge: list[Acknowledgement] = Field(default_factory=list)
    timeout: int = Field(default=900, ge=1)  # seconds, per tool run (pytest, cfn-lint …)


class Migrations(ConfigModel):
    """Schema migrations (``migrations/``, Flyway naming): the dialect they are written in,
    when it is not the project's (e.g. Redshift scripts in a DuckDB-first project)."""

    dialect: str | None = None
