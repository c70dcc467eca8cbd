"""Pydantic models of ``sluice.yaml``; :class:`ProjectConfig` is the root.

Every model forbids unknown keys. Field-level rules (names, relative paths) live in
:mod:`sluice.config.names`; each section's models in :mod:`~sluice.config.datasets`,
:mod:`~sluice.config.jobs` and :mod:`~sluice.config.environments`. Rules that need more than
one section (a job writing an undeclared dataset, promotion naming an unknown environment) are
checked here and raised as ordinary pydantic errors with the ``loc`` of the offending value,
so the loader can point at its line and column.

After validation, dataset names are qualified (``orders`` → ``main.orders``) everywhere:
keys of ``sources`` and ``datasets``, job inputs and outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import Field, field_validator, model_validator

from sluice.config.base import (
    DATASET_CUTOFF,
    ConfigModel,
    Loc,
    did_you_mean,
    duplicates,
    problems_error,
    unknown_environment,
)
from sluice.config.components import (
    Acknowledgement,
    Checks,
    Crawler,
    Function,
    Migrations,
    Stack,
    Workflow,
)
from sluice.config.control import Access, Channel, Pipeline, Server, Triggers
from sluice.config.datasets import Column, Contract, Dataset, Source
from sluice.config.environments import (
    RESERVED_PARAMETERS,
    AwsTarget,
    Environment,
    LocalTarget,
    Protection,
    Target,
)
from sluice.config.jobs import GlueJob, Job, PySparkJob, PythonJob, SqlJob
from sluice.config.names import DatasetKey, Name, qualify
from sluice.config.sqltypes import dialects, is_column_type, is_dialect
from sluice.errors import ConfigError

__all__ = [
    "RESERVED_PARAMETERS",
    "Acknowledgement",
    "AwsTarget",
    "Checks",
    "Column",
    "Contract",
    "Dataset",
    "Environment",
    "Function",
    "GlueJob",
    "Job",
    "LocalTarget",
    "ProjectConfig",
    "Protection",
    "PySparkJob",
    "PythonJob",
    "Retention",
    "Source",
    "SqlJob",
    "Stack",
    "Target",
    "Workflow",
]

class Retention(ConfigModel):
    """How many versions of each dataset are kept before garbage collection."""

    versions: int = Field(default=5, ge=1, strict=True)
    #: days a version refused by an audit stays in quarantine (inspectable with `sluice show`
    #: and `sluice query`) before `sluice gc` drops it
    quarantine_days: int = Field(default=7, ge=0, strict=True)


class ProjectConfig(ConfigModel):
    """The root of ``sluice.yaml``."""

    project: Name
    dialect: str = "duckdb"
    sources: dict[DatasetKey, Source] = Field(default_factory=dict)
    datasets: dict[DatasetKey, Dataset] = Field(default_factory=dict)
    jobs: dict[Name, Job] = Field(default_factory=dict)
    environments: dict[Name, Environment] = Field(default_factory=dict)
    promotion: list[Name] | None = None
    retention: Retention = Field(default_factory=Retention)
    workflows: dict[Name, Workflow] = Field(default_factory=dict)
    stacks: dict[Name, Stack] = Field(default_factory=dict)
    functions: dict[Name, Function] = Field(default_factory=dict)
    crawlers: dict[Name, Crawler] = Field(default_factory=dict)
    checks: Checks = Field(default_factory=Checks)
    migrations: Migrations = Field(default_factory=Migrations)
    # the control plane (`sluice serve`, sluice.config.control, docs/serve.md)
    access: Access | None = None
    pipeline: Pipeline = Field(default_factory=Pipeline)
    triggers: Triggers = Field(default_factory=Triggers)
    #: environment → cron expression (UTC): the server runs that environment's live release
    schedules: dict[Name, str] = Field(default_factory=dict)
    notifications: list[Channel] = Field(default_factory=list)
    server: Server = Field(default_factory=Server)

    @property
    def migrations_dialect(self) -> str:
        return self.migrations.dialect or self.dialect

    @field_validator("dialect")
    @classmethod
    def _check_dialect(cls, value: str) -> str:
        if not is_dialect(value):
            known = dialects()
            hint = did_you_mean(value, known) or f" (known: {', '.join(known)})"
            raise ValueError(f"unknown SQL dialect {value!r}{hint}")
        return value

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        problems = (
            self._dataset_problems()
            + self._column_type_problems()
            + self._job_problems()
            + self._promotion_problems()
            + self._component_source_problems()
            + self._control_problems()
        )
        if problems:
            raise problems_error("ProjectConfig", problems)
        # Qualify keys last, so every problem above points at the key as written.
        self.sources = {qualify(k): v for k, v in self.sources.items()}
        self.datasets = {qualify(k): v for k, v in self.datasets.items()}
        for ack in self.checks.acknowledge:
            ack.dataset = qualify(ack.dataset)
        return self

    def _dataset_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        seen: dict[str, tuple[str, str]] = {}
        for section in ("sources", "datasets"):
            for key in getattr(self, section):
                name = qualify(key)
                if name in seen:
                    other_section, other_key = seen[name]
                    problems.append(
                        (
                            (section, key),
                            f"{key!r} names the same dataset as {other_key!r} in {other_section}",
                        )
                    )
                else:
                    seen[name] = (section, key)
        return problems

    def _column_type_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        owners: list[tuple[str, Mapping[str, Source | Dataset]]] = [
            ("sources", self.sources),
            ("datasets", self.datasets),
        ]
        for section, entries in owners:
            for key, entry in entries.items():
                if entry.contract is None:
                    continue
                for col, column in entry.contract.columns.items():
                    if not is_column_type(column.type, self.dialect):
                        problems.append(
                            (
                                (section, key, "contract", "columns", col, "type"),
                                f"{column.type!r} is not a {self.dialect} column type",
                            )
                        )
        return problems

    def _component_source_problems(self) -> list[tuple[Loc, str]]:
        """Workflow triggers and crawlers name file sources."""
        files = {qualify(k) for k, v in self.sources.items() if v.path is not None}
        refs: list[tuple[Loc, str]] = [
            (("workflows", n, "triggers", i), s) for n, w in self.workflows.items()
            for i, s in enumerate(w.triggers)]
        refs += [(("crawlers", n, "sources", i), s) for n, c in self.crawlers.items()
                 for i, s in enumerate(c.sources)]
        return [(loc, f"{name!r} is not a source with a path"
                      + (did_you_mean(name, sorted(files)) or "; declare it under sources"))
                for loc, name in refs if qualify(name) not in files]

    def _control_problems(self) -> list[tuple[Loc, str]]:
        """Schedules, data triggers and notifications name environments and sources that
        exist; cron expressions parse."""
        from croniter import croniter

        envs = list(self.environments)
        problems: list[tuple[Loc, str]] = []

        def env_problem(loc: Loc, name: str) -> None:
            if name not in self.environments:
                problems.append((loc, f"unknown environment {name!r}"
                                 + (did_you_mean(name, envs) or f" (known: {', '.join(envs)})")))

        for env, cron in self.schedules.items():
            env_problem(("schedules", env), env)
            if not croniter.is_valid(cron):
                problems.append((("schedules", env), f"{cron!r} is not a cron expression "
                                 "(five fields: minute hour day-of-month month day-of-week, "
                                 "e.g. '0 6 * * *')"))
        files = {qualify(k) for k, v in self.sources.items() if v.path is not None}
        for i, trigger in enumerate(self.triggers.data):
            env_problem(("triggers", "data", i, "env"), trigger.env)
            if qualify(trigger.source) not in files:
                problems.append((("triggers", "data", i, "source"),
                                 f"{trigger.source!r} is not a source with a path"
                                 + (did_you_mean(trigger.source, sorted(files))
                                    or "; declare it under sources")))
        for i, channel in enumerate(self.notifications):
            for j, env in enumerate(channel.environments or ()):
                loc: Loc = ("notifications", i, channel.type, "environments", j)
                env_problem(loc, env)
                if channel.type == "sns" and env in self.environments \
                        and self.environments[env].target.type != "aws":
                    # only the aws target has a topic; without `environments:` an sns
                    # channel covers the aws environments and skips the others
                    problems.append((loc, f"{env!r} is on the "
                                     f"{self.environments[env].target.type} target, which "
                                     "has no SNS topic; use slack, webhook or email for it"))
        return problems

    def _job_problems(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        declared = {qualify(k) for k in self.datasets}
        sources = {qualify(k) for k in self.sources}
        writer: dict[str, str] = {}
        for job_name, job in self.jobs.items():
            # The union tag sits in the loc like pydantic's own errors: jobs.<name>.<type>.
            base: Loc = ("jobs", job_name, job.type)
            outputs: list[tuple[Loc, str]] = (
                [((*base, "output"), job.output)]
                if isinstance(job, SqlJob)
                else [((*base, "outputs", i), d) for i, d in enumerate(job.outputs)]
            )
            for loc, name in outputs:
                if name in sources:
                    problems.append(
                        (loc, f"{name!r} is a source; a source is never written by a job")
                    )
                elif name not in declared:
                    problems.append(
                        (
                            loc,
                            f"{name!r} is not declared under 'datasets'"
                            + (
                                did_you_mean(name, declared, cutoff=DATASET_CUTOFF)
                                or "; declare it with its contract"
                            ),
                        )
                    )
                elif name in writer:
                    problems.append((loc, f"{name!r} is already written by job {writer[name]!r}"))
                else:
                    writer[name] = job_name
            if not isinstance(job, SqlJob):
                known = declared | sources
                problems += [
                    (
                        (*base, "inputs", i),
                        f"{name!r} is neither a source nor a dataset"
                        + did_you_mean(name, known, cutoff=DATASET_CUTOFF),
                    )
                    for i, name in enumerate(job.inputs)
                    if name not in known
                ]
        return problems

    def _promotion_problems(self) -> list[tuple[Loc, str]]:
        if self.promotion is None:
            return []
        problems: list[tuple[Loc, str]] = []
        for i, env in enumerate(self.promotion):
            if env not in self.environments:
                problems.append(
                    (
                        ("promotion", i),
                        f"unknown environment {env!r}"
                        + (did_you_mean(env, self.environments) or self._known_envs()),
                    )
                )
        problems += [
            (("promotion", i), f"environment {env!r} appears twice")
            for i, env in duplicates(self.promotion)
        ]
        return problems

    def _known_envs(self) -> str:
        envs = ", ".join(self.environments) or "none"
        return f" (environments: {envs})"

    # -- helpers ---------------------------------------------------------------------------

    def dataset_names(self) -> list[str]:
        """Qualified names of the datasets the pipeline writes, in file order."""
        return list(self.datasets)

    def all_datasets(self) -> dict[str, Source | Dataset]:
        """Sources and datasets by qualified name (sources first)."""
        return {**self.sources, **self.datasets}

    def job_outputs(self, job: str | SqlJob | PythonJob | PySparkJob | GlueJob) -> list[str]:
        """The qualified datasets a job (given by name or model) writes."""
        if isinstance(job, str):
            if job not in self.jobs:
                raise ConfigError(
                    f"unknown job {job!r}{did_you_mean(job, self.jobs)}",
                    tip=f"jobs in sluice.yaml: {', '.join(self.jobs) or 'none'}",
                )
            job = self.jobs[job]
        return [job.output] if isinstance(job, SqlJob) else list(job.outputs)

    def environment(self, name: str) -> Environment:
        """The environment called ``name``; ConfigError with a suggestion if there is none."""
        try:
            return self.environments[name]
        except KeyError:
            raise unknown_environment(name, list(self.environments)) from None

    def promotion_order(self) -> list[str]:
        """Environments in promotion order: ``promotion`` if given, else file order."""
        return list(self.promotion) if self.promotion is not None else list(self.environments)

    def next_environment(self, env: str) -> str | None:
        """The environment a release in ``env`` is promoted to; None if ``env`` is last.

        An environment outside the promotion order (a sandbox) also has no next one.
        """
        self.environment(env)
        order = self.promotion_order()
        if env not in order:
            return None
        i = order.index(env)
        return order[i + 1] if i + 1 < len(order) else None
