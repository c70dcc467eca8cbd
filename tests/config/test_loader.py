"""load_project / check_files on fixture projects named after the failure they trigger."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.config import (
    Column,
    Contract,
    Dataset,
    Environment,
    LocalTarget,
    ProjectConfig,
    Protection,
    PySparkJob,
    PythonJob,
    Retention,
    Source,
    SqlJob,
    check_files,
    load_project,
)
from sluice.errors import ConfigError

PROJECTS = Path(__file__).parent / "projects"


def _error(project: str | Path, environment: str | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_project(PROJECTS / project, environment=environment, environ={})
    return info.value


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sluice.yaml").write_text(text, encoding="utf-8")
    return tmp_path


FIXED_TIP = "fix {root}/sluice.yaml at the line:column above"

CASES = [
    (
        "typo-key",
        # The typo is reported once, as a typo, not also as `type`/`output` missing.
        'sluice.yaml:6:20: datasets["staging.orders"].contract.columns.order_id.tpye: '
        "unknown key 'tpye'; did you mean 'type'?\n"
        "sluice.yaml:11:5: jobs.orders.outptu: unknown key 'outptu'; did you mean 'output'?",
    ),
    (
        "missing-output-dataset",
        "sluice.yaml:8:13: jobs.orders.output: 'staging.order' is not declared under "
        "'datasets'; did you mean 'staging.orders'?\n"
        "sluice.yaml:13:15: jobs.enrich.outputs[0]: 'marts.customer_orders' is not declared "
        "under 'datasets'; declare it with its contract",
    ),
    (
        "bad-promotion",
        "sluice.yaml:6:18: promotion[1]: unknown environment 'stagin'; did you mean 'staging'?\n"
        "sluice.yaml:6:32: promotion[3]: environment 'dev' appears twice",
    ),
    (
        "path-escape",
        "sluice.yaml:4:12: datasets[\"staging.orders\"].rules: '/etc/quality.dqdl' is absolute; "
        "paths must be relative to the project\n"
        "sluice.yaml:8:10: jobs.orders.sql: 'jobs/../../secrets.sql' escapes the project "
        "directory via '..'\n"
        "sluice.yaml:12:15: jobs.enrich.function: '../enrich.py' escapes the project "
        "directory via '..'",
    ),
    (
        "bad-job-type",
        "sluice.yaml:6:11: jobs.orders: unknown type 'sqll'; expected one of: sql, python, "
        "pyspark, glue; did you mean 'sql'?\n"
        "sluice.yaml:8:3: jobs.other: missing 'type' (one of: sql, python, pyspark, glue)",
    ),
    (
        "written-twice",
        "sluice.yaml:14:15: jobs.b.outputs[0]: 'staging.orders' is already written by job 'a'\n"
        "sluice.yaml:14:31: jobs.b.outputs[1]: 'raw.orders' is a source; a source is never "
        "written by a job",
    ),
]


@pytest.mark.parametrize(("project", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_project_reports_each_problem_at_its_line_and_column(
    project: str, message: str
) -> None:
    err = _error(project)
    assert err.message == message
    assert err.tip == FIXED_TIP.format(root=PROJECTS / project)
    assert err.exit_code == 2


def test_yaml_syntax_error_is_located_at_the_yaml_mark() -> None:
    err = _error("yaml-syntax")
    assert err.message == "sluice.yaml:5:9: YAML syntax error: mapping values are not allowed here"
    assert err.tip == (
        "check indentation at that line, and quote values containing ':', '#', '{', '}', '[' or ']'"
    )


def test_duplicate_yaml_key_is_an_error_not_a_silent_override() -> None:
    err = _error("duplicate-key")
    assert err.message == "sluice.yaml:4:1: duplicate key 'datasets' (first defined at line 2)"


def test_unknown_parameter_names_location_and_known_parameters() -> None:
    err = _error("unknown-parameter", environment="dev")
    assert err.message == (
        "sluice.yaml:5:16: sources[\"raw.orders\"].path: unknown parameter '${region}' "
        "(known: env, project, regoin); did you mean 'regoin'?"
    )
    assert err.tip == (
        "define 'region' under environments.dev.parameters, or write $${region} "
        "for a literal '${region}'"
    )


def test_without_environment_nothing_is_substituted() -> None:
    config = load_project(PROJECTS / "unknown-parameter")
    assert config.sources["raw.orders"].path == "raw/${region}/orders.csv"


def test_missing_sluice_yaml(tmp_path: Path) -> None:
    err = _error(tmp_path)
    assert err.message == f"no sluice.yaml in {tmp_path}"
    assert err.tip == f"sluice init {tmp_path}"


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_empty_sluice_yaml(tmp_path: Path, text: str) -> None:
    err = _error(_write(tmp_path, text))
    assert err.message == f"sluice.yaml in {tmp_path} is empty"
    assert err.tip == f"sluice init {tmp_path}"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "- a\n- b\n"))
    assert (
        err.message == "sluice.yaml:1:1: (top level): expected a mapping (key: value), got a list"
    )


def test_missing_required_key_points_at_the_parent(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "project: retail\njobs:\n  orders:\n    type: sql\n"))
    assert err.message == (
        "sluice.yaml:3:3: jobs.orders: missing required key 'sql'\n"
        "sluice.yaml:3:3: jobs.orders: missing required key 'output'"
    )


def test_unknown_key_without_close_match_lists_allowed_keys(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "project: retail\nowner: data-team\n"))
    assert err.message == (
        "sluice.yaml:2:1: owner: unknown key 'owner' (allowed: project, dialect, sources, "
        "datasets, jobs, environments, promotion, retention, workflows, stacks, functions, "
        "crawlers, checks, migrations, access, pipeline, triggers, schedules, notifications, "
        "server)"
    )


def test_literal_and_type_errors_are_reworded(tmp_path: Path) -> None:
    text = (
        "project: retail\n"
        "dialect: duckdbb\n"
        "sources:\n"
        "  raw.a: {format: parquett, path: a}\n"
        "environments:\n"
        "  dev:\n"
        "    target: {type: lokal}\n"
        "    parameters: {ok: [1]}\n"
        "retention: {versions: 0}\n"
    )
    err = _error(_write(tmp_path, text))
    assert err.message == (
        "sluice.yaml:2:10: dialect: unknown SQL dialect 'duckdbb'; did you mean 'duckdb'?\n"
        "sluice.yaml:4:19: sources[\"raw.a\"].format: 'parquett' is not allowed; expected "
        "'csv', 'json', 'parquet' or 'table'; did you mean 'parquet'?\n"
        "sluice.yaml:7:20: environments.dev.target: unknown type 'lokal'; expected one of: "
        "local, aws; did you mean 'local'?\n"
        "sluice.yaml:8:22: environments.dev.parameters.ok: expected a string, got a list\n"
        "sluice.yaml:9:23: retention.versions: must be greater than or equal to 1"
    )


def test_x_prefixed_top_level_keys_hold_anchors(tmp_path: Path) -> None:
    text = (
        "x-local: &local {target: {type: local}}\n"
        "project: retail\n"
        "environments:\n"
        "  dev: *local\n"
        "  prod:\n"
        "    <<: *local\n"
        "    protection: {require_checks: true}\n"
    )
    config = load_project(_write(tmp_path, text))
    assert config.environment("prod").protection.require_checks is True
    assert config.environment("dev").target == LocalTarget(type="local")


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    err = _error(_write(tmp_path, "project: retail\nx-a: &a [*a]\n"))
    assert err.message == "sluice.yaml:2:6: a recursive alias (an anchor used inside itself)"


def test_unknown_environment_is_suggested(tmp_path: Path) -> None:
    err = _error(PROJECTS / "full", environment="prd")
    assert err.message == "unknown environment 'prd'; did you mean 'prod'?"
    assert err.tip == "environments in sluice.yaml: dev, staging, prod"


# -- the full, valid project ---------------------------------------------------------------


def test_full_project_loads_into_the_expected_model() -> None:
    config = load_project(PROJECTS / "full", environ={})
    contract = Contract(
        columns={
            "order_id": Column(type="BIGINT", nullable=False),
            "amount": Column(type="DOUBLE"),
            "status": Column(type="VARCHAR"),
        },
        primary_key=["order_id"],
        allow_extra_columns=False,
    )
    assert config == ProjectConfig(
        project="retail",
        dialect="duckdb",
        sources={
            "raw.orders": Source(
                format="csv",
                path="raw/orders/*.csv",
                contract=Contract(
                    columns={"order_id": Column(type="BIGINT"), "amount": Column(type="DOUBLE")}
                ),
            ),
            "raw.customers": Source(format="table", table="crm.customers"),
            "raw.events": Source(format="parquet", path="raw/events/"),
        },
        datasets={
            "staging.orders": Dataset(
                contract=contract,
                rules="quality/orders.dqdl",
                description="Orders, deduplicated and typed",
            ),
            "marts.customer_orders": Dataset(),
            "staging.events": Dataset(),
        },
        jobs={
            "orders": SqlJob(type="sql", sql="jobs/orders.sql", output="staging.orders"),
            "enrich": PythonJob(
                type="python",
                function="jobs/enrich.py:run",
                inputs=["staging.orders", "raw.customers"],
                outputs=["marts.customer_orders"],
            ),
            "big": PySparkJob(
                type="pyspark",
                script="jobs/big.py",
                inputs=["raw.events"],
                outputs=["staging.events"],
                spark_conf={"spark.sql.shuffle.partitions": "8"},
            ),
        },
        environments={
            # An environment's own section resolves ${env}/${project} even unselected.
            "dev": Environment(
                target=LocalTarget(type="local"),
                parameters={"min_amount": "0", "bucket": "data-dev"},
            ),
            "staging": Environment(
                target=LocalTarget(type="local", warehouse="postgresql://localhost/retail"),
                parameters={"min_amount": "0", "bucket": "data-staging"},
            ),
            "prod": Environment(
                target=LocalTarget(type="local"),
                parameters={"min_amount": "10", "debug": "false", "bucket": "data-retail"},
                protection=Protection(
                    approval_required=True,
                    approvers=["alice", "bob"],
                    auto_promote=False,
                    require_checks=True,
                ),
            ),
        },
        promotion=["dev", "staging", "prod"],
        retention=Retention(versions=5),
    )
    assert config.promotion_order() == ["dev", "staging", "prod"]
    assert config.next_environment("staging") == "prod"
    assert config.job_outputs("orders") == ["staging.orders"]


def test_full_project_files_exist() -> None:
    root = PROJECTS / "full"
    check_files(load_project(root), root)


def test_environment_variable_overrides_a_declared_parameter() -> None:
    environ = {
        "SLUICE_ENV_PROD_MIN_AMOUNT": "25",
        "SLUICE_ENV_PROD_BUCKET": "raw-${not_substituted}",
        "SLUICE_ENV_PROD_UNDECLARED": "ignored",
    }
    config = load_project(PROJECTS / "full", environment="prod", environ=environ)
    assert config.environment("prod").parameters == {
        "min_amount": "25",
        "debug": "false",
        "bucket": "raw-${not_substituted}",
    }
    assert config.environment("dev").parameters["min_amount"] == "0"


def test_environment_variable_override_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_ENV_DEV_MIN_AMOUNT", "7")
    assert load_project(PROJECTS / "full").environment("dev").parameters["min_amount"] == "7"


# -- check_files -----------------------------------------------------------------------------


def test_missing_files_are_reported_at_their_reference() -> None:
    root = PROJECTS / "missing-files"
    with pytest.raises(ConfigError) as info:
        check_files(load_project(root), root)
    assert info.value.message == (
        'sluice.yaml:4:12: datasets["staging.orders"].rules: file not found: '
        "'quality/orders.dqdl'\n"
        "sluice.yaml:8:10: jobs.orders.sql: file not found: 'jobs/order.sql'; "
        "did you mean 'jobs/orders.sql'?"
    )
    assert info.value.tip == f"create the missing files or fix the paths (relative to {root})"


def test_symlink_leaving_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sql"
    outside.write_text("SELECT 1")
    root = tmp_path / "project"
    (root / "jobs").mkdir(parents=True)
    (root / "jobs" / "orders.sql").symlink_to(outside)
    text = (
        "project: retail\n"
        "datasets: {orders: {}}\n"
        "jobs:\n"
        "  orders: {type: sql, sql: jobs/orders.sql, output: orders}\n"
    )
    _write(root, text)
    with pytest.raises(ConfigError) as info:
        check_files(load_project(root), root)
    assert info.value.message == (
        "sluice.yaml:4:28: jobs.orders.sql: 'jobs/orders.sql' resolves outside the project "
        "(through a symlink)"
    )


def test_dataset_keys_are_located_as_written(tmp_path: Path) -> None:
    # `orders` is qualified to main.orders in the model; the error still points at `orders`.
    root = _write(tmp_path, "project: retail\ndatasets:\n  orders: {rules: rules/o.dqdl}\n")
    config = load_project(root)
    assert config.dataset_names() == ["main.orders"]
    with pytest.raises(ConfigError) as info:
        check_files(config, root)
    assert info.value.message == (
        "sluice.yaml:3:19: datasets.orders.rules: file not found: 'rules/o.dqdl'"
    )
