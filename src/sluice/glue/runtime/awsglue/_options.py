"""The job arguments Glue reserves for itself, shared by :mod:`.utils` and :mod:`.job`.

Glue gives every job run these options; a script may read them from the dictionary
:func:`awsglue.utils.getResolvedOptions` returns but may not ask for them by name.
"""

from __future__ import annotations

BOOKMARK = "--job-bookmark-option"
BOOKMARK_ENABLE = "job-bookmark-enable"
BOOKMARK_PAUSE = "job-bookmark-pause"
BOOKMARK_DISABLE = "job-bookmark-disable"
BOOKMARK_CHOICES = (BOOKMARK_ENABLE, BOOKMARK_PAUSE, BOOKMARK_DISABLE)

#: The older spelling of the bookmark option; each choice maps to the bookmark choice at
#: the same position (enabled -> enable, readonly -> pause, ignore -> disable).
CONTINUATION = "--continuation-option"
CONTINUATION_CHOICES = ("continuation-enabled", "continuation-readonly", "continuation-ignore")

#: With ``job-bookmark-pause``, the run ids that bound the files a run reads.
BOOKMARK_RANGE = ("--job-bookmark-from", "--job-bookmark-to")

#: ``--JOB_NAME`` is not reserved (a script asks for it); the others are optional extras.
ID_PARAMS = ("--JOB_NAME", "--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION")

ENCRYPTION = "--encryption-type"
ENCRYPTION_CHOICES = ("sse-s3",)

#: Options a script may name without ``--`` that Glue fills from ``--TempDir`` either way.
TEMP_DIRS = ("RedshiftTempDir", "TempDir")
