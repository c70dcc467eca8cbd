"""sluice's PySpark launcher: runs a job's script as ``__main__`` with its parameters.

``python pyspark_launcher.py SCRIPT ARGS...`` with ``$SLUICE_PARAMS_FILE`` naming a JSON object
of parameters (written by sluice with mode 0600 in a private temporary folder). The script
sees ``sys.argv == [SCRIPT, *ARGS, "--param", "NAME=VALUE", ...]``, exactly what it would see
if started with those arguments, but the process's real command line (``/proc/<pid>/cmdline``,
readable by every user of the machine) holds only ARGS: the inputs and outputs, never a
parameter value. The file is removed as soon as it is read.

This file is run by path, not imported from the package: it uses the standard library only,
and the script's folder replaces the launcher's on ``sys.path``, as for ``python SCRIPT``.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys

PARAMS_ENV = "SLUICE_PARAMS_FILE"


def script_argv(script: str, args: list[str], params: dict[str, str]) -> list[str]:
    """The argv the script gets: its own arguments, then one ``--param`` per parameter."""
    argv = [script, *args]
    for name, value in params.items():
        argv += ["--param", f"{name}={value}"]
    return argv


def _read_params() -> dict[str, str]:
    path = os.environ.pop(PARAMS_ENV, None)  # Spark's JVM and workers need not see it
    if not path:
        return {}
    with open(path, encoding="utf-8") as fh:
        loaded = json.load(fh)
    with contextlib.suppress(OSError):
        os.unlink(path)  # read once; sluice removes its folder after the run in any case
    return {str(k): str(v) for k, v in dict(loaded).items()}


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: pyspark_launcher.py SCRIPT [ARGS...]")
    script = sys.argv[1]
    sys.argv = script_argv(script, sys.argv[2:], _read_params())
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
