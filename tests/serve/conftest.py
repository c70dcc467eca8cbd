"""Fixtures for the control plane's tests: a project with ``access:`` declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sluice.project.workspace import Workspace
from tests.retail import copy_retail

ACCESS = """
access:
  users:
    priya:
      roles: [approver:prod, viewer]
      aliases: [Priya Patel, priya@example.com]
    dan:
      roles: [deployer:dev, deployer:staging]
  service_accounts:
    ci:
      roles: [deployer:dev]
"""


def project_with(dest: Path, extra: str = ACCESS) -> Path:
    """The retail example (no PySpark) with ``extra`` appended to its sluice.yaml."""
    copy_retail(dest, spark=False)
    with (dest / "sluice.yaml").open("a", encoding="utf-8") as out:
        out.write(extra)
    return dest


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG", "SLUICE_SERVER",
                 "SLUICE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLUICE_USER", "alice")


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace of the retail example with ``access:`` declared (nothing built)."""
    workspace = Workspace.open(project_with(tmp_path / "retail"))
    try:
        yield workspace
    finally:
        workspace.close()
