"""Fixtures of the DynamicFrame and transforms tests.

``import awsglue`` finds sluice's runtime: :func:`sluice.glue.runtime_path` goes on
``sys.path`` when this conftest loads, as in a job's process (the folder's own conftest may
do the same; inserting it twice is harmless). Spark's Python workers are *not* given that
path, so the tests also show that Map and Filter work without ``awsglue`` on the workers'
path.

``frame_of(rows, name="")`` (function)
    A DynamicFrame of JSON-like ``rows`` (dicts), read the way Spark reads JSON lines, so
    types (and "choices": mixed values in one field) come out as a Glue script would see
    them from an S3 JSON source. Built with ``DynamicFrame.fromDF(df, None, name)``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from sluice.glue import runtime_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_RUNTIME = str(runtime_path())
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)


@pytest.fixture
def frame_of(spark: SparkSession) -> Callable[..., Any]:
    from awsglue.dynamicframe import DynamicFrame

    def build(rows: list[dict[str, Any]], name: str = "") -> Any:
        lines = spark.sparkContext.parallelize([json.dumps(r) for r in rows], 2)
        return DynamicFrame.fromDF(spark.read.json(lines), None, name)

    return build
