"""A workflow's definition as the project writes it, made into the one AWS and the local
runner execute: CloudFormation-style ``${Name}`` placeholders filled from the workflow's
``substitutions``, ``${param}`` from the environment's parameters.

Placeholders inside JSON strings are replaced in the parsed document, so a value cannot break
out of its string, and every diagnostic keeps the position of the file as written. A
definition that is JSON only once substituted (``"Seconds": ${wait}``) is substituted as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sluice.config.components import Workflow
from sluice.config.substitution import Unresolved, resolve, substitute, unresolved_tip
from sluice.errors import ConfigError
from sluice.workflows.positions import JsonIndex
from sluice.workflows.validate import Diagnostic, JsonPath, parse_definition, validate_document


@dataclass
class Definition:
    """A definition with its placeholders filled: ``data`` (None when it has no JSON),
    ``text`` whose positions the diagnostics' paths refer to, and the problems found so far."""

    text: str
    data: Any
    problems: list[Diagnostic] = field(default_factory=list)

    def dumps(self) -> str:
        """The JSON sent to Step Functions (compact, keys sorted)."""
        return json.dumps(self.data, sort_keys=True, separators=(",", ":"))


def values(workflow: Workflow, params: Mapping[str, str], name: str) -> dict[str, str]:
    """What ``${…}`` may name in the definition: the parameters, then the substitutions
    (theirs resolved against the parameters)."""
    out = dict(params)
    for key, value in workflow.substitutions.items():
        out[key] = substitute(value, params, where=f"workflows.{name}.substitutions.{key}")
    return out


def load_definition(raw: str, params: Mapping[str, str], *, where: str,
                    defined_in: str) -> Definition:
    """``raw`` with ``${…}`` replaced from ``params`` (see :func:`values`); ``defined_in``
    names, in a tip, where an unknown name should be defined."""
    data, problems = parse_definition(raw)
    if data is None and any(p.code == "INVALID_JSON_DESCRIPTION" for p in problems) and \
            "${" in raw:
        text = substitute(raw, params, where=where, defined_in=defined_in)
        data, problems = parse_definition(text)
        return Definition(text, data, problems)
    if data is None:
        return Definition(raw, None, problems)
    unresolved: list[Diagnostic] = []

    def fill(node: Any, path: JsonPath) -> Any:
        if isinstance(node, str):
            try:
                return resolve(node, params)
            except Unresolved as exc:
                unresolved.append(Diagnostic("", exc.message, path,
                                             unresolved_tip(exc.name, defined_in),
                                             offset=exc.offset))
                return node
        if isinstance(node, list):
            return [fill(v, (*path, i)) for i, v in enumerate(node)]
        if isinstance(node, dict):
            return {k: fill(v, (*path, k)) for k, v in node.items()}
        return node

    return Definition(raw, fill(data, ()), problems + unresolved)


def executable(definition: Definition, where: str) -> Any:
    """The document, once AWS's validation passes; else a ConfigError naming the first
    problem (at its file:line:column) that keeps it from running."""
    errors = [p for p in definition.problems if p.severity == "ERROR"]
    if definition.data is not None and not errors:
        errors = [p for p in validate_document(definition.data)[0] if p.severity == "ERROR"]
    if not errors:
        return definition.data
    first = errors[0]
    line, col = (first.line, first.col) if first.line else (
        JsonIndex(definition.text).locate(first.path, first.offset)
        if definition.data is not None else (None, None))
    at = ":".join(str(p) for p in (where, line, col) if p is not None)
    more = f" (and {len(errors) - 1} more: sluice check --only asl)" if errors[1:] else ""
    raise ConfigError(f"{at}: {first.message}{more}",
                      tip=first.tip or "sluice check --only asl")
