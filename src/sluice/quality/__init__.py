"""Data quality: DQDL rulesets parsed, compiled to SQL and evaluated in one scan.

Entry points::

    from sluice.quality import check_dataset
    result = check_dataset("rules/orders.dqdl", "data/orders.parquet")
"""

from __future__ import annotations

from pathlib import Path

from sluice.engines.base import DataRef, Engine
from sluice.quality.dqdl import parse_ruleset, parse_ruleset_file
from sluice.quality.evaluate import EvaluationOptions, evaluate
from sluice.quality.history import MetricHistory
from sluice.quality.model import Ruleset
from sluice.quality.results import Outcome, RuleResult, RulesetResult


def check_dataset(
    ruleset: Ruleset | str | Path,
    data: DataRef | str,
    *,
    engine: Engine | str = "duckdb",
    history: MetricHistory | None = None,
    options: EvaluationOptions | None = None,
) -> RulesetResult:
    """Evaluate a ruleset (a parsed Ruleset or a .dqdl path) on a dataset version.

    ``data`` is a file path (Parquet/CSV/JSON, glob or folder), a table name, or a DataRef;
    the deploy audit passes the table of the new dataset version.
    """
    rs = ruleset if isinstance(ruleset, Ruleset) else parse_ruleset_file(ruleset)
    return evaluate(rs, data, engine=engine, history=history, options=options)


__all__ = [
    "EvaluationOptions",
    "MetricHistory",
    "Outcome",
    "RuleResult",
    "Ruleset",
    "RulesetResult",
    "check_dataset",
    "evaluate",
    "parse_ruleset",
    "parse_ruleset_file",
]
