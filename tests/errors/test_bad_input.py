"""The bad-input corpus: ways a user gets the input wrong, run by one parametrised test.

Each case is a small mutation of examples/retail (sluice.yaml, DQDL rules, SQL and Python
jobs, migrations) or a misuse of the command line. For every one of them sluice must:

- exit 1 (a check or a job failed) or 2 (unusable input), never 0 and never 3, which is
  reserved for sluice's own bugs;
- print no Python traceback;
- say what is wrong (each case names a pattern its message must match);
- where the input has a location, point at it as ``file:line``.

Most cases call the Typer app in-process with click's ``CliRunner``: the same commands, exit
codes and output as the console script, without a second of interpreter start-up each. The
cases marked ``real`` run ``python -m sluice.cli`` as a subprocess: those that recurse deeply
(a separate interpreter gets the same stack a user's does) and a sample of the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
import typer.main
from click.testing import CliRunner

from sluice.cli.app import build_app
from tests.retail import copy_retail

Mutation = Callable[[Path], None]

_GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_DATE": "2026-01-05T09:00:00+00:00",
    "GIT_COMMITTER_DATE": "2026-01-05T09:00:00+00:00",
}
#: What every invocation sees: no inherited sluice settings, a wide console (rich never wraps
#: an ``Error:`` line) and no colour.
_ENV = {**_GIT_ENV, "SLUICE_USER": "alice", "COLUMNS": "400", "NO_COLOR": "1"}
_CLEARED = ("SLUICE_HOME", "SLUICE_STATE_URL", "SLUICE_DEBUG")


# ---------------------------------------------------------------------------- mutations
def write(rel: str, data: str | bytes) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")

    return apply


def edit(rel: str, old: str, new: str, *, count: int = 1) -> Mutation:
    """Replace the first ``count`` occurrences of ``old`` (which must be there)."""

    def apply(root: Path) -> None:
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {rel}"
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    return apply


def yml(old: str, new: str, *, count: int = 1) -> Mutation:
    return edit("sluice.yaml", old, new, count=count)


def append(rel: str, text: str) -> Mutation:
    def apply(root: Path) -> None:
        with (root / rel).open("a", encoding="utf-8") as fh:
            fh.write(text)

    return apply


def remove(rel: str) -> Mutation:
    def apply(root: Path) -> None:
        path = root / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    return apply


# ---------------------------------------------------------------------------- cases
#: A location: ``"file:line"`` literally, ``"file:*"`` (any line of that file), ``"file"``
#: (the file is named: the input has no line, e.g. a file name or a runtime data error) or
#: ``(file, needle)``: the line of ``file`` that contains ``needle`` (``re:`` for a regex),
#: after the mutations; ``(file, needle, -1)`` takes its last occurrence.
At = str | tuple[str, str] | tuple[str, str, int] | None


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    says: str  # regex (case-insensitive) the output must match: what is wrong
    at: At = None
    muts: tuple[Mutation, ...] = ()
    setup: tuple[tuple[str, ...], ...] = ()  # commands that must succeed first
    after: tuple[Mutation, ...] = ()  # mutations applied after the setup commands
    template: str = "plain"  # "plain" (committed, nothing built) or "deployed" (live in dev)
    env: tuple[tuple[str, str], ...] = ()
    tip: str | None = None  # regex the Tip: line must match
    real: bool = False
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


CASES: list[Case] = []


def case(id: str, *args: str, says: str, at: At = None, muts: tuple[Mutation, ...] = (),
         **kw: object) -> None:
    CASES.append(Case(id, args, says, at, muts, **kw))  # type: ignore[arg-type]


# ------------------------------------------------------------------ sluice.yaml
# Each mutation runs through `sluice check --only config` (a located finding, exit 1) and
# through `sluice release --allow-dirty` (a located ConfigError, exit 2): CI and a user at the
# terminal reach the same loader along two different paths.
_CONFIG: list[tuple[str, tuple[Mutation, ...], str, At]] = [
    ("top-level-typo", (yml("promotion: [dev", "promotoin: [dev"),), "promotoin",
     ("sluice.yaml", "promotoin")),
    ("unknown-top-level-key", (append("sluice.yaml", "colour: blue\n"),), "colour",
     ("sluice.yaml", "colour")),
    ("section-typo", (yml("sources:", "source:"),), "source",
     ("sluice.yaml", "re:^source:")),
    ("project-missing", (yml("project: retail\n", ""),), "project", "sluice.yaml:*"),
    ("dialect-unknown", (yml("dialect: duckdb", "dialect: duckdbb"),), "duckdbb",
     ("sluice.yaml", "dialect:")),
    ("dialect-int", (yml("dialect: duckdb", "dialect: 5"),), "dialect",
     ("sluice.yaml", "dialect:")),
    ("job-key-typo", (yml("    output: staging.orders", "    ouput: staging.orders"),),
     "ouput", ("sluice.yaml", "ouput")),
    ("job-type-unknown", (yml("  orders:\n    type: sql", "  orders:\n    type: sqll"),),
     "sqll", ("sluice.yaml", "sqll")),
    ("job-file-missing", (remove("jobs/orders.sql"),), "jobs/orders.sql",
     ("sluice.yaml", "sql: jobs/orders.sql")),
    ("job-file-typo", (yml("sql: jobs/orders.sql", "sql: jobs/order.sql"),), "jobs/order.sql",
     ("sluice.yaml", "sql: jobs/order.sql")),
    ("job-file-outside", (yml("sql: jobs/orders.sql", "sql: ../../orders.sql"),),
     r"outside|\.\./", ("sluice.yaml", "sql: ../../orders.sql")),
    ("job-file-absolute", (yml("sql: jobs/orders.sql", "sql: /etc/passwd"),),
     r"outside|absolute|/etc/passwd", ("sluice.yaml", "sql: /etc/passwd")),
    ("job-file-is-folder", (yml("sql: jobs/orders.sql", "sql: jobs"),), "jobs",
     ("sluice.yaml", "re:sql: jobs$")),
    ("python-file-missing", (remove("jobs/product_sales.py"),), "product_sales.py",
     ("sluice.yaml", "function: jobs/product_sales.py")),
    ("python-no-function", (yml("function: jobs/product_sales.py:run",
                                "function: jobs/product_sales.py"),), "function",
     ("sluice.yaml", "function: jobs/product_sales.py")),
    ("job-output-missing", (yml("    output: staging.orders\n", ""),), "output",
     ("sluice.yaml", "re:^  orders:$")),
    ("job-output-and-outputs", (yml("    output: staging.orders\n",
                                    "    output: staging.orders\n    outputs: [x.y]\n"),),
     "output", "sluice.yaml:*"),
    ("sql-job-with-function", (yml("    sql: jobs/orders.sql\n",
                                   "    sql: jobs/orders.sql\n    function: jobs/x.py:run\n"),),
     "function", ("sluice.yaml", "function: jobs/x.py")),
    ("job-null", (yml("  orders:\n    type: sql\n    sql: jobs/orders.sql\n"
                      "    output: staging.orders\n", "  orders:\n"),), "orders",
     ("sluice.yaml", "re:^  orders:$")),
    ("job-name-invalid", (yml("  orders:\n    type: sql", "  or ders!:\n    type: sql"),),
     "or ders!", ("sluice.yaml", "or ders!")),
    ("job-input-unknown", (yml("inputs: [staging.orders, raw.products]",
                               "inputs: [staging.orderz, raw.products]"),), "staging.orderz",
     ("sluice.yaml", "staging.orderz")),
    ("job-inputs-string", (yml("inputs: [staging.orders, raw.products]",
                               "inputs: {a: 1}"),), "inputs", ("sluice.yaml", "inputs: {a: 1}")),
    ("two-jobs-one-output", (yml("output: marts.customer_orders", "output: staging.orders"),),
     "staging.orders", ("sluice.yaml", "output: staging.orders", -1)),
    ("job-writes-source", (yml("output: staging.orders", "output: raw.orders"),),
     "raw.orders", ("sluice.yaml", "output: raw.orders")),
    ("job-cycle", (edit("jobs/orders.sql", "FROM raw.orders",
                        "FROM raw.orders JOIN marts.product_sales USING (product_id)"),),
     "cycle", ("sluice.yaml", "re:^  (orders|product_sales):$")),
    ("duplicate-job", (yml("\nenvironments:", "  orders:\n    type: sql\n    sql: "
                           "jobs/orders.sql\n    output: staging.orders\n\nenvironments:"),),
     "duplicate", ("sluice.yaml", "re:^  orders:$", -1)),
    ("duplicate-top-level-key", (append("sluice.yaml", "dialect: duckdb\n"),), "duplicate",
     ("sluice.yaml", "dialect:", -1)),
    ("contract-type-unknown", (yml("order_id: {type: BIGINT", "order_id: {type: BIGNT"),),
     "BIGNT", ("sluice.yaml", "BIGNT")),
    ("contract-nullable-type", (yml("quantity: {type: INTEGER, nullable: false}",
                                    "quantity: {type: INTEGER, nullable: maybe}"),),
     "nullable", ("sluice.yaml", "maybe")),
    ("contract-key-typo", (yml("order_id: {type: BIGINT, nullable: false}",
                               "order_id: {type: BIGINT, nulable: false}"),), "nulable",
     ("sluice.yaml", "nulable")),
    ("primary-key-unknown", (yml("primary_key: [order_id]", "primary_key: [order_idd]"),),
     "order_idd", ("sluice.yaml", "order_idd")),
    ("description-list", (yml("description: Valid orders, typed and deduplicated",
                              "description: [1, 2]"),), "description",
     ("sluice.yaml", "description: [1, 2]")),
    ("rules-file-missing", (remove("quality/orders.dqdl"),), "quality/orders.dqdl",
     ("sluice.yaml", "rules: quality/orders.dqdl")),
    ("rules-file-outside", (yml("rules: quality/orders.dqdl", "rules: ../orders.dqdl"),),
     r"outside|\.\./", ("sluice.yaml", "rules: ../orders.dqdl")),
    ("source-format-unknown", (yml("format: csv\n    path: raw/orders",
                                   "format: csvv\n    path: raw/orders"),), "csvv",
     ("sluice.yaml", "csvv")),
    ("source-path-missing", (yml("    path: raw/orders/*.csv\n", ""),), "path",
     ("sluice.yaml", "format: csv")),  # the first key of the source that lacks it
    ("source-path-outside", (yml("path: raw/orders/*.csv", "path: ../../../etc/*"),),
     r"outside|\.\./", ("sluice.yaml", "path: ../../../etc/*")),
    ("env-name-invalid", (yml("  staging:\n", "  st@ging:\n"),
                          yml("[dev, staging, prod]", "[dev, st@ging, prod]")), "st@ging",
     ("sluice.yaml", "st@ging:")),
    ("target-type-unknown", (yml("target: {type: local}", "target: {type: lcoal}"),),
     "lcoal", ("sluice.yaml", "lcoal")),
    ("target-string", (yml("target: {type: local}", "target: local"),), "target",
     ("sluice.yaml", "target: local")),
    ("parameters-list", (yml('parameters: {min_amount: "0"}', "parameters: [min_amount]"),),
     "parameters", ("sluice.yaml", "parameters: [min_amount]")),
    ("parameter-unterminated-yaml-quote", (yml('{min_amount: "0"}', '{min_amount: "0}'),),
     "yaml|quot|scalar", "sluice.yaml:*"),
    ("protection-key-typo", (yml("approval_required: true", "aproval_required: true"),),
     "aproval_required", ("sluice.yaml", "aproval_required")),
    ("protection-value-type", (yml("approval_required: true",
                                   "approval_required: yes please"),), "approval_required",
     ("sluice.yaml", "approval_required")),
    ("promotion-unknown-env", (yml("[dev, staging, prod]", "[dev, stage, prod]"),), "stage",
     ("sluice.yaml", "promotion:")),
    ("promotion-duplicate-env", (yml("[dev, staging, prod]", "[dev, staging, dev]"),),
     "dev", ("sluice.yaml", "promotion:")),
    ("promotion-string", (yml("[dev, staging, prod]", "dev"),), "promotion",
     ("sluice.yaml", "promotion:")),
    ("retention-negative", (yml("{versions: 5}", "{versions: -1}"),), "versions",
     ("sluice.yaml", "retention:")),
    ("retention-string", (yml("{versions: 5}", "{versions: five}"),), "versions",
     ("sluice.yaml", "retention:")),
    ("retention-list", (yml("retention: {versions: 5}", "retention: [5]"),), "retention",
     ("sluice.yaml", "retention:")),
    ("retention-5000-digits", (yml("{versions: 5}", "{versions: " + "9" * 5000 + "}"),),
     "number", ("sluice.yaml", "retention:")),
    ("acknowledge-incomplete", (append("sluice.yaml", "checks:\n  acknowledge:\n"
                                       "    - {dataset: staging.orders}\n"),),
     "change|reason|acknowledge", ("sluice.yaml", "{dataset: staging.orders}")),
    ("tab-indentation", (yml("    format: csv\n    path: raw/orders",
                             "\tformat: csv\n    path: raw/orders"),), "tab|indent|yaml",
     ("sluice.yaml", "\tformat")),
    ("unclosed-flow-mapping", (yml("target: {type: local}", "target: {type: local"),),
     "yaml|expected", "sluice.yaml:*"),
    ("nested-20000-lists", (write("sluice.yaml", "a: " + "[" * 20000 + "]" * 20000 + "\n"),),
     "nest|deep", "sluice.yaml:1"),
    ("nested-20000-mappings", (write("sluice.yaml",
                                     "a: " + "{a: " * 20000 + "1" + "}" * 20000 + "\n"),),
     "nest|deep", "sluice.yaml:1"),
    ("nested-block-mappings", (write("sluice.yaml", "".join(
        " " * i + "a:\n" for i in range(3000)) + " " * 3000 + "b: 1\n"),), "nest|deep",
     "sluice.yaml:*"),
    ("alias-bomb", (write("sluice.yaml", "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n"
        for i in range(8)) + "project: retail\n"),), "alias|nest|anchor", "sluice.yaml:*"),
    ("python-tag", (yml("project: retail", "project: !!python/object/apply:os.system [id]"),),
     "tag|python", ("sluice.yaml", "project:")),
    ("two-documents", (append("sluice.yaml", "---\nproject: other\n"),), "document",
     "sluice.yaml:*"),
    ("empty-file", (write("sluice.yaml", ""),), "empty|mapping|project", None),
    ("comment-only", (write("sluice.yaml", "# nothing here\n"),), "empty|mapping|project",
     None),
    ("top-level-list", (write("sluice.yaml", "- project\n- retail\n"),), "mapping",
     "sluice.yaml:1"),
    ("top-level-scalar", (write("sluice.yaml", "retail\n"),), "mapping", "sluice.yaml:1"),
    ("not-utf8", (write("sluice.yaml", b"# caf\xe9\nproject: retail\n"),), "UTF-8",
     "sluice.yaml:1"),
    ("binary", (write("sluice.yaml", b"PK\x03\x04\x00\x00\x01\x02\xff\xfe"),),
     "UTF-8|binary|control|NUL", "sluice.yaml:1"),
    ("nul-byte", (yml("project: retail", "project: ret\x00ail"),), "NUL|control|character",
     ("sluice.yaml", "project:")),
    ("missing-file", (remove("sluice.yaml"),), "no sluice.yaml", None),
]
for _name, _muts, _says, _at in _CONFIG:
    case(f"config-{_name}-check", "check", "--only", "config,graph", says=_says, at=_at,
         muts=_muts)
    case(f"config-{_name}-release", "release", "--allow-dirty", says=_says, at=_at,
         muts=_muts)

# environment parameters reach SQL: a quote a parameter leaves open is the job's error
case("param-unterminated-sql-quote-release", "release", "--allow-dirty",
     muts=(yml('dev:\n    target: {type: local}\n    parameters: {min_amount: "0"}',
               "dev:\n    target: {type: local}\n    parameters: {min_amount: \"0'\"}"),),
     says="quot|unterminated",
     at=("jobs/orders.sql", "${min_amount}"))
case("param-override-unterminated-quote", "deploy", "dev", template="deployed",
     env=(("SLUICE_ENV_DEV_MIN_AMOUNT", "0'"),), says="quot|unterminated",
     setup=(("release", "--allow-dirty"),), muts=(append("jobs/orders.sql", "\n"),),
     at=("jobs/orders.sql", "${min_amount}"))
case("param-unterminated-check", "check", "--only", "sql",
     muts=(yml('dev:\n    target: {type: local}\n    parameters: {min_amount: "0"}',
               "dev:\n    target: {type: local}\n    parameters: {min_amount: \"0'\"}"),),
     says="quot|unterminated", at=("jobs/orders.sql", "${min_amount}"))

# ------------------------------------------------------------------ DQDL
_DQ = "quality/orders.dqdl"


def rules(*lines: str) -> Mutation:
    """quality/orders.dqdl with ``Rules = [`` on line 1 and ``lines`` from line 2."""
    return write(_DQ, "Rules = [\n" + "".join(f"    {ln}\n" for ln in lines) + "]\n")


_DQDL: list[tuple[str, Mutation, str, At]] = [
    ("rules-empty", write(_DQ, "Rules = []\n"), "empty|no rules|at least one",
     f"{_DQ}:1"),
    ("no-rules-keyword", write(_DQ, "RowCount > 0\n"), "expected '='", f"{_DQ}:1"),
    ("rules-keyword-typo", write(_DQ, "Rulez = [\n    RowCount > 0\n]\n"), "unexpected",
     f"{_DQ}:*"),
    ("unterminated-list", write(_DQ, "Rules = [\n    RowCount > 0,\n"), r"\]|end|expected",
     f"{_DQ}:*"),
    ("garbage-after-list", write(_DQ, "Rules = [ RowCount > 0 ] garbage\n"), "garbage",
     f"{_DQ}:1"),
    ("unknown-rule-type", rules("RowCount > 0,", "RowCont > 0"), "RowCont", f"{_DQ}:3"),
    ("number-5000-digits", rules("RowCount > 0,", "RowCount > " + "1" * 5000),
     "number|digits|too", f"{_DQ}:3"),
    ("decimal-5000-digits", rules("RowCount > 0,", 'Completeness "amount" > 0.' + "9" * 5000),
     "number|digits|too", f"{_DQ}:3"),
    ("exponent-overflow", rules("RowCount > 0,", "RowCount > 1e999999"),
     "number|finite|range|too", f"{_DQ}:3"),
    ("bad-regex", rules("RowCount > 0,", 'ColumnValues "status" matches "[a-"'),
     "regex|regular expression|pattern", f"{_DQ}:3"),
    ("threshold-above-one", rules("RowCount > 0,",
                                  'ColumnValues "amount" >= 0 with threshold > 5'),
     "threshold", f"{_DQ}:3"),
    ("threshold-negative", rules("RowCount > 0,",
                                 'ColumnValues "amount" >= 0 with threshold >= -0.5'),
     "threshold", f"{_DQ}:3"),
    ("threshold-typo", rules("RowCount > 0,", 'ColumnValues "amount" >= 0 with thresh > 0.5'),
     "thresh", f"{_DQ}:3"),
    ("unterminated-string", rules("RowCount > 0,", 'IsUnique "customer_id'),
     "unterminated|string|quote", f"{_DQ}:3"),
    ("missing-operand", rules("RowCount > 0,", "RowCount >"), r"expected|number|operand",
     f"{_DQ}:*"),  # where the parser notices: the next line
    ("missing-comma", rules("RowCount > 0", 'IsComplete "order_id"'),
     r"expected|comma|,", f"{_DQ}:3"),
    ("missing-column", rules("RowCount > 0,", "IsUnique"), "IsUnique|column|argument",
     f"{_DQ}:3"),
    ("extra-argument", rules("RowCount > 0,", 'IsComplete "order_id" "status"'),
     "IsComplete|argument", f"{_DQ}:3"),
    ("string-for-number", rules("RowCount > 0,", 'RowCount > "abc"'), "number|expected",
     f"{_DQ}:3"),
    ("between-without-and", rules("RowCount > 0,", 'Mean "amount" between 1'),
     "and|expected", f"{_DQ}:*"),
    ("dangling-and", rules("RowCount > 0,", "(RowCount > 0) and"), r"expected|\(",
     f"{_DQ}:*"),
    ("unclosed-in-list", rules("RowCount > 0,",
                               'ColumnValues "status" in ["placed", "shipped"'),
     r"expected|\]", f"{_DQ}:*"),
    ("bad-labels", rules('RowCount > 0 labels=["severity"]'), "label|=|expected",
     f"{_DQ}:2"),
    ("freshness-bad-unit", rules('DataFreshness "ordered_at" <= 24 fortnights'),
     "fortnights|unit", f"{_DQ}:2"),
    ("where-two-statements", rules(
        'RowCount > 0 where "status = \'placed\'; DROP TABLE orders"'),
     "where|statement|;", f"{_DQ}:2"),
    ("where-not-sql", rules('RowCount > 0 where "status = "'), "where|SQL|expression",
     f"{_DQ}:2"),
    ("customsql-delete", rules('CustomSql "delete from primary" = 0'),
     "CustomSql|SELECT|select", f"{_DQ}:2"),
    ("customsql-syntax", rules('CustomSql "select count(* from primary" = 0'),
     "CustomSql|SQL|syntax|parse", f"{_DQ}:2"),
    ("customsql-two-statements", rules('CustomSql "select 1; select 2" = 0'),
     "CustomSql|statement|;", f"{_DQ}:2"),
    ("deep-parentheses", rules("(" * 20000 + "RowCount > 0" + ")" * 20000),
     "nest|deep", f"{_DQ}:2"),
    ("empty-file", write(_DQ, ""), "empty|Rules", f"{_DQ}:*"),
    ("binary", write(_DQ, b"\x00\x01\x02\x03PK\xff"), "UTF-8|binary|control|NUL",
     f"{_DQ}:1"),
    ("not-utf8", write(_DQ, b"Rules = [\n    RowCount > 0 # caf\xe9\n]\n"), "UTF-8",
     f"{_DQ}:2"),
    ("nul-byte", write(_DQ, "Rules = [\n    RowCount > 0\x00\n]\n"), "NUL|character|control",
     f"{_DQ}:2"),
]
for _name, _mut, _says, _at in _DQDL:
    case(f"dqdl-{_name}", "quality", "parse", _DQ, says=_says, at=_at, muts=(_mut,))
# the same rulesets reach `sluice check` and `sluice release` through the project
for _name in ("rules-empty", "unknown-rule-type", "number-5000-digits", "bad-regex",
              "threshold-above-one", "where-two-statements", "binary", "not-utf8",
              "deep-parentheses"):
    _n, _mut, _says, _at = next(d for d in _DQDL if d[0] == _name)
    case(f"dqdl-{_name}-check", "check", "--only", "dqdl", says=_says, at=_at, muts=(_mut,))
for _name in ("rules-empty", "bad-regex", "threshold-above-one", "number-5000-digits"):
    _n, _mut, _says, _at = next(d for d in _DQDL if d[0] == _name)
    case(f"dqdl-{_name}-release", "release", "--allow-dirty", says=_says, at=_at,
         muts=(_mut,))
# and `sluice quality check` on data
_DATA = ("--data", "data/raw/orders/orders.csv", "--no-history")
for _name in ("bad-regex", "threshold-above-one", "where-two-statements", "customsql-delete",
              "customsql-syntax", "where-not-sql"):
    _n, _mut, _says, _at = next(d for d in _DQDL if d[0] == _name)
    case(f"dqdl-{_name}-on-data", "quality", "check", _DQ, *_DATA, says=_says, at=_at,
         muts=(_mut,))
case("dqdl-unknown-column-on-data", "quality", "check", _DQ, *_DATA,
     muts=(rules('IsComplete "nosuch"'),), says="nosuch", at=f"{_DQ}:2")
case("dqdl-unknown-column-check", "check", "--only", "dqdl",
     muts=(rules("RowCount > 0,", 'IsComplete "nosuch"'),), says="nosuch", at=f"{_DQ}:3",)
case("dqdl-unknown-param-check", "check", "--only", "dqdl",
     muts=(rules("RowCount > ${nope}"),), says="nope", at=f"{_DQ}:2",)
case("dqdl-deep-parentheses-real", "quality", "parse", _DQ, real=True,
     muts=(rules("(" * 20000 + "RowCount > 0" + ")" * 20000),), says="nest|deep",
     at=f"{_DQ}:2")

# ------------------------------------------------------------------ SQL jobs
_SQL = "jobs/orders.sql"
_SQL_CASES: list[tuple[str, tuple[Mutation, ...], str, At]] = [
    ("binary", (write(_SQL, b"\x00\x01\x02SELECT\xff\xfe"),), "UTF-8|binary|control|NUL",
     f"{_SQL}:1"),
    ("not-utf8", (write(_SQL, b"SELECT 1 AS order_id\n-- caf\xe9\n"),), "UTF-8",
     f"{_SQL}:2"),
    ("empty", (write(_SQL, ""),), "empty|SELECT|no statement", _SQL),
    ("comment-only", (write(_SQL, "-- nothing yet\n"),), "empty|SELECT|no statement", _SQL),
    ("unterminated-quote", (edit(_SQL, "lower(status)", "lower('status)"),),
     "quot|unterminated|string", (_SQL, "lower('status)")),
    ("unterminated-identifier", (edit(_SQL, "lower(status)", 'lower("status)'),),
     "quot|unterminated|identifier", (_SQL, 'lower("status)')),
    ("syntax-error", (write(_SQL, "SELEC order_id\nFROM raw.orders\n"),),
     "syntax|parse|invalid|SELEC", f"{_SQL}:1"),
    ("syntax-error-line-4", (write(_SQL, "SELECT\n    order_id,\n    amount\nFROM FROM "
                                   "raw.orders\n"),), "syntax|parse|invalid|FROM",
     f"{_SQL}:4"),
    ("delete", (write(_SQL, "DELETE FROM raw.orders\n"),), "SELECT|DELETE|query",
     f"{_SQL}:1"),
    ("create-table", (write(_SQL, "CREATE TABLE x AS SELECT 1 AS order_id\n"),),
     "SELECT|CREATE|query", f"{_SQL}:1"),
    ("two-statements", (write(_SQL, "SELECT 1 AS order_id;\nSELECT 2 AS order_id\n"),),
     "statement|one", f"{_SQL}:*"),
    ("unknown-param", (edit(_SQL, "${min_amount}", "${min_amout}"),), "min_amout",
     (_SQL, "${min_amout}")),
    ("unterminated-param", (edit(_SQL, "${min_amount}", "${min_amount"),),
     r"\$\{|unterminated|param", (_SQL, "${min_amount")),
    ("undeclared-table", (edit(_SQL, "FROM raw.orders", "FROM raw.nothing"),),
     "raw.nothing", (_SQL, "FROM raw.nothing")),
    ("deep-parentheses", (write(_SQL, "SELECT " + "(" * 20000 + "1" + ")" * 20000 +
                                " AS order_id\n"),), "nest|deep|depth", f"{_SQL}:1"),
]
for _name, _muts, _says, _at in _SQL_CASES:
    case(f"sql-{_name}-check", "check", "--only", "sql", says=_says, at=_at, muts=_muts)
for _name in ("binary", "not-utf8", "empty", "unterminated-quote", "syntax-error", "delete",
              "two-statements", "unknown-param", "undeclared-table", "deep-parentheses"):
    _n, _muts, _says, _at = next(d for d in _SQL_CASES if d[0] == _name)
    case(f"sql-{_name}-release", "release", "--allow-dirty", says=_says, at=_at, muts=_muts)
case("sql-nul-byte-check", "check", "--only", "sql",
     muts=(write(_SQL, "SELECT 1 AS order_id\x00\n"),), says="NUL|character|control",
     at=f"{_SQL}:1")
case("sql-nul-byte-release", "release", "--allow-dirty",
     muts=(write(_SQL, "SELECT 1 AS order_id\x00\n"),), says="NUL", at=f"{_SQL}:1")
case("sql-repaired-by-sqlglot", "check", "--only", "sql",
     muts=(write(_SQL, "SELECT order_id,, FROM raw.orders\n"),), says="syntax|parse",
     at=f"{_SQL}:1")
case("sql-table-function", "check", "--only", "sql",
     muts=(write(_SQL, "SELECT * FROM read_text('/etc/passwd')\n"),), says="read_text",
     at=f"{_SQL}:1")
case("sql-deep-parentheses-real", "check", "--only", "sql", real=True,
     muts=(write(_SQL, "SELECT " + "(" * 20000 + "1" + ")" * 20000 + " AS order_id\n"),),
     says="nest|deep|depth", at=f"{_SQL}:1")

# SQL that parses but fails in the warehouse: the job file and, where the engine says, line
_DEPLOY = {"template": "deployed", "setup": (("release", "--allow-dirty"),)}
_REPRO = r"sluice deploy dev --release [0-9a-f]+"
case("sql-unknown-column-deploy", "deploy", "dev", **_DEPLOY,  # type: ignore[arg-type]
     muts=(edit(_SQL, "lower(status)", "lower(statuss)"),), says="statuss",
     at=(_SQL, "lower(statuss)"), tip=_REPRO)
case("sql-bad-cast-deploy", "deploy", "dev", **_DEPLOY,  # type: ignore[arg-type]
     muts=(edit(_SQL, "CAST(quantity AS INTEGER)", "CAST(status AS INTEGER)"),),
     says="convert|conversion|cast", at=_SQL, tip=_REPRO)
case("sql-unknown-function-deploy", "deploy", "dev", **_DEPLOY,  # type: ignore[arg-type]
     muts=(edit(_SQL, "lower(status)", "lowerr(status)"),), says="lowerr",
     at=(_SQL, "lowerr(status)"), tip=_REPRO)
case("sql-contract-broken-deploy", "deploy", "dev", **_DEPLOY,  # type: ignore[arg-type]
     muts=(edit(_SQL, "CAST(amount AS DOUBLE) AS amount", "CAST(amount AS DOUBLE) AS amt"),),
     says="amount|contract|audit", tip=_REPRO)
case("sql-rules-fail-deploy", "deploy", "dev", **_DEPLOY,  # type: ignore[arg-type]
     muts=(rules("RowCount > 100000"),), says="RowCount|audit", tip=_REPRO)

# ------------------------------------------------------------------ Python jobs
_PY = "jobs/product_sales.py"


def job(body: str) -> Mutation:
    """jobs/product_sales.py with ``def run(ctx):`` on line 1 and ``body`` from line 2."""
    return write(_PY, "def run(ctx):\n" + body)


_PY_CASES: list[tuple[str, Mutation, str, At]] = [
    ("raises", job("    x = 1\n    raise ValueError('boom')\n"), "boom", f"{_PY}:3"),
    ("raises-in-helper", write(_PY, "def helper(n):\n    return 1 / n\n\n\ndef run(ctx):\n"
                                    "    helper(0)\n"), "ZeroDivision|division",
     f"{_PY}:2"),
    ("syntax-error", job("    return (\n"), "syntax|never closed|invalid", f"{_PY}:2"),
    ("import-error", write(_PY, "import nosuchmodule_xyz\n\n\ndef run(ctx):\n    pass\n"),
     "nosuchmodule_xyz", f"{_PY}:1"),
    ("function-missing", write(_PY, "def runn(ctx):\n    pass\n"), "run", _PY),
    ("exits", job("    import sys\n    sys.exit(3)\n"), "exit", f"{_PY}:3"),
    ("keyboard-style-exit", job("    raise SystemExit('bye')\n"), "bye|exit", f"{_PY}:2"),
    ("no-write", job("    pass\n"), "did not write", None),
    ("writes-undeclared", job("    ctx.write('marts.other', None)\n"), "does not declare",
     f"{_PY}:2"),
    ("reads-undeclared", job("    ctx.read('raw.customers')\n"), "does not declare",
     f"{_PY}:2"),
    ("writes-wrong-type", job("    ctx.write('marts.product_sales', 42)\n"),
     "int|type|write", f"{_PY}:2"),
    ("missing-param", job("    ctx.params['nope']\n"), "nope", f"{_PY}:2"),
    ("recursion", job("    run(ctx)\n"), "Recursion", f"{_PY}:2"),
]
for _name, _mut, _says, _at in _PY_CASES:
    case(f"python-{_name}-deploy", "deploy", "dev", **_DEPLOY,  # type: ignore[arg-type]
         muts=(_mut,), says=_says, at=_at, tip=_REPRO)
case("python-raises-real", "deploy", "dev", real=True, **_DEPLOY,  # type: ignore[arg-type]
     muts=(job("    x = 1\n    raise ValueError('boom')\n"),), says="boom", at=f"{_PY}:3",
     tip=_REPRO)
case("python-exits-real", "deploy", "dev", real=True, **_DEPLOY,  # type: ignore[arg-type]
     muts=(job("    import sys\n    sys.exit(3)\n"),), says="exit", at=f"{_PY}:3",
     tip=_REPRO)

# ------------------------------------------------------------------ migrations
_M = "migrations"
_MIG: list[tuple[str, tuple[Mutation, ...], tuple[str, ...], str, At]] = [
    ("single-underscore", (write(f"{_M}/V1_add.sql", "SELECT 1;\n"),), ("plan", "dev"),
     "V1_add.sql|name", f"{_M}/V1_add.sql"),
    ("lowercase-prefix", (write(f"{_M}/v1__add.sql", "SELECT 1;\n"),), ("plan", "dev"),
     "v1__add.sql|name", f"{_M}/v1__add.sql"),
    ("no-version", (write(f"{_M}/V__add.sql", "SELECT 1;\n"),), ("plan", "dev"),
     "V__add.sql|version", f"{_M}/V__add.sql"),
    ("no-description", (write(f"{_M}/V1__.sql", "SELECT 1;\n"),), ("plan", "dev"),
     r"V1__\.sql|description", f"{_M}/V1__.sql"),
    ("duplicate-version", (write(f"{_M}/V1__a.sql", "SELECT 1;\n"),
                           write(f"{_M}/V1.0__b.sql", "SELECT 2;\n")), ("plan", "dev"),
     "duplicate|version 1|V1", f"{_M}/V1"),
    ("undo-without-version", (write(f"{_M}/U2__a.sql", "SELECT 1;\n"),), ("plan", "dev"),
     "U2__a.sql|undo", f"{_M}/U2__a.sql"),
    ("not-utf8", (write(f"{_M}/V1__a.sql", b"SELECT 1;\n-- caf\xe9\n"),), ("plan", "dev"),
     "UTF-8", f"{_M}/V1__a.sql:2"),
    ("binary", (write(f"{_M}/V1__a.sql", b"\x00\x01\x02\xff"),), ("plan", "dev"),
     "UTF-8|binary|control|NUL", f"{_M}/V1__a.sql:1"),
    ("unknown-engine-directive", (write(f"{_M}/V1__a.sql", "-- sluice: engine=oracle\n"
                                        "SELECT 1;\n"),), ("plan", "dev"), "oracle",
     f"{_M}/V1__a.sql:1"),
    ("unknown-directive", (write(f"{_M}/V1__a.sql", "-- sluice: verbose\nSELECT 1;\n"),),
     ("plan", "dev"), "verbose|directive", f"{_M}/V1__a.sql:1"),
    ("syntax-error-apply", (write(f"{_M}/V1__a.sql", "CREATE TABLE t (a INT);\n"
                                  "CREATE TABL u (a INT);\n"),), ("apply", "dev"),
     "syntax|parse|TABL", f"{_M}/V1__a.sql:2"),
    ("unterminated-quote-apply", (write(f"{_M}/V1__a.sql", "CREATE TABLE t (a TEXT);\n"
                                        "INSERT INTO t VALUES ('x);\n"),), ("apply", "dev"),
     "quot|unterminated|string", f"{_M}/V1__a.sql:*"),
    ("runtime-failure-apply", (write(f"{_M}/V1__a.sql", "ALTER TABLE nosuch ADD COLUMN x "
                                     "INT;\n"),), ("apply", "dev"), "nosuch",
     f"{_M}/V1__a.sql"),
    ("bad-target-version", (write(f"{_M}/V1__a.sql", "CREATE TABLE t (a INT);\n"),),
     ("apply", "dev", "--to", "one"), "one|version", None),
]
for _name, _muts, _args, _says, _at in _MIG:
    case(f"migration-{_name}", "migrate", *_args, says=_says, at=_at, muts=_muts)
for _name in ("single-underscore", "duplicate-version", "not-utf8", "unknown-engine-directive"):
    _n, _muts, _args, _says, _at = next(d for d in _MIG if d[0] == _name)
    case(f"migration-{_name}-check", "check", "--only", "migrations", says=_says, at=_at,
         muts=_muts)
case("migration-checksum-changed", "migrate", "status", "dev",
     muts=(write(f"{_M}/V1__a.sql", "CREATE TABLE t (a INT);\n"),),
     setup=(("migrate", "apply", "dev"),),
     after=(write(f"{_M}/V1__a.sql", "CREATE TABLE t (a BIGINT);\n"),),
     says="mismatch|checksum", at=None)  # a table row per script
case("migration-checksum-changed-apply", "migrate", "apply", "dev",
     muts=(write(f"{_M}/V1__a.sql", "CREATE TABLE t (a INT);\n"),),
     setup=(("migrate", "apply", "dev"),),
     after=(write(f"{_M}/V1__a.sql", "CREATE TABLE t (a BIGINT);\n"),),
     says="checksum|changed|mismatch", at=f"{_M}/V1__a.sql")
case("migration-applied-script-removed", "migrate", "status", "dev",
     muts=(write(f"{_M}/V1__a.sql", "CREATE TABLE t (a INT);\n"),),
     setup=(("migrate", "apply", "dev"),), after=(remove(f"{_M}/V1__a.sql"),),
     says="missing|V1", at=None)
case("migration-undo-count-zero", "migrate", "undo", "dev", "--count", "0",
     says="count|range|0", at=None)

# ------------------------------------------------------------------ the command line
_D = {"template": "deployed"}
_CLI: list[tuple[str, tuple[str, ...], str, dict[str, object]]] = [
    ("unknown-command", ("deplyo", "dev"), "No such command|deplyo", {}),
    ("deploy-missing-env", ("deploy",), "Missing argument|ENV", {}),
    ("deploy-unknown-env", ("deploy", "qa"), "qa", _D),
    ("deploy-env-typo", ("deploy", "dve"), "did you mean.*dev", _D),
    ("deploy-empty-release", ("deploy", "dev", "--release", ""), "release", _D),
    ("deploy-release-missing-value", ("deploy", "dev", "--release"), "requires an argument", _D),
    ("deploy-unknown-release", ("deploy", "dev", "--release", "zzzz"), "zzzz", _D),
    ("deploy-release-path", ("deploy", "dev", "--release", "../../etc/passwd"), "release", _D),
    ("deploy-bad-wait", ("deploy", "dev", "--wait", "soon"), "wait|soon", _D),
    ("deploy-negative-wait", ("deploy", "dev", "--wait", "-5"), "wait", _D),
    ("plan-empty-release", ("plan", "dev", "--release", ""), "release", _D),
    ("plan-unknown-release", ("plan", "dev", "--release", "zzzz"), "zzzz", _D),
    ("plan-unknown-env", ("plan", "qa"), "qa", _D),
    ("plan-no-release-yet", ("plan", "dev"), "no release", {}),
    ("run-unknown-env", ("run", "qa"), "qa", _D),
    ("run-nothing-live", ("run", "dev"), "nothing is live", {}),
    ("promote-unknown-dest", ("promote", "dev", "qa"), "qa", _D),
    ("promote-source-typo", ("promote", "dve", "staging"), "dve|dev", _D),
    ("approve-unknown-env", ("approve", "qa"), "qa", _D),
    ("approve-bad-acknowledge", ("approve", "prod", "--acknowledge", "everything"),
     "everything", _D),
    ("reject-unknown-release", ("reject", "prod", "--release", "zzzz"), "zzzz", _D),
    ("rollback-empty-to", ("rollback", "dev", "--to", ""), "release|to", _D),
    ("rollback-unknown-to", ("rollback", "dev", "--to", "zzzz"), "zzzz", _D),
    ("rollback-nothing-before", ("rollback", "dev"), "previous|nothing|earlier", _D),
    ("rollback-unknown-env", ("rollback", "qa"), "qa", _D),
    ("history-unknown-env", ("history", "qa"), "qa", _D),
    ("history-env-typo", ("history", "dve"), "did you mean.*dev", _D),
    ("history-bad-limit", ("history", "dev", "--limit", "many"), "limit|many", _D),
    ("history-negative-limit", ("history", "dev", "--limit", "-1"), "limit", _D),
    ("status-extra-argument", ("status", "dev"), "unexpected|extra|Got", _D),
    ("load-unknown-env", ("load", "qa", "data"), "qa", {}),
    ("load-missing-folder", ("load", "dev", "nodata"), "nodata", {}),
    ("gc-unknown-env", ("gc", "qa"), "qa", _D),
    ("check-unknown-kind", ("check", "--only", "lnit"), "lnit", {}),
    ("check-negative-workers", ("check", "--workers", "-1"), "workers|-1", {}),
    ("check-unknown-ref", ("check", "--only", "config", "--changed-since", "nosuchref"),
     "nosuchref", {}),
    ("check-unknown-against", ("check", "--only", "contracts", "--against", "nosuchenv"),
     "nosuchenv", {}),
    ("check-junit-unwritable", ("check", "--only", "config", "--junit", "sluice.yaml/x.xml"),
     "sluice.yaml", {}),
    ("quality-missing-data", ("quality", "check", _DQ), "Missing option|--data", {}),
    ("quality-missing-rules-file", ("quality", "parse", "quality/nosuch.dqdl"), "nosuch.dqdl",
     {}),
    ("quality-rules-is-folder", ("quality", "parse", "quality"), "quality", {}),
    ("quality-missing-data-file", ("quality", "check", _DQ, "--data", "nosuch.csv",
                                   "--no-history"), "nosuch.csv", {}),
    ("quality-unknown-engine", ("quality", "check", _DQ, "--data", "data/raw/orders/orders.csv",
                                "--engine", "oracle", "--no-history"), "oracle", {}),
    ("quality-bad-ref", ("quality", "check", _DQ, "--data", "data/raw/orders/orders.csv",
                         "--ref", "nothing", "--no-history"), "--ref|NAME=", {}),
    ("quality-unknown-dialect", ("quality", "sql", _DQ, "--data", "data/raw/orders/orders.csv",
                                 "--dialect", "oracle"), "oracle", {}),
    ("quality-junit-unwritable", ("quality", "check", _DQ, "--data",
                                  "data/raw/orders/orders.csv", "--no-history", "--junit",
                                  "sluice.yaml/x.xml"), "x.xml|junit|write", {}),
    ("quality-negative-sample", ("quality", "check", _DQ, "--data",
                                 "data/raw/orders/orders.csv", "--sample-limit", "-1"),
     "sample", {}),
    ("migrate-unknown-env", ("migrate", "plan", "qa"), "qa", {}),
    ("migrate-missing-env", ("migrate", "status"), "Missing argument|ENV", {}),
    ("init-unknown-ci", ("init", ".", "--ci", "jenkins"), "jenkins", {}),
    ("init-existing", ("init", "."), "already exists", {}),
]
for _name, _args, _says, _kw in _CLI:
    case(f"cli-{_name}", *_args, says=_says, **_kw)  # type: ignore[arg-type]
case("cli-release-dirty-tree", "release", muts=(append(_SQL, "\n"),),
     says="uncommitted|dirty|allow-dirty")
case("cli-release-no-git", "release", muts=(remove(".git"),), says="git")
case("cli-state-url-garbage", "status", env=(("SLUICE_STATE_URL", "garbage://x"),),
     says="state|garbage|url", template="deployed")
case("cli-home-is-a-file", "status", env=(("SLUICE_HOME", "sluice.yaml"),),
     says="sluice.yaml|home|folder|directory")
case("cli-approve-first-env", "approve", "dev", template="deployed",
     says="dev is not protected: releases enter it without an approval")
case("cli-approve-unprotected", "approve", "staging", template="deployed",
     says="staging is not protected")
case("cli-acknowledge-unknown", "approve", "prod", "--acknowledge", "everything",
     template="deployed", says="--acknowledge everything: unknown")
case("cli-history-unknown-env-real", "history", "qa", template="deployed", says="qa",
     real=True)
case("cli-empty-release-real", "deploy", "dev", "--release", "", template="deployed",
     says="release", real=True)
case("cli-unknown-command-real", "deplyo", says="No such command|deplyo", real=True)
case("config-nested-20000-lists-real", "check", "--only", "config", real=True,
     muts=(write("sluice.yaml", "a: " + "[" * 20000 + "]" * 20000 + "\n"),), says="nest|deep",
     at="sluice.yaml:1")
case("config-job-cycle-real", "release", "--allow-dirty", real=True,
     muts=(edit(_SQL, "FROM raw.orders",
                "FROM raw.orders JOIN marts.product_sales USING (product_id)"),),
     says="cycle", at=("sluice.yaml", "re:^  (orders|product_sales):$"))


# ---------------------------------------------------------------------------- harness
def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **_GIT_ENV}, check=True,
                   capture_output=True)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``plain``: the retail example committed to git; ``deployed``: plus release 1 live in
    dev with its data loaded. Every case copies one of them."""
    base = tmp_path_factory.mktemp("bad-input")
    plain = copy_retail(base / "plain", spark=False)
    (plain / ".gitignore").write_text(".sluice/\n__pycache__/\n", encoding="utf-8")
    _git(plain, "init", "-q", "-b", "main")
    _git(plain, "config", "user.name", "alice")
    _git(plain, "config", "user.email", "alice@example.com")
    _git(plain, "config", "commit.gpgsign", "false")
    _git(plain, "add", "-A")
    _git(plain, "commit", "-q", "-m", "initial")
    deployed = base / "deployed"
    shutil.copytree(plain, deployed, symlinks=True)
    for args in (("release",), ("load", "dev", "data"), ("deploy", "dev")):
        code, output = _invoke(deployed, args, {})
        assert code == 0, f"sluice {' '.join(args)}: {output}"
    return {"plain": plain, "deployed": deployed}


_APP: click.Command | None = None


def _invoke(root: Path, args: tuple[str, ...], env: dict[str, str], *,
            real: bool = False) -> tuple[int, str]:
    """Run ``sluice ARGS`` in ``root``: exit code and stdout + stderr."""
    full_env = {**_ENV, **env}
    if real:
        proc_env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        proc = subprocess.run([sys.executable, "-m", "sluice.cli", *args], cwd=root,
                              env={**proc_env, **full_env}, capture_output=True, text=True,
                              timeout=120, check=False)
        return proc.returncode, proc.stdout + proc.stderr
    global _APP
    if _APP is None:
        _APP = typer.main.get_command(build_app())
    cwd = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(_APP, list(args), env={**dict.fromkeys(_CLEARED),
                                                          **full_env},
                                     catch_exceptions=True, prog_name="sluice")
    finally:
        os.chdir(cwd)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        output += "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception(result.exception))
        return 3, output
    return result.exit_code, output


def _line_of(root: Path, at: tuple[str, str] | tuple[str, str, int]) -> str:
    rel, needle = at[0], at[1]
    nth = at[2] if len(at) == 3 else 0  # type: ignore[misc]
    lines = (root / rel).read_bytes().decode("utf-8", "replace").splitlines()
    if needle.startswith("re:"):
        hits = [i for i, ln in enumerate(lines, 1) if re.search(needle[3:], ln)]
    else:
        hits = [i for i, ln in enumerate(lines, 1) if needle in ln]
    assert hits, f"{needle!r} is not in {rel}"
    return f"{rel}:{hits[nth]}"


def _location_pattern(root: Path, at: At) -> str | None:
    if at is None:
        return None
    if isinstance(at, tuple):
        return re.escape(_line_of(root, at)) + r"(?!\d)"
    if at.endswith(":*"):
        return re.escape(at[:-2]) + r":\d+"
    return re.escape(at) + (r"(?!\d)" if re.search(r":\d+$", at) else "")


def _params() -> list[object]:
    ids = [c.id for c in CASES]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate case ids: {dupes}"
    return [pytest.param(c, id=c.id, marks=c.marks) for c in CASES]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("c", _params())
def test_bad_input(c: Case, tmp_path: Path, templates: dict[str, Path]) -> None:
    root = tmp_path / "retail"
    shutil.copytree(templates[c.template], root, symlinks=True)
    env: dict[str, str] = {}  # the case's own variables are for its command, not the setup
    for mut in c.muts:
        mut(root)
    for args in c.setup:
        code, output = _invoke(root, args, env)
        assert code == 0, f"setup sluice {' '.join(args)} failed ({code}):\n{output}"
    for mut in c.after:
        mut(root)
    code, output = _invoke(root, c.args, {**env, **dict(c.env)}, real=c.real)
    shown = f"sluice {' '.join(a[:60] for a in c.args)} → exit {code}:\n{output[-4000:]}"
    assert "Traceback" not in output, shown
    assert code in (1, 2), shown
    assert re.search(c.says, output, re.IGNORECASE | re.DOTALL), \
        f"the message does not say /{c.says}/: {shown}"
    where = _location_pattern(root, c.at)
    if where is not None:
        assert re.search(where, output), f"no location /{where}/ in: {shown}"
    if c.tip is not None:
        tips = [ln for ln in output.splitlines() if ln.startswith("Tip: ")]
        assert any(re.search(c.tip, t) for t in tips), f"no Tip: /{c.tip}/ in: {shown}"
