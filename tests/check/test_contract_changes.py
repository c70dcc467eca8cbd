"""Which type changes are widenings (compatible) and which break consumers."""

from __future__ import annotations

import pytest

from sluice.project.contracts import is_widening


@pytest.mark.parametrize(("old", "new", "widening"), [
    ("INTEGER", "BIGINT", True), ("INT", "BIGINT", True), ("BIGINT", "INTEGER", False),
    ("FLOAT", "DOUBLE", True), ("DOUBLE", "FLOAT", False), ("DATE", "TIMESTAMP", True),
    ("VARCHAR(10)", "VARCHAR(20)", True), ("VARCHAR(20)", "VARCHAR(10)", False),
    ("VARCHAR(20)", "TEXT", True), ("INTEGER", "VARCHAR", False),
    ("DECIMAL(10,2)", "DECIMAL(12,2)", True), ("DECIMAL(10,2)", "DECIMAL(12,4)", True),
    ("DECIMAL(10,2)", "DECIMAL(10,4)", False),  # fewer integer digits
    ("DECIMAL(10,2)", "DECIMAL(12,1)", False),  # fewer fraction digits
    ("INTEGER", "DECIMAL(12,2)", True), ("INTEGER", "DECIMAL(5,2)", False),
    ("BIGINT", "DECIMAL(10,0)", False), ("BIGINT", "DECIMAL(19,0)", True),
])
def test_widening(old: str, new: str, widening: bool) -> None:
    assert is_widening(old, new) is widening
