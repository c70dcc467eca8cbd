"""sluice.secrecy: the registry of secret values, masking, keyed fingerprints, private files."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from rich.console import Console

from sluice import secrecy
from sluice.cli.errors import MaskedStream, print_error
from sluice.config import load_project
from sluice.deploy.plan import effective_fingerprint
from sluice.deploy.spark_jobs import LAUNCHER, launch_command, write_params
from sluice.errors import SluiceError
from sluice.state import redact, redact_text

SOURCE = "test:secrecy"


@pytest.fixture(autouse=True)
def _registry(tmp_path: Path) -> Iterator[None]:
    """Each test starts with only os.environ's secrets and its own key file."""
    secrecy.use_key_file(tmp_path / "home" / "secret.key")
    yield
    secrecy.forget(SOURCE)
    secrecy.register_environ(os.environ)
    secrecy.use_key_file(tmp_path / "unused" / "secret.key")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- registry and masking --------------------------------------------------------------------


def test_masks_every_occurrence_longest_first() -> None:
    secrecy.register(SOURCE, ["hunter2", "hunter2-admin"])
    text = "login hunter2-admin failed; retry with hunter2, not hunter2hunter2"
    assert secrecy.mask(text) == "login *** failed; retry with ***, not ******"


def test_short_values_and_booleans_are_not_secrets() -> None:
    secrecy.register(SOURCE, ["abc", "0", "true", "False", "", "null", "abcd"])
    assert secrecy.registered() & {"abc", "0", "true", "False", "", "null"} == set()
    assert secrecy.mask("abc 0 true abcd") == "abc 0 true ***"


def test_registering_a_source_again_replaces_its_values() -> None:
    secrecy.register(SOURCE, ["old-secret"])
    secrecy.register(SOURCE, ["new-secret"])
    assert secrecy.mask("old-secret new-secret") == "old-secret ***"
    secrecy.forget(SOURCE)
    assert secrecy.mask("new-secret") == "new-secret"


def test_redaction_of_the_state_store_masks_values_under_any_key() -> None:
    secrecy.register(SOURCE, ["s3cr3t-value"])
    payload = {"error": "Could not convert string 's3cr3t-value' to INT32",
               "nested": [{"sql": "WHERE x = 's3cr3t-value'"}], "n": 3}
    assert redact(payload) == {"error": "Could not convert string '***' to INT32",
                               "nested": [{"sql": "WHERE x = '***'"}], "n": 3}
    assert redact_text("postgresql://u:pw@h/db s3cr3t-value") == "postgresql://u:***@h/db ***"


