"""The pytest plugin for a repository's own tests of its Glue scripts.

Such tests build ``GlueContext(SparkContext.getOrCreate())`` as AWS's samples do, or take the
``glue_context`` / ``spark`` fixtures of this plugin. Either way they need an ``awsglue`` to
import: at configure time the plugin puts sluice's Glue-compatible runtime
(:func:`sluice.glue.runtime_path`) on ``sys.path`` unless an ``awsglue`` is importable
already (a real Glue image's wins).

``sluice check`` loads the plugin with ``-p sluice.glue.pytest_plugin``; it is also a
``pytest11`` entry point of the same name, so a plain ``pytest`` finds it once sluice is
installed. Nothing here starts Spark until a test asks for a fixture, and a conftest's own
``spark`` or ``glue_context`` fixture overrides the plugin's (as in sluice's own test suite).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from sluice.glue import runtime_path

#: Spark settings of the shared session: small and quiet, for many small tests.
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.catalogImplementation": "in-memory",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
MASTER = "local[2]"


def awsglue_origin() -> str:
    """Where ``import awsglue`` finds its package ("" when nothing provides one)."""
    try:
        spec = importlib.util.find_spec("awsglue")
    except (ImportError, ValueError):
        return ""
    if spec is None:
        return ""
    locations = list(spec.submodule_search_locations or [])
    return locations[0] if locations else spec.origin or ""


def pytest_configure(config: pytest.Config) -> None:
    # at configure time, before test modules are imported: `from awsglue.context import
    # GlueContext` at a module's top must already work
    if not awsglue_origin():
        path = str(runtime_path())
        if path not in sys.path:
            sys.path.append(path)  # appended: whatever the project puts first still wins


def pytest_report_header(config: pytest.Config) -> str:
    return f"sluice glue plugin: awsglue from {awsglue_origin() or 'nowhere'}"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local SparkSession for the whole test session (local[2], 2 shuffle partitions,
    no UI); also what ``SparkContext.getOrCreate()`` returns inside the tests."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        pytest.fail(f"the spark fixture needs pyspark ({exc}); pip install 'sluice-cd[spark]'",
                    pytrace=False)
    # Spark's Python workers must run this interpreter (the test environment), not `python3`
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.master(MASTER).appName("sluice-glue-tests")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def glue_context(spark: Any) -> Any:
    """``GlueContext(spark.sparkContext)`` from the ``awsglue`` this session imports."""
    # imported by name: `awsglue` is a top-level package only where this plugin put it
    context = importlib.import_module("awsglue.context")
    return context.GlueContext(spark.sparkContext)
