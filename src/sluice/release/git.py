"""git, run as a subprocess with explicit arguments (no shell) from the project directory,
which may be a subdirectory of a larger repository."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from sluice.errors import ConfigError, ReleaseError

_GIT_TIMEOUT_S = 120


class Git:
    """The git commands sluice needs (no shell), with errors mapped to :class:`ReleaseError`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._prefix: str | None = None

    def run(self, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> str:
        full_env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", **(env or {})}
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=cwd or self.root,
                env=full_env,
                capture_output=True,
                check=False,
                timeout=_GIT_TIMEOUT_S,
            )
        except FileNotFoundError as exc:
            raise ReleaseError(
                "git is not installed (or not on PATH); releases are built from git",
                tip="install git",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ReleaseError(f"`git {' '.join(args)}` timed out in {self.root}") from exc
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            if "not a git repository" in stderr:
                raise ReleaseError(
                    f"{self.root} is not in a git repository; releases are built from git",
                    tip="git init && git add -A && git commit -m 'first commit'",
                )
            raise ReleaseError(
                f"`git {' '.join(args)}` failed in {self.root}: {stderr or proc.returncode}"
            )
        return proc.stdout.decode("utf-8", "surrogateescape")

    def prefix(self) -> str:
        """The project directory relative to the repository root ('' or 'a/b/')."""
        if self._prefix is None:
            self._prefix = self.run("rev-parse", "--show-prefix").strip()
        return self._prefix

    def head(self) -> tuple[str, str, str]:
        """(commit sha, 'author <email>', committer date ISO 8601) of HEAD."""
        if not self._has_head():
            raise ReleaseError(
                f"the repository of {self.root} has no commit yet",
                tip="commit first: git add -A && git commit -m 'first commit'",
            )
        out = self.run("log", "-1", "--no-show-signature", "--format=%H%x00%an <%ae>%x00%cI")
        commit, author, committed_at = out.rstrip("\n").split("\x00")
        return commit, author, committed_at

    def _has_head(self) -> bool:
        try:
            self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}")
        except ReleaseError as exc:
            if exc.tip is not None:  # git missing, or not a repository
                raise
            return False
        return True

    def dirty_paths(self, prefix: str) -> list[str]:
        """Changed, staged or untracked (not ignored) paths, relative to the project dir."""
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
        entries = out.split("\x00")
        paths: list[str] = []
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if len(entry) < 4:
                continue
            status, path = entry[:2], entry[3:]
            if "R" in status or "C" in status:
                i += 1  # the next field is the source path of the rename or copy
            # Porcelain paths are relative to the repository root, not the cwd.
            if path.startswith(prefix):
                paths.append(path[len(prefix) :])
        return sorted(set(paths))

    def list_files(self, *, include_untracked: bool) -> list[str]:
        """Tracked files (plus untracked, not ignored ones), relative to the project dir."""
        args = ["ls-files", "-z"]
        if include_untracked:
            args += ["-c", "-o", "--exclude-standard"]
        out = self.run(*args)
        return sorted({p for p in out.split("\x00") if p})

    def worktree_tree(self) -> str:
        """The git tree id of the project directory as it is on disk, untracked (not ignored)
        files included: equal to ``HEAD:<prefix>`` when the work tree is clean.

        Computed with a throw-away index, so neither the user's index nor HEAD is touched.
        """
        prefix = self.prefix()
        with tempfile.TemporaryDirectory(prefix="sluice-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.run("add", "-A", "--", ".", env=env)
            args = ["write-tree", f"--prefix={prefix}"] if prefix else ["write-tree"]
            return self.run(*args, env=env).strip()

    def changed_since(self, ref: str) -> list[str]:
        """Files that differ between ``ref`` and the work tree (untracked ones included),
        relative to the project directory."""
        self.verify_ref(ref)
        out = self.run("diff", "--name-only", "-z", "--no-renames", "--relative", ref, "--", ".")
        changed = {p for p in out.split("\x00") if p}
        untracked = self.run("ls-files", "-z", "-o", "--exclude-standard")
        changed.update(p for p in untracked.split("\x00") if p)
        return sorted(changed)

    def changed_between(self, old: str, new: str) -> list[str]:
        """Files of the project directory that differ between commits ``old`` and ``new``."""
        self.verify_ref(old)
        self.verify_ref(new)
        out = self.run("diff", "--name-only", "-z", "--no-renames", "--relative", old, new,
                       "--", ".")
        return sorted({p for p in out.split("\x00") if p})

    def verify_ref(self, ref: str) -> str:
        """The commit ``ref`` names; a clear error for anything else (an option included)."""
        if ref.startswith("-"):
            raise ReleaseError(f"{ref!r} is not a git ref", tip="name a branch, tag or commit")
        try:
            return self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
        except ReleaseError as exc:
            raise ReleaseError(f"{ref!r} is not a commit of this repository",
                               tip="name a branch, tag or commit (git fetch it first in CI)"
                               ) from exc

    def has_commit(self, ref: str) -> bool:
        """Whether ``ref`` names a commit in this repository (never an option)."""
        try:
            self.verify_ref(ref)
        except ReleaseError:
            return False
        return True

    def resolve_remote(self, remote: str) -> str:
        """What to hand git for a remote written in ``sluice.yaml`` (``triggers.poll.remote``):
        a remote's name or a URL as written, a local repository's path made absolute (relative
        paths are from the project). ConfigError for what looks like an option or names a
        path with no repository; pass the result after ``--``."""
        if remote.startswith("-"):
            raise ConfigError(f"triggers.poll.remote {remote!r} looks like an option",
                              tip="name a remote, a URL or a repository path")
        if "://" in remote or re.match(r"^[\w.-]+@[\w.-]+:", remote):
            return remote
        path = Path(remote).expanduser()
        if "/" in remote or remote.startswith(".") or path.is_absolute():
            resolved = path if path.is_absolute() else (self.root / path)
            if not resolved.exists():
                raise ConfigError(f"triggers.poll.remote: no repository at {resolved}",
                                  tip="name a remote, a URL or a repository path")
            return str(resolved.resolve())
        return remote  # a remote of the repository: git says if it does not exist

    def show(self, ref: str, rel: str) -> str | None:
        """A file of the project directory at ``ref``; None when it did not exist there."""
        self.verify_ref(ref)
        try:
            return self.run("show", f"{ref}:./{rel}")
        except ReleaseError:
            return None
