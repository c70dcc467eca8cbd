"""Checks of field values shared by every part of a definition: unknown fields, query
languages, integers, reference paths and paths, payload templates with ``.$`` fields and
intrinsics, variables, JSONata expressions and resource ARNs."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sluice.config.base import did_you_mean
from sluice.workflows import spec
from sluice.workflows.diagnostics import (
    WARNING,
    Diagnostic,
    JsonPath,
    is_int,
    jsonata_of,
    kind_of,
    objects,
    strings,
)
from sluice.workflows.intrinsics import IntrinsicError, looks_intrinsic, parse_intrinsic
from sluice.workflows.paths import PathSyntaxError, check_path, parse_reference

_ARN_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e",
                   "aws-iso-f", "aws-eusc")
_INTEGRATION = re.compile(
    r"[a-z0-9-]+:[A-Za-z0-9]+(\.sync(:2)?|\.waitForTaskToken)?|aws-sdk:[a-z0-9-]+:[A-Za-z0-9]+"
    r"(\.waitForTaskToken)?")
_LAMBDA = re.compile(r"function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]+))?")
_ACTIVITY = re.compile(r"activity:[A-Za-z0-9_.~-]{1,80}")


class Values:
    """Collects diagnostics; checks one value at a time."""

    def __init__(self) -> None:
        self.found: list[Diagnostic] = []

    def error(self, path: JsonPath, message: str, tip: str = "",
              code: str = "SCHEMA_VALIDATION_FAILED", offset: int | None = None) -> None:
        self.found.append(Diagnostic(code, message, path, tip, offset=offset))

    def warn(self, path: JsonPath, message: str, tip: str = "", code: str = "") -> None:
        self.found.append(Diagnostic(code, message, path, tip, WARNING))

    def unknown(self, data: Mapping[str, Any], path: JsonPath, allowed: frozenset[str],
                where: str, *, kind: str | None = None, language: str | None = None) -> None:
        for key in data:
            if key in allowed or (kind is not None and key in ("Next", "End")):
                continue
            other = "JSONata" if language == "JSONPath" else "JSONPath"
            if kind is not None and language is not None and key in spec.FIELDS[kind][other]:
                swap = {"InputPath": "Output", "OutputPath": "Output", "Parameters":
                        "Arguments", "ResultSelector": "Output", "ResultPath": "Output",
                        "Arguments": "Parameters", "Output": "OutputPath", "Result": "Output",
                        "Items": "ItemsPath", "ItemsPath": "Items"}.get(key)
                tip = f"in {language} write {swap} instead" if swap else f"remove {key!r}"
                self.error((*path, key), f"{key!r} is a {other} field; {where} uses "
                           f"{language}", tip + (" (or set \"QueryLanguage\": \"" + other +
                                                 "\" on the state)"))
            elif language is not None and kind is None and key in ("ResultPath", "Output",
                                                                   "Parameters", "Arguments"):
                self.error((*path, key), f"{key!r} does not belong in {where} ({language})",
                           f"remove {key!r}")
            else:
                self.error((*path, key), f"{where} has unknown field {key!r}"
                           + did_you_mean(key, allowed), f"fields: {', '.join(sorted(allowed))}")

    def language(self, data: Mapping[str, Any], path: JsonPath, inherited: str) -> str:
        value = data.get("QueryLanguage", inherited)
        if value not in spec.QUERY_LANGUAGES:
            self.error((*path, "QueryLanguage"), f"QueryLanguage is JSONPath or JSONata, not "
                       f"{value!r}")
            return inherited
        if inherited == "JSONata" and value == "JSONPath" and path and "QueryLanguage" in data:
            self.error((*path, "QueryLanguage"), "a state cannot use JSONPath inside a "
                       "JSONata state machine", "write the state in JSONata")
            return inherited
        return str(value)

    def integer(self, data: Mapping[str, Any], path: JsonPath, key: str, least: int, *,
                language: str = "JSONPath") -> None:
        value = data[key]
        if language == "JSONata" and jsonata_of(value) is not None:
            self.jsonata_value(value, (*path, key), key)
            return
        if isinstance(value, str) and value.startswith("$"):
            self.warn((*path, key), f"{key} looks like a path but is a literal field",
                      f"name the field {key}Path to read the value from the input", "NO_PATH")
        if not (is_int(value) and least <= value <= spec.MAX_INT):
            self.error((*path, key), f"{key} must be an integer from {least} to "
                       f"{spec.MAX_INT}, not {kind_of(value)} {json.dumps(value)}",
                       f"e.g. \"{key}\": {max(least, 1) * (60 if 'Seconds' in key else 1)}")

    def reference(self, value: Any, at: JsonPath, key: str, *, variables: bool = True) -> None:
        if not isinstance(value, str):
            self.error(at, f"{key} must be a reference path (a string such as \"$.a.b\"), not "
                       f"{kind_of(value)}")
            return
        try:
            root, _ = parse_reference(value)
        except PathSyntaxError as exc:
            self.error(at, f"{key} {value!r} is not a reference path: {exc.message}",
                       "a reference path is $, then .name, ['name'] or [0] steps",
                       offset=exc.offset)
            return
        if not variables and root.kind != "input":
            self.error(at, f"{key} {value!r} must start at $ (the state's input)",
                       "write the result into the state's output, e.g. \"$.result\"")

    def path_value(self, value: Any, at: JsonPath, key: str) -> None:
        if not isinstance(value, str):
            self.error(at, f"{key} must be a path (a string such as \"$.a\"), not "
                       f"{kind_of(value)}")
            return
        try:
            check_path(value)
        except PathSyntaxError as exc:
            self.error(at, f"{key} {value!r} is not a JSONPath: {exc.message}",
                       "e.g. \"$.orders[0].id\"", offset=exc.offset)

    def intrinsic(self, value: str, at: JsonPath) -> None:
        try:
            parse_intrinsic(value)
        except IntrinsicError as exc:
            self.error(at, f"{value!r}: {exc.message}",
                       "intrinsics: States.Format, States.StringToJson, States.Array, "
                       "States.MathAdd, States.UUID, …", offset=exc.offset)

    def payload(self, value: Any, at: JsonPath, key: str, language: str, *,
                template: bool) -> None:
        """A payload template (Parameters, ResultSelector, ItemSelector, …): in JSONPath, keys
        ending ``.$`` hold a path or an intrinsic; in JSONata, ``{% … %}`` strings."""
        if language == "JSONata":
            self.jsonata_value(value, at, key)
            for path, node in objects(value, at):
                for field in node:
                    if field.endswith(".$"):
                        self.error((*path, field), f"{field!r}: '.$' fields are JSONPath; "
                                   "in JSONata write the value as \"{% expression %}\"")
            return
        for path, node in objects(value, at):
            for field, item in node.items():
                if field.endswith(".$"):
                    self.dynamic(item, (*path, field), field)
                elif isinstance(item, str) and (item.startswith("$.") or item == "$" or
                                                looks_intrinsic(item)):
                    self.warn((*path, field), f"{field!r} holds {item!r}, which looks like a "
                              "path or intrinsic but is passed as a string",
                              f"name the field \"{field}.$\" to evaluate it", "NO_DOLLAR")

    def dynamic(self, value: Any, at: JsonPath, field: str) -> None:
        if not isinstance(value, str):
            self.error(at, f"{field!r} must hold a path or an intrinsic function (a string), "
                       f"not {kind_of(value)}", f"drop the '.$' from {field!r} for a literal")
        elif looks_intrinsic(value):
            self.intrinsic(value, at)
        else:
            self.path_value(value, at, field)

    def assign(self, value: Any, at: JsonPath, language: str) -> None:
        if not isinstance(value, dict):
            self.error(at, f"Assign must be an object of variables, not {kind_of(value)}",
                       "\"Assign\": {\"count\": 0}")
            return
        for name in value:
            bare = name[:-2] if name.endswith(".$") and language == "JSONPath" else name
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", bare) or len(bare) > 80:
                self.error((*at, name), f"variable name {bare!r} is invalid: a letter or _, "
                           "then letters, digits or _ (at most 80)")
        self.payload(value, at, "Assign", language, template=True)

    def jsonata_value(self, value: Any, at: JsonPath, key: str) -> None:
        """Every ``{% … %}`` string in ``value`` parses as JSONata."""
        for where, text in strings(value, at):
            expr = jsonata_of(text)
            if expr is None:
                if "{%" in text and "%}" in text:
                    self.error(where, f"{key}: a JSONata expression must be the whole string "
                               "(\"{% … %}\" with nothing around it)")
                continue
            problem = jsonata_syntax(expr)
            if problem:
                message, column = problem
                self.error(where, f"{key}: JSONata does not parse: {message}",
                           "see https://docs.jsonata.org for the syntax",
                           offset=text.index("{%") + 2 + column)

    def resource(self, value: Any, at: JsonPath, where: str) -> None:
        problem = arn_problem(value)
        if problem:
            self.error(at, f"{where}: Resource {value!r} is not a valid resource: {problem}",
                       "e.g. arn:aws:states:::lambda:invoke, arn:aws:states:::glue:"
                       "startJobRun.sync or arn:aws:lambda:REGION:ACCOUNT:function:NAME",
                       "INVALID_RESOURCE")


def arn_problem(value: Any) -> str | None:
    """Why ``value`` is not a Task resource ARN (None when it is one)."""
    if not isinstance(value, str):
        return f"it is {kind_of(value)}, not an ARN string"
    parts = value.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return "an ARN is arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE"
    _, partition, service, region, account, rest = parts
    if partition not in _ARN_PARTITIONS:
        return f"unknown partition {partition!r}"
    if service == "states" and not region and not account:
        return None if _INTEGRATION.fullmatch(rest) else \
            "a service integration is arn:aws:states:::SERVICE:ACTION[.sync|.waitForTaskToken]"
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region) or not re.fullmatch(r"\d{12}",
                                                                                 account):
        return "the region or account is malformed"
    if service == "lambda":
        return None if _LAMBDA.fullmatch(rest) else "a function is function:NAME[:QUALIFIER]"
    if service == "states":
        return None if _ACTIVITY.fullmatch(rest) else "a states resource here is an activity"
    return f"a Task runs states integrations, Lambda functions or activities, not {service!r}"


def jsonata_syntax(expr: str) -> tuple[str, int] | None:
    """Why a JSONata expression does not parse and at which character (None when it does)."""
    from jsonata import Jsonata  # type: ignore[import-untyped]
    from jsonata.jexception import JException  # type: ignore[import-untyped]

    try:
        Jsonata(expr)
    except JException as exc:
        location = getattr(exc, "location", 0)
        return str(exc), max(location - 1, 0) if isinstance(location, int) else 0
    except (RecursionError, ValueError, TypeError, IndexError, AttributeError) as exc:
        return str(exc) or type(exc).__name__, 0
    return None
