"""The ``asl`` check: each test writes a project whose workflow provokes one failure."""

from __future__ import annotations

from pathlib import Path

from sluice.check.context import CheckContext, CheckOptions
from sluice.check.kinds.asl import AslCheck
from sluice.check.model import CheckResult, Status
from sluice.check.runner import run_checks

CONFIG = """\
project: flows
jobs:
  load:
    type: pyspark
    script: jobs/load.py
    inputs: [raw.events]
    outputs: [staging.events]
sources:
  raw.events: {format: csv, path: events/*.csv}
datasets:
  staging.events: {}
functions:
  notify: {code: functions/notify.py, handler: notify.handler}
workflows:
  nightly: {definition: workflows/nightly.asl.json}
environments:
  dev: {target: {type: local}, parameters: {region: eu-west-1}}
"""

DEFINITION = "workflows/nightly.asl.json"

VALID = """\
{
  "Comment": "nightly load",
  "StartAt": "Load",
  "States": {
    "Load": {
      "Type": "Task",
      "Resource": "arn:aws:states:::glue:startJobRun.sync",
      "Parameters": {"JobName": "load"},
      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
      "Next": "Fanout"
    },
    "Fanout": {
      "Type": "Parallel",
      "Branches": [
        {
          "StartAt": "Notify",
          "States": {
            "Notify": {
              "Type": "Task",
              "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": "notify", "Payload.$": "$"},
              "End": true
            }
          }
        },
        {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 5, "End": true}}}
      ],
      "Next": "Each"
    },
    "Each": {
      "Type": "Map",
      "ItemsPath": "$.tables",
      "ItemProcessor": {
        "StartAt": "Ping",
        "States": {
          "Ping": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:${region}:123456789012:function:notify:live",
            "End": true
          }
        }
      },
      "Next": "Done"
    },
    "Done": {"Type": "Succeed"},
    "Failed": {"Type": "Fail", "Error": "LoadFailed"}
  }
}
"""