def test_load_project_registers_overrides_and_secret_looking_parameters(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(
        "project: p\n"
        "environments:\n"
        "  dev:\n"
        "    target: {type: local}\n"
        "    parameters: {api_token: in-yaml-token, region: eu-west-1, min_amount: '10'}\n"
    )
    load_project(tmp_path, environ={"SLUICE_ENV_DEV_REGION": "overridden-region",
                                    "SLUICE_ENV_PROD_UNDECLARED": "never-declared"})
    known = secrecy.registered()
    # the yaml's secret-looking value, every override (any name), not the plain parameters
    assert {"in-yaml-token", "overridden-region", "never-declared"} <= known
    assert "eu-west-1" not in known and "10" not in known
    secrecy.forget(f"config:{tmp_path.resolve()}")


# -- the CLI's output ------------------------------------------------------------------------


def test_cli_output_streams_mask_whoever_writes() -> None:
    secrecy.register(SOURCE, ["p4ssw0rd"])
    inner = io.StringIO()
    stream = MaskedStream(inner)
    click.echo("click says p4ssw0rd", file=stream)  # type: ignore[arg-type]
    Console(file=stream, no_color=True).print("rich says p4ssw0rd")  # type: ignore[arg-type]
    stream.write("plain p4ssw0rd\n")
    with pytest.raises(TypeError):
        stream.write(b"bytes p4ssw0rd")  # type: ignore[arg-type]
    assert inner.getvalue() == "click says ***\nrich says ***\nplain ***\n"


def test_the_error_printer_masks(capsys: pytest.CaptureFixture[str]) -> None:
    secrecy.register(SOURCE, ["p4ssw0rd"])
    print_error(SluiceError("job failed: bad value 'p4ssw0rd'", tip="retry p4ssw0rd"))
    err = capsys.readouterr().err
    assert "p4ssw0rd" not in err and "bad value '***'" in err and "retry ***" in err


# -- keyed fingerprints ----------------------------------------------------------------------


def _fingerprint(key_file: Path, password: str) -> str:
    secrecy.use_key_file(key_file)
    return effective_fingerprint("job-fp", {"db_password": password, "min_amount": "0"})


def test_fingerprints_of_secrets_are_keyed_per_store(tmp_path: Path) -> None:
    one, two = tmp_path / "one" / "secret.key", tmp_path / "two" / "secret.key"
    a = _fingerprint(one, "hunter22")
    assert _fingerprint(one, "hunter22") == a  # stable under one key
    assert _fingerprint(two, "hunter22") != a  # another store, another key
    assert _fingerprint(one, "hunter23") != a  # a changed secret still recomputes
    # what an unkeyed fingerprint would be: a dictionary attack tries exactly this
    plain = hashlib.sha256(json.dumps(
        {"job": "job-fp", "params": {"db_password": "hunter22", "min_amount": "0"}},
        sort_keys=True).encode()).hexdigest()
    assert a != plain
    assert one.read_bytes() != two.read_bytes() and len(one.read_bytes()) == 32
    assert mode(one) == 0o600 and mode(one.parent) == 0o700


def test_non_secret_parameters_keep_their_plain_fingerprint() -> None:
    # no recomputation on upgrade for environments without secrets
    params = {"min_amount": "0"}
    plain = hashlib.sha256(json.dumps({"job": "fp", "params": params},
                                      sort_keys=True).encode()).hexdigest()
    assert effective_fingerprint("fp", params) == plain


def test_override_values_are_keyed_whatever_their_name() -> None:
    secrecy.register(SOURCE, ["from-the-environment"])
    keyed = secrecy.keyed_params({"region": "from-the-environment", "n": "5"})
    assert keyed["region"].startswith("hmac-sha256:") and keyed["n"] == "5"
    strings = secrecy.keyed_strings({"path": "s3://b/from-the-environment/x", "k": ["plain"]})
    assert strings["path"].startswith("hmac-sha256:") and strings["k"] == ["plain"]


# -- private files ---------------------------------------------------------------------------


def test_private_files_ignore_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        folder = secrecy.private_dir(tmp_path / "a" / "b")
        file = secrecy.private_file(folder / "state.db")
    finally:
        os.umask(old)
    assert mode(tmp_path / "a") == 0o700 and mode(folder) == 0o700 and mode(file) == 0o600
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    existing.chmod(0o755)
    secrecy.private_dir(existing)
    assert mode(existing) == 0o755  # a folder sluice did not create is left alone
    secrecy.private_dir(existing, tighten=True)
    assert mode(existing) == 0o700
    loose = existing / "old.db"
    loose.write_text("x")
    loose.chmod(0o644)
    secrecy.private_file(loose)
    assert mode(loose) == 0o600 and loose.read_text() == "x"


# -- PySpark parameters ----------------------------------------------------------------------

SCRIPT = """\
import json, sys
cmdline = open("/proc/self/cmdline", "rb").read().decode()
print(json.dumps({"argv": sys.argv, "cmdline": cmdline, "path0": sys.path[0],
                  "name": __name__}))
"""


def test_pyspark_parameters_reach_the_script_argv_but_not_the_command_line(
    tmp_path: Path,
) -> None:
    script = tmp_path / "jobs" / "job.py"
    script.parent.mkdir()
    script.write_text(SCRIPT)
    private = secrecy.private_dir(tmp_path / "run")
    params_file = write_params(private, {"db_password": "pw-in-a-file", "n": "1"})
    assert mode(params_file) == 0o600
    command = [*launch_command(script), "--input", "a=/in/a", "--output", "b=/out/b"]
    assert command[:3] == [sys.executable, str(LAUNCHER), str(script)]
    proc = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60,
                          env={**os.environ, "SLUICE_PARAMS_FILE": str(params_file)})
    seen = json.loads(proc.stdout)
    # the script's own API is unchanged: argparse sees --input/--output/--param
    assert seen["argv"] == [str(script), "--input", "a=/in/a", "--output", "b=/out/b",
                            "--param", "db_password=pw-in-a-file", "--param", "n=1"]
    assert seen["name"] == "__main__" and seen["path0"] == str(script.parent)
    assert "pw-in-a-file" not in seen["cmdline"] and "a=/in/a" in seen["cmdline"]
    assert not params_file.exists()  # read once, then removed


def test_masking_a_long_run_of_letters_takes_linear_time() -> None:
    import time

    from sluice.secrecy import mask

    started = time.perf_counter()
    assert mask("x" * 400_000 + " postgres://u:pw@h/db") == "x" * 400_000 + \
        " postgres://u:***@h/db"
    assert time.perf_counter() - started < 2  # the unbounded scheme took minutes here

