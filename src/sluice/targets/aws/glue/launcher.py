"""sluice's Glue launcher (the Glue job's script; it runs on Glue, not in sluice).

Glue passes job arguments as a map, so a script's repeated ``--input NAME=PATH`` arguments
cannot be passed directly. sluice starts a run with ``--sluice_argv`` (a JSON list of the
arguments the script gets when it runs locally; without it, as when a workflow starts the
job, the script gets Glue's arguments as they are) and the job's ``--sluice_script`` (the S3
URL of the project's script); this launcher fetches the script and runs it as ``__main__``
with that argv, so the same script runs locally and on Glue, with S3 paths.
"""

import json
import runpy
import sys
import tempfile


def _option(name: str) -> str | None:
    flag = f"--{name}"
    return sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv[:-1] else None


def main() -> None:
    import boto3

    script = _option("sluice_script")
    if script is None:
        raise SystemExit("sluice launcher: the job has no --sluice_script argument")
    given = _option("sluice_argv")
    # started by sluice: the script's own argv; by a workflow or schedule: Glue's arguments
    argv = json.loads(given) if given is not None else sys.argv[1:]
    bucket, _, key = script[len("s3://"):].partition("/")
    local = tempfile.mkdtemp() + "/" + key.rsplit("/", 1)[-1]
    boto3.client("s3").download_file(bucket, key, local)
    sys.argv = [local, *argv]
    runpy.run_path(local, run_name="__main__")


if __name__ == "__main__":
    main()
