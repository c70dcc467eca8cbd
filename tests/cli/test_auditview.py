"""A failed audit through `sluice deploy`: each failing row once, duplicate keys grouped,
every failed rule at the line that declares it (sluice.yaml or the rules file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sluice.deploy.deployer import AuditFailed
from sluice.project.scaffold import scaffold
from tests.flow.conftest import Project

DATASET = "marts.signups_by_country"
SQL = "jobs/signups_by_country.sql"
RULES = "quality/signups_by_country.dqdl"


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.fixture
def broken(tmp_path: Path) -> Project:
    """The blank template, deployed once, then a job that repeats countries (NL and DE
    twice) over data with a three-letter country that two rules refuse."""
    root = tmp_path / "p"
    scaffold(root, "blank")
    p = Project(root)
    p.init_git()
    p.load("dev")
    p.deploy("dev", p.release())

    (root / SQL).write_text(
        "SELECT upper(trim(country)) AS country, CAST(1 AS BIGINT) AS signups,\n"
        "       CAST(signed_up_at AS TIMESTAMP) AS first_signup\nFROM raw.signups\n",
        encoding="utf-8")
    p.edit(RULES, "    RowCount > 0,", '    RowCount > 0,\n    ColumnValues "country" in '
                                         '["NL", "DE", "FR", "US"],')
    p.commit("one row per signup")
    data = tmp_path / "batch"
    shutil.copytree(root / "data", data)
    with (data / "raw" / "signups" / "signups.csv").open("a", encoding="utf-8") as f:
        f.write("6,USA,2026-01-08 10:00:00\n")
    p.load("dev", data)
    return p


def test_the_audit_result_locates_rules_and_counts_repeated_keys(broken: Project) -> None:
    with pytest.raises(AuditFailed) as caught:
        broken.deploy("dev", broken.release())
    (audit,) = caught.value.audits
    config = broken.root / "sluice.yaml"
    assert audit.contract_location == f"sluice.yaml:{_line_of(config, 'contract:')}:5"
    assert audit.rules_file == RULES
    locations = {r.rule: r.location for r in audit.failed_rules()}
    assert locations == {
        'IsPrimaryKey "country"': f"sluice.yaml:{_line_of(config, 'primary_key:')}:7",
        'ColumnValues "country" in ["NL", "DE", "FR", "US"]': f"{RULES}:5:5",
        'ColumnLength "country" = 2': f"{RULES}:6:5",
    }
    (dup,) = audit.duplicates
    assert dup.columns == ("country",)
    assert dup.keys == [(("DE",), 2), (("NL",), 2)]
    assert dup.total == 2
    assert audit.summary()["duplicate_keys"][0]["keys"][0] == {"key": {"country": "DE"},
                                                                "rows": 2}


def test_deploy_prints_each_failing_row_once_and_groups_duplicate_keys(
        broken: Project) -> None:
    broken.ok("release")
    result = broken.sluice("deploy", "dev", env={"COLUMNS": "80"})
    assert result.code == 1
    err = result.err
    config = broken.root / "sluice.yaml"
    assert (f"✗ audit of {DATASET} (version" in err
            and f"contract at sluice.yaml:{_line_of(config, 'contract:')}:5" in err)
    assert f"sluice.yaml:{_line_of(config, 'primary_key:')}:7" in err
    # the repeated keys are one line each, not one sample row per duplicate
    assert "country DE appears 2 times" in err
    assert "country NL appears 2 times" in err
    assert "2026-01-05 09:12:00" not in err  # an NL row: grouped above, not listed
    # the USA row breaks two rules and is shown once, with both
    assert err.count("USA") == 1
    usa = next(line for line in err.splitlines() if "USA" in line)
    assert "#2, #3" in usa
    assert max(len(line) for line in err.splitlines()) <= 80
    assert result.error == "Error: audit failed, nothing was published:"
