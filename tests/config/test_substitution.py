"""${name} substitution: the SQL-file function and the document rules of load_project."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import builtins, env_var_name, load_project, substitute
from sluice.errors import ConfigError

PARAMS = {"min_amount": "10", **builtins("dev", "retail")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("SELECT * FROM t WHERE amount >= ${min_amount}", "SELECT * FROM t WHERE amount >= 10"),
        ("${project}_${env}", "retail_dev"),
        ("literal $${min_amount}", "literal ${min_amount}"),
        ("$$${env}", "$${env}"),  # only `$${` escapes; the first `$` stays
        ("cost in $ and $x and {x}", "cost in $ and $x and {x}"),
        ("", ""),
    ],
)
def test_substitute(text: str, expected: str) -> None:
    assert substitute(text, PARAMS, where="jobs/orders.sql") == expected


def test_substituted_values_are_not_substituted_again() -> None:
    assert substitute("${a}", {"a": "${b}", "b": "x"}, where="q.sql") == "${b}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "SELECT 1\nWHERE a > ${min_amout}",
            "jobs/orders.sql:2:11: unknown parameter '${min_amout}' "
            "(known: env, min_amount, project); did you mean 'min_amount'?",
        ),
        ("SELECT ${a b}", "jobs/orders.sql:1:8: invalid parameter reference '${a b}'"),
        ("SELECT ${}", "jobs/orders.sql:1:8: invalid parameter reference '${}'"),
        ("x\n\n  ${env", "jobs/orders.sql:3:3: unterminated '${' (missing '}')"),
    ],
)
def test_substitute_errors_have_line_and_column(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        substitute(text, PARAMS, where="jobs/orders.sql")
    assert info.value.message == message


def test_unknown_parameter_tip_shows_the_escape() -> None:
    with pytest.raises(ConfigError) as info:
        substitute("${nope}", PARAMS, where="q.sql")
    assert info.value.tip == (
        "define 'nope' under the environment's parameters in sluice.yaml, "
        "or write $${nope} for a literal '${nope}'"
    )


def test_env_var_name() -> None:
    assert env_var_name("prod", "min_amount") == "SLUICE_ENV_PROD_MIN_AMOUNT"
    assert env_var_name("eu-west", "db_url") == "SLUICE_ENV_EU_WEST_DB_URL"


DOC = """\
project: retail
sources:
  raw.orders: {format: csv, path: "landing/${region}/${env}/orders.csv"}
datasets:
  orders:
    description: 'costs in $$${currency}'
environments:
  dev:
    parameters: {region: eu, prefix: "${project}-${env}"}
  prod:
    target: {type: local, warehouse: "${db_url}"}
    parameters: {region: us, db_url: "postgresql://u@h/${project}", only_prod: x}
"""


def _load(tmp_path: Path, environment: str | None, text: str = DOC) -> object:
    (tmp_path / "sluice.yaml").write_text(text, encoding="utf-8")
    return load_project(tmp_path, environment=environment, environ={})


def test_document_substitution_uses_the_selected_environment(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(DOC, encoding="utf-8")
    dev = load_project(tmp_path, environment="dev", environ={})
    assert dev.sources["raw.orders"].path == "landing/eu/dev/orders.csv"
    assert dev.datasets["main.orders"].description == "costs in $${currency}"
    assert dev.environment("dev").parameters == {"region": "eu", "prefix": "retail-dev"}
    # prod's section resolves against prod's own parameters, whichever environment is selected.
    assert dev.environment("prod").target.warehouse == "postgresql://u@h/retail"
    prod = load_project(tmp_path, environment="prod", environ={})
    assert prod.sources["raw.orders"].path == "landing/us/prod/orders.csv"


def test_environment_section_may_not_use_another_environments_parameters(
    tmp_path: Path,
) -> None:
    text = DOC.replace('prefix: "${project}-${env}"', 'prefix: "${region}"')
    (tmp_path / "sluice.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, environment="prod", environ={})
    # Parameter values may use only the built-ins, so `${region}` is unknown there.
    assert info.value.message == (
        "sluice.yaml:9:39: environments.dev.parameters.prefix: unknown parameter '${region}' "
        "(known: env, project)"
    )


def test_all_unknown_references_are_reported_together(tmp_path: Path) -> None:
    text = (
        "project: retail\n"
        "sources:\n"
        "  a:\n"
        "    format: csv\n"
        "    path: data/${x}\n"
        "  b:\n"
        "    format: csv\n"
        "    path: |\n"
        "      multi/${y}\n"
        "environments:\n"
        "  dev: {}\n"
    )
    (tmp_path / "sluice.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, environment="dev", environ={})
    # A single-line scalar is located at the `$`; a block scalar at its start.
    assert info.value.message == (
        "sluice.yaml:5:16: sources.a.path: unknown parameter '${x}' (known: env, project)\n"
        "sluice.yaml:8:11: sources.b.path: unknown parameter '${y}' (known: env, project)"
    )


def test_substituted_path_is_validated_after_substitution(tmp_path: Path) -> None:
    text = (
        "project: retail\n"
        "sources:\n"
        "  a: {format: csv, path: '${base}/a.csv'}\n"
        "environments:\n"
        "  dev: {parameters: {base: ../..}}\n"
    )
    (tmp_path / "sluice.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path, environment="dev", environ={})
    assert info.value.message == (
        "sluice.yaml:3:26: sources.a.path: '../../a.csv' escapes the project directory via '..'"
    )


def test_override_values_are_used_verbatim(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text(DOC, encoding="utf-8")
    config = load_project(
        tmp_path, environment="dev", environ={"SLUICE_ENV_DEV_REGION": "ap-${south}"}
    )
    assert config.sources["raw.orders"].path == "landing/ap-${south}/dev/orders.csv"
