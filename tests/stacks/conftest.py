"""The CDK CLI and aws-cdk-lib that `make` installs into .venv/cdk (npm), for the `cdk` tests."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

CDK_HOME = Path(sys.prefix) / "cdk" / "node_modules"


@pytest.fixture
def cdk_cli(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cdk executable (SLUICE_CDK points at it; NODE_PATH lets apps require aws-cdk-lib)."""
    cli = CDK_HOME / ".bin" / "cdk"
    if shutil.which("node") is None or not cli.is_file() or not (CDK_HOME / "aws-cdk-lib").is_dir():
        pytest.skip(f"needs node and the CDK in {CDK_HOME.parent}: run `make .venv/.installed-dev`"
                    " (npm install --prefix .venv/cdk aws-cdk aws-cdk-lib constructs)")
    monkeypatch.setenv("SLUICE_CDK", str(cli))
    monkeypatch.setenv("NODE_PATH", str(CDK_HOME))
    return cli
