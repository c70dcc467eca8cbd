"""The cfn check: cfn-lint on each stack's template, once per environment's parameters."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice.check.base import Unit
from sluice.check.context import CheckContext, CheckOptions
from sluice.check.kinds import cfn
from sluice.check.kinds.cfn import CfnCheck, StackLint, lint_stack
from sluice.check.model import CheckReport, CheckResult, Status
from sluice.check.runner import run_checks
from sluice.errors import SluiceError

CONFIG = """\
project: demo
environments:
  dev:
    target: {type: local}
    parameters: {env_name: dev{dev_extra}}
  prod:
    target: {type: local}
    parameters: {env_name: prod{prod_extra}}
stacks:
  storage:
    template: infra/storage.yaml
    parameters: {Env: "${env_name}"}
"""

VALID = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "demo-data-${Env}"
"""


def project(root: Path, template: str, *, dev_extra: str = "", prod_extra: str = "") -> Path:
    config = CONFIG.replace("{dev_extra}", dev_extra).replace("{prod_extra}", prod_extra)
    (root / "sluice.yaml").write_text(config, encoding="utf-8")
    (root / "infra").mkdir()
    (root / "infra" / "storage.yaml").write_text(template, encoding="utf-8")
    return root


def check(root: Path) -> CheckReport:
    return run_checks(root, root / ".sluice", CheckOptions(use_cache=False), [CfnCheck()])


def by_name(report: CheckReport) -> dict[str, CheckResult]:
    return {r.name: r for r in report.results}


def units(root: Path) -> dict[str, Unit]:
    ctx = CheckContext(root, root / ".sluice", CheckOptions())
    return {u.name: u for u in CfnCheck().units(ctx)}


@pytest.mark.slow
def test_valid_template_passes_for_every_environment(tmp_path: Path) -> None:
    results = by_name(check(project(tmp_path, VALID)))
    assert sorted(results) == ["storage@dev", "storage@prod"]
    for env, result in [("dev", results["storage@dev"]), ("prod", results["storage@prod"])]:
        assert result.status == Status.PASSED, result.findings
        assert result.findings == []
        assert result.detail == f"cfn-lint {cfn.cfn_lint_version()}, parameters of {env}"


@pytest.mark.slow
def test_misspelled_property_fails_at_its_line(tmp_path: Path) -> None:
    template = VALID.replace("BucketName:", "BucketNam:")
    results = by_name(check(project(tmp_path, template)))
    for result in results.values():
        assert result.status == Status.FAILED
        [finding] = result.findings
        assert (finding.path, finding.line, finding.col) == ("infra/storage.yaml", 10, 7)
        assert (finding.code, finding.severity) == ("E3002", "error")
        assert "BucketName" in finding.message  # cfn-lint's "did you mean"
        assert "parameters" not in finding.message  # the same for every environment
        assert finding.tip


@pytest.mark.slow
def test_value_allowed_in_dev_but_not_in_prod_fails_prod_only(tmp_path: Path) -> None:
    template = VALID.replace("[dev, prod]", "[dev, staging]")
    results = by_name(check(project(tmp_path, template)))
    assert results["storage@dev"].status == Status.PASSED
    prod = results["storage@prod"]
    assert prod.status == Status.FAILED
    [finding] = prod.findings
    assert finding.code == "E2900"
    assert (finding.path, finding.line) == ("infra/storage.yaml", 3)
    assert finding.message.endswith("(with prod's parameters)")
    assert "'prod'" in finding.message
    assert "stacks.storage.parameters" in finding.tip


@pytest.mark.slow
def test_yaml_syntax_error_is_reported_at_its_line(tmp_path: Path) -> None:
    template = VALID.replace('    Type: AWS::S3::Bucket\n', '    Type: [AWS::S3::Bucket\n')
    results = by_name(check(project(tmp_path, template)))
    for result in results.values():
        assert result.status == Status.FAILED
        [finding] = result.findings
        assert finding.code == "E0000"
        assert finding.path == "infra/storage.yaml"
        assert finding.line == 9


@pytest.mark.slow
def test_warnings_alone_do_not_fail(tmp_path: Path) -> None:
    unused = "  Unused:\n    Type: String\n    Default: x\n"
    template = VALID.replace("Resources:", unused + "Resources:")
    results = by_name(check(project(tmp_path, template)))
    for result in results.values():
        assert result.status == Status.PASSED
        [finding] = result.findings
        assert (finding.code, finding.severity, finding.line) == ("W2001", "warning", 6)


@pytest.mark.slow
def test_unsupported_region_is_a_failure_of_the_check_itself(tmp_path: Path) -> None:
    results = by_name(check(project(tmp_path, VALID, prod_extra=", region: mars-1")))
    assert results["storage@dev"].status == Status.PASSED
    prod = results["storage@prod"]
    assert prod.status == Status.FAILED
    [finding] = prod.findings
    assert "cfn-lint failed on infra/storage.yaml with prod's parameters" in finding.message
    assert "mars-1" in finding.message
    assert "--regions mars-1" in finding.tip


