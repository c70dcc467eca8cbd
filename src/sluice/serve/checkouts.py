"""One git worktree per running stage: the commit an execution carries, on disk.

The server's project folder is a git repository; a stage works on its execution's commit in
``<home>/checkouts/<execution id>`` (``git worktree add --detach``), opened as a
:class:`~sluice.project.workspace.Workspace` whose home is the *server's* (same state store,
artifacts and environments), and removed when the stage ends. A folder left by a crash is
removed before the next stage adds it again. Nothing in the checkout is run beyond what
sluice itself runs (check, release, deploy).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sluice.errors import ReleaseError
from sluice.project.workspace import Workspace
from sluice.release.git import Git

FOLDER = "checkouts"


def _has_commit(git: Git, commit: str) -> bool:
    try:
        git.run("cat-file", "-e", f"{commit}^{{commit}}")
    except ReleaseError:
        return False
    return True


def _remote(git: Git, wanted: str | None) -> str | None:
    """The remote to fetch from: the poll trigger's, else ``origin`` when it exists."""
    if wanted and ("/" in wanted or ":" in wanted):
        return wanted  # a URL or a path
    name = wanted or "origin"
    try:
        git.run("remote", "get-url", name)
    except ReleaseError:
        return None
    return name


def ensure_commit(root: Path, commit: str, remote: str | None = None) -> str:
    """The full sha of ``commit`` in the repository of ``root``, fetched from ``remote`` (or
    ``origin``) when it is not there yet; ReleaseError saying so when it cannot be found."""
    git = Git(root)
    if not _has_commit(git, commit):
        source = _remote(git, remote)
        if source is not None:
            try:
                git.run("fetch", "--quiet", source)
                if not _has_commit(git, commit):
                    git.run("fetch", "--quiet", source, commit)
            except ReleaseError:
                pass  # said below, with what was tried
        if not _has_commit(git, commit):
            tried = f" nor on the remote {source}" if source else " (and it has no remote)"
            raise ReleaseError(f"commit {commit} is not in the repository of {root}{tried}",
                               tip="push the commit, or point triggers.poll.remote at the "
                                   "repository that has it")
    return git.run("rev-parse", f"{commit}^{{commit}}").strip()


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
    _remove(Git(root), home / FOLDER / str(execution_id))


@contextmanager
def checkout(root: Path, home: Path, execution_id: int, commit: str) -> Iterator[Workspace]:
    """A workspace on ``commit`` for the duration of one stage (see the module doc)."""
    git = Git(root)
    prefix = git.prefix()
    folder = home / FOLDER / str(execution_id)
    _remove(git, folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReleaseError(f"cannot create the checkout folder {folder.parent}: {exc}",
                           tip="make the server's home writable (SLUICE_HOME)") from exc
    git.run("worktree", "add", "--detach", "--quiet", str(folder), commit)
    ws: Workspace | None = None
    try:
        ws = Workspace.open(folder / prefix, home=home)
        yield ws
    finally:
        if ws is not None:
            ws.close()
        _remove(git, folder)


__all__ = ["FOLDER", "checkout", "ensure_commit", "remove"]
