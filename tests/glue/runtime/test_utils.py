"""getResolvedOptions parses job arguments by Glue's rules and raises Glue's errors."""

from __future__ import annotations

import pytest
from awsglue.utils import GlueArgumentError, getResolvedOptions

from sluice.glue.arguments import glue_argv

SCRIPT = "script.py"


@pytest.mark.parametrize(
    ("argv", "options", "expected"),
    [
        pytest.param(["--X", "1"], ["X"], {"X": "1"}, id="space-separated"),
        pytest.param(["--X=1"], ["X"], {"X": "1"}, id="equals-joined"),
        pytest.param(["--X", "a=b"], ["X"], {"X": "a=b"}, id="value-with-equals"),
        pytest.param(["--X=--y"], ["X"], {"X": "--y"}, id="equals-value-with-dashes"),
        pytest.param(["--X", "1", "--X", "2"], ["X"], {"X": "2"}, id="repeated-last-wins"),
        pytest.param(["--X=1", "--X", "2", "--X=3"], ["X"], {"X": "3"}, id="repeated-mixed"),
        pytest.param(["--other", "v", "--X", "1", "stray"], ["X"], {"X": "1"},
                     id="unknown-extra-ignored"),
        pytest.param(["--SOURCE-PATH", "/p"], ["SOURCE-PATH"], {"SOURCE_PATH": "/p"},
                     id="dash-becomes-underscore"),
        pytest.param(["--X", ""], ["X"], {"X": ""}, id="empty-value"),
        pytest.param(["--JOB_NAME", "j", "--X", "1"], ["JOB_NAME", "X"],
                     {"JOB_NAME": "j", "X": "1"}, id="job-name-when-asked"),
    ],
)
def test_options_resolve_as_glue_parses_them(argv: list[str], options: list[str],
                                             expected: dict[str, str]) -> None:
    resolved = getResolvedOptions([SCRIPT, *argv], options)
    assert {k: resolved[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("argv", "options", "message"),
    [
        pytest.param([], ["X"], "the following arguments are required: --X", id="missing"),
        pytest.param(["--Y", "1"], ["X", "Y", "Z"],
                     "the following arguments are required: --X, --Z", id="missing-several"),
        pytest.param(["--X"], ["X"], "argument --X: expected one argument", id="no-value"),
        pytest.param(["--X", "--Y", "1"], ["X", "Y"], "argument --X: expected one argument",
                     id="value-is-next-option"),
        pytest.param(["--job-bookmark-option", "on"], [],
                     "argument --job-bookmark-option: invalid choice: 'on'", id="bad-bookmark"),
        pytest.param(["--encryption-type", "kms"], [],
                     "argument --encryption-type: invalid choice: 'kms'", id="bad-encryption"),
    ],
)
def test_bad_command_lines_raise_glue_argument_error(argv: list[str], options: list[str],
                                                     message: str) -> None:
    with pytest.raises(GlueArgumentError) as err:
        getResolvedOptions([SCRIPT, *argv], options)
    assert message in str(err.value)


def test_optional_argument_idiom() -> None:
    """Glue has no optional arguments: scripts test ``'--X' in sys.argv`` first."""
    def resolve(argv: list[str]) -> dict[str, str]:
        options = ["JOB_NAME"] + (["COUNTRY"] if "--COUNTRY" in argv else [])
        return getResolvedOptions(argv, options)

    with_it = resolve([SCRIPT, "--JOB_NAME", "j", "--COUNTRY", "PT"])
    without = resolve([SCRIPT, "--JOB_NAME", "j"])
    assert with_it["COUNTRY"] == "PT"
    assert "COUNTRY" not in without
    # the idiom needs "--NAME VALUE": Glue itself passes arguments that way
    assert "COUNTRY" not in resolve([SCRIPT, "--JOB_NAME", "j", "--COUNTRY=PT"])


@pytest.mark.parametrize("name", ["job-bookmark-option", "continuation-option", "JOB_ID",
                                  "JOB_RUN_ID", "SECURITY_CONFIGURATION", "encryption-type",
                                  "job-bookmark-from", "job-bookmark-to"])
def test_reserved_arguments_cannot_be_asked_for(name: str) -> None:
    with pytest.raises(RuntimeError, match="Using reserved arguments"):
        getResolvedOptions([SCRIPT], [name])


def test_glue_arguments_are_always_in_the_result() -> None:
    resolved = getResolvedOptions([SCRIPT, "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1"], [])
    assert resolved["job_bookmark_option"] == "job-bookmark-disable"
    assert resolved["JOB_ID"] == "j_1" and resolved["JOB_RUN_ID"] == "jr_1"
    assert resolved["TempDir"] is None and resolved["RedshiftTempDir"] is None
    assert "continuation_option" not in resolved


@pytest.mark.parametrize(("continuation", "bookmark"), [
    ("continuation-enabled", "job-bookmark-enable"),
    ("continuation-readonly", "job-bookmark-pause"),
    ("continuation-ignore", "job-bookmark-disable"),
])
def test_continuation_option_translates_to_a_bookmark_option(continuation: str,
                                                               bookmark: str) -> None:
    resolved = getResolvedOptions([SCRIPT, "--continuation-option", continuation], [])
    assert resolved["job_bookmark_option"] == bookmark
    both = getResolvedOptions([SCRIPT, "--continuation-option", continuation,
                               "--job-bookmark-option", "job-bookmark-enable"], [])
    assert both["job_bookmark_option"] == "job-bookmark-enable"


def test_temp_dir_fills_redshift_temp_dir_and_back() -> None:
    one = getResolvedOptions([SCRIPT, "--TempDir", "s3://t/"], ["TempDir"])
    assert one["TempDir"] == one["RedshiftTempDir"] == "s3://t/"
    other = getResolvedOptions([SCRIPT, "--RedshiftTempDir", "s3://r/"], [])
    assert other["TempDir"] == "s3://r/"
    # named, yet optional: Glue does not require TempDir of every job
    assert getResolvedOptions([SCRIPT], ["TempDir", "RedshiftTempDir"])["TempDir"] is None


def test_bookmark_range_rules() -> None:
    with pytest.raises(RuntimeError, match="Missing option or value for --job-bookmark-to"):
        getResolvedOptions([SCRIPT, "--job-bookmark-option", "job-bookmark-pause",
                            "--job-bookmark-from", "jr_1"], [])
    with pytest.raises(RuntimeError, match="Invalid option"):
        getResolvedOptions([SCRIPT, "--job-bookmark-from", "jr_1",
                            "--job-bookmark-to", "jr_2"], [])
    paused = getResolvedOptions([SCRIPT, "--job-bookmark-option", "job-bookmark-pause",
                                 "--job-bookmark-from", "jr_1", "--job-bookmark-to", "jr_2"],
                                [])
    assert (paused["job_bookmark_from"], paused["job_bookmark_to"]) == ("jr_1", "jr_2")


def test_help_does_not_exit_the_job() -> None:
    resolved = getResolvedOptions([SCRIPT, "-h", "--X", "1"], ["X"])
    assert resolved["X"] == "1"


def test_options_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="list of argument names"):
        getResolvedOptions([SCRIPT, "--X", "1"], "X")


def test_the_argv_sluice_builds_resolves_to_the_job_arguments() -> None:
    """What sluice passes a glue job (sluice.glue.arguments) is what the script reads back."""
    arguments = {"--SOURCE_PATH": "/objects/raw/persons/", "--COUNTRY": "PT",
                 "--job-bookmark-option": "job-bookmark-enable"}
    argv = glue_argv("persons.py", "persons", arguments, temp_dir="/tmp/glue",
                     ids=("j_1", "jr_1"))
    resolved = getResolvedOptions(argv, ["JOB_NAME", "SOURCE_PATH", "COUNTRY"])
    assert resolved["JOB_NAME"] == "persons"
    assert resolved["SOURCE_PATH"] == "/objects/raw/persons/"
    assert resolved["COUNTRY"] == "PT"
    assert resolved["job_bookmark_option"] == "job-bookmark-enable"
    assert (resolved["JOB_ID"], resolved["JOB_RUN_ID"]) == ("j_1", "jr_1")
    assert resolved["TempDir"] == "/tmp/glue"
