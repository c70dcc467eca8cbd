"""YAML parsing with marks: every key and value has a 1-based line:column."""

from __future__ import annotations

import re

import pytest

from sluice.config.yamlsource import MAX_NODES, display_path, parse_yaml
from sluice.errors import ConfigError, Location

TEXT = """\
project: retail
jobs:
  orders:
    type: sql
    inputs:
      - a
      - "b"
"""


def test_marks_of_keys_values_and_items() -> None:
    doc = parse_yaml(TEXT, source="sluice.yaml")
    assert doc.data["jobs"]["orders"]["inputs"] == ["a", "b"]
    assert doc.locate(("jobs", "orders"), key=True) == Location("sluice.yaml", 3, 3)
    assert doc.locate(("jobs", "orders", "type")) == Location("sluice.yaml", 4, 11)
    assert doc.locate(("jobs", "orders", "inputs", 1)) == Location("sluice.yaml", 7, 9)
    # Quoted scalars: offsets count from inside the quotes.
    assert doc.marks[("jobs", "orders", "inputs", 1)].at_offset(0) == Location("sluice.yaml", 7, 10)


def test_locate_falls_back_to_the_nearest_ancestor() -> None:
    doc = parse_yaml(TEXT, source="sluice.yaml")
    assert doc.locate(("jobs", "orders", "output")) == Location("sluice.yaml", 4, 5)
    assert doc.locate(("nothing",)) == Location("sluice.yaml", 1, 1)


def test_unclosed_flow_mapping_is_a_syntax_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("project: retail\njobs: {a: 1\n", source="sluice.yaml")
    assert info.value.message.startswith("sluice.yaml:3:1: YAML syntax error: ")


def test_python_tags_are_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("x: !!python/object/apply:os.system [echo hi]\n", source="sluice.yaml")
    assert info.value.message.startswith("sluice.yaml:1:4: YAML syntax error: could not determine")


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    with pytest.raises(ConfigError) as info:
        parse_yaml("\n".join(lines), source="sluice.yaml")
    # located at the alias where the expansion passed the limit
    assert re.fullmatch(
        rf"sluice\.yaml:\d+:\d+: the document is too large \(over {MAX_NODES} nodes after "
        r"expanding aliases\)", info.value.message), info.value.message


def test_display_path() -> None:
    assert display_path(("datasets", "raw.orders", "contract")) == 'datasets["raw.orders"].contract'
    assert display_path(("jobs", "x", "outputs", 0)) == "jobs.x.outputs[0]"
    assert display_path(()) == "(top level)"
