"""Validation as AWS's ValidateStateMachineDefinition does it: one valid definition that uses
every state type, then one mutation per class of invalid definition (each must be flagged with
its code at its path) and variations AWS accepts (each must pass)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from sluice.workflows.validate import is_valid, validate_definition

VALID: dict[str, Any] = {
    "Comment": "every state type",
    "StartAt": "Load",
    "TimeoutSeconds": 3600,
    "States": {
        "Load": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "load", "Arguments": {"--day.$": "$.day"}},
            "ResultSelector": {"state.$": "$.JobRunState"},
            "ResultPath": "$.load",
            "TimeoutSeconds": 600,
            "HeartbeatSeconds": 60,
            "Retry": [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException"],
                       "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0,
                       "MaxDelaySeconds": 60, "JitterStrategy": "FULL"},
                      {"ErrorEquals": ["States.ALL"]}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                       "Next": "Failed"}],
            "Next": "Route",
        },
        "Route": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.load.state", "StringEquals": "SUCCEEDED", "Next": "Fanout"},
                {"And": [{"Variable": "$.n", "IsNumeric": True},
                         {"Not": {"Variable": "$.n", "NumericLessThanEquals": 0}}],
                 "Next": "Pause"},
                {"Variable": "$.at", "TimestampGreaterThanPath": "$.since", "Next": "Pause"},
            ],
            "Default": "Failed",
        },
        "Pause": {"Type": "Wait", "SecondsPath": "$.n", "Next": "Fanout"},
        "Fanout": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Notify", "States": {"Notify": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "notify:$LATEST",
                                   "Payload": {"text.$": "States.Format('day {}', $.day)",
                                               "id.$": "$$.Execution.Id"}},
                    "OutputPath": "$.Payload", "End": True}}},
                {"StartAt": "Shape", "States": {"Shape": {
                    "Type": "Pass", "Parameters": {"n.$": "States.ArrayLength($.items)"},
                    "End": True}}},
            ],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "ItemsPath": "$[0].items",
            "ItemSelector": {"item.$": "$$.Map.Item.Value"},
            "MaxConcurrency": 10,
            "ItemProcessor": {"StartAt": "Ping", "States": {"Ping": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:ping:live",
                "End": True}}},
            "ResultPath": None,
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "LoadFailed", "CausePath": "$.error.Cause"},
    },
}


def diagnostics(definition: Any) -> list[tuple[str, str, str]]:
    text = definition if isinstance(definition, str) else json.dumps(definition, indent=2)
    return [(d.code, d.location, d.severity) for d in validate_definition(text)]


def errors(definition: Any) -> list[tuple[str, str]]:
    return [(c, loc) for c, loc, sev in diagnostics(definition) if sev == "ERROR"]


def mutated(change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    data = copy.deepcopy(VALID)
    change(data)
    return data


def states(data: dict[str, Any]) -> dict[str, Any]:
    return data["States"]  # type: ignore[no-any-return]


def test_the_valid_definition_has_no_diagnostics() -> None:
    assert diagnostics(VALID) == []


SCHEMA = "SCHEMA_VALIDATION_FAILED"

MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], Any], tuple[str, str]]] = {
    # the seven AWS rejects that the structural check let through
    "misspelt comparator": (
        lambda d: states(d)["Route"]["Choices"][0].update(
            {"StringEqualz": states(d)["Route"]["Choices"][0].pop("StringEquals")}),
        (SCHEMA, "/States/Route/Choices/0/StringEqualz")),
    "negative MaxAttempts": (lambda d: states(d)["Load"]["Retry"][0].update(MaxAttempts=-1),
                             (SCHEMA, "/States/Load/Retry/0/MaxAttempts")),
    "ResultPath not a path": (lambda d: states(d)["Load"].update(ResultPath="not-a-path"),
                              (SCHEMA, "/States/Load/ResultPath")),
    "unknown field": (lambda d: states(d)["Pause"].update(Foo=1), (SCHEMA, "/States/Pause/Foo")),
    "Resource not an ARN": (lambda d: states(d)["Load"].update(Resource="not-an-arn"),
                            ("INVALID_RESOURCE", "/States/Load/Resource")),
    "TimeoutSeconds a string": (lambda d: states(d)["Load"].update(TimeoutSeconds="abc"),
                                (SCHEMA, "/States/Load/TimeoutSeconds")),
    "Retrier without ErrorEquals": (lambda d: states(d)["Load"]["Retry"][0].pop("ErrorEquals"),
                                    (SCHEMA, "/States/Load/Retry/0")),
    # field types and required fields
    "Task without Resource": (lambda d: states(d)["Load"].pop("Resource"),
                              (SCHEMA, "/States/Load")),
    "unknown Type": (lambda d: states(d)["Done"].update(Type="Success"),
                     (SCHEMA, "/States/Done/Type")),
    "Next and End": (lambda d: states(d)["Pause"].update(End=True),
                     (SCHEMA, "/States/Pause/Next")),
    "neither Next nor End": (lambda d: states(d)["Pause"].pop("Next"), (SCHEMA, "/States/Pause")),
    "Succeed with Next": (lambda d: states(d)["Done"].update(Next="Failed"),
                          (SCHEMA, "/States/Done/Next")),
    "End not a boolean": (lambda d: states(d)["Done"].update(Type="Pass", End="yes"),
                          (SCHEMA, "/States/Done/End")),
    "Fail with OutputPath": (lambda d: states(d)["Failed"].update(OutputPath="$"),
                             (SCHEMA, "/States/Failed/OutputPath")),
    "Error and ErrorPath": (lambda d: states(d)["Failed"].update(ErrorPath="$.e"),
                            (SCHEMA, "/States/Failed/ErrorPath")),
    "Wait with two durations": (lambda d: states(d)["Pause"].update(Seconds=5),
                                (SCHEMA, "/States/Pause/SecondsPath")),
    "Wait with a negative wait": (lambda d: states(d)["Pause"].pop("SecondsPath") and
                                  states(d)["Pause"].update(Seconds=-1),
                                  (SCHEMA, "/States/Pause/Seconds")),
    "Timestamp not RFC 3339": (lambda d: states(d)["Pause"].pop("SecondsPath") and
                               states(d)["Pause"].update(Timestamp="tomorrow"),
                               (SCHEMA, "/States/Pause/Timestamp")),
    "heartbeat not below timeout": (lambda d: states(d)["Load"].update(HeartbeatSeconds=600),
                                    (SCHEMA, "/States/Load/HeartbeatSeconds")),
    "BackoffRate below 1": (lambda d: states(d)["Load"]["Retry"][0].update(BackoffRate=0.5),
                            (SCHEMA, "/States/Load/Retry/0/BackoffRate")),
    "JitterStrategy unknown": (lambda d: states(d)["Load"]["Retry"][0].update(
        JitterStrategy="HALF"), (SCHEMA, "/States/Load/Retry/0/JitterStrategy")),
    "States.ALL not last": (lambda d: states(d)["Load"]["Retry"].reverse(),
                            (SCHEMA, "/States/Load/Retry/0/ErrorEquals")),
    "Catcher without Next": (lambda d: states(d)["Load"]["Catch"][0].pop("Next"),
                             (SCHEMA, "/States/Load/Catch/0")),
    "Retry not an array": (lambda d: states(d)["Load"].update(Retry={"ErrorEquals": ["X"]}),
                           (SCHEMA, "/States/Load/Retry")),
    # Choice rules
    "rule without Next": (lambda d: states(d)["Route"]["Choices"][0].pop("Next"),
                          (SCHEMA, "/States/Route/Choices/0")),
    "nested rule with Next": (lambda d: states(d)["Route"]["Choices"][1]["And"][0].update(
        Next="Done"), (SCHEMA, "/States/Route/Choices/1/And/0/Next")),
    "comparator of the wrong type": (lambda d: states(d)["Route"]["Choices"][0].update(
        StringEquals=5), (SCHEMA, "/States/Route/Choices/0/StringEquals")),
    "two comparators": (lambda d: states(d)["Route"]["Choices"][0].update(IsPresent=True),
                        (SCHEMA, "/States/Route/Choices/0/IsPresent")),
    "rule without Variable": (lambda d: states(d)["Route"]["Choices"][0].pop("Variable"),
                              (SCHEMA, "/States/Route/Choices/0")),
    "empty Or": (lambda d: states(d)["Route"]["Choices"][1].update(
        Or=states(d)["Route"]["Choices"][1].pop("And")[:0]),
        (SCHEMA, "/States/Route/Choices/1/Or")),
    "Choice with End": (lambda d: states(d)["Route"].update(End=True),
                        (SCHEMA, "/States/Route/End")),
    # paths and intrinsics
    "InputPath bad JSONPath": (lambda d: states(d)["Pause"].update(InputPath="$.a[?(@.b >)]"),
                               (SCHEMA, "/States/Pause/InputPath")),
    "ResultPath with wildcard": (lambda d: states(d)["Load"].update(ResultPath="$.a[*]"),
                                 (SCHEMA, "/States/Load/ResultPath")),
    "ItemsPath with ..": (lambda d: states(d)["Each"].update(ItemsPath="$..items"),
                          (SCHEMA, "/States/Each/ItemsPath")),
    "unknown intrinsic": (lambda d: states(d)["Load"]["Parameters"].update(
        {"x.$": "States.Formatt('{}', $.a)"}), (SCHEMA, "/States/Load/Parameters/x.$")),
    "intrinsic arity": (lambda d: states(d)["Load"]["Parameters"].update(
        {"x.$": "States.MathAdd(1)"}), (SCHEMA, "/States/Load/Parameters/x.$")),
    "Format holes and values": (lambda d: states(d)["Load"]["Parameters"].update(
        {"x.$": "States.Format('{} {}', $.a)"}), (SCHEMA, "/States/Load/Parameters/x.$")),
    "Hash algorithm": (lambda d: states(d)["Load"]["Parameters"].update(
        {"x.$": "States.Hash($.a, 'SHA1')"}), (SCHEMA, "/States/Load/Parameters/x.$")),
    ".$ with a number": (lambda d: states(d)["Load"]["Parameters"].update({"x.$": 5}),
                         (SCHEMA, "/States/Load/Parameters/x.$")),
    # transitions and names
    "Next to no state": (lambda d: states(d)["Pause"].update(Next="Fanot"),
                         ("MISSING_TRANSITION_TARGET", "/States/Pause/Next")),
    "Default to no state": (lambda d: states(d)["Route"].update(Default="Nowhere"),
                            ("MISSING_TRANSITION_TARGET", "/States/Route/Default")),
    "StartAt to no state": (lambda d: d.update(StartAt="Lod"),
                            ("MISSING_TRANSITION_TARGET", "/StartAt")),
    "Catch to no state": (lambda d: states(d)["Load"]["Catch"][0].update(Next="Fail"),
                          ("MISSING_TRANSITION_TARGET", "/States/Load/Catch/0/Next")),
    "unreachable state": (lambda d: states(d).update(Orphan={"Type": "Succeed"}),
                          (SCHEMA, "/States/Orphan")),
    "state name used twice across branches": (
        lambda d: states(d)["Fanout"]["Branches"][1]["States"].update(
            {"Notify": states(d)["Fanout"]["Branches"][1]["States"].pop("Shape")}) or
        states(d)["Fanout"]["Branches"][1].update(StartAt="Notify"),
        ("DUPLICATE_STATE_NAME", "/States/Fanout/Branches/1/States/Notify")),
    "state name too long": (lambda d: states(d).update({"x" * 81: {"Type": "Succeed"}}) or
                            states(d)["Route"].update(Default="x" * 81),
                            ("INVALID_STATE_NAME", "/States/" + "x" * 81)),
    "no terminal state": (lambda d: d.update(States={"A": {"Type": "Pass", "Next": "A"}},
                                             StartAt="A"), ("MISSING_END_STATE", "/")),
    "unknown top-level field": (lambda d: d.update(Timeout=5), (SCHEMA, "/Timeout")),
    # Map and Parallel
    "empty Branches": (lambda d: states(d)["Fanout"].update(Branches=[]),
                       (SCHEMA, "/States/Fanout/Branches")),
    "Map without processor": (lambda d: states(d)["Each"].pop("ItemProcessor"),
                              (SCHEMA, "/States/Each")),
    "ItemReader on an inline Map": (lambda d: states(d)["Each"].update(
        ItemReader={"Resource": "arn:aws:states:::s3:getObject"}),
        (SCHEMA, "/States/Each/ItemReader")),
    "distributed Map without ExecutionType": (
        lambda d: states(d)["Each"]["ItemProcessor"].update(
            ProcessorConfig={"Mode": "DISTRIBUTED"}),
        (SCHEMA, "/States/Each/ItemProcessor/ProcessorConfig")),
    "ToleratedFailurePercentage above 100": (
        lambda d: states(d)["Each"]["ItemProcessor"].update(
            ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}) or
        states(d)["Each"].update(ToleratedFailurePercentage=150),
        (SCHEMA, "/States/Each/ToleratedFailurePercentage")),
    "invalid Label": (
        lambda d: states(d)["Each"]["ItemProcessor"].update(
            ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}) or
        states(d)["Each"].update(Label="my label"),
        ("INVALID_LABEL_NAME", "/States/Each/Label")),
    "ItemSelector and Parameters": (lambda d: states(d)["Each"].update(Parameters={}),
                                    (SCHEMA, "/States/Each/Parameters")),
    "MaxConcurrency negative": (lambda d: states(d)["Each"].update(MaxConcurrency=-2),
                                (SCHEMA, "/States/Each/MaxConcurrency")),
    # query languages
    "JSONPath field in a JSONata state": (lambda d: states(d)["Done"].update(
        QueryLanguage="JSONata", OutputPath="$"), (SCHEMA, "/States/Done/OutputPath")),
    "JSONata field in a JSONPath state": (lambda d: states(d)["Done"].update(Output={}),
                                          (SCHEMA, "/States/Done/Output")),
    "JSONata that does not parse": (lambda d: states(d)["Done"].update(
        QueryLanguage="JSONata", Output="{% $states.input. + %}"), (SCHEMA, "/States/Done/Output")),
    "unknown QueryLanguage": (lambda d: d.update(QueryLanguage="JMESPath"),
                              (SCHEMA, "/QueryLanguage")),
    "bad ARN partition": (lambda d: states(d)["Load"].update(
        Resource="arn:amazon:states:::glue:startJobRun"), ("INVALID_RESOURCE",
                                                             "/States/Load/Resource")),
    "Task on another service's ARN": (lambda d: states(d)["Load"].update(
        Resource="arn:aws:sns:eu-west-1:123456789012:topic"), ("INVALID_RESOURCE",
                                                                "/States/Load/Resource")),
    "variable name invalid": (lambda d: states(d)["Pause"].update(Assign={"1st": 1}),
                              (SCHEMA, "/States/Pause/Assign/1st")),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_class_of_invalid_definition_is_flagged_at_its_path(name: str) -> None:
    change, expected = MUTATIONS[name]
    found = errors(mutated(change))
    assert expected in found, found
    assert not is_valid(validate_definition(json.dumps(mutated(change))))


def test_duplicate_keys_are_flagged_even_though_json_keeps_the_last() -> None:
    text = json.dumps(VALID, indent=2).replace(
        '"Done": {\n      "Type": "Succeed"\n    },',
        '"Done": {\n      "Type": "Succeed"\n    },\n    "Done": {"Type": "Succeed"},')
    assert ("DUPLICATE_STATE_NAME", "/States/Done") in errors(text)
    field = json.dumps(VALID).replace('"MaxConcurrency": 10', '"MaxConcurrency": 10, '
                                      '"MaxConcurrency": 5')
    assert (SCHEMA, "/States/Each/MaxConcurrency") in errors(field)


def test_text_that_is_not_a_definition() -> None:
    assert errors("") == [("MISSING_DESCRIPTION", "/")]
    [bad] = validate_definition('{"StartAt": "A",\n "States": {,}}')
    assert (bad.code, bad.line, bad.col) == ("INVALID_JSON_DESCRIPTION", 2, 13)


ACCEPTED: dict[str, Callable[[dict[str, Any]], Any]] = {
    "function name with $LATEST": lambda d: None,  # VALID has one
    "partial function ARN": lambda d: states(d)["Fanout"]["Branches"][0]["States"]["Notify"][
        "Parameters"].update(FunctionName="123456789012:function:notify"),
    "aws-sdk integration": lambda d: states(d)["Load"].update(
        Resource="arn:aws:states:::aws-sdk:s3:listObjectsV2"),
    "activity": lambda d: states(d)["Load"].update(
        Resource="arn:aws:states:eu-west-1:123456789012:activity:review"),
    "China partition": lambda d: states(d)["Load"].update(
        Resource="arn:aws-cn:states:::glue:startJobRun"),
    "waitForTaskToken": lambda d: states(d)["Load"].update(
        Resource="arn:aws:states:::sqs:sendMessage.waitForTaskToken"),
    "legacy Iterator and Parameters": lambda d: states(d)["Each"].update(
        Iterator=states(d)["Each"].pop("ItemProcessor"),
        Parameters=states(d)["Each"].pop("ItemSelector")),
    "null ResultPath and OutputPath": lambda d: states(d)["Pause"].pop("SecondsPath") and
    states(d)["Pause"].update(ResultPath=None, OutputPath=None, Type="Pass"),
    "variables in paths": lambda d: states(d)["Pause"].update(
        Assign={"count": 0, "day.$": "$.day"}, InputPath="$count"),
    "JSONata everywhere": lambda d: d.update(QueryLanguage="JSONata", StartAt="J", States={
        "J": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Arguments": {"FunctionName": "notify", "Payload": "{% $states.input %}"},
              "Output": "{% $states.result.Payload %}", "Assign": {"n": "{% $count(x) %}"},
              "TimeoutSeconds": "{% $timeout %}", "Next": "K"},
        "K": {"Type": "Choice", "Choices": [{"Condition": "{% $n > 1 %}", "Next": "L"}],
              "Default": "L"},
        "L": {"Type": "Map", "Items": "{% $states.input.items %}", "ItemProcessor": {
            "StartAt": "M", "States": {"M": {"Type": "Pass", "End": True}}}, "End": True}}),
    "distributed Map with a reader, writer, batcher and label": lambda d: states(d)["Each"].update(
        ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                    "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
        ItemBatcher={"MaxItemsPerBatch": 100},
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "b", "Prefix": "out"}},
        ToleratedFailurePercentage=5, Label="Files",
        ItemProcessor={**states(d)["Each"]["ItemProcessor"], "ProcessorConfig": {
            "Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}}),
    "filter and slice in a .$ field": lambda d: states(d)["Load"]["Parameters"].update(
        {"big.$": "$.items[?(@.n > 5)]", "first.$": "$.items[0:2]"}),
    "nested intrinsics": lambda d: states(d)["Load"]["Parameters"].update(
        {"x.$": "States.Format('{}-{}', States.UUID(), States.MathAdd($.n, -1))",
         "y.$": "States.Array('a\\'s', 1.5, true, null, $$.Execution.Name)"}),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_variations_aws_accepts_pass(name: str) -> None:
    assert errors(mutated(ACCEPTED[name])) == []


def test_warnings_do_not_invalidate() -> None:
    found = diagnostics(mutated(lambda d: states(d)["Load"]["Parameters"].update(day="$.day")))
    assert found == [("NO_DOLLAR", "/States/Load/Parameters/day", "WARNING")]
    static = diagnostics(mutated(lambda d: states(d)["Pause"].update(
        Type="Pass", Result={"v.$": "$.a"}, SecondsPath=None) or states(d)["Pause"].pop(
            "SecondsPath")))
    assert ("PASS_RESULT_IS_STATIC", "/States/Pause/Result", "WARNING") in static
    never = diagnostics(mutated(lambda d: states(d)["Load"]["Catch"][0].update(
        ErrorEquals=["States.Timout"])))
    assert never == [("", "/States/Load/Catch/0/ErrorEquals", "WARNING")]
    assert is_valid(validate_definition(json.dumps(mutated(
        lambda d: states(d)["Load"]["Parameters"].update(day="$.day")))))
