"""The shape of an Amazon States Language definition: which fields each state type takes in
each query language, what kind of value each field holds, and the Choice comparators.

Tables, not code: :mod:`sluice.workflows.validate` reads them to check a definition and the
interpreter to know what a state does.
"""

from __future__ import annotations

STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map")
QUERY_LANGUAGES = ("JSONPath", "JSONata")
#: states that go on to Next or end the machine with End: true
FLOWING = frozenset({"Task", "Pass", "Wait", "Parallel", "Map"})

_ANY = frozenset({"Type", "Comment", "QueryLanguage"})
_FLOW = frozenset({"Next", "End"})
_IO_PATHS = frozenset({"InputPath", "OutputPath"})
_ERRORS = frozenset({"Retry", "Catch"})

#: Type -> query language -> the fields a state of that type may have
FIELDS: dict[str, dict[str, frozenset[str]]] = {
    "Task": {
        "JSONPath": _ANY | _FLOW | _IO_PATHS | _ERRORS | {
            "Resource", "Parameters", "ResultSelector", "ResultPath", "TimeoutSeconds",
            "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials",
            "Assign"},
        "JSONata": _ANY | _FLOW | _ERRORS | {
            "Resource", "Arguments", "Output", "TimeoutSeconds", "HeartbeatSeconds",
            "Credentials", "Assign"},
    },
    "Pass": {
        "JSONPath": _ANY | _FLOW | _IO_PATHS | {"Parameters", "Result", "ResultPath", "Assign"},
        "JSONata": _ANY | _FLOW | {"Output", "Assign"},
    },
    "Choice": {
        "JSONPath": _ANY | _IO_PATHS | {"Choices", "Default", "Assign"},
        "JSONata": _ANY | {"Choices", "Default", "Output", "Assign"},
    },
    "Wait": {
        "JSONPath": _ANY | _FLOW | _IO_PATHS | {
            "Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Assign"},
        "JSONata": _ANY | _FLOW | {"Seconds", "Timestamp", "Output", "Assign"},
    },
    "Succeed": {
        "JSONPath": _ANY | _IO_PATHS,
        "JSONata": _ANY | {"Output"},
    },
    "Fail": {
        "JSONPath": _ANY | {"Error", "Cause", "ErrorPath", "CausePath"},
        "JSONata": _ANY | {"Error", "Cause"},
    },
    "Parallel": {
        "JSONPath": _ANY | _FLOW | _IO_PATHS | _ERRORS | {
            "Branches", "Parameters", "ResultSelector", "ResultPath", "Assign"},
        "JSONata": _ANY | _FLOW | _ERRORS | {"Branches", "Arguments", "Output", "Assign"},
    },
    "Map": {
        "JSONPath": _ANY | _FLOW | _IO_PATHS | _ERRORS | {
            "ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "Parameters",
            "ItemReader", "ItemBatcher", "ResultWriter", "ResultSelector", "ResultPath",
            "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath", "ToleratedFailureCount",
            "ToleratedFailureCountPath", "Label", "Assign"},
        "JSONata": _ANY | _FLOW | _ERRORS | {
            "ItemProcessor", "Items", "ItemSelector", "ItemReader", "ItemBatcher",
            "ResultWriter", "MaxConcurrency", "ToleratedFailurePercentage",
            "ToleratedFailureCount", "Label", "Output", "Assign"},
    },
}
#: Type -> fields it must have (one of a tuple's names)
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "Task": (("Resource",),),
    "Choice": (("Choices",),),
    "Parallel": (("Branches",),),
    "Map": (("ItemProcessor", "Iterator"),),
    "Wait": (("Seconds", "Timestamp", "SecondsPath", "TimestampPath"),),
}
MACHINE_FIELDS = frozenset({"StartAt", "States", "Comment", "Version", "TimeoutSeconds",
                            "QueryLanguage"})
BRANCH_FIELDS = frozenset({"StartAt", "States", "Comment", "QueryLanguage"})
PROCESSOR_FIELDS = frozenset({"StartAt", "States", "Comment", "ProcessorConfig",
                              "QueryLanguage"})
RETRIER_FIELDS = frozenset({"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                            "MaxDelaySeconds", "JitterStrategy", "Comment"})
CATCHER_FIELDS = {"JSONPath": frozenset({"ErrorEquals", "Next", "ResultPath", "Assign",
                                          "Comment"}),
                  "JSONata": frozenset({"ErrorEquals", "Next", "Output", "Assign", "Comment"})}
ITEM_READER_FIELDS = {"JSONPath": frozenset({"Resource", "Parameters", "ReaderConfig"}),
                      "JSONata": frozenset({"Resource", "Arguments", "ReaderConfig"})}
READER_CONFIG_FIELDS = frozenset({"InputType", "CSVHeaderLocation", "CSVHeaders",
                                  "CSVDelimiter", "MaxItems", "MaxItemsPath", "ManifestType"})
ITEM_BATCHER_FIELDS = {
    "JSONPath": frozenset({"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch",
                           "MaxInputBytesPerBatchPath", "BatchInput"}),
    "JSONata": frozenset({"MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"}),
}
RESULT_WRITER_FIELDS = {"JSONPath": frozenset({"Resource", "Parameters", "WriterConfig"}),
                        "JSONata": frozenset({"Resource", "Arguments", "WriterConfig"})}
ERROR_NAMES = ("States.ALL", "States.HeartbeatTimeout", "States.Timeout",
               "States.TaskFailed", "States.Permissions", "States.ResultPathMatchFailure",
               "States.ParameterPathFailure", "States.QueryEvaluationError",
               "States.BranchFailed", "States.NoChoiceMatched", "States.IntrinsicFailure",
               "States.ExceedToleratedFailureThreshold", "States.ItemReaderFailed",
               "States.ResultWriterFailed", "States.Runtime", "States.DataLimitExceeded",
               "States.Http.Socket")

#: comparator -> the kind of value it compares with: "string", "number", "boolean",
#: "timestamp", "path" (a reference path to compare with) or "flag" (Is…: true/false)
COMPARATORS: dict[str, str] = {}
for _kind, _names in (
    ("string", ("StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals",
                "StringGreaterThanEquals", "StringMatches")),
    ("number", ("NumericEquals", "NumericLessThan", "NumericGreaterThan",
                "NumericLessThanEquals", "NumericGreaterThanEquals")),
    ("boolean", ("BooleanEquals",)),
    ("timestamp", ("TimestampEquals", "TimestampLessThan", "TimestampGreaterThan",
                   "TimestampLessThanEquals", "TimestampGreaterThanEquals")),
):
    for _name in _names:
        COMPARATORS[_name] = _kind
        if _name != "StringMatches":
            COMPARATORS[_name + "Path"] = "path"
for _name in ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"):
    COMPARATORS[_name] = "flag"
del _kind, _names, _name
BOOLEAN_RULES = ("And", "Or", "Not")
#: the largest integer Step Functions takes for seconds and counts
MAX_INT = 99_999_999
#: state and label names (AWS: at most 80 and 40 characters, no control characters)
STATE_NAME_MAX = 80
LABEL_MAX = 40
