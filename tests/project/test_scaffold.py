"""`sluice init`: both templates scaffold a project that works, and nothing scaffolded
carries wording that only makes sense inside the team that wrote sluice."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sluice.project.ci import TEMPLATES as CI_TEMPLATES
from sluice.project.scaffold import TEMPLATES, scaffold, template_dir
from tests.flow.conftest import Project, cli_env

REPO = Path(__file__).resolve().parents[2]

#: Wording of the people who build sluice, not of its users: tickets, the team, unfinished
#: work. ``session`` only as a word of its own (SparkSession and spark.sql.session.* are fine).
INTERNAL = re.compile(
    r"\bissues?\b|\bhelpers?\b|(?<![\w.])session(?![\w.])|\bTODO\b|\bFIXME\b|\bXXX\b"
    r"|\blead\b|\bstubs?\b|\bhack(s|y)?\b|#\d+\b|\bwave\b|\bfirst wave\b|\blater issue\b",
    re.IGNORECASE,
)


def _sluice(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sluice.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=cli_env("ann"), timeout=300,
                          check=False)


def _internal_wording(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or ".git" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in INTERNAL.finditer(line):
                found.append(f"{path.relative_to(folder)}:{number}: {match.group(0)!r} in "
                             f"{line.strip()!r}")
    return found


def test_the_wording_pattern_catches_what_it_should() -> None:
    for text in ("see issue 11", "TODO: finish", "a stub for now", "(#12)", "the lead merges",
                 "in this session", "first wave", "hack around it"):
        assert INTERNAL.search(text), text
    for text in ("SparkSession.builder", 'config("spark.sql.session.timeZone", "UTC")',
                 "def spark_session(app)", "leading zeros", "#   sluice load dev data"):
        assert not INTERNAL.search(text), text


@pytest.mark.parametrize("template", sorted(TEMPLATES))
@pytest.mark.parametrize("ci", sorted(CI_TEMPLATES))
def test_nothing_scaffolded_has_internal_wording(tmp_path: Path, template: str,
                                                 ci: str) -> None:
    dest = tmp_path / "project"
    proc = _sluice(tmp_path, "init", str(dest), "--template", template, "--ci", ci)
    assert proc.returncode == 0, proc.stderr
    assert (dest / CI_TEMPLATES[ci][0]).is_file()
    assert _internal_wording(dest) == []
    assert not INTERNAL.search(proc.stdout), proc.stdout


def test_the_blank_template_checks_releases_and_deploys_on_duckdb(tmp_path: Path) -> None:
    dest = tmp_path / "fresh"
    init = _sluice(tmp_path, "init", str(dest))  # blank is the default
    assert init.returncode == 0, init.stderr
    assert "blank template" in init.stdout
    assert (dest / "sluice.yaml").read_text(encoding="utf-8").startswith("# sluice.yaml:")
    assert (dest / ".gitignore").read_text(encoding="utf-8") == ".sluice/\n__pycache__/\n"
    project = Project(dest)
    project.init_git()

    check = _sluice(dest, "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "check passed" in check.stdout
    for args in (("release",), ("load", "dev", "data"), ("deploy", "dev")):
        step = _sluice(dest, *args)
        assert step.returncode == 0, f"sluice {' '.join(args)}:\n{step.stdout}{step.stderr}"
    status = _sluice(dest, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert '"env": "dev"' in status.stdout
    # the data went through the job: NL and nl are one country
    import duckdb

    with duckdb.connect(str(dest / ".sluice" / "envs" / "dev" / "warehouse.duckdb"),
                        read_only=True) as con:
        rows = con.sql("SELECT country, signups FROM marts.signups_by_country "
                       "ORDER BY country").fetchall()
    assert rows == [("DE", 2), ("FR", 1), ("NL", 2)]


def test_the_retail_template_is_the_retail_example(tmp_path: Path) -> None:
    written = scaffold(tmp_path / "shop", "retail")
    example = REPO / "examples" / "retail"
    expected = sorted(p.relative_to(example) for p in example.rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts and ".sluice" not in p.parts)
    assert written == sorted([*expected, Path(".gitignore")])
    assert (tmp_path / "shop" / "sluice.yaml").read_bytes() == (
        example / "sluice.yaml").read_bytes()


def test_an_unknown_template_names_the_choices_and_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "p"
    proc = _sluice(tmp_path, "init", str(dest), "--template", "shop")
    assert proc.returncode == 2
    assert "Error: --template shop: unknown template" in proc.stderr
    assert "Tip: choose one of: blank (" in proc.stderr and "retail (" in proc.stderr
    assert not dest.exists()


def test_an_unknown_ci_system_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "p"
    proc = _sluice(tmp_path, "init", str(dest), "--ci", "jenkins")
    assert proc.returncode == 2
    assert "Error: --ci jenkins: unknown CI system" in proc.stderr
    assert not dest.exists()


def test_init_refuses_an_existing_project_but_adds_ci_to_it(tmp_path: Path) -> None:
    scaffold(tmp_path, "blank")
    again = _sluice(tmp_path, "init", ".")
    assert again.returncode == 2
    assert "sluice.yaml already exists" in again.stderr
    ci = _sluice(tmp_path, "init", ".", "--ci", "github")
    assert ci.returncode == 0, ci.stderr
    assert (tmp_path / ".github" / "workflows" / "sluice.yml").is_file()


def test_templates_ship_inside_the_package() -> None:
    assert template_dir("blank").is_relative_to(REPO / "src" / "sluice" / "templates")
    hatch = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["hatch"]
    wheel = hatch["build"]["targets"]["wheel"]
    assert "src/sluice" in wheel["packages"]  # carries src/sluice/templates/blank
    assert wheel["force-include"]["examples/retail"] == "sluice/_examples/retail"


def test_the_blank_templates_commented_glue_job_is_a_valid_glue_job() -> None:
    """The glue example in the blank sluice.yaml's comments validates as written, so a
    newcomer who uncomments it gets no config error from the job itself."""
    import yaml

    from sluice.config.jobs import GlueJob

    text = (template_dir("blank") / "sluice.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "#   signups_clean:")
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("#     "):
            break
        block.append(line[1:])
    job = GlueJob.model_validate(yaml.safe_load("\n".join(block)))
    assert job.script == "glue/signups_clean.py"
    assert set(job.arguments) == {"--SOURCE_PATH", "--OUTPUT_PATH"}
    assert job.outputs == ["curated.signups"]
