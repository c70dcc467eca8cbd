"""The local target's DuckDB warehouse while another process holds a session on it.

DuckDB allows one writing process or many reading ones per file. A session opened elsewhere
(a BI tool, the DuckDB CLI, a notebook) must turn into a :class:`WarehouseBusyError` naming
the file and the holder's PID, and ``open_wait`` must retry until the holder is gone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from sluice.engines.duckdb import connect_file
from sluice.errors import EngineError, LockError, WarehouseBusyError
from sluice.targets.local.target import LocalTarget

HOLD = """
import sys, time
import duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("open", flush=True)
time.sleep(float(sys.argv[3]))
"""


@contextmanager
def held(path: Path, *, seconds: float = 60.0, mode: str = "ro") -> Iterator[int]:
    """Another process holding ``path`` open (read-only unless ``mode='rw'``); its pid."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path), mode, str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "open\n"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[LocalTarget]:
    t = LocalTarget("dev", tmp_path)
    t.create_version("s.d", "v1", "f1", "SELECT 1 AS x")
    t.publish({"s.d": "v1"})
    t.close()  # the warehouse file exists; nobody has it open
    yield t
    t.close()


def test_a_reader_elsewhere_is_a_busy_error_naming_the_file_and_the_holder(
    target: LocalTarget,
) -> None:
    path = target.dir / "warehouse.duckdb"
    with held(path) as pid, pytest.raises(WarehouseBusyError) as info:
        target.catalog()
    err = info.value
    assert isinstance(err, LockError) and err.exit_code == 1
    assert (err.path, err.pid) == (str(path), pid)
    assert str(path) in err.message and f"(PID {pid}" in err.message
    assert "warehouse of dev" in err.message
    assert err.tip is not None and "--wait" in err.tip and f"PID {pid}" in err.tip
    assert target.catalog() == {"s.d": "v1"}  # once it is gone, the target works again


def test_open_wait_retries_until_the_holder_has_gone(target: LocalTarget) -> None:
    target.open_wait = 30.0
    with held(target.dir / "warehouse.duckdb", seconds=1.5, mode="rw"):
        started = time.monotonic()
        assert target.catalog() == {"s.d": "v1"}
    assert time.monotonic() - started >= 0.5


def test_a_wait_that_runs_out_says_how_long_it_waited(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    with held(path) as pid:
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError, match=rf"PID {pid}.* after waiting 0.5s"):
            connect_file(str(path), wait=0.5)
        assert 0.5 <= time.monotonic() - started < 5


def test_other_io_errors_are_engine_errors(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot open the DuckDB database"):
        connect_file(str(tmp_path / "missing" / "w.duckdb"))
