"""Job bookmarks for file sources, kept the way Glue keeps S3 bookmarks.

A read with a ``transformation_ctx`` in a job run with ``job-bookmark-enable`` skips every
file that an earlier *committed* run of the job read under the same context, unless the
file was modified since (by path and modification time). ``Job.commit()`` writes the new
state (the old one plus what this run read) to the run context's ``bookmarks.pending``
file; sluice moves it over ``bookmarks.state`` only when the deploy publishes, so a run
whose outputs fail their audit reads the same files again next time. ``job-bookmark-pause``
reads only new files but commits nothing; ``job-bookmark-disable`` reads everything.

The state file (JSON, written atomically)::

    {"version": 1, "job": "persons",
     "contexts": {"datasource0": {"files": {"/abs/objects/raw/persons/day1.json":
                                              1733212800000000000}}}}   # mtime, ns

Remote (``s3://``) paths are not listed locally, so reads of them are never bookmarked.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field

from . import _options as opt
from ._locations import Listed

VERSION = 1


class BookmarkStateError(ValueError):
    """The bookmark state sluice handed this run cannot be read."""


def _load(path: str | None) -> dict[str, dict[str, int]]:
    if not path or not os.path.exists(path):
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            raw = json.load(fh)
        if raw.get("version") != VERSION:
            raise BookmarkStateError(
                f"job bookmark state {path} has version {raw.get('version')!r}, "
                f"this runtime reads version {VERSION}")
        return {str(ctx): {str(p): int(t) for p, t in body.get("files", {}).items()}
                for ctx, body in raw.get("contexts", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        if isinstance(exc, BookmarkStateError):
            raise
        raise BookmarkStateError(
            f"job bookmark state {path} is unreadable ({exc}); reset the job's bookmark "
            "to read every file again") from None


@dataclass
class Bookmarks:
    """The bookmark of one job run: what committed runs read, and what this one reads."""

    option: str
    job: str
    pending: str | None
    committed: dict[str, dict[str, int]] = field(default_factory=dict)
    read: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def start(cls, option: str, job: str, state: str | None, pending: str | None) -> Bookmarks:
        if option not in opt.BOOKMARK_CHOICES:
            raise ValueError(f"{opt.BOOKMARK} {option!r} is not one of "
                             f"{', '.join(opt.BOOKMARK_CHOICES)}")
        committed = _load(state) if option != opt.BOOKMARK_DISABLE else {}
        return cls(option, job, pending, committed)

    @property
    def active(self) -> bool:
        return self.option != opt.BOOKMARK_DISABLE

    def select(self, ctx: str, files: list[Listed]) -> list[Listed]:
        """The files of ``files`` this run reads under ``ctx``; remembers them."""
        if not self.active or not ctx:
            return files
        done = self.committed.get(ctx, {})
        new = [f for f in files if done.get(f.path, -1) < f.mtime_ns]
        self.read.setdefault(ctx, {}).update({f.path: f.mtime_ns for f in new})
        return new

    def commit(self) -> str | None:
        """Write the advanced state to the pending file (``job-bookmark-enable`` only);
        returns the file written, if any."""
        if self.option != opt.BOOKMARK_ENABLE or not self.pending:
            return None
        merged = {ctx: dict(files) for ctx, files in self.committed.items()}
        for ctx, files in self.read.items():
            merged.setdefault(ctx, {}).update(files)
        body = {"version": VERSION, "job": self.job,
                "contexts": {ctx: {"files": dict(sorted(files.items()))}
                             for ctx, files in sorted(merged.items())}}
        folder = os.path.dirname(os.path.abspath(self.pending))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".bookmarks-", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(body, fh, indent=1)
        os.replace(tmp, self.pending)
        return self.pending
