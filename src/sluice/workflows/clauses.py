"""Choice rules, retriers and catchers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sluice.config.base import did_you_mean
from sluice.workflows import spec
from sluice.workflows.diagnostics import TIMESTAMP, JsonPath, is_number, jsonata_of, kind_of
from sluice.workflows.values import Values


class Clauses(Values):
    """Checks of the rules of a Choice state and the Retry and Catch lists."""

    def target(self, value: Any, at: JsonPath, states: Mapping[str, Any],
               targets: list[str], where: str) -> None:
        raise NotImplementedError

    def rule(self, rule: Any, path: JsonPath, language: str, top: bool) -> None:
        what = "a Choice rule" if top else "a nested rule"
        if not isinstance(rule, dict):
            self.error(path, f"{what} must be an object, not {kind_of(rule)}")
            return
        if top and "Next" not in rule:
            self.error(path, f"{what} needs Next: the state to go to when it matches",
                       "add \"Next\"")
        if not top and "Next" in rule:
            self.error((*path, "Next"), "a rule inside And, Or or Not cannot have Next",
                       "move Next to the top-level rule")
        if language == "JSONata":
            allowed = {"Condition", "Next", "Comment", "Output", "Assign"}
            self.unknown(rule, path, frozenset(allowed), what, language=language)
            condition = rule.get("Condition")
            if "Condition" not in rule:
                self.error(path, f"{what} needs Condition: a {{% … %}} JSONata expression",
                           "\"Condition\": \"{% $states.input.n > 0 %}\"")
            elif not isinstance(condition, bool) and jsonata_of(condition) is None:
                self.error((*path, "Condition"), "Condition must be a {% … %} JSONata "
                           "expression or a boolean", "\"Condition\": \"{% … %}\"")
            else:
                self.jsonata_value(condition, (*path, "Condition"), "Condition")
            for key in ("Output",):
                if key in rule:
                    self.jsonata_value(rule[key], (*path, key), key)
            if "Assign" in rule:
                self.assign(rule["Assign"], (*path, "Assign"), language)
            return
        operators = [k for k in rule if k in spec.COMPARATORS or k in spec.BOOLEAN_RULES]
        allowed = {"Variable", "Next", "Comment", "Assign", *spec.COMPARATORS,
                   *spec.BOOLEAN_RULES}
        for key in rule:
            if key not in allowed:
                hint = did_you_mean(key, [*spec.COMPARATORS, *spec.BOOLEAN_RULES, "Variable"])
                self.error((*path, key), f"{key!r} is not a comparator or field of {what}{hint}",
                           "comparators: StringEquals, NumericGreaterThan, IsPresent, … "
                           "(And, Or, Not combine rules)")
        if "Assign" in rule:
            if not top:
                self.error((*path, "Assign"), "a rule inside And, Or or Not cannot have Assign")
            self.assign(rule["Assign"], (*path, "Assign"), language)
        if len(operators) != 1:
            if not operators and all(k in allowed for k in rule):
                self.error(path, f"{what} needs a comparator (StringEquals, NumericEquals, "
                           "IsPresent, …) or And/Or/Not", "e.g. \"NumericGreaterThan\": 0")
            elif operators[1:]:
                self.error((*path, operators[1]), f"{what} has {len(operators)} comparators "
                           f"({', '.join(operators)}); a rule takes one",
                           "combine them with And or Or")
            return
        op = operators[0]
        if op in spec.BOOLEAN_RULES:
            if "Variable" in rule:
                self.error((*path, "Variable"), f"{op} rules take no Variable",
                           "put Variable in each rule under it")
            inner = rule[op]
            if op == "Not":
                self.rule(inner, (*path, op), language, top=False)
            elif not (isinstance(inner, list) and inner):
                self.error((*path, op), f"{op} must be a non-empty array of rules")
            else:
                for i, sub in enumerate(inner):
                    self.rule(sub, (*path, op, i), language, top=False)
            return
        if "Variable" not in rule:
            self.error(path, f"{what} with {op} needs Variable: the path of the value to "
                       "compare", "\"Variable\": \"$.status\"")
        else:
            self.path_value(rule["Variable"], (*path, "Variable"), "Variable")
        self.comparand(op, rule[op], (*path, op))

    def comparand(self, op: str, value: Any, at: JsonPath) -> None:
        kind = spec.COMPARATORS[op]
        ok = {"string": isinstance(value, str), "number": is_number(value),
              "boolean": isinstance(value, bool), "flag": isinstance(value, bool),
              "timestamp": isinstance(value, str) and bool(TIMESTAMP.fullmatch(value)),
              "path": isinstance(value, str)}[kind]
        if not ok:
            wanted = {"string": "a string", "number": "a number", "boolean": "true or false",
                      "flag": "true or false", "path": "a path",
                      "timestamp": "an RFC 3339 timestamp (2026-01-31T09:00:00Z)"}[kind]
            self.error(at, f"{op} compares with {wanted}, not {kind_of(value)} {value!r}"
                       if kind == "timestamp" and isinstance(value, str)
                       else f"{op} compares with {wanted}, not {kind_of(value)}")
        elif kind == "path":
            self.path_value(value, at, op)

    def retry(self, value: Any, at: JsonPath, language: str, states: Mapping[str, Any],
              targets: list[str], state: str) -> None:
        for i, retrier in enumerate(self.handlers(value, at, "Retry")):
            where = (*at, i)
            if retrier is None:
                continue
            self.unknown(retrier, where, spec.RETRIER_FIELDS, f"Retry[{i}]")
            self.errors_matched(retrier, where, f"Retry[{i}]", last=i == len(value) - 1)
            for key, least in (("IntervalSeconds", 1), ("MaxAttempts", 0),
                               ("MaxDelaySeconds", 1)):
                if key in retrier:
                    self.integer(retrier, where, key, least)
            if "BackoffRate" in retrier:
                rate = retrier["BackoffRate"]
                if not (is_number(rate) and rate >= 1.0):
                    self.error((*where, "BackoffRate"), f"Retry[{i}].BackoffRate must be a "
                               f"number of at least 1.0, not {rate!r}", "e.g. 2.0")
            if "JitterStrategy" in retrier and retrier["JitterStrategy"] not in ("FULL", "NONE"):
                self.error((*where, "JitterStrategy"), f"Retry[{i}].JitterStrategy is FULL or "
                           f"NONE, not {retrier['JitterStrategy']!r}")

    def catch(self, value: Any, at: JsonPath, language: str, states: Mapping[str, Any],
              targets: list[str], state: str) -> None:
        for i, catcher in enumerate(self.handlers(value, at, "Catch")):
            where = (*at, i)
            if catcher is None:
                continue
            self.unknown(catcher, where, spec.CATCHER_FIELDS[language], f"Catch[{i}]",
                         language=language)
            self.errors_matched(catcher, where, f"Catch[{i}]", last=i == len(value) - 1)
            if "Next" not in catcher:
                self.error(where, f"Catch[{i}] needs Next: the state to go to",
                           "add \"Next\"")
            else:
                self.target(catcher["Next"], (*where, "Next"), states, targets,
                            f"{state}: Catch[{i}]")
            if "ResultPath" in catcher and catcher["ResultPath"] is not None:
                self.reference(catcher["ResultPath"], (*where, "ResultPath"), "ResultPath",
                               variables=False)
            if "Assign" in catcher:
                self.assign(catcher["Assign"], (*where, "Assign"), language)
            if "Output" in catcher:
                self.jsonata_value(catcher["Output"], (*where, "Output"), "Output")

    def handlers(self, value: Any, at: JsonPath, key: str) -> Iterator[dict[str, Any] | None]:
        if not isinstance(value, list):
            self.error(at, f"{key} must be an array of objects, not {kind_of(value)}",
                       f"\"{key}\": [{{\"ErrorEquals\": [\"States.ALL\"], …}}]")
            return
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield item
            else:
                self.error((*at, i), f"{key}[{i}] must be an object, not {kind_of(item)}")
                yield None

    def errors_matched(self, handler: Mapping[str, Any], at: JsonPath, what: str,
                       last: bool) -> None:
        errors = handler.get("ErrorEquals")
        if "ErrorEquals" not in handler:
            self.error(at, f"{what} needs ErrorEquals: the errors it handles",
                       "\"ErrorEquals\": [\"States.ALL\"]")
            return
        if not (isinstance(errors, list) and errors and all(isinstance(e, str) and e
                                                            for e in errors)):
            self.error((*at, "ErrorEquals"), f"{what}.ErrorEquals must be a non-empty array "
                       "of error names", "\"ErrorEquals\": [\"States.TaskFailed\"]")
            return
        for name in errors:
            if name.startswith("States.") and name not in spec.ERROR_NAMES:
                self.warn((*at, "ErrorEquals"), f"{what}: {name!r} is not an error Step "
                          f"Functions raises, so this never matches"
                          f"{did_you_mean(name, spec.ERROR_NAMES)}",
                          f"States errors: {', '.join(spec.ERROR_NAMES)}")
        if "States.ALL" in errors and (len(errors) > 1 or not last):
            self.error((*at, "ErrorEquals"), f"{what}: States.ALL must be the only error of "
                       "the last handler", "move it to a handler of its own at the end")

    # ------------------------------------------------------------------ values
