"""The tables that spare loading sqlglot must agree with sqlglot."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from sluice.config.sqltypes import (
    COMMON_DIALECTS,
    PLAIN_TYPES,
    dialects,
    is_column_type,
    is_dialect,
)

SQLGLOT_DIALECTS = sorted(d.value for d in sqlglot.Dialects if d.value)


def test_common_dialects_are_sqlglot_dialects() -> None:
    assert COMMON_DIALECTS.issubset(SQLGLOT_DIALECTS)
    assert dialects() == tuple(SQLGLOT_DIALECTS)


@pytest.mark.parametrize("dialect", SQLGLOT_DIALECTS)
def test_every_plain_type_is_a_column_type_of_every_dialect(dialect: str) -> None:
    for name in sorted(PLAIN_TYPES):
        for spelling in (name, name.lower(), name.capitalize()):
            exp.DataType.build(spelling, dialect=dialect, udt=False)  # raises if not


def test_other_types_are_still_judged_by_sqlglot() -> None:
    assert is_column_type("DECIMAL(10, 2)", "duckdb")
    assert is_column_type("STRUCT(a INT, b VARCHAR)", "duckdb")
    assert not is_column_type("BIGNIT", "duckdb")
    assert not is_column_type("INT(", "postgres")


def test_dialects_beyond_the_common_ones_are_asked_of_sqlglot() -> None:
    rare = next(d for d in SQLGLOT_DIALECTS if d not in COMMON_DIALECTS)
    assert is_dialect(rare)
    assert not is_dialect("postgresql")
