"""DQDL parser: every AWS documentation example, located errors, and fuzzing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sluice.errors import DQDLSyntaxError, RuleDefinitionError, SluiceError
from sluice.quality import model as m
from sluice.quality.dqdl import parse_ruleset

EXAMPLES = Path(__file__).parent / "data" / "aws_doc_examples.txt"

# Documented deviations (docs/quality.md): sluice is lenient about section order, the
# position of `where` relative to `with threshold`, unparenthesised now() arithmetic and
# nested dictionaries in DataSources, which AWS's grammar rejects.
LENIENT = {
    "where clause must come before with threshold",
    "date arithmetic must be parenthesised around now()",
    "Analyzers before Rules",
    "Metadata must come before Rules",
    "nested dictionaries not supported in DataSources",
}
# Examples of the docs that parse but are rejected when validated, with the reason.
SEMANTIC_REJECTS = {
    'RowCount with a column parameter': "RowCount takes 0 parameter",
    "Distribution Analyzer": "unknown rule type 'Distribution'",
}


def _examples() -> list[tuple[str, str]]:
    out = []
    for block in EXAMPLES.read_text(encoding="utf-8").split("\n----\n"):
        lines = block.strip().splitlines()
        header = lines[0] if lines and lines[0].startswith("## ") else ""
        body = "\n".join(line for line in lines if not line.startswith("## "))
        if body.strip():
            out.append((header[3:], body))
    return out


EXAMPLE_CASES = _examples()
VALID = [(h, b) for h, b in EXAMPLE_CASES if not h.startswith("INVALID")]
INVALID = [(h, b) for h, b in EXAMPLE_CASES
           if h.startswith("INVALID") and not any(k in h for k in LENIENT)]


def test_the_documentation_examples_are_all_there() -> None:
    assert len(VALID) > 140
    assert len(INVALID) > 25


@pytest.mark.parametrize(("header", "text"), VALID, ids=[h[:70] for h, _ in VALID])
def test_every_aws_doc_example_parses(header: str, text: str) -> None:
    expected_error = next((v for k, v in SEMANTIC_REJECTS.items() if k in header), None)
    syntax_only = parse_ruleset(text, validate=False)
    assert syntax_only.rules or syntax_only.analyzers
    if expected_error is None:
        ruleset = parse_ruleset(text)
        for leaf in ruleset.leaves():
            assert leaf.type and leaf.text and leaf.location.line >= 1
    else:
        with pytest.raises(RuleDefinitionError, match=expected_error):
            parse_ruleset(text)


@pytest.mark.parametrize(("header", "text"), INVALID, ids=[h[:70] for h, _ in INVALID])
def test_invalid_examples_are_rejected_with_a_location(header: str, text: str) -> None:
    with pytest.raises(SluiceError) as info:
        parse_ruleset(text, source="rules.dqdl")
    assert "rules.dqdl:" in str(info.value)  # every rejection points into the file


def test_syntax_error_names_line_column_text_and_expectation() -> None:
    text = 'Rules = [\n    RowCount > 5,\n    IsComplete "a" >> 3\n]'
    with pytest.raises(DQDLSyntaxError) as info:
        parse_ruleset(text, source="orders.dqdl")
    err = info.value
    assert (err.location.line, err.location.column) == (3, 21)
    assert "unexpected '>'" in err.message
    assert "expected" in err.message
    assert 'IsComplete "a" >> 3' in err.message  # the offending line is quoted
    assert "^" in err.message


def test_unterminated_string_is_explained() -> None:
    with pytest.raises(DQDLSyntaxError, match="unterminated string"):
        parse_ruleset('Rules = [ IsComplete "abc ]')


def test_unknown_rule_type_suggests_the_nearest() -> None:
    with pytest.raises(RuleDefinitionError) as info:
        parse_ruleset('Rules = [ IsCompleet "a" ]', source="r.dqdl")
    assert "r.dqdl:1:11" in str(info.value)
    assert info.value.tip == "did you mean IsComplete?"


def test_unknown_variable_is_located() -> None:
    with pytest.raises(DQDLSyntaxError, match=r"unknown variable \$nope"):
        parse_ruleset('Rules = [ ColumnValues "a" in $nope ]')


def test_model_of_a_rich_rule() -> None:
    rs = parse_ruleset(
        'DefaultLabels = ["team"="core"]\n'
        'ok = ["A", "B"]\n'
        'Rules = [\n'
        '  ColumnValues "status" not in $ok where "amount > 3" with threshold >= 0.9 '
        'labels=["severity"="warn"],\n'
        '  (IsComplete "a" and RowCount between 1 and 10) labels=["k"="v"],\n'
        '  ColumnCorrelation "x" and "y" > 0.5,\n'
        '  ColumnValues "t" > now() - 3 days,\n'
        '  RowCount > avg(last(10)) * 0.9\n'
        ']'
    )
    first, comp, corr, fresh, dyn = rs.rules
    assert isinstance(first, m.Rule)
    assert first.condition == m.InSet((m.Text("A"), m.Text("B")), negated=True)
    assert first.where == "amount > 3"
    assert first.threshold == m.Compare(">=", m.Number(0.9))
    assert first.labels == {"team": "core", "severity": "warn"}
    assert first.severity is m.Severity.WARN
    assert isinstance(comp, m.Composite) and comp.op == "and"
    assert comp.labels == {"team": "core", "k": "v"}
    assert [r.type for r in comp.operands] == ["IsComplete", "RowCount"]  # type: ignore[union-attr]
    assert isinstance(corr, m.Rule) and corr.params == ("x", "y")
    assert isinstance(fresh, m.Rule)
    assert isinstance(fresh.condition, m.Compare)
    assert fresh.condition.value == m.Now(offset=-m.Duration(3, "days").to_timedelta())
    assert isinstance(dyn, m.Rule) and m.is_dynamic(dyn.condition.value)  # type: ignore[union-attr]


def test_mixing_and_or_without_parentheses_is_an_error() -> None:
    with pytest.raises(DQDLSyntaxError):
        parse_ruleset('Rules = [ (RowCount > 1) and (RowCount > 2) or (RowCount > 3) ]')


_ALPHABET = st.sampled_from(
    list('RulesAnalyzers=[](),"$#\n <>=!.- 0123456789 and or between in not matches with '
         'threshold where labels RowCount IsComplete ColumnValues now() days hours NULL')
)
_FRAGMENTS = st.sampled_from([
    "Rules = [", "]", "RowCount", " > ", " 5", ",", '"col"', " between 1 and ", "(", ")",
    " and ", " or ", " with threshold ", " where ", '"x > 1"', " in [", "NULL", " matches ",
    "now()", " - 3 days", "$v", "#c\n", "labels=[", '"a"="b"', "avg(last(3))", "\n", "=",
    "Analyzers = [", "Completeness", "ColumnValues", "IsUnique", " not ", "1.5e3", "-",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(_ALPHABET, max_size=80),
                 st.lists(_FRAGMENTS, max_size=25).map("".join), st.text(max_size=60)))
def test_parser_never_raises_anything_but_located_errors(text: str) -> None:
    try:
        parse_ruleset(text, source="fuzz.dqdl")
    except DQDLSyntaxError as exc:
        assert exc.location.line >= 1 and exc.location.column >= 1
        assert exc.message.startswith("fuzz.dqdl:")
    except RuleDefinitionError as exc:
        assert exc.message
