"""One Spark per deploy: launcher commands inside a ``spark_driver.shared()`` scope run in one
long-lived driver process, each as if it had its own process.

tests/deploy/conftest.py keeps a scope open for the whole session, so these tests share the
session's driver (and its one Spark start) with the deploy tests; the driver is found by the
pid the scripts print. What happens outside any scope is checked in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sluice.deploy import spark_driver
from sluice.deploy.spark_jobs import launch_command, run_script, write_params
from sluice.glue import runtime_path

SECRET = "s3cr3t-driver-password"
PID = "import json, os\nprint(json.dumps({'pid': os.getpid()}))\n"


def _script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    # what run_pyspark_job gives a script (the same key: the same driver as the deploy tests)
    return {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONDONTWRITEBYTECODE": "1",
            **extra}


def _run(script: Path, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    folder = script.parent
    return run_script([*launch_command(script), *args], cwd or folder,
                      env if env is not None else _env(), folder / "progress.log",
                      timeout=timeout)


def _facts(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The JSON line a script printed last."""
    assert proc.stdout.strip(), proc.stderr[-2000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_a_scope_is_open_for_these_tests() -> None:
    assert spark_driver.active()


def test_failures_give_the_exit_status_and_stderr_of_a_process(tmp_path: Path) -> None:
    fine = _script(tmp_path, "fine.py", """
        import json, os
        print(json.dumps({"pid": os.getpid()}))
    """)
    raises = _script(tmp_path, "raises.py", "print('before')\n1 / 0\n")
    exits = _script(tmp_path, "exits.py", "import sys\nprint('partial')\nsys.exit(4)\n")
    says = _script(tmp_path, "says.py", "import sys\nsys.exit('no input files')\n")
    first = _run(fine)
    proc = _run(raises)
    assert proc.returncode == 1 and proc.stdout == "before\n"
    assert "Traceback" in proc.stderr and "ZeroDivisionError: division by zero" in proc.stderr
    proc = _run(exits)
    assert (proc.returncode, proc.stdout) == (4, "partial\n")
    proc = _run(says)
    assert (proc.returncode, proc.stderr) == (1, "no input files\n")
    # none of them took the driver down: the same process serves the next script
    assert _facts(_run(fine))["pid"] == _facts(first)["pid"]


def test_a_driver_that_dies_fails_that_job_only(tmp_path: Path) -> None:
    crash = _script(tmp_path, "crash.py", """
        import os, sys
        print("half done", flush=True)
        print("about to crash", file=sys.stderr, flush=True)
        os._exit(9)
    """)
    fine = _script(tmp_path, "fine.py", PID)
    before = _facts(_run(fine))["pid"]
    proc = _run(crash)
    assert (proc.returncode, proc.stdout, proc.stderr) == (9, "half done\n", "about to crash\n")
    after = _facts(_run(fine))["pid"]  # a fresh driver
    assert after != before
    assert before not in spark_driver.pids() and after in spark_driver.pids()


def test_a_script_running_too_long_kills_the_driver(tmp_path: Path) -> None:
    slow = _script(tmp_path, "slow.py",
                   "import time\nprint('started', flush=True)\ntime.sleep(600)\n")
    fine = _script(tmp_path, "fine.py", PID)
    before = _facts(_run(fine))["pid"]
    assert isinstance(before, int)
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        _run(slow, timeout=2)
    assert caught.value.output == "started\n"
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # killed and reaped
    assert _facts(_run(fine))["pid"] != before


def test_environment_cwd_argv_path_and_modules_are_the_scripts_own(tmp_path: Path) -> None:
    jobs, lib, work = tmp_path / "jobs", tmp_path / "lib", tmp_path / "work"
    for folder in (jobs, lib, work):
        folder.mkdir()
    (jobs / "helper.py").write_text("VALUE = 1\n")
    (lib / "shared_lib.py").write_text("NAME = 'lib'\n")
    messy = _script(jobs, "messy.py", """
        import json, os, sys
        import helper, shared_lib
        import awsglue
        facts = {"argv": list(sys.argv), "cwd": os.getcwd(), "value": helper.VALUE,
                 "path0": sys.path[0], "lib": shared_lib.NAME,
                 "extra": os.environ.get("MY_SETTING")}
        os.environ["LEFT_BEHIND"] = "yes"
        os.chdir("/")
        sys.path.insert(0, "/nowhere")
        sys.argv.append("--more")
        print(json.dumps(facts))
    """)
    probe = _script(jobs, "probe.py", """
        import json, os, sys
        import helper
        try:
            import shared_lib
            lib = True
        except ImportError:
            lib = False
        print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "value": helper.VALUE,
                          "left": os.environ.get("LEFT_BEHIND"),
                          "setting": os.environ.get("MY_SETTING"), "lib": lib,
                          "nowhere": "/nowhere" in sys.path,
                          "awsglue": any(m.split(".")[0] == "awsglue" for m in sys.modules)}))
    """)
    pythonpath = os.pathsep.join([str(lib), str(runtime_path())])
    first = _facts(_run(messy, "--input", "a=/in/a", cwd=work,
                        env=_env(MY_SETTING="one", PYTHONPATH=pythonpath)))
    assert first == {"argv": [str(messy), "--input", "a=/in/a"], "cwd": str(work), "value": 1,
                     "path0": str(jobs), "lib": "lib", "extra": "one"}
    (jobs / "helper.py").write_text("VALUE = 2\n")  # a new release of the module
    second = _facts(_run(probe, "--output", "b=/out/b"))
    assert second == {"argv": [str(probe), "--output", "b=/out/b"], "cwd": str(jobs),
                      "value": 2, "left": None, "setting": None, "lib": False,
                      "nowhere": False, "awsglue": False}


def test_parameters_stay_off_every_command_line(tmp_path: Path) -> None:
    script = _script(tmp_path, "params.py", f"""
        import json, os, sys
        secret = {SECRET!r}.encode()
        leaks = 0
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{{pid}}/cmdline", "rb") as fh:
                        leaks += secret in fh.read()
                except OSError:
                    pass
        print(json.dumps({{"argv": sys.argv[1:], "leaks": leaks,
                           "file_seen": "SLUICE_PARAMS_FILE" in os.environ}}))
    """)
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    params = write_params(private, {"db_password": SECRET})
    proc = _run(script, "--input", "a=/in/a", env=_env(SLUICE_PARAMS_FILE=str(params)))
    assert _facts(proc) == {"argv": ["--input", "a=/in/a", "--param",
                                     f"db_password={SECRET}"],
                            "leaks": 0, "file_seen": False}
    assert not params.exists()  # read once, removed


def test_outside_a_scope_each_script_is_its_own_process(tmp_path: Path) -> None:
    script = _script(tmp_path, "pid.py", "import os\nprint(os.getpid())\n")
    code = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from sluice.deploy import spark_driver
        from sluice.deploy.spark_jobs import launch_command, run_script
        pids = [run_script(launch_command(Path({str(script)!r})), Path({str(tmp_path)!r}),
                           dict(os.environ), Path({str(tmp_path / "p.log")!r})).stdout.strip()
                for _ in range(2)]
        print(len(set(pids)), spark_driver.STATS.drivers, os.getpid() in map(int, pids))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert proc.stdout.split() == ["2", "0", "False"]


def test_each_key_of_spark_settings_gets_its_own_driver() -> None:
    base = _env()
    same = spark_driver.driver_key(["py"], {**base, "SLUICE_USER": "someone else"})
    other = spark_driver.driver_key(["py"], {**base, "SLUICE_SPARK_CONF_spark.x": "1"})
    assert spark_driver.driver_key(["py"], base) == same != other


@pytest.mark.spark
@pytest.mark.slow
def test_spark_scripts_share_one_context_that_a_stop_does_not_end(
    tmp_path: Path, spark_runtime: None
) -> None:
    first = _script(tmp_path, "first.py", """
        import json, os
        from pyspark.sql import SparkSession
        spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "3").getOrCreate())
        df = spark.range(10)
        df.cache().count()
        df.createOrReplaceTempView("numbers")
        df.createOrReplaceGlobalTempView("shared_numbers")
        spark.sql("SET my.setting = first")
        print(json.dumps({"pid": os.getpid(), "sum": spark.sql("SELECT sum(id) FROM numbers")
                          .collect()[0][0], "app": spark.sparkContext.applicationId}))
        spark.stop()
    """)
    # the Glue style: SparkContext() and a session over it, as a second script
    second = _script(tmp_path, "second.py", """
        import json, os
        from pyspark import SparkContext
        from pyspark.sql import SparkSession
        sc = SparkContext()
        spark = SparkSession(sc)
        views = [t.name for t in spark.catalog.listTables()]
        global_views = [t.name for t in spark.catalog.listTables("global_temp")]
        print(json.dumps({"pid": os.getpid(), "app": sc.applicationId, "views": views,
                          "global_views": global_views,
                          "setting": spark.conf.get("my.setting", "unset"),
                          "cached": len(sc._jsc.getPersistentRDDs()),
                          "doubled": sc.parallelize(range(4), 2).map(lambda x: 2 * x).sum()}))
    """)
    starts = spark_driver.STATS.spark_starts
    one = _facts(_run(first))
    two = _facts(_run(second))
    assert one["sum"] == 45 and two["doubled"] == 12
    assert two["pid"] == one["pid"] and two["app"] == one["app"]  # one process, one context
    assert spark_driver.STATS.spark_starts - starts <= 1  # 0 if an earlier test started it
    assert (two["views"], two["global_views"], two["setting"], two["cached"]) == \
        ([], [], "unset", 0)


@pytest.mark.spark
@pytest.mark.slow
def test_python_workers_import_from_each_runs_own_pythonpath(
    tmp_path: Path, spark_runtime: None
) -> None:
    # functions pickled by reference (a module on PYTHONPATH, as awsglue's are) must be
    # importable by the workers of a script that is not the one that started the context
    starter = _script(tmp_path, "starter.py", """
        import json, os
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.master("local[1]").getOrCreate()
        print(json.dumps({"pid": os.getpid(), "n": spark.range(2).count()}))
    """)
    for version in (3, 4):
        lib = tmp_path / f"lib{version}"
        lib.mkdir()
        (lib / "udf_helpers.py").write_text(f"def scale(x):\n    return {version} * x\n")
    user = _script(tmp_path, "user.py", """
        import json, os
        import udf_helpers
        from pyspark import SparkContext
        sc = SparkContext.getOrCreate()
        print(json.dumps({"pid": os.getpid(),
                          "out": sc.parallelize(range(3), 1).map(udf_helpers.scale).collect()}))
    """)
    first = _facts(_run(starter))
    three = _facts(_run(user, env=_env(PYTHONPATH=str(tmp_path / "lib3"))))
    four = _facts(_run(user, env=_env(PYTHONPATH=str(tmp_path / "lib4"))))
    assert first["pid"] == three["pid"] == four["pid"]
    assert (three["out"], four["out"]) == ([0, 3, 6], [0, 4, 8])


DEPLOY_CONFIG = """\
project: twins
sources:
  raw.events: {format: csv, path: events/*.csv}
datasets:
  staging.pid_a: {contract: {columns: {pid: {type: BIGINT, nullable: false}}}}
  staging.pid_b: {contract: {columns: {pid: {type: BIGINT, nullable: false}}}}
jobs:
  a: {type: pyspark, script: jobs/pid.py, inputs: [raw.events], outputs: [staging.pid_a]}
  b: {type: pyspark, script: jobs/pid.py, inputs: [raw.events], outputs: [staging.pid_b]}
environments:
  dev: {target: {type: local}}
"""

PID_JOB = """\
import argparse, os
from pyspark.sql import SparkSession
parser = argparse.ArgumentParser()
parser.add_argument("--input", action="append", default=[])
parser.add_argument("--output", action="append", default=[])
args = parser.parse_args()
out = dict(a.split("=", 1) for a in args.output)
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
spark.createDataFrame([(os.getpid(),)], "pid long").write.parquet(next(iter(out.values())))
spark.stop()
"""


@pytest.mark.spark
@pytest.mark.slow
def test_a_deploy_runs_its_spark_jobs_in_one_driver(tmp_path: Path, spark_runtime: None) -> None:
    # in a fresh interpreter: no scope but the one deploy() opens itself
    root = tmp_path / "twins"
    (root / "jobs").mkdir(parents=True)
    (root / "sluice.yaml").write_text(DEPLOY_CONFIG)
    (root / "jobs" / "pid.py").write_text(PID_JOB)
    (root / ".gitignore").write_text(".sluice/\n")
    events = root / ".sluice" / "envs" / "dev" / "objects" / "events"
    events.mkdir(parents=True)
    (events / "e.csv").write_text("kind\nclick\n")
    git = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a",
           "GIT_COMMITTER_EMAIL": "a@x", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=git, capture_output=True)
    code = textwrap.dedent(f"""
        import json, os
        from pathlib import Path
        from sluice.deploy import spark_driver
        from sluice.deploy.deployer import deploy
        from sluice.flow.releases import make_release
        from sluice.project.workspace import Workspace
        ws = Workspace.open(Path({str(root)!r}))
        manifest, _ = make_release(ws)
        deploy(ws, "dev", manifest.id, actor="ann")
        engine = ws.target("dev").engine()
        pids = [engine.fetch(f"SELECT pid FROM staging.pid_{{x}}")[1][0][0] for x in "ab"]
        ws.close()
        print(json.dumps({{"pids": pids, "me": os.getpid(), "left": spark_driver.pids(),
                           "starts": spark_driver.STATS.spark_starts,
                           "drivers": spark_driver.STATS.drivers}}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("SLUICE_HOME", "SLUICE_STATE_URL")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, check=False, env={**env, "SLUICE_USER": "ann"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    a, b = facts["pids"]
    assert a == b != facts["me"]  # both jobs in one driver, not in sluice's own process
    assert (facts["starts"], facts["drivers"], facts["left"]) == (1, 1, [])  # ended with it


@pytest.mark.spark
@pytest.mark.slow
def test_a_jvm_that_dies_fails_that_job_and_the_next_gets_a_fresh_driver(
    tmp_path: Path, spark_runtime: None
) -> None:
    # a Spark configuration of its own: its own driver, the session's shared one is spared
    env = _env(SLUICE_SPARK_CONF_spark_sluice_test="jvm-crash")
    crash = _script(tmp_path, "crash.py", """
        import os, signal
        from pyspark.sql import SparkSession
        spark = SparkSession.builder.master("local[1]").getOrCreate()
        print(os.getpid(), flush=True)
        jvm = spark.sparkContext._gateway.proc
        os.kill(jvm.pid, signal.SIGKILL)
        jvm.wait()
        spark.range(3).count()
    """)
    fine = _script(tmp_path, "fine.py", PID)
    proc = _run(crash, env=env)
    assert proc.returncode == 1 and proc.stdout.strip().isdigit()
    assert "Traceback" in proc.stderr
    assert int(proc.stdout) not in spark_driver.pids()  # it ended: its JVM is gone
    assert _facts(_run(fine, env=env))["pid"] != int(proc.stdout)


@pytest.mark.spark
@pytest.mark.slow
def test_what_a_script_changes_on_the_shared_context_does_not_reach_the_next(
    tmp_path: Path, spark_runtime: None
) -> None:
    # the review's leak: Hadoop settings, local properties and the umask carried over, and a
    # script that replaced json.dumps broke the driver's reply (a traceback in sluice)
    changes = _script(tmp_path, "changes.py", """
        import json, os
        from pyspark import SparkContext
        sc = SparkContext.getOrCreate()
        sc._jsc.hadoopConfiguration().set("leak.key", "SECRET123")
        sc.setLocalProperty("leak.prop", "p1")
        os.umask(0)
        print(json.dumps({"pid": os.getpid()}))
        json.dumps = lambda *a, **k: "PATCHED"
    """)
    looks = _script(tmp_path, "looks.py", """
        import json, os
        from pyspark import SparkContext
        sc = SparkContext.getOrCreate()
        mask = os.umask(0o022)
        os.umask(mask)
        # (json.JSONEncoder: the first script's json.dumps patch stays, a documented limit)
        print(json.JSONEncoder().encode({"pid": os.getpid(), "umask": mask,
                                         "hconf": sc._jsc.hadoopConfiguration().get("leak.key"),
                                         "prop": sc.getLocalProperty("leak.prop")}))
    """)
    before = os.umask(0o022)
    os.umask(before)
    # a driver of its own (SPARK_* settings key drivers): the json patch stays in it
    env = _env(SPARK_SLUICE_LEAK_TEST="1")
    first = _run(changes, env=env)
    assert first.returncode == 0, first.stderr[-2000:]  # the driver's own reply survived
    after = _facts(_run(looks, env=env))
    assert after["pid"] == _facts(first)["pid"]  # one driver served both
    assert after["hconf"] is None and after["prop"] is None and after["umask"] == before