def write_project(root: Path, definition: str) -> Path:
    files = {
        "sluice.yaml": CONFIG,
        "jobs/load.py": "print('load')\n",
        "functions/notify.py": "def handler(event, context):\n    return event\n",
        DEFINITION: definition,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def check(root: Path) -> CheckResult:
    report = run_checks(root, root / ".sluice", CheckOptions(use_cache=False), [AslCheck()])
    assert [(r.kind, r.name) for r in report.results] == [("asl", "nightly")]
    return report.results[0]


def where(result: CheckResult) -> list[tuple[str | None, int | None]]:
    return [(f.path, f.line) for f in result.findings]


def test_valid_definition_with_parallel_map_glue_and_lambda_passes(tmp_path: Path) -> None:
    result = check(write_project(tmp_path, VALID))

    assert result.status == Status.PASSED, result.findings
    assert result.findings == []
    assert result.detail == "8 states checked"


def test_unit_names_its_file_and_the_components_its_tasks_run(tmp_path: Path) -> None:
    root = write_project(tmp_path, VALID)

    [unit] = AslCheck().units(CheckContext(root, root / ".sluice", CheckOptions()))

    assert (unit.kind, unit.name, unit.files) == ("asl", "nightly", (DEFINITION, "sluice.yaml"))
    assert unit.nodes == frozenset({"load", "notify"})
    assert unit.key["jobs"] == ["load"]
    assert unit.key["functions"] == ["notify"]
    assert unit.key["workflow"]["definition"] == DEFINITION


def test_unknown_next_target_is_reported_at_its_line_with_suggestion(tmp_path: Path) -> None:
    text = VALID.replace('"Next": "Fanout"', '"Next": "Fanot"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    [finding] = result.findings
    assert (finding.path, finding.line, finding.col) == (DEFINITION, 10, 7)
    assert finding.message == ("Task state 'Load': Next names no state: 'Fanot'; "
                               "did you mean 'Fanout'?")
    assert finding.code == "MISSING_TRANSITION_TARGET"


def test_branch_next_to_a_state_outside_the_branch_is_unknown(tmp_path: Path) -> None:
    text = VALID.replace('"Seconds": 5, "End": true', '"Seconds": 5, "Next": "Done"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    assert where(result) == [(DEFINITION, 26)]
    assert result.findings[0].message == "Wait state 'Pause': Next names no state: 'Done'"


def test_start_at_naming_no_state_is_an_error(tmp_path: Path) -> None:
    text = VALID.replace('"StartAt": "Load"', '"StartAt": "Lod"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    assert where(result) == [(DEFINITION, 3)]
    assert result.findings[0].message == ("StartAt names no state of the state machine: 'Lod'; "
                                          "did you mean 'Load'?")


def test_unreachable_state_is_named(tmp_path: Path) -> None:
    orphan = '\n    "Orphan": {"Type": "Pass", "End": true},'
    text = VALID.replace('"Done": {"Type": "Succeed"},', '"Done": {"Type": "Succeed"},' + orphan)
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    assert where(result) == [(DEFINITION, 46)]
    assert result.findings[0].message == ("state 'Orphan' is not reachable from StartAt 'Load' "
                                          "in the state machine")


LOOP = """\
{
  "StartAt": "Poll",
  "States": {
    "Poll": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "Next": "Wait"},
    "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Check"},
    "Check": {
      "Type": "Choice",
      "Choices": [{"Variable": "$.done", "BooleanEquals": false, "Next": "Poll"}],
      "Default": "Wait"
    }
  }
}
"""


def test_a_machine_without_a_final_state_is_missing_its_end(tmp_path: Path) -> None:
    result = check(write_project(tmp_path, LOOP))

    assert result.status == Status.FAILED
    [finding] = result.findings
    assert (finding.line, finding.code) == (1, "MISSING_END_STATE")
    assert finding.message == ("the state machine has no terminal state: none is a Succeed or "
                               "Fail state or has End: true")


def test_a_loop_with_no_way_out_is_a_warning_as_aws_accepts_it(tmp_path: Path) -> None:
    start = ('\n    "Start": {"Type": "Choice", "Choices": [{"Variable": "$.skip", '
             '"IsPresent": true, "Next": "Over"}], "Default": "Poll"},'
             '\n    "Over": {"Type": "Succeed"},')
    text = LOOP.replace('"StartAt": "Poll"', '"StartAt": "Start"').replace(
        '"States": {', '"States": {' + start, 1)
    result = check(write_project(tmp_path, text))

    assert result.status == Status.PASSED, result.findings
    [finding] = result.findings
    assert (finding.severity, finding.line) == ("warning", 6)
    assert finding.message == ("states 'Poll', 'Wait', 'Check' of the state machine never reach "
                               "an end: the execution would loop until it times out")


def test_loop_with_an_exit_passes(tmp_path: Path) -> None:
    text = LOOP.replace('"Default": "Wait"', '"Default": "Over"').replace(
        '"States": {', '"States": {\n    "Over": {"Type": "Succeed"},')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.PASSED, result.findings


def test_glue_task_naming_a_job_the_project_lacks_is_a_warning(tmp_path: Path) -> None:
    text = VALID.replace('"JobName": "load"', '"JobName": "loads"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.PASSED  # AWS accepts it: the job may be another's
    [finding] = result.findings
    assert (finding.path, finding.line, finding.col, finding.severity) == (
        DEFINITION, 8, 22, "warning")
    assert finding.message == ("state 'Load': Glue job 'loads' is not a job of this project; "
                               "did you mean 'load'?")
    assert finding.tip == ("pyspark and glue jobs in sluice.yaml: load; if it is another's, or "
                           "list it under workflows.<name>.external in sluice.yaml")


GLUE_JOBS = """\
  persons:
    type: glue
    script: glue/persons.py
    inputs: [raw.events]
    outputs: [staging.persons]
    arguments: {--OUTPUT_PATH: "${output:staging.persons}"}
  tidy:
    type: sql
    sql: models/tidy.sql
    output: staging.tidy
"""


def test_glue_task_may_name_a_glue_job_but_not_a_sql_job(tmp_path: Path) -> None:
    root = write_project(tmp_path, VALID.replace('"JobName": "load"', '"JobName": "persons"'))
    config = CONFIG.replace("sources:", GLUE_JOBS + "sources:", 1).replace(
        "  staging.events: {}", "  staging.events: {}\n  staging.persons: {}\n  staging.tidy: {}")
    (root / "sluice.yaml").write_text(config)
    (root / "glue").mkdir()
    (root / "glue" / "persons.py").write_text("import sys\n")
    (root / "models").mkdir()
    (root / "models" / "tidy.sql").write_text("SELECT * FROM staging.events\n")
    assert check(root).status == Status.PASSED

    (root / DEFINITION).write_text(VALID.replace('"JobName": "load"', '"JobName": "tidy"'))
    result = check(root)
    [finding] = result.findings
    assert finding.message == ("state 'Load': job 'tidy' is a sql job; only pyspark and glue "
                               "jobs run on Glue")
    assert finding.tip == "pyspark and glue jobs: load, persons"


def test_glue_task_with_dynamic_job_name_is_not_checked(tmp_path: Path) -> None:
    text = VALID.replace('"JobName": "load"', '"JobName.$": "$.job"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.PASSED, result.findings


def test_a_function_arn_the_project_lacks_is_another_accounts(tmp_path: Path) -> None:
    text = VALID.replace("function:notify:live", "function:notifier:live")
    result = check(write_project(tmp_path, text))

    assert result.status == Status.PASSED
    assert result.findings == []


def test_a_plain_function_name_the_project_lacks_is_a_warning(tmp_path: Path) -> None:
    text = VALID.replace('"FunctionName": "notify"', '"FunctionName": "notifi"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.PASSED
    assert where(result) == [(DEFINITION, 21)]
    assert result.findings[0].message == (
        "state 'Notify': function 'notifi' is not a function of this project; "
        "did you mean 'notify'?")


def test_lambda_function_name_with_leftover_reference_is_an_error(tmp_path: Path) -> None:
    text = VALID.replace('"FunctionName": "notify"', '"FunctionName": "$${fn}"')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    assert where(result) == [(DEFINITION, 21)]
    assert "'${fn}' is not a function name or ARN" in result.findings[0].message


def test_invalid_json_is_reported_at_line_and_column(tmp_path: Path) -> None:
    text = VALID.replace('"Next": "Fanout"\n', '"Next": "Fanout",\n')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    [finding] = result.findings
    assert (finding.path, finding.line, finding.col) == (DEFINITION, 11, 5)
    assert finding.message.startswith("not valid JSON: ")


def test_unknown_parameter_is_reported_at_its_line(tmp_path: Path) -> None:
    text = VALID.replace("${region}", "${regoin}")
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    [finding] = result.findings
    assert (finding.path, finding.line, finding.col) == (DEFINITION, 38, 41)
    assert finding.message.startswith("unknown parameter '${regoin}'")
    assert "did you mean 'region'?" in finding.message


CHOICE = """\
{
  "StartAt": "Route",
  "States": {
    "Route": {
      "Type": "Choice",
      "Choices": [
        {"Variable": "$.full", "BooleanEquals": true, "Next": "Load"},
        {"Not": {"Variable": "$.full", "BooleanEquals": true}, "Next": "Skip"}
      ]
    },
    "Load": {
      "Type": "Task",
      "Resource": "arn:aws:states:::glue:startJobRun",
      "Parameters": {"JobName": "load"},
      "End": true
    },
    "Skip": {"Type": "Pass", "End": true}
  }
}
"""


def test_choice_without_default_whose_targets_exist_passes(tmp_path: Path) -> None:
    result = check(write_project(tmp_path, CHOICE))

    assert result.status == Status.PASSED, result.findings


def test_choice_rule_naming_no_state_is_an_error(tmp_path: Path) -> None:
    text = CHOICE.replace('"Next": "Skip"', '"Next": "Skipp"')
    result = check(write_project(tmp_path, text))

    assert where(result) == [(DEFINITION, 8)]
    assert result.findings[0].message == (
        "Choice state 'Route': Next names no state: 'Skipp'; did you mean 'Skip'?")


def test_succeed_with_next_is_an_error(tmp_path: Path) -> None:
    text = VALID.replace('"Done": {"Type": "Succeed"}', '"Done": {"Type": "Succeed",\n'
                         '      "Next": "Failed"}')
    result = check(write_project(tmp_path, text))

    assert result.status == Status.FAILED
    [finding] = result.findings
    assert (finding.path, finding.line, finding.col) == (DEFINITION, 46, 7)
    assert finding.message == "Succeed state 'Done' cannot have Next"


def test_task_without_next_or_end_is_an_error(tmp_path: Path) -> None:
    text = CHOICE.replace('"Parameters": {"JobName": "load"},\n      "End": true',
                          '"Parameters": {"JobName": "load"}')
    result = check(write_project(tmp_path, text))

    assert where(result) == [(DEFINITION, 11)]
    assert result.findings[0].message == "Task state 'Load' needs Next or End: true"


def test_project_without_workflows_has_no_asl_units(tmp_path: Path) -> None:
    root = write_project(tmp_path, VALID)
    config = CONFIG.replace("workflows:\n  nightly: {definition: workflows/nightly.asl.json}\n",
                            "")
    (root / "sluice.yaml").write_text(config, encoding="utf-8")

    report = run_checks(root, root / ".sluice", CheckOptions(use_cache=False), [AslCheck()])

    assert report.results == []
