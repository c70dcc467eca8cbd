"""The unit check for a repository of Glue scripts: several test folders, the project's test
requirements in a cached environment, collection errors that show their cause, and sluice's
pytest plugin (``spark``, ``glue_context``) under ``sluice check`` and a plain ``pytest``."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sluice.glue import runtime_path
from tests.check.conftest import Repo, errors, results

#: the ctx part's GlueContext; until it is in this branch the glue_context test is left out
HAS_GLUE_CONTEXT = (runtime_path() / "awsglue" / "context.py").is_file()

SLUICE_YAML = """\
project: gluetests
environments:
  dev: {target: {type: local}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Repo:
    root = tmp_path / "gluetests"
    root.mkdir()
    (root / "sluice.yaml").write_text(SLUICE_YAML, encoding="utf-8")
    return Repo(root)


def write(repo: Repo, rel: str, text: str) -> None:
    repo.write(rel, textwrap.dedent(text))


def with_checks(repo: Repo, checks: str) -> None:
    repo.write("sluice.yaml", SLUICE_YAML + "checks:\n" + textwrap.indent(
        textwrap.dedent(checks), "  "))


def unit_check(repo: Repo, *args: str, env: dict[str, str] | None = None) -> tuple[int, Any]:
    return repo.check("--only", "unit", *args, env=env)


# -- several folders ---------------------------------------------------------------------


def test_every_configured_folder_runs_with_results_per_test(project: Repo) -> None:
    with_checks(project, "unit: {folders: [tests, glue/tests]}")
    write(project, "tests/test_plain.py", "def test_one():\n    assert 1 + 1 == 2\n")
    write(project, "glue/tests/test_job.py", """\
        def test_ok():
            assert True

        def test_counts():
            rows = [1, 2]
            assert len(rows) == 3
        """)
    code, report = unit_check(project)
    assert code == 1
    [unit] = results(report, "unit")
    outcomes = {(c["classname"], c["name"]): c["outcome"] for c in unit["cases"]}
    assert outcomes == {("tests.test_plain", "test_one"): "passed",
                        ("glue.tests.test_job", "test_ok"): "passed",
                        ("glue.tests.test_job", "test_counts"): "failed"}
    [f] = errors(report, "unit")
    assert (f["path"], f["line"]) == ("glue/tests/test_job.py", 6)
    assert "test_counts failed: assert 2 == 3" in f["message"]
    assert f["tip"].endswith("python -m pytest tests glue/tests")


@pytest.mark.spark
def test_tests_whose_spark_has_no_java_say_so_and_are_not_cached(project: Repo) -> None:
    """Not one 'Java gateway process exited' per test: the check says what is missing, and
    its verdict is not kept, so the next run (with Java) runs the tests again."""
    write(project, "tests/test_spark.py", """\
        def test_spark_starts(spark):
            assert spark.range(3).count() == 3
        """)
    code, report = unit_check(project, env={"JAVA_HOME": str(project.root / "no-jdk")})
    assert code == 1
    [f] = errors(report, "unit")
    assert f["message"] == ("the unit tests start Spark, which needs Java 17, but "
                            f"JAVA_HOME={project.root / 'no-jdk'} has no bin/java")
    assert "JAVA_HOME" in f["tip"]
    code, report = unit_check(project)  # Java back: the tests run, nothing reused
    assert code == 0, report
    [unit] = results(report, "unit")
    assert unit["cached"] is False and unit["status"] == "passed"


def test_checks_tests_still_names_the_one_folder(project: Repo) -> None:
    with_checks(project, "tests: spec\n")
    write(project, "spec/test_a.py", "def test_a():\n    pass\n")
    write(project, "tests/test_not_run.py", "def test_b():\n    assert False\n")
    code, report = unit_check(project)
    assert code == 0, errors(report, "unit")
    [unit] = results(report, "unit")
    assert [c["name"] for c in unit["cases"]] == ["test_a"]


def test_tests_and_unit_together_is_a_located_config_error(project: Repo) -> None:
    with_checks(project, "tests: tests\nunit:\n  folders: [tests]\n")
    run = project.sluice("check", "--json", "--only", "config")
    assert run.code == 1
    [f] = errors(run.json(), "config")
    assert (f["path"], f["line"]) == ("sluice.yaml", 5)
    assert "checks.tests: give the test folder either here or in checks.unit.folders" in \
        f["message"]


def test_a_missing_folder_or_requirements_file_is_located(project: Repo) -> None:
    with_checks(project, """\
        unit:
          folders:
            - tests
            - glue/tset
          requirements: requirements-dev.txt
        """)
    write(project, "tests/test_a.py", "def test_a():\n    pass\n")
    code, report = unit_check(project)
    assert code == 1
    found = {(f["line"], f["message"]) for f in errors(report, "unit")}
    assert found == {(8, "checks: the test folder 'glue/tset' does not exist"),
                     (9, "checks.unit.requirements: file not found: 'requirements-dev.txt'")}
    assert {f["path"] for f in errors(report, "unit")} == {"sluice.yaml"}
    # made, they are used (that result was not cached against an unchanged sluice.yaml)
    write(project, "glue/tset/test_b.py", "def test_b():\n    pass\n")
    project.write("requirements-dev.txt", "# nothing yet\n")
    code, report = unit_check(project)
    assert code == 0, errors(report, "unit")
    assert [c["name"] for c in results(report, "unit")[0]["cases"]] == ["test_a", "test_b"]


# -- collection errors -------------------------------------------------------------------


def test_modules_that_do_not_import_are_findings_with_their_cause(project: Repo) -> None:
    write(project, "tests/test_imports.py", "import os\nimport foo\n\ndef test_x():\n    pass\n")
    write(project, "tests/test_syntax.py", "def test_y():\n    x = (\n    pass\n")
    write(project, "tests/test_fixture.py", """\
        import pytest

        @pytest.fixture
        def table():
            raise RuntimeError("no table today")

        def test_uses(table):
            pass

        def test_fine():
            pass
        """)
    code, report = unit_check(project)
    assert code == 1
    found = {(f["path"], f["line"], f["message"]) for f in errors(report, "unit")}
    assert found == {
        ("tests/test_imports.py", 2, "tests/test_imports.py could not be collected: "
                                     "ModuleNotFoundError: No module named 'foo'"),
        ("tests/test_syntax.py", 2, "tests/test_syntax.py could not be collected: "
                                    "SyntaxError: '(' was never closed"),
        ("tests/test_fixture.py", 5, "tests.test_fixture::test_uses error: "
                                     "RuntimeError: no table today"),
    }
    # the modules that do import still ran
    [unit] = results(report, "unit")
    assert ("test_fine", "passed") in {(c["name"], c["outcome"]) for c in unit["cases"]}


def test_a_conftest_that_does_not_import_shows_its_cause(project: Repo) -> None:
    write(project, "tests/conftest.py", "import awsglue_helpers_nowhere\n")
    write(project, "tests/test_a.py", "def test_a():\n    pass\n")
    code, report = unit_check(project)
    assert code == 1
    [f] = errors(report, "unit")
    assert (f["path"], f["line"]) == ("tests/conftest.py", 1)
    assert f["message"].startswith("pytest was used wrongly (exit 4) before running any test: ")
    assert "ImportError while loading conftest" in f["message"]
    assert f["message"].endswith("ModuleNotFoundError: No module named 'awsglue_helpers_nowhere'")


# -- requirements in a cached environment ------------------------------------------------


def build_wheel(folder: Path, name: str, version: str, source: str) -> Path:
    """A pure-Python wheel made by hand (what pip needs of one: the module, METADATA, WHEEL
    and RECORD), so installing it needs no package index."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: sluice-tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def envs(repo: Repo) -> list[Path]:
    base = repo.root / ".sluice" / "cache" / "unit-envs"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def test_requirements_are_installed_once_into_a_cached_environment(project: Repo) -> None:
    build_wheel(project.root / "wheels", "tinyglue", "0.1", "ANSWER = 41\n")
    project.write("requirements-dev.txt", "./wheels/tinyglue-0.1-py3-none-any.whl\n")
    with_checks(project, "unit: {folders: [tests], requirements: requirements-dev.txt}")
    write(project, "tests/test_uses_it.py", """\
        import sys

        import tinyglue

        def test_the_package_is_importable():
            assert tinyglue.ANSWER == 41

        def test_sluice_and_its_plugin_are_importable_there(request):
            import sluice.glue
            assert request.config.pluginmanager.hasplugin("sluice.glue.pytest_plugin")
            assert ".sluice/cache/unit-envs/" in sys.prefix
        """)
    assert __import__("importlib").util.find_spec("tinyglue") is None  # only in that env

    code, report = unit_check(project, "--no-cache")
    assert code == 0, errors(report, "unit")
    [unit] = results(report, "unit")
    assert unit["detail"].endswith("new environment for requirements-dev.txt")
    [env] = envs(project)
    marker = env / "made-by-the-first-check"
    marker.write_text("")

    code, report = unit_check(project, "--no-cache")
    assert code == 0, errors(report, "unit")
    [unit] = results(report, "unit")
    assert unit["detail"] == "2/2 tests passed, cached environment for requirements-dev.txt"
    assert envs(project) == [env] and marker.is_file()  # reused, not made again

    # a changed file: its digest is in the cache key (the unit runs again), a new environment
    build_wheel(project.root / "wheels", "tinyglue", "0.2", "ANSWER = 42\n")
    project.write("requirements-dev.txt", "./wheels/tinyglue-0.2-py3-none-any.whl\n")
    project.edit("tests/test_uses_it.py", "== 41", "== 42")
    code, report = unit_check(project)
    assert code == 0, errors(report, "unit")
    [unit] = results(report, "unit")
    assert unit["detail"].endswith("new environment for requirements-dev.txt")
    [new_env] = envs(project)
    assert new_env != env and not env.exists()


def test_a_failed_install_shows_pips_last_lines_and_the_file(project: Repo) -> None:
    project.write("requirements-dev.txt", "./wheels/not_built-0.1-py3-none-any.whl\n")
    with_checks(project, "unit: {requirements: requirements-dev.txt}")
    write(project, "tests/test_a.py", "def test_a():\n    pass\n")
    code, report = unit_check(project)
    assert code == 1
    [f] = errors(report, "unit")
    assert f["message"].startswith("pip could not install requirements-dev.txt "
                                   "(checks.unit.requirements)")
    assert "not_built-0.1-py3-none-any" in f["message"]  # pip's own words about it
    assert "python -m pip install -r requirements-dev.txt" in f["tip"]
    assert envs(project) == []  # nothing half-made is left to be reused


# -- the pytest plugin -------------------------------------------------------------------


def plain_pytest(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *args], cwd=root, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_a_plain_pytest_finds_the_plugin_and_sluices_awsglue(tmp_path: Path) -> None:
    (tmp_path / "test_where.py").write_text(textwrap.dedent(f"""\
        import awsglue

        def test_awsglue_is_sluices_runtime(request):
            assert awsglue.__file__.startswith({str(runtime_path())!r})
            assert request.config.pluginmanager.hasplugin("sluice.glue.pytest_plugin")
        """), encoding="utf-8")
    assert "1 passed" in plain_pytest(tmp_path)


def test_an_awsglue_of_the_image_wins(tmp_path: Path) -> None:
    own = tmp_path / "glue-image" / "awsglue"
    own.mkdir(parents=True)
    (own / "__init__.py").write_text("REAL = True\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_where.py").write_text(
        "import awsglue\n\ndef test_real():\n    assert awsglue.REAL\n", encoding="utf-8")
    out = plain_pytest(tmp_path, "tests", env={"PYTHONPATH": str(own.parent)})
    assert "1 passed" in out


def test_sluices_own_fixtures_override_the_plugins(request: pytest.FixtureRequest) -> None:
    # sluice's own test suite keeps its spark fixture (tests/engine_fixtures.py) and starts
    # no Spark for a test that does not ask for one
    fm = request._fixturemanager
    [*_, chosen] = fm.getfixturedefs("spark", request.node) or []
    assert chosen.func.__module__ == "tests.engine_fixtures"
    assert request.config.pluginmanager.hasplugin("sluice.glue.pytest_plugin")
    assert "pyspark.sql.session" not in sys.modules or not _spark_running()


def _spark_running() -> bool:
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


GLUE_SCRIPT = """\
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext


def adults(glue_context, frame):
    df = frame.toDF()
    return DynamicFrame.fromDF(df.where(df.age >= 18), glue_context, "adults")


if __name__ == "__main__":
    args = getResolvedOptions(sys.argv, ["JOB_NAME", "SOURCE_PATH", "OUTPUT_PATH"])
    glue_context = GlueContext(SparkContext.getOrCreate())
"""

SPARK_TESTS = """\
from pyspark.context import SparkContext


def test_getorcreate_gives_the_plugins_session(spark):
    sc = SparkContext.getOrCreate()
    assert sc is spark.sparkContext and sc.master == "local[2]"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert sc.getConf().get("spark.ui.enabled") == "false"
"""

GLUE_TESTS = """\
from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from pyspark.context import SparkContext

from persons import adults


def test_adults_with_the_fixture(glue_context, spark):
    df = spark.createDataFrame([("ann", 30), ("bob", 12)], ["name", "age"])
    out = adults(glue_context, DynamicFrame.fromDF(df, glue_context, "persons"))
    assert [r.name for r in out.toDF().collect()] == ["ann"]


def test_adults_as_the_samples_build_the_context():
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    df = spark.createDataFrame([("cy", 18)], ["name", "age"])
    assert adults(glue_context, DynamicFrame.fromDF(df, glue_context, "p")).count() == 1
"""


@pytest.mark.spark
def test_a_glue_script_and_its_own_tests_pass_sluice_check(project: Repo) -> None:
    with_checks(project, "unit: {folders: [glue/tests]}")
    write(project, "glue/tests/test_spark.py", SPARK_TESTS)
    if HAS_GLUE_CONTEXT:  # the script imports awsglue.context at its top, as Glue's do
        write(project, "glue/persons.py", GLUE_SCRIPT)
        write(project, "glue/tests/conftest.py", """\
            import sys
            from pathlib import Path

            sys.path.insert(0, str(Path(__file__).parents[1]))
            """)
        write(project, "glue/tests/test_persons.py", GLUE_TESTS)
    code, report = unit_check(project)
    assert code == 0, errors(report, "unit")
    [unit] = results(report, "unit")
    expected = 3 if HAS_GLUE_CONTEXT else 1
    assert [c["outcome"] for c in unit["cases"]] == ["passed"] * expected
