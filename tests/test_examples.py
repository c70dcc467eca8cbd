"""The bundled examples are found in a checkout (the wheel's copy: .ci/package_smoke.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.demo import EXAMPLE
from sluice.errors import SluiceError
from sluice.examples import example, examples_root

REPO = Path(__file__).resolve().parents[1]


def test_a_checkout_uses_its_examples_folder() -> None:
    assert examples_root() == REPO / "examples"
    assert EXAMPLE == example("retail") == REPO / "examples" / "retail"
    assert (example("quality") / "orders.dqdl").is_file()


def test_an_unknown_example_says_where_it_looked() -> None:
    with pytest.raises(SluiceError, match="the bundled example 'nope' is missing") as info:
        example("nope")
    assert "sluice-cd" in (info.value.tip or "")
