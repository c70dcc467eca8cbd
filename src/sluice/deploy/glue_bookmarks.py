"""Glue job bookmarks, kept per environment, advanced only by a deploy that publishes.

A glue job run reads the job's committed bookmark state (``<env>/glue-bookmarks/JOB.json``)
and its ``Job.commit()`` writes the new state to a pending file in the run's temporary folder.
The run stages that file beside the state, named after the version it computed; the deploy
makes it the state once its publish is recorded (:func:`commit`; ``recover()`` does it for a
deploy that died right after). A failed audit or deploy never
publishes, so its staged file is dropped and the next run reads the same new files again —
what Glue does for a job run that fails before ``Job.commit()``.

Targets without a local environment folder (the aws target leaves bookmarks to Glue) keep
none: every run reads everything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sluice.secrecy import private_dir
from sluice.targets.base import Target

FOLDER = "glue-bookmarks"
_PENDING = ".pending.json"


def folder_of(target: Target) -> Path | None:
    """The environment's bookmark folder; None for a target without a local folder."""
    base = getattr(target, "dir", None)
    return Path(base) / FOLDER if isinstance(base, Path) else None


@dataclass(frozen=True)
class Bookmarks:
    """One job's bookmark files in one environment."""

    job: str
    folder: Path | None

    @classmethod
    def of(cls, target: Target, job: str) -> Bookmarks:
        return cls(job, folder_of(target))

    @property
    def state(self) -> Path | None:
        return self.folder / f"{self.job}.json" if self.folder is not None else None

    def state_path(self) -> str | None:
        """The committed state for the run context, None before the first commit."""
        return str(self.state) if self.state is not None and self.state.is_file() else None

    def stage(self, pending: Path, version: str) -> None:
        """Keep what the run's ``Job.commit()`` wrote, until its deploy publishes
        ``version`` (a run that never committed stages nothing)."""
        if self.folder is None or not pending.is_file():
            return
        private_dir(self.folder)
        for stale in self.folder.glob(f"{self.job}@*{_PENDING}"):
            stale.unlink()
        staged = self.folder / f"{self.job}@{version}{_PENDING}"
        shutil.copyfile(pending, staged)
        os.chmod(staged, 0o600)


def commit(target: Target, published: Mapping[str, str]) -> list[str]:
    """Make the staged bookmark of every job whose version was just published its state, and
    drop the others (runs of deploys that did not publish). Returns the jobs advanced."""
    folder = folder_of(target)
    if folder is None or not folder.is_dir():
        return []
    live = set(published.values())
    advanced: list[str] = []
    for staged in sorted(folder.glob(f"*@*{_PENDING}")):
        job, _, version = staged.name[:-len(_PENDING)].rpartition("@")
        if version in live:
            os.replace(staged, folder / f"{job}.json")
            advanced.append(job)
        else:
            staged.unlink()
    return advanced
