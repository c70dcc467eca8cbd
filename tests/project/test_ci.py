"""The CI definitions `sluice init --ci` writes install sluice-cd at the version that wrote
them, quoted so that YAML and the shell both read one requirement."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice import __version__
from sluice.errors import UsageError
from sluice.project.ci import TEMPLATES, render, requirement, write_ci


def _commands(kind: str, doc: dict[str, Any]) -> list[str]:
    if kind == "github":
        return [step["run"] for job in doc["jobs"].values() for step in job["steps"]
                if "run" in step]
    return [c for phase in doc["phases"].values() for c in phase.get("commands", [])]


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_the_template_installs_sluice_cd_at_this_version(kind: str) -> None:
    _, text = render(kind)
    installs = [c for c in _commands(kind, yaml.safe_load(text)) if c.startswith("pip ")]
    assert installs, text
    for command in installs:
        assert shlex.split(command) == ["pip", "install",
                                        f"sluice-cd[spark,check]=={__version__}"]
    assert "sluice[" not in text and "@SLUICE_REQUIREMENT@" not in text


def test_the_requirement_pins_the_running_version() -> None:
    assert requirement() == f"sluice-cd[spark,check]=={__version__}"
    assert requirement("2.3.4") == "sluice-cd[spark,check]==2.3.4"


def test_written_files_are_the_rendered_templates(tmp_path: Path) -> None:
    for kind in TEMPLATES:
        rel, text = render(kind)
        assert write_ci(tmp_path, kind) == tmp_path / rel
        assert (tmp_path / rel).read_text(encoding="utf-8") == text
    with pytest.raises(UsageError, match="unknown CI system"):
        render("jenkins")
