"""The read-only seam of a target: what ``sluice datasets``, ``show``, ``query`` and
``quality check --env`` read an environment through.

A :class:`WarehouseReader` is a connection of its own that cannot write: the DuckDB warehouse
is opened with ``read_only=True`` and file access switched off (``enable_external_access``,
then ``lock_configuration``) once the few sources a query names are copied into temporary
tables; a PostgreSQL warehouse runs every query in a ``READ ONLY`` transaction of a session
whose default is read-only too. What may be asked is decided before (one SELECT over known
datasets and sources, :mod:`sluice.project.sqlguard`); this is the second wall.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice.engines.base import Engine
from sluice.targets.base import VersionInfo


@dataclass(frozen=True)
class SourceSpec:
    """A source of the project as a reader needs it: its format and where it is."""

    name: str
    format: str  # csv | json | parquet | table
    location: str  # a path in objects/ (files) or a table name


class WarehouseReader(ABC):
    """A read-only view of one environment's warehouse. Close it when done."""

    #: the sqlglot dialect of the SQL it runs
    dialect: str

    @abstractmethod
    def catalog(self) -> dict[str, str]:
        """Dataset → published version."""

    @abstractmethod
    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        """Versions in the warehouse, newest first."""

    @abstractmethod
    def version_relation(self, dataset: str, version: str) -> str:
        """The quoted, qualified table of a dataset version, in :attr:`dialect`."""

    @abstractmethod
    def attach_sources(self, sources: Mapping[str, SourceSpec]) -> dict[str, str]:
        """Make the named sources readable and lock the reader (nothing outside the warehouse
        can be read afterwards). Returns source name → relation; call it once, before any
        :meth:`fetch`."""

    @abstractmethod
    def fetch(self, sql: str, limit: int | None = None) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Column names and (at most ``limit``) rows of one SELECT, read-only."""

    @abstractmethod
    def column_count(self, relation: str) -> int:
        """How many columns a relation has."""

    @abstractmethod
    def engine(self) -> Engine:
        """An engine over this read-only connection (DQDL evaluation registers temporary
        views on it, nothing else)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""
