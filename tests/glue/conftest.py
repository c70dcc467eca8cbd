"""Fixtures for the tests of sluice's ``awsglue`` runtime.

``import awsglue`` in these tests finds sluice's runtime (``runtime_path()`` goes on
``sys.path`` when this conftest is loaded, before any test module of the folder), exactly as
in a job's process.

Fixtures
--------
``spark`` (session)
    The one local SparkSession of the test session (``tests/engine_fixtures.py``).
``glue_context`` (function)
    ``GlueContext(spark.sparkContext)`` under the run context that is current when the test
    asks for it (none by default: catalog calls fail, paths are used as given).
``glue_run`` (function)
    A factory ``glue_run(**fields) -> Path`` that writes a run context file (the JSON of
    ``awsglue._run``) into the test's ``tmp_path`` and points ``$SLUICE_GLUE_CONTEXT`` at it;
    call it before asking for a GlueContext (or build one yourself afterwards).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sluice.glue import runtime_path

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_RUNTIME = str(runtime_path())
if _RUNTIME not in sys.path:
    sys.path.insert(0, _RUNTIME)

CONTEXT_ENV = "SLUICE_GLUE_CONTEXT"


@pytest.fixture
def glue_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Write a run context file and name it in ``$SLUICE_GLUE_CONTEXT`` (see module doc)."""
    counter = iter(range(1_000_000))

    def write(**fields: Any) -> Path:
        path = tmp_path / f"glue-context-{next(counter)}.json"
        path.write_text(json.dumps(fields), encoding="utf-8")
        monkeypatch.setenv(CONTEXT_ENV, str(path))
        return path

    monkeypatch.delenv(CONTEXT_ENV, raising=False)
    yield write


@pytest.fixture
def glue_context(spark: SparkSession) -> Any:
    """A GlueContext on the shared SparkSession (no run context unless ``glue_run`` set one)."""
    from awsglue.context import GlueContext

    return GlueContext(spark.sparkContext)
