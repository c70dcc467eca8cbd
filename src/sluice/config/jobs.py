"""Job declarations: a discriminated union on ``type`` (sql, python, pyspark, glue)."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator

from sluice.config.base import ConfigModel, Loc, duplicates, problems_error
from sluice.config.names import (
    DatasetRef,
    ParamValue,
    RelPath,
    check_relative_path,
    qualify,
)


class SqlJob(ConfigModel):
    """A SELECT in a ``.sql`` file whose result becomes one dataset."""

    type: Literal["sql"]
    sql: RelPath
    output: DatasetRef


class _MultiOutputJob(ConfigModel):
    inputs: list[DatasetRef] = Field(default_factory=list)
    outputs: list[DatasetRef] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_lists(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        for field in ("inputs", "outputs"):
            items: list[str] = getattr(self, field)
            problems += [((field, i), f"{d!r} is listed twice") for i, d in duplicates(items)]
        problems += [
            (("outputs", i), f"{d!r} is both an input and an output of this job")
            for i, d in enumerate(self.outputs)
            if d in self.inputs
        ]
        if problems:
            raise problems_error(type(self).__name__, problems)
        return self


class PythonJob(_MultiOutputJob):
    """A Python function ``path.py:function`` that reads inputs and returns outputs."""

    type: Literal["python"]
    function: str

    @field_validator("function")
    @classmethod
    def _check_function(cls, value: str) -> str:
        path, sep, func = value.rpartition(":")
        if not sep or not path:
            raise ValueError(f"expected 'path/to/file.py:function', got {value!r}")
        if not func.isidentifier():
            raise ValueError(f"{func!r} after ':' is not a Python function name")
        if not path.endswith(".py"):
            raise ValueError(f"{path!r} before ':' is not a .py file")
        check_relative_path(path)
        return value

    @property
    def function_path(self) -> str:
        """The ``.py`` file part of ``function``."""
        return self.function.rpartition(":")[0]

    @property
    def function_name(self) -> str:
        """The function name part of ``function``."""
        return self.function.rpartition(":")[2]


class GlueOptions(ConfigModel):
    """How a PySpark job runs as a Glue job on the aws target."""

    glue_version: str = "4.0"
    worker_type: Literal["G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X"] = "G.1X"
    workers: int = Field(default=2, ge=1, le=299)
    arguments: dict[str, ParamValue] = Field(default_factory=dict)  # DefaultArguments
    role: str | None = None  # default: the aws target's ``execution_role``


class PySparkJob(_MultiOutputJob):
    """A PySpark script run with ``spark_conf`` (locally), or as a Glue job on AWS."""

    type: Literal["pyspark"]
    script: RelPath
    spark_conf: dict[str, ParamValue] = Field(default_factory=dict)
    glue: GlueOptions = Field(default_factory=GlueOptions)


#: What ``${input:NAME}`` and ``${output:NAME}`` look like in a glue job's arguments.
GLUE_REFERENCE = re.compile(r"\$\{(?P<kind>input|output):(?P<name>[^}\s]*)\}")

#: Arguments Glue sets itself (``--JOB_NAME``) or that AWS says not to set.
GLUE_RESERVED = frozenset({"--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--conf", "--debug",
                           "--mode"})


#: The values of ``--job-bookmark-option`` Glue knows.
BOOKMARK_OPTIONS = ("job-bookmark-enable", "job-bookmark-disable", "job-bookmark-pause")


class GlueJobOptions(ConfigModel):
    """How a glue job runs as a Glue job on the aws target."""

    version: str = Field(default="4.0", pattern=r"^\d+\.\d+$")  # Glue version
    worker_type: Literal["G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "Z.2X"] = "G.1X"
    workers: int = Field(default=2, ge=1, le=299)
    role: str | None = None  # default: the aws target's ``execution_role``


class GlueJob(_MultiOutputJob):
    """A Glue PySpark script run as written: ``getResolvedOptions(sys.argv, …)`` sees
    ``arguments`` resolved for the environment (``${input:NAME}``, ``${output:NAME}``,
    ``${param}``), locally on sluice's ``awsglue`` runtime and on AWS as a Glue job."""

    type: Literal["glue"]
    script: RelPath
    arguments: dict[str, ParamValue] = Field(default_factory=dict)
    spark_conf: dict[str, ParamValue] = Field(default_factory=dict)  # local runs only
    glue: GlueJobOptions = Field(default_factory=GlueJobOptions)

    @model_validator(mode="after")
    def _check_arguments(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        for key, value in self.arguments.items():
            where: Loc = ("arguments", key)
            if not key.startswith("--") or len(key) < 3 or any(c.isspace() for c in key):
                problems.append((where, f"{key!r}: a Glue argument is named --NAME"))
            elif key in GLUE_RESERVED:
                problems.append((where, f"{key} is set by Glue itself; do not set it"))
            elif key == "--job-bookmark-option" and value not in BOOKMARK_OPTIONS:
                problems.append((where, f"{value!r} is not a bookmark option (one of: "
                                        f"{', '.join(BOOKMARK_OPTIONS)})"))
            for m in GLUE_REFERENCE.finditer(value):
                kind, name = m["kind"], qualify(m["name"]) if m["name"] else ""
                declared = self.inputs if kind == "input" else self.outputs
                if name not in declared:
                    listed = ", ".join(declared) or "none"
                    problems.append((where, f"${{{kind}:{m['name']}}} names no {kind} of "
                                            f"this job ({kind}s: {listed})"))
        if problems:
            raise problems_error(type(self).__name__, problems)
        return self

    def references(self, value: str) -> list[tuple[str, str]]:
        """The ``(input|output, qualified dataset)`` references in one argument value."""
        return [(m["kind"], qualify(m["name"])) for m in GLUE_REFERENCE.finditer(value)]


Job = Annotated[SqlJob | PythonJob | PySparkJob | GlueJob, Field(discriminator="type")]
