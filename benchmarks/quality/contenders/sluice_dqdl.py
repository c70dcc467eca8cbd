"""sluice: rules.dqdl compiled to DuckDB. Samples of failing rows on or off (argv JSON)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from common import DEFAULT_ROWS, RULES, row_bounds, run_contender  # noqa: E402

from sluice.quality.dqdl import parse_ruleset  # noqa: E402
from sluice.quality.evaluate import EvaluationOptions, evaluate  # noqa: E402
from sluice.quality.results import Outcome  # noqa: E402


def ruleset_text(rows_min: int, rows_max: int) -> str:
    text = (HERE.parent / "rules.dqdl").read_text(encoding="utf-8")
    lo, hi = row_bounds(DEFAULT_ROWS)
    return text.replace(f"RowCount between {lo} and {hi}",
                        f"RowCount between {rows_min} and {rows_max}")


def setup(args: dict) -> object:
    # sluice imports its engine module and sqlglot's dialects lazily, inside evaluate();
    # load them here so that, as for every contender, imports are not timed
    import sqlglot

    from sluice.engines.base import create_engine

    create_engine("duckdb").close()
    for dialect in ("duckdb", "spark"):
        sqlglot.Dialect.get_or_raise(dialect)
    return parse_ruleset(ruleset_text(args["rows_min"], args["rows_max"]))


def check(args: dict, ruleset: object) -> dict[str, bool]:
    result = evaluate(ruleset, args["data"], engine="duckdb",
                      options=EvaluationOptions(sample_limit=20 if args["samples"] else 0,
                                                record_metrics=False))
    errors = [f"{r.rule}: {r.message}" for r in result.results if r.outcome is Outcome.ERROR]
    if errors:
        raise SystemExit("sluice reported ERROR results:\n" + "\n".join(errors))
    if args["samples"]:
        empty = [r.rule for r in result.results
                 if r.outcome is Outcome.FAIL and r.failing_rows and not r.sample]
        if empty:
            raise SystemExit(f"sluice returned no failing-row sample for {empty}")
    return {k: r.outcome is Outcome.PASS for k, r in zip(RULES, result.results, strict=True)}


if __name__ == "__main__":
    run_contender(check, setup)
