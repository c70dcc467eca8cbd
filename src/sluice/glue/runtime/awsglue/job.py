"""``awsglue.job``: ``Job.init`` / ``Job.commit``, and the run's job bookmark.

``Job.init(job_name, args)`` starts the bookmark of the run: its option comes from ``args``
(the dictionary ``getResolvedOptions`` returned: ``job_bookmark_option``), else from
``sys.argv``, else ``job-bookmark-disable``; its state is the run context's
``bookmarks.state``. ``Job.commit()`` writes the advanced state to ``bookmarks.pending``
(see :mod:`._bookmarks`). Outside a sluice run there is no state to keep: reads see every
file and ``commit()`` writes nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from . import _options as opt
from ._bookmarks import Bookmarks
from ._support import unsupported
from .utils import GlueArgumentError, getResolvedOptions

__all__ = ["Job"]


def _bookmark_option(args: Mapping[str, Any]) -> str:
    for key in ("job_bookmark_option", "job-bookmark-option", opt.BOOKMARK):
        if args.get(key):
            return str(args[key])
    try:
        return str(getResolvedOptions(sys.argv, [])["job_bookmark_option"])
    except (GlueArgumentError, RuntimeError):
        return opt.BOOKMARK_DISABLE


class Job:
    """One run of a Glue job (``Job(glueContext)``, then ``init`` … ``commit``)."""

    @classmethod
    def continuation_options(cls) -> list[str]:
        return [opt.CONTINUATION, *opt.CONTINUATION_CHOICES]

    @classmethod
    def job_bookmark_options(cls) -> list[str]:
        return [opt.BOOKMARK, *opt.BOOKMARK_CHOICES]

    @classmethod
    def job_bookmark_range_options(cls) -> list[str]:
        return list(opt.BOOKMARK_RANGE)

    @classmethod
    def id_params(cls) -> list[str]:
        return list(opt.ID_PARAMS)

    @classmethod
    def encryption_type_options(cls) -> list[str]:
        return [opt.ENCRYPTION, *opt.ENCRYPTION_CHOICES]

    def __init__(self, glue_context: Any) -> None:
        if not hasattr(glue_context, "_session"):
            raise TypeError(f"Job(glue_context) needs a GlueContext, got {type(glue_context)}")
        self._glue_context = glue_context
        self._name: str | None = None
        self._bookmarks: Bookmarks | None = None

    def init(self, job_name: str, args: Mapping[str, Any] | None = None) -> None:
        args = dict(args or {})
        option = _bookmark_option(args)
        if option == opt.BOOKMARK_PAUSE and (args.get("job_bookmark_from")
                                             or args.get("job_bookmark_to")):
            raise unsupported("--job-bookmark-from/--job-bookmark-to",
                              "a paused bookmark reads the files new since the last commit")
        run = self._glue_context._run
        self._name = str(job_name)
        self._bookmarks = Bookmarks.start(option, run.job or self._name, run.bookmark_state,
                                          run.bookmark_pending)
        self._glue_context._bookmarks = self._bookmarks

    def isInitialized(self) -> bool:
        return self._name is not None

    def commit(self) -> None:
        if self._bookmarks is None:
            raise RuntimeError("Job.commit() called before Job.init(job_name, args)")
        self._bookmarks.commit()
