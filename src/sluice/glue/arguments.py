"""A glue job's arguments for one run, and the ``sys.argv`` Glue gives its script.

``${input:NAME}`` becomes where that input lives in the environment (a local folder or an
``s3://`` prefix) and ``${output:NAME}`` the location of the version being written; the
environment's ``${param}`` references were substituted when sluice.yaml was loaded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping

from sluice.config import GlueJob
from sluice.config.jobs import GLUE_REFERENCE
from sluice.config.names import qualify

BOOKMARK_OPTION = "--job-bookmark-option"
BOOKMARK_DEFAULT = "job-bookmark-disable"


def resolve(job: GlueJob, inputs: Callable[[str], str],
            outputs: Callable[[str], str]) -> dict[str, str]:
    """``job.arguments`` with each reference replaced by ``inputs(dataset)`` or
    ``outputs(dataset)`` (qualified names), in the order they are declared."""
    def one(value: str) -> str:
        return GLUE_REFERENCE.sub(
            lambda m: (inputs if m["kind"] == "input" else outputs)(qualify(m["name"])), value)

    return {key: one(value) for key, value in job.arguments.items()}


def run_ids() -> tuple[str, str]:
    """A ``(JOB_ID, JOB_RUN_ID)`` pair shaped like Glue's (``j_…``, ``jr_…``)."""
    return f"j_{secrets.token_hex(32)}", f"jr_{secrets.token_hex(32)}"


def glue_argv(script: str, job_name: str, arguments: Mapping[str, str], *,
              temp_dir: str, ids: tuple[str, str] | None = None) -> list[str]:
    """``sys.argv`` as a Glue job run passes it: the script, Glue's own arguments
    (``--JOB_ID``, ``--JOB_RUN_ID``, ``--job-bookmark-option``, ``--TempDir``, ``--JOB_NAME``),
    then each argument as ``--NAME VALUE``. ``--TempDir`` is always ``temp_dir`` (the run's
    own folder, the one the runtime lets a script write and purge): a ``--TempDir`` of the
    job's arguments is Glue's on AWS, not a local run's."""
    job_id, run_id = ids or run_ids()
    own = {"--JOB_ID": job_id, "--JOB_RUN_ID": run_id,
           BOOKMARK_OPTION: arguments.get(BOOKMARK_OPTION, BOOKMARK_DEFAULT),
           "--TempDir": temp_dir, "--JOB_NAME": job_name}
    argv = [script]
    for key, value in {**own, **{k: v for k, v in arguments.items() if k not in own}}.items():
        argv += [key, value]
    return argv
