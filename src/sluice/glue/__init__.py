"""Glue jobs: AWS Glue PySpark scripts run as written.

- :mod:`sluice.glue.arguments` resolves a glue job's ``arguments`` for one run and builds the
  ``sys.argv`` Glue would give the script.
- ``runtime/awsglue`` is a Glue-compatible ``awsglue`` package on PySpark local mode. It is
  importable only where sluice puts :func:`runtime_path` on ``sys.path``: the job's own
  process (the Spark driver) and the pytest plugin; sluice itself never imports it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["runtime_path"]


def runtime_path() -> Path:
    """The folder to put on ``sys.path`` so that ``import awsglue`` finds sluice's runtime."""
    return Path(__file__).with_name("runtime")
