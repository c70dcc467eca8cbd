"""The target contract: what the deploy engine needs from an environment's home.

A target stores three things for one environment:

- **code**: materialised releases, one of which is *current* (swapped atomically);
- **dataset versions**: immutable physical copies, written once, never overwritten;
- **the catalog**: dataset name → published version, swapped for many datasets at once.

Write-audit-publish is built on these operations alone, so every target that passes
``tests/targets/test_conformance.py`` supports deploy, promote and rollback. Capabilities are
data, so callers ask instead of guessing.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sluice.engines.base import Engine
from sluice.errors import ConfigError
from sluice.release import ArtifactStore, Manifest


@dataclass(frozen=True)
class Capabilities:
    #: publish swaps all catalog entries in one transaction (else: ordered, idempotent swaps)
    transactional_publish: bool
    #: versions can be read by the engine returned from ``engine()``
    sql_engine: bool
    #: other machines reach the same storage (AWS): deploys take the target's own lock and
    #: refuse when the state store is behind what the target serves
    remote: bool = False


@dataclass(frozen=True)
class VersionInfo:
    dataset: str
    version: str
    fingerprint: str
    rows: int
    created_at: str


class Target(ABC):
    """One environment's home. Implementations are small; the deploy engine is shared."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    #: seconds to keep retrying a warehouse that another process holds open (a DuckDB file
    #: open in a BI tool); the deployer sets what is left of ``--wait`` once it has the lock
    open_wait: float = 0.0

    # ------------------------------------------------------------------ code
    @abstractmethod
    def install_release(self, store: ArtifactStore, manifest: Manifest) -> Path:
        """Materialise a verified release beside the current one (not yet current)."""

    def stage_release(self, store: ArtifactStore, manifest: Manifest) -> Path:
        """Materialise a release where sluice can read it without installing it in the
        environment (a plan); where both are the same, this is :meth:`install_release`."""
        return self.install_release(store, manifest)

    @abstractmethod
    def activate_release(self, release_id: str) -> None:
        """Make an installed release current, atomically."""

    @abstractmethod
    def current_release(self) -> str | None:
        """The id of the current release, if any."""

    @abstractmethod
    def release_dir(self, release_id: str) -> Path:
        """Where an installed release's files are."""

    # ------------------------------------------------------------------ data
    @abstractmethod
    def engine(self) -> Engine:
        """An engine connected to the environment's warehouse (shared; do not close)."""

    @abstractmethod
    def source_sql(self, name: str, fmt: str, location: str) -> str:
        """A SQL relation (in the engine's dialect) reading a source from object storage."""

    @abstractmethod
    def version_table(self, dataset: str, version: str) -> str:
        """The physical (qualified, quoted) table name of a dataset version."""

    @abstractmethod
    def create_version(self, dataset: str, version: str, fingerprint: str, select_sql: str) -> int:
        """Write a new version from a SELECT; refuse to overwrite one. Returns its row count."""

    @abstractmethod
    def create_version_from(self, dataset: str, version: str, fingerprint: str,
                            data: Any) -> int:
        """Write a new version from in-memory data (a DuckDB relation, a pyarrow Table or a
        pandas DataFrame); refuse to overwrite one. Returns its row count."""

    @abstractmethod
    def read_arrow(self, sql: str) -> Any:
        """The result of a SELECT (in the engine's dialect) as a ``pyarrow.Table``."""

    @abstractmethod
    def versions(self, dataset: str | None = None) -> list[VersionInfo]:
        """Existing versions, newest first."""

    @abstractmethod
    def drop_version(self, dataset: str, version: str) -> None:
        """Delete an unpublished or garbage-collected version."""

    # ------------------------------------------------------------------ catalog
    @abstractmethod
    def publish(self, versions: Mapping[str, str], *, exact: bool = False) -> None:
        """Point each dataset's catalog entry at its version, all at once.

        With ``exact`` the catalog becomes exactly ``versions``: entries not named are
        removed in the same transaction (rollback past a release that added a dataset,
        recovery of a first deploy, a release that removed a job).
        """

    @abstractmethod
    def catalog(self) -> dict[str, str]:
        """Dataset → published version."""

    # ------------------------------------------------------------------ objects
    @abstractmethod
    def load_objects(self, folder: Path) -> int:
        """Copy a folder's files into the environment's object storage (sources read them
        there). Returns the number of files."""

    @abstractmethod
    def objects_url(self) -> str:
        """Where the environment's object storage is, for messages."""

    def acquire_lock(self, owner: str, ttl_seconds: float = 3600) -> None:
        """Lock the environment for every machine (remote targets; the state store's lock
        covers the machines that share it). Raises LockError when another owner holds it."""
        return None

    def release_lock(self, owner: str) -> None:
        """Release a lock taken with :meth:`acquire_lock` (only ``owner``'s)."""
        return None

    def notify(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Tell the environment's subscribers about an event (``published``,
        ``deploy_failed``, ``rolled_back``, ``approval_requested``…); a no-op where the
        target has no notification channel (on AWS: the environment's SNS topic)."""
        return None

    def runner_for(self, job_type: str) -> Any:
        """A job runner of the target's own for a job type (the aws target runs ``pyspark``
        jobs on Glue); None: the deployer's runner for that type."""
        return None

    def components(self) -> Any:
        """The deployer of a release's stacks, Glue jobs, functions and workflows, for targets
        that host them (``AwsComponents`` on AWS); None when the target has none."""
        return None

    def reader(self) -> Any:
        """A read-only :class:`~sluice.targets.reader.WarehouseReader` of the warehouse, a
        connection of its own (``sluice datasets/show/query``); the caller closes it."""
        from sluice.errors import UsageError

        raise UsageError(f"the {self.name} target cannot be explored with sluice yet",
                         tip="read its datasets with the warehouse's own tools")

    def close(self) -> None:  # noqa: B027 - optional
        """Release connections."""


TARGETS = {"local": "sluice.targets.local.target:make_local_target",
           "aws": "sluice.targets.aws.target:make_aws_target"}


def create_target(kind: str, env: str, home: Path, **options: Any) -> Target:
    """Build the target of an environment from its config ``type``."""
    spec = TARGETS.get(kind)
    if spec is None:
        raise ConfigError(f"unknown target type {kind!r}",
                          tip=f"choose one of: {', '.join(sorted(TARGETS))}")
    module, _, cls = spec.partition(":")
    target: Target = getattr(importlib.import_module(module), cls)(env=env, home=home, **options)
    return target
