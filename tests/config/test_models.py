"""ProjectConfig validated from Python data: cross-section rules, their locs, and helpers."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sluice.config import Column, Environment, ProjectConfig, PythonJob, SqlJob
from sluice.errors import ConfigError


def _problems(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as info:
        ProjectConfig.model_validate(data)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def _project(**sections: Any) -> dict[str, Any]:
    return {"project": "retail", **sections}


def test_minimal_project_has_the_documented_defaults() -> None:
    config = ProjectConfig(project="retail")
    assert config.dialect == "duckdb"
    assert config.retention.versions == 5
    assert config.promotion_order() == []
    assert Environment().target.warehouse == "duckdb"
    assert Environment().protection.auto_promote is True


def test_column_shorthand_is_a_type_with_nullable_default() -> None:
    config = ProjectConfig.model_validate(
        _project(datasets={"orders": {"contract": {"columns": {"id": "BIGINT"}}}})
    )
    contract = config.datasets["main.orders"].contract
    assert contract is not None
    assert contract.columns == {"id": Column(type="BIGINT", nullable=True)}


def test_dataset_names_are_qualified_everywhere() -> None:
    config = ProjectConfig.model_validate(
        _project(
            sources={"customers": {"format": "table", "table": "crm.customers"}},
            datasets={"orders": {}, "marts.summary": {}},
            jobs={
                "orders": {"type": "sql", "sql": "orders.sql", "output": "orders"},
                "summary": {
                    "type": "python",
                    "function": "summary.py:run",
                    "inputs": ["main.orders", "customers"],
                    "outputs": ["marts.summary"],
                },
            },
        )
    )
    assert config.dataset_names() == ["main.orders", "marts.summary"]
    assert list(config.all_datasets()) == ["main.customers", "main.orders", "marts.summary"]
    assert config.job_outputs("orders") == ["main.orders"]
    summary = config.jobs["summary"]
    assert isinstance(summary, PythonJob)
    assert summary.inputs == ["main.orders", "main.customers"]
    assert (summary.function_path, summary.function_name) == ("summary.py", "run")


def test_same_dataset_declared_twice_under_different_spellings() -> None:
    data = _project(
        sources={"orders": {"format": "csv", "path": "o.csv"}},
        datasets={"main.orders": {}, "x": {}, "main.x": {}},
    )
    assert _problems(data) == [
        (
            ("datasets", "main.orders"),
            "'main.orders' names the same dataset as 'orders' in sources",
        ),
        (("datasets", "main.x"), "'main.x' names the same dataset as 'x' in datasets"),
    ]


def test_job_inputs_must_be_declared_and_lists_have_no_repeats() -> None:
    data = _project(
        datasets={"a": {}, "b": {}},
        jobs={
            "j": {
                "type": "pyspark",
                "script": "j.py",
                "inputs": ["b", "nope", "b"],
                "outputs": ["a", "b"],
            }
        },
    )
    assert _problems(data) == [
        (("jobs", "j", "pyspark", "inputs", 2), "'main.b' is listed twice"),
        (
            ("jobs", "j", "pyspark", "outputs", 1),
            "'main.b' is both an input and an output of this job",
        ),
    ]
    data["jobs"]["j"]["inputs"] = ["nope"]
    assert _problems(data) == [
        (("jobs", "j", "pyspark", "inputs", 0), "'main.nope' is neither a source nor a dataset"),
    ]


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("jobs/enrich.py", "expected 'path/to/file.py:function', got 'jobs/enrich.py'"),
        (":run", "expected 'path/to/file.py:function', got ':run'"),
        ("jobs/enrich.py:1run", "'1run' after ':' is not a Python function name"),
        ("jobs/enrich.sql:run", "'jobs/enrich.sql' before ':' is not a .py file"),
        (
            "/abs/enrich.py:run",
            "'/abs/enrich.py' is absolute; paths must be relative to the project",
        ),
    ],
)
def test_python_function_spec(function: str, message: str) -> None:
    data = _project(
        datasets={"a": {}},
        jobs={"j": {"type": "python", "function": function, "outputs": ["a"]}},
    )
    assert _problems(data) == [(("jobs", "j", "python", "function"), f"Value error, {message}")]


def test_contract_primary_key_and_column_types() -> None:
    data = _project(
        dialect="spark",
        datasets={
            "a": {
                "contract": {
                    "columns": {"id": "BIGINT", "tags": "ARRAY<STRING>", "bad": "BIGINTT"},
                    "primary_key": ["idd"],
                }
            }
        },
    )
    assert _problems(data) == [
        (
            ("datasets", "a", "contract", "primary_key", 0),
            "primary key column 'idd' is not among the contract's columns; did you mean 'id'?",
        )
    ]
    data["datasets"]["a"]["contract"]["primary_key"] = ["id"]
    assert _problems(data) == [
        (
            ("datasets", "a", "contract", "columns", "bad", "type"),
            "'BIGINTT' is not a spark column type",
        )
    ]


@pytest.mark.parametrize(
    ("source", "problems"),
    [
        ({"format": "table"}, [(("table",), "'table' is required when format is 'table'")]),
        (
            {"format": "table", "table": "t", "path": "p"},
            [(("path",), "'path' is not used with format 'table'; remove it")],
        ),
        ({"format": "csv"}, [(("path",), "'path' is required for format 'csv'")]),
        (
            {"format": "json", "path": "p", "table": "t"},
            [(("table",), "'table' is only used with format 'table'")],
        ),
    ],
)
def test_source_needs_a_path_or_a_table(
    source: dict[str, str], problems: list[tuple[tuple[str, ...], str]]
) -> None:
    assert _problems(_project(sources={"raw.s": source})) == [
        (("sources", "raw.s", *loc), msg) for loc, msg in problems
    ]


def test_protection_with_approvers_but_no_approval_is_refused() -> None:
    data = _project(environments={"prod": {"protection": {"approvers": ["alice"]}}})
    assert _problems(data) == [
        (
            ("environments", "prod", "protection", "approvers"),
            "approvers are listed but approval_required is false, so nobody is asked; "
            "set approval_required: true or remove approvers",
        )
    ]


def test_reserved_parameter_names() -> None:
    data = _project(environments={"dev": {"parameters": {"env": "x", "project": "y"}}})
    assert [loc for loc, _ in _problems(data)] == [
        ("environments", "dev", "parameters", "env"),
        ("environments", "dev", "parameters", "project"),
    ]


def test_parameters_and_spark_conf_coerce_scalars_to_text() -> None:
    env = Environment.model_validate({"parameters": {"n": 5, "f": 1.5, "on": True, "off": False}})
    assert env.parameters == {"n": "5", "f": "1.5", "on": "true", "off": "false"}


def test_warehouse_must_be_duckdb_or_a_postgres_url_and_is_not_echoed() -> None:
    data = _project(
        environments={"dev": {"target": {"type": "local", "warehouse": "mysql://u:secret@h"}}}
    )
    ((loc, msg),) = _problems(data)
    assert loc == ("environments", "dev", "target", "local", "warehouse")
    assert "secret" not in msg


def test_an_aws_target_names_its_account_bucket_and_warehouse() -> None:
    env = Environment.model_validate({"target": {
        "type": "aws", "region": "eu-west-1", "bucket": "acme-data-prod",
        "role_arn": "arn:aws:iam::123456789012:role/sluice-deployer", "external_id": "x1",
        "redshift": {"database": "dev", "workgroup": "analytics"}}})
    assert env.target.type == "aws"
    assert env.target.redshift is not None and env.target.redshift.workgroup == "analytics"
    assert env.target.glue_database_prefix is None  # <env>_ by default


@pytest.mark.parametrize(("target", "where", "words"), [
    ({"region": "Ireland", "bucket": "acme"}, ("region",), "pattern"),
    ({"region": "eu-west-1", "bucket": "Acme_Data"}, ("bucket",), "pattern"),
    ({"region": "eu-west-1"}, ("bucket",), "required"),
    ({"region": "eu-west-1", "bucket": "acme", "role_arn": "deployer"}, ("role_arn",), "pattern"),
    ({"region": "eu-west-1", "bucket": "acme", "external_id": "x"}, (), "role_arn"),
    ({"region": "eu-west-1", "bucket": "acme", "redshift": {"database": "d"}}, ("redshift",),
     "exactly one of workgroup"),
    ({"region": "eu-west-1", "bucket": "acme", "regoin": "x"}, ("regoin",), "xtra"),
    ({"region": "eu-west-1", "bucket": "acme", "pyspark": "emr"}, ("pyspark",), "glue"),
])
def test_aws_target_problems_are_located(target: dict[str, Any], where: tuple[str, ...],
                                         words: str) -> None:
    problems = _problems(_project(environments={"prod": {"target": {"type": "aws", **target}}}))
    assert len(problems) == 1, problems
    ((loc, msg),) = problems
    assert loc[:4] == ("environments", "prod", "target", "aws")
    assert loc[4:4 + len(where)] == where
    assert words in msg


def test_workflow_triggers_and_crawlers_name_file_sources() -> None:
    problems = _problems(_project(
        sources={"raw.orders": {"format": "csv", "path": "raw/orders/*.csv"}},
        workflows={"nightly": {"definition": "wf.json", "triggers": ["raw.order"]}},
        crawlers={"raw": {"sources": ["raw.orders", "raw.nope"], "database": "raw"}}))
    assert problems == [
        (("workflows", "nightly", "triggers", 0),
         "'raw.order' is not a source with a path; did you mean 'raw.orders'?"),
        (("crawlers", "raw", "sources", 1),
         "'raw.nope' is not a source with a path; did you mean 'raw.orders'?"),
    ]


def test_promotion_defaults_to_file_order_and_next_environment() -> None:
    config = ProjectConfig.model_validate(
        _project(environments={"dev": {}, "staging": {}, "prod": {}, "sandbox": {}})
    )
    assert config.promotion_order() == ["dev", "staging", "prod", "sandbox"]
    config = ProjectConfig.model_validate(
        _project(
            environments={"dev": {}, "staging": {}, "prod": {}, "sandbox": {}},
            promotion=["dev", "staging", "prod"],
        )
    )
    assert config.next_environment("dev") == "staging"
    assert config.next_environment("prod") is None
    assert config.next_environment("sandbox") is None  # outside the promotion chain


def test_environment_lookup_suggests_a_name() -> None:
    config = ProjectConfig.model_validate(_project(environments={"dev": {}, "prod": {}}))
    with pytest.raises(ConfigError) as info:
        config.environment("prd")
    assert info.value.message == "unknown environment 'prd'; did you mean 'prod'?"
    assert info.value.tip == "environments in sluice.yaml: dev, prod"
    with pytest.raises(ConfigError):
        config.next_environment("qa")
    with pytest.raises(ConfigError) as info:
        ProjectConfig(project="retail").environment("dev")
    assert info.value.tip == "add one to sluice.yaml: environments: {dev: {target: {type: local}}}"


def test_job_outputs_accepts_a_model_and_rejects_an_unknown_name() -> None:
    config = ProjectConfig.model_validate(
        _project(
            datasets={"a": {}},
            jobs={"orders": {"type": "sql", "sql": "a.sql", "output": "a"}},
        )
    )
    assert config.job_outputs(SqlJob(type="sql", sql="x.sql", output="b")) == ["main.b"]
    with pytest.raises(ConfigError) as info:
        config.job_outputs("order")
    assert info.value.message == "unknown job 'order'; did you mean 'orders'?"


def test_every_model_forbids_unknown_keys() -> None:
    assert [loc for loc, _ in _problems(_project(retention={"version": 3}))] == [
        ("retention", "version")
    ]
