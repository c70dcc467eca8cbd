"""A git worktree per execution at work: the commit an execution carries, on disk.

The server's project folder is a git repository; a stage works on its execution's commit in
``<home>/checkouts/<execution id>`` (``git worktree add --detach``), opened as a
:class:`~sluice.project.workspace.Workspace` whose home is the *server's* (same state store,
artifacts and environments), and removed when the engine stops working on it (the
execution waits, is blocked or ends; consecutive stages share it). A folder left by a crash is
removed before the next stage adds it again. Nothing in the checkout is run beyond what
sluice itself runs (check, release, deploy).
"""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sluice.errors import ReleaseError
from sluice.project.workspace import Workspace
from sluice.release.git import Git

FOLDER = "checkouts"


@contextmanager
def _serialised(home: Path) -> Iterator[None]:
    """One git command changing the repository's worktrees (or refs) at a time, across
    threads and processes: concurrent ``git worktree add`` calls read each other's half-made
    entries ("failed to read .git/worktrees/N/commondir")."""
    folder = home / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = (folder / ".lock").open("a")
    except OSError as exc:
        raise ReleaseError(f"cannot create the checkout folder {folder}: {exc}",
                           tip="make the server's home writable (SLUICE_HOME)") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _source(git: Git, wanted: str | None) -> str | None:
    """The remote to fetch from: the poll trigger's (resolved as the poll resolves it), else
    ``origin`` when the repository has one."""
    if wanted:
        return git.resolve_remote(wanted)
    try:
        git.run("remote", "get-url", "origin")
    except ReleaseError:
        return None
    return "origin"


def ensure_commit(root: Path, home: Path, commit: str, remote: str | None = None) -> str:
    """The full sha of ``commit`` in the repository of ``root``, fetched from ``remote`` (or
    ``origin``) when it is not there yet; ReleaseError saying so when it cannot be found."""
    git = Git(root)
    if not git.has_commit(commit):
        source = _source(git, remote)
        if source is not None:
            try:
                with _serialised(home):
                    git.run("fetch", "--quiet", "--", source)
                    if not git.has_commit(commit):
                        git.run("fetch", "--quiet", "--", source, commit)
            except ReleaseError:
                pass  # said below, with what was tried
        if not git.has_commit(commit):
            tried = f" nor on the remote {source}" if source else " (and it has no remote)"
            raise ReleaseError(f"commit {commit} is not in the repository of {root}{tried}",
                               tip="push the commit, or point triggers.poll.remote at the "
                                   "repository that has it")
    return git.verify_ref(commit)


def _remove(git: Git, folder: Path) -> None:
    if folder.exists():
        try:
            git.run("worktree", "remove", "--force", str(folder))
        except ReleaseError:
            shutil.rmtree(folder, ignore_errors=True)
    with suppress(ReleaseError):
        git.run("worktree", "prune")


def remove(root: Path, home: Path, execution_id: int) -> None:
    """Remove the checkout of an execution (one a crash left behind)."""
    with _serialised(home):
        _remove(Git(root), home / FOLDER / str(execution_id))


@contextmanager
def checkout(root: Path, home: Path, execution_id: int, commit: str) -> Iterator[Workspace]:
    """A workspace on ``commit`` while an engine works on the execution (see the module
    doc); git commands that change the worktrees run one at a time."""
    git = Git(root)
    prefix = git.prefix()
    folder = home / FOLDER / str(execution_id)
    with _serialised(home):
        _remove(git, folder)
        git.run("worktree", "add", "--detach", "--quiet", str(folder), commit)
    ws: Workspace | None = None
    try:
        ws = Workspace.open(folder / prefix, home=home)
        yield ws
    finally:
        if ws is not None:
            ws.close()
        with _serialised(home):
            _remove(git, folder)


__all__ = ["FOLDER", "checkout", "ensure_commit", "remove"]
