"""The errors the context side raises in a job's process (beside ``GlueUnsupportedError``).

They are plain Python exceptions, shaped like what a Glue job sees (Glue's catalog answers a
missing table with ``EntityNotFoundException``), with messages that say what to change.
"""

from __future__ import annotations


class EntityNotFoundException(LookupError):
    """A catalog database or table this run does not know (or no catalog at all)."""


class GlueLocationError(ValueError):
    """A path the local runtime will not read, write or purge in this run."""


# tracebacks name them where a script can catch them (awsglue.context), not where they live
EntityNotFoundException.__module__ = GlueLocationError.__module__ = "awsglue.context"
