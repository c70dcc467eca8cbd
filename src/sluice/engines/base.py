"""The engine contract: register data under a name, describe it, run SQL, fetch rows.

SQL handed to an engine is already rendered in its dialect (``Engine.dialect`` is a sqlglot
dialect name); engines never parse or rewrite it. Capabilities are class constants so that
compilers can ask instead of guessing.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from sluice.errors import DataSourceError, UsageError


class TypeFamily(Enum):
    INTEGER = "integer"
    FLOAT = "float"  # also DECIMAL
    STRING = "string"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "timestamp"
    OTHER = "other"

    @property
    def numeric(self) -> bool:
        return self in {TypeFamily.INTEGER, TypeFamily.FLOAT}

    @property
    def temporal(self) -> bool:
        return self in {TypeFamily.DATE, TypeFamily.TIMESTAMP}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the engine's own type name
    family: TypeFamily


FILE_FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json",
                ".ndjson": "json", ".tsv": "csv"}


@dataclass(frozen=True)
class DataRef:
    """A dataset to evaluate: files (Parquet/CSV/JSON, a glob or a folder) or a table."""

    location: str
    kind: str  # "parquet" | "csv" | "json" | "table"

    @classmethod
    def parse(cls, value: str) -> DataRef:
        """A path with a known extension (or a folder of them) is a file; else a table name."""
        for prefix, kind in (("table:", "table"), ("parquet:", "parquet"), ("csv:", "csv"),
                             ("json:", "json")):
            if value.startswith(prefix):
                return cls(value[len(prefix):], kind)
        path = Path(value)
        suffix = path.suffix.lower()
        if suffix in FILE_FORMATS:
            if "*" not in value and not path.exists():
                raise DataSourceError(
                    f"data file {value} does not exist",
                    tip="check the path, or prefix a table name with table:",
                )
            return cls(value, FILE_FORMATS[suffix])
        if path.is_dir():
            kinds = {FILE_FORMATS[p.suffix.lower()] for p in path.rglob("*")
                     if p.suffix.lower() in FILE_FORMATS}
            if len(kinds) != 1:
                raise DataSourceError(
                    f"folder {value} holds {'no' if not kinds else 'mixed'} data files "
                    f"({', '.join(sorted(kinds)) or 'none of .parquet/.csv/.json'})",
                    tip="point --data at one file, a glob, or a folder of one format",
                )
            kind = kinds.pop()
            ext = {"parquet": "parquet", "csv": "csv", "json": "json"}[kind]
            return cls(str(path / "**" / f"*.{ext}"), kind)
        if "/" in value or "\\" in value:
            raise DataSourceError(
                f"{value} is neither an existing data file nor a table name",
                tip="files need a .parquet, .csv or .json extension",
            )
        return cls(value, "table")

    @property
    def is_file(self) -> bool:
        return self.kind != "table"

    @property
    def name(self) -> str:
        if self.kind == "table":
            return self.location
        return Path(self.location.replace("**/", "").replace("*", "x")).stem


def family_of(type_name: str, dialect: str) -> TypeFamily:
    """Classify an engine type name with sqlglot's type model."""
    import sqlglot
    from sqlglot import exp

    try:
        dtype = exp.DataType.build(type_name, dialect=dialect)
    except (sqlglot.errors.ParseError, ValueError):
        return TypeFamily.OTHER
    t = exp.DataType.Type
    if dtype.this in exp.DataType.INTEGER_TYPES:
        return TypeFamily.INTEGER
    if dtype.this in exp.DataType.REAL_TYPES:
        return TypeFamily.FLOAT
    if dtype.this in exp.DataType.TEXT_TYPES or dtype.this in {t.UUID}:
        return TypeFamily.STRING
    if dtype.this == t.BOOLEAN:
        return TypeFamily.BOOLEAN
    if dtype.this in {t.DATE, t.DATE32}:
        return TypeFamily.DATE
    if dtype.this in exp.DataType.TEMPORAL_TYPES:
        return TypeFamily.TIMESTAMP
    return TypeFamily.OTHER


class Engine(ABC):
    """Runs SQL in one dialect. Use as a context manager, or call ``close``."""

    name: ClassVar[str]
    dialect: ClassVar[str]

    @abstractmethod
    def register(self, alias: str, data: DataRef) -> None:
        """Make ``data`` queryable as the relation ``alias`` for this engine's lifetime."""

    @abstractmethod
    def columns(self, alias: str) -> list[Column]:
        """The columns of a registered relation, in order."""

    @abstractmethod
    def fetch(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement; return column names and all rows."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


ENGINES = {
    "duckdb": "sluice.engines.duckdb:DuckDBEngine",
    "postgres": "sluice.engines.postgres:PostgresEngine",
    "spark": "sluice.engines.spark:SparkEngine",
}


def create_engine(name: str, **options: Any) -> Engine:
    """Build an engine by its short name (``duckdb``, ``postgres``, ``spark``)."""
    target = ENGINES.get(name)
    if target is None:
        raise UsageError(
            f"unknown engine {name!r}", tip=f"choose one of: {', '.join(sorted(ENGINES))}"
        )
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    engine: Engine = cls(**options)
    return engine
