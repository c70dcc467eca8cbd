"""Grep tests: a secret given through SLUICE_ENV_* appears nowhere sluice stores or prints,
even when a job fails and echoes it; everything sluice keeps is private to its owner."""

from __future__ import annotations

import secrets
import sqlite3
import stat
from pathlib import Path

from tests.flow.conftest import Project, Result

# secret-looking name (db_password) and an innocent one (region): both come from SLUICE_ENV_*
PASSWORD = "pw-" + secrets.token_hex(6)
REGION = "rg-" + secrets.token_hex(6)
ENV = {"SLUICE_ENV_DEV_DB_PASSWORD": PASSWORD, "SLUICE_ENV_DEV_REGION": REGION}


def _declare_parameters(project: Project) -> None:
    project.edit("sluice.yaml", 'parameters: {min_amount: "0"}\n  staging:',
                 'parameters: {min_amount: "0", db_password: "", region: "eu"}\n  staging:')


def _leaks(text: str) -> list[str]:
    return [s for s in (PASSWORD, REGION) if s in text]


def _state_rows(db: Path) -> str:
    """Every row of every table of the state store, as text."""
    con = sqlite3.connect(db)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def _files_with_secrets(home: Path) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if PASSWORD.encode() in data or REGION.encode() in data:
                found.append(str(path.relative_to(home)))
    return found


def test_a_secret_echoed_by_failing_jobs_is_never_stored_or_printed(fresh: Project) -> None:
    _declare_parameters(fresh)
    # a SQL job whose error message quotes the password (DuckDB cannot cast it to a number)
    fresh.edit("jobs/orders.sql", "WHERE CAST(amount AS DOUBLE) >= ${min_amount}",
               "WHERE CAST(amount AS DOUBLE) >= ${min_amount}\n"
               "  AND CAST('${db_password}' AS INTEGER) > 0")
    fresh.commit("orders reads the password")
    fresh.load("dev")
    runs: list[Result] = []

    def sluice(*args: str) -> Result:
        result = fresh.sluice(*args, env=ENV)
        runs.append(result)
        return result

    sluice("check")
    assert sluice("release").code == 0
    failed = sluice("deploy", "dev")
    assert failed.code == 1, failed.err
    assert "***" in failed.err  # the error is shown, masked
    sluice("deploy", "dev", "--debug")

    # then a python job that raises with the other (innocent-looking) override in its message
    fresh.edit("jobs/orders.sql", "\n  AND CAST('${db_password}' AS INTEGER) > 0",
               "\n  AND '${db_password}' <> ''")
    fresh.edit("jobs/product_sales.py", '    orders = ctx.read("staging.orders").df()',
               '    raise ValueError(f"cannot reach {ctx.params[\'region\']} with "\n'
               '                     f"{ctx.params[\'db_password\']}")')
    fresh.commit("product_sales fails")
    assert sluice("release").code == 0
    failed = sluice("deploy", "dev")
    assert failed.code == 1, failed.err
    assert "cannot reach ***" in failed.err

    # finally a good deploy: the secrets feed fingerprints that the warehouse stores
    fresh.edit("jobs/product_sales.py",
               '    raise ValueError(f"cannot reach {ctx.params[\'region\']} with "\n'
               '                     f"{ctx.params[\'db_password\']}")',
               '    orders = ctx.read("staging.orders").df()')
    fresh.commit("product_sales fixed")
    sluice("check")
    assert sluice("release").code == 0
    assert sluice("deploy", "dev").code == 0
    for args in (("status",), ("status", "--json"), ("history", "dev"),
                 ("history", "dev", "--json"), ("plan", "dev"), ("plan", "dev", "--json"),
                 ("releases", "--json")):
        sluice(*args)

    for run in runs:
        assert not _leaks(run.out + run.err), (run.args, run.out, run.err)
    assert not _leaks(_state_rows(fresh.home / "state.db"))
    # manifests, blobs, check cache, warehouse, journals: no file under .sluice at all
    assert _files_with_secrets(fresh.home) == []


def test_the_home_and_what_it_holds_are_private(fresh: Project) -> None:
    _declare_parameters(fresh)  # a secret parameter: its fingerprint needs the home's key
    fresh.commit("parameters")
    assert fresh.sluice("load", "dev", "data", env=ENV).code == 0
    assert fresh.sluice("check", env=ENV).code == 0
    assert fresh.sluice("release", env=ENV).code == 0
    assert fresh.sluice("deploy", "dev", env=ENV).code == 0
    home = fresh.home

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(home) == 0o700
    for name in ("state.db", "envs/dev/warehouse.duckdb", "secret.key"):
        assert mode(home / name) == 0o600, name
    for name in ("state.db-wal", "state.db-shm"):
        if (home / name).exists():
            assert mode(home / name) == 0o600, name
    for name in ("envs", "envs/dev", "envs/dev/objects", "envs/dev/releases"):
        assert mode(home / name) == 0o700, name
    for folder in ("artifacts", "cache"):  # blobs, manifests, check results, markers
        assert (home / folder).is_dir(), folder
        for path in [home / folder, *(home / folder).rglob("*")]:
            if path.is_dir():
                assert mode(path) == 0o700, path
            else:
                assert mode(path) & 0o077 == 0, (path, oct(mode(path)))
