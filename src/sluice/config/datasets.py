"""Dataset declarations: contracts (columns, primary key), sources and produced datasets."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from sluice.config.base import ConfigModel, Loc, did_you_mean, duplicates, problems_error
from sluice.config.names import RelPath


class Column(ConfigModel):
    """One column of a contract; ``name: TYPE`` is shorthand for ``{type: TYPE}``."""

    type: str = Field(min_length=1)
    nullable: bool = True

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data


class Contract(ConfigModel):
    """The schema a dataset promises: columns, primary key, whether extra columns may appear."""

    columns: dict[str, Column] = Field(default_factory=dict)
    primary_key: list[str] = Field(default_factory=list)
    allow_extra_columns: bool = False

    @model_validator(mode="after")
    def _check_primary_key(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        for i, col in enumerate(self.primary_key):
            if col not in self.columns:
                problems.append(
                    (
                        ("primary_key", i),
                        f"primary key column {col!r} is not among the contract's columns"
                        + did_you_mean(col, self.columns),
                    )
                )
        problems += [
            (("primary_key", i), f"column {col!r} is listed twice")
            for i, col in duplicates(self.primary_key)
        ]
        if problems:
            raise problems_error("Contract", problems)
        return self


class Source(ConfigModel):
    """An input dataset the pipeline does not produce: files in object storage, or a table."""

    format: Literal["csv", "json", "parquet", "table"]
    path: RelPath | None = None
    table: str | None = None
    contract: Contract | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _path_or_table(self) -> Self:
        problems: list[tuple[Loc, str]] = []
        if self.format == "table":
            if not self.table:
                problems.append((("table",), "'table' is required when format is 'table'"))
            if self.path is not None:
                problems.append((("path",), "'path' is not used with format 'table'; remove it"))
        else:
            if self.path is None:
                problems.append((("path",), f"'path' is required for format {self.format!r}"))
            if self.table is not None:
                problems.append((("table",), "'table' is only used with format 'table'"))
        if problems:
            raise problems_error("Source", problems)
        return self


class Dataset(ConfigModel):
    """A dataset the pipeline writes: its contract, quality rules and description."""

    contract: Contract | None = None
    rules: RelPath | None = None
    description: str | None = None
