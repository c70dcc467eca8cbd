"""Fixtures for the gate matrix: the retail example with release 1 live everywhere (approved
for prod) and a candidate live in dev and staging, copied fresh for every test.

Two session templates are built once: ``r2`` (an ordinary candidate: one job changed) and
``weak`` (a candidate whose sluice.yaml drops prod's protection). Tests copy one of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.flow.conftest import (  # noqa: F401  (fixtures shared with the flow tests)
    USER,
    Project,
    _clean_env,
    _copy_example,
    deployed,
    deployed_template,
)

from sluice.flow.gates import decide, promote

APPROVER = "bob"
PROTECTION = "    protection:\n      approval_required: true\n      auto_promote: false\n"


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Run library calls as ``name`` (what $SLUICE_USER says on a single laptop)."""
    before = os.environ.get("SLUICE_USER")
    os.environ["SLUICE_USER"] = name
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SLUICE_USER", None)
        else:
            os.environ["SLUICE_USER"] = before


@dataclass(frozen=True)
class Stage:
    """A template: ``r1`` live in dev, staging and prod; ``candidate`` live in dev and
    staging, not approved for prod."""

    root: Path
    r1: str
    candidate: str


def _build(root: Path, change: str) -> Stage:
    p = _copy_example(root)
    r1 = p.release()
    for env in ("dev", "staging", "prod"):
        p.load(env)
    p.deploy("dev", r1)
    with p.workspace() as ws:
        promote(ws, "dev", "staging")
        with acting_as(APPROVER):
            decide(ws, "prod", None, approve=True, comment="first release")
        promote(ws, "staging", "prod")
    if change == "weak":
        p.edit("sluice.yaml", PROTECTION, "")
    else:
        p.edit("jobs/customer_orders.sql", "coalesce(sum(o.amount), 0) AS revenue",
               "round(coalesce(sum(o.amount), 0), 2) AS revenue")
    p.commit(f"candidate: {change}")
    candidate = p.release()
    p.deploy("dev", candidate)
    with p.workspace() as ws:
        promote(ws, "dev", "staging")
    return Stage(p.root, r1, candidate)


def build_template(factory: pytest.TempPathFactory, name: str,
                   build: Callable[[Path], Stage]) -> Stage:
    """A template built by ``build`` in a fresh folder, as USER, with no SLUICE_* leaking in
    from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG"):
            mp.delenv(var, raising=False)
        mp.setenv("SLUICE_USER", USER)
        return build(factory.mktemp(name) / "retail")


def _template(factory: pytest.TempPathFactory, change: str) -> Stage:
    return build_template(factory, f"gates-{change}", lambda root: _build(root, change))


@pytest.fixture(scope="session")
def r2_template(tmp_path_factory: pytest.TempPathFactory) -> Stage:
    return _template(tmp_path_factory, "r2")


@pytest.fixture(scope="session")
def weak_template(tmp_path_factory: pytest.TempPathFactory) -> Stage:
    return _template(tmp_path_factory, "weak")


def copy_stage(stage: Stage, dest: Path) -> tuple[Project, Stage]:
    shutil.copytree(stage.root, dest, symlinks=True)
    return Project(dest), Stage(dest, stage.r1, stage.candidate)


@pytest.fixture
def staged(r2_template: Stage, tmp_path: Path) -> tuple[Project, Stage]:
    return copy_stage(r2_template, tmp_path / "retail")


@pytest.fixture
def weak(weak_template: Stage, tmp_path: Path) -> tuple[Project, Stage]:
    return copy_stage(weak_template, tmp_path / "retail")
