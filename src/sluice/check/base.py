"""The seam of ``sluice check``: a check kind turns a project into units of work.

A :class:`Unit` names the files and graph nodes it depends on, so the runner can select it
(``--changed-since``) and key its cached result by the digest of exactly those inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sluice.check.context import CheckContext
from sluice.check.model import Finding, Status, TestCase


@dataclass
class UnitOutcome:
    status: Status
    findings: list[Finding] = field(default_factory=list)
    detail: str = ""
    cases: list[TestCase] = field(default_factory=list)


@dataclass
class Unit:
    """One cacheable piece of checking."""

    kind: str
    name: str
    run: Callable[[], UnitOutcome]
    files: tuple[str, ...] = ()  # project-relative files whose content the result depends on
    nodes: frozenset[str] = frozenset()  # jobs and datasets it concerns (for --changed-since)
    key: dict[str, Any] = field(default_factory=dict)  # any other input (config, tool versions)
    always: bool = False  # selected even when nothing it covers changed
    cacheable: bool = True


class Check(Protocol):
    """A kind of check (lint, sql, cfn …)."""

    kind: str
    description: str

    def units(self, ctx: CheckContext) -> list[Unit]:
        """The units of this kind for the project; empty when there is nothing to check."""
        ...


def findings_outcome(findings: list[Finding], detail: str = "",
                     cases: list[TestCase] | None = None) -> UnitOutcome:
    """Failed when any finding is an error, else passed (warnings allowed)."""
    failed = any(f.severity == "error" for f in findings)
    return UnitOutcome(Status.FAILED if failed else Status.PASSED, findings, detail,
                       cases or [])


def skipped(detail: str) -> UnitOutcome:
    return UnitOutcome(Status.SKIPPED, [], detail)