def test_missing_template_is_reported_where_sluice_yaml_names_it(tmp_path: Path) -> None:
    project(tmp_path, VALID)
    (tmp_path / "infra" / "storage.yaml").unlink()
    outcome = units(tmp_path)["storage@dev"].run()
    assert outcome.status == Status.FAILED
    [finding] = outcome.findings
    assert (finding.path, finding.line) == ("sluice.yaml", 11)
    assert "infra/storage.yaml not found" in finding.message


def test_units_key_each_environments_parameters_region_and_tool(tmp_path: Path) -> None:
    project(tmp_path, VALID, prod_extra=", aws_region: eu-west-1")
    (tmp_path / ".cfnlintrc").write_text("ignore_checks: [W2001]\n", encoding="utf-8")
    found = units(tmp_path)
    assert found["storage@dev"].key == {"parameters": {"Env": "dev"}, "region": "us-east-1",
                                        "cfn-lint": cfn.cfn_lint_version()}
    assert found["storage@prod"].key["parameters"] == {"Env": "prod"}
    assert found["storage@prod"].key["region"] == "eu-west-1"
    assert found["storage@prod"].files == ("infra/storage.yaml", "sluice.yaml", ".cfnlintrc")


def test_environment_whose_config_does_not_load_gets_no_unit(tmp_path: Path) -> None:
    project(tmp_path, VALID)
    config = tmp_path / "sluice.yaml"
    config.write_text(config.read_text().replace("${env_name}", "${bucket}")
                      .replace("{env_name: dev}", "{env_name: dev, bucket: b}"))
    assert list(units(tmp_path)) == ["storage@dev"]


def test_no_stacks_no_units(tmp_path: Path) -> None:
    (tmp_path / "sluice.yaml").write_text("project: demo\n", encoding="utf-8")
    assert units(tmp_path) == {}


def test_missing_cfn_lint_says_how_to_install_it(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cfn, "cfn_lint_version", lambda: None)
    results = by_name(check(project(tmp_path, VALID)))
    for result in results.values():
        assert result.status == Status.FAILED
        assert "cfn-lint is not installed" in result.findings[0].message
        assert "pip install cfn-lint" in result.findings[0].tip


def test_timeout_names_the_timeout(tmp_path: Path) -> None:
    project(tmp_path, VALID)
    ctx = CheckContext(tmp_path, tmp_path / ".sluice", CheckOptions())
    lint = StackLint("storage", "dev", "infra/storage.yaml", {"Env": "dev"}, "us-east-1", 0)
    with pytest.raises(SluiceError, match="within the 0s timeout") as info:
        lint_stack(ctx, lint, "1.0")
    assert "checks.timeout" in (info.value.tip or "")


REGISTRY = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Repo:
    Type: GitHub::Repositories::Repository
    Properties: {Name: pipelines}
  Typo:
    Type: AWS::S3::Buckett
"""


@pytest.mark.slow
def test_a_registry_type_is_a_warning_and_a_stack_without_parameters_says_so(
        tmp_path: Path) -> None:
    root = project(tmp_path, REGISTRY)
    config = (root / "sluice.yaml").read_text().replace(
        '    parameters: {Env: "${env_name}"}\n', "")
    (root / "sluice.yaml").write_text(config)
    result = by_name(check(root))["storage@dev"]
    assert result.detail == f"cfn-lint {cfn.cfn_lint_version()}, no parameters"
    by_line = {f.line: f for f in result.findings}
    registry, typo = by_line[4], by_line[7]
    assert (registry.severity, registry.code) == ("warning", "E3006")
    assert registry.message == ("resource type GitHub::Repositories::Repository is not one "
                                "cfn-lint knows (a third-party type of the CloudFormation "
                                "registry?)")
    assert "activate it in the account" in registry.tip
    assert (typo.severity, typo.code) == ("error", "E3006")  # AWS:: types are typos
    assert not any("parameters" in f.message for f in result.findings)
    assert result.status == Status.FAILED  # the typo


UNUSED = VALID.replace("Resources:", "  Unused: {Type: String, Default: x}\nResources:")


def codes(root: Path) -> dict[str, set[str]]:
    return {name: {f.code for f in r.findings} for name, r in by_name(check(root)).items()}


def test_a_stacks_lint_options_and_the_projects_cfnlintrc_change_the_findings(
        tmp_path: Path) -> None:
    root = project(tmp_path, UNUSED)
    assert codes(root) == {"storage@dev": {"W2001"}, "storage@prod": {"W2001"}}
    config = root / "sluice.yaml"
    plain = config.read_text()
    config.write_text(plain.replace(
        "    parameters: {Env: \"${env_name}\"}\n",
        "    parameters: {Env: \"${env_name}\"}\n"
        "    lint: {ignore_checks: [W2001], include_checks: [I], regions: [eu-west-1]}\n"))
    found = units(root)["storage@dev"]
    assert found.key["lint"] == {"ignore_checks": ["W2001"], "include_checks": ["I"],
                                 "regions": ["eu-west-1"]}
    assert "W2001" not in codes(root)["storage@dev"]
    config.write_text(plain)
    (root / ".cfnlintrc").write_text("ignore_checks: [W2001]\n", encoding="utf-8")
    assert codes(root) == {"storage@dev": set(), "storage@prod": set()}
