"""sluice's Glue-compatible runtime: ``awsglue`` on PySpark local mode.

What it supports and where its semantics differ from AWS Glue: docs/glue.md. Modules use
relative imports only, so the package works both as ``awsglue`` (in a job's process) and as
``sluice.glue.runtime.awsglue`` (for mypy and ruff).
"""

from ._support import GlueUnsupportedError  # sluice's: what the local runtime lacks
from .dynamicframe import DynamicFrame, DynamicFrameCollection  # as awsglue exports them

__all__ = ["DynamicFrame", "DynamicFrameCollection", "GlueUnsupportedError"]
