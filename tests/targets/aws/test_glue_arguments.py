"""A glue job's arguments on the aws target, without AWS: source locations, what the Glue
job keeps as DefaultArguments, secrets refused (never shown), outputs that must be
``${output:…}`` locations."""

from __future__ import annotations

from pathlib import Path

import pytest

from sluice import secrecy
from sluice.config import load_project
from sluice.errors import ConfigError
from sluice.targets.aws.glue_arguments import (
    check_outputs,
    default_arguments,
    refuse_secrets,
    source_url,
)
from sluice.targets.aws.target import AwsTarget

OBJECTS = "s3://bkt/sluice/envs/dev/objects/"

CONFIG = """\
project: args
sources:
  raw.daily: {{format: csv, path: "daily/2024-*/*.csv"}}
  raw.one: {{format: json, path: ref/countries.json}}
  raw.tbl: {{format: table, table: ext.t}}
datasets:
  curated.out: {{}}
  curated.other: {{}}
jobs:
  first:
    type: glue
    script: glue/first.py
    inputs: [raw.daily, raw.one]
    outputs: [curated.out]
    arguments:
{arguments}
  second:
    type: glue
    script: glue/second.py
    inputs: [curated.out]
    outputs: [curated.other]
    arguments:
      --IN: ${{input:curated.out}}
      --OUT: ${{output:curated.other}}
environments:
  dev:
    target: {{type: aws, region: eu-west-1, bucket: bkt,
             execution_role: "arn:aws:iam::123456789012:role/r"}}
    parameters: {{country: de, db_password: "s3cr3t-value"}}
"""

ARGUMENTS = """\
      --DAILY: ${input:raw.daily}
      --REF: ${input:raw.one}
      --OUTPUT_PATH: ${output:curated.out}
      --LABEL: "daily for ${country}"
      --enable-metrics: "true"
"""


def project(tmp_path: Path, arguments: str = ARGUMENTS) -> Path:
    root = tmp_path / "args"
    (root / "glue").mkdir(parents=True)
    (root / "glue" / "first.py").write_text("# first\n")
    (root / "glue" / "second.py").write_text("# second\n")
    (root / "sluice.yaml").write_text(CONFIG.format(arguments=arguments))
    return root


def test_sources_are_folders_or_their_one_file(tmp_path: Path) -> None:
    cfg = load_project(project(tmp_path), environment="dev")
    assert source_url(cfg, OBJECTS, "raw.daily", "first") == OBJECTS + "daily/"
    assert source_url(cfg, OBJECTS, "raw.one", "first") == OBJECTS + "ref/countries.json"
    with pytest.raises(ConfigError, match=r"raw\.tbl.* is a table source") as info:
        source_url(cfg, OBJECTS, "raw.tbl", "first")
    assert info.value.tip and "parquet source" in info.value.tip


def test_the_job_keeps_only_what_no_version_changes(tmp_path: Path) -> None:
    cfg = load_project(project(tmp_path), environment="dev")
    assert default_arguments(cfg, "first", OBJECTS) == {
        "--DAILY": OBJECTS + "daily/", "--REF": OBJECTS + "ref/countries.json",
        "--LABEL": "daily for de", "--enable-metrics": "true"}
    assert default_arguments(cfg, "second", OBJECTS) == {}


def test_an_argument_holding_a_secret_is_refused_without_showing_it(tmp_path: Path) -> None:
    root = project(tmp_path, ARGUMENTS + "      --DB: \"user:${db_password}\"\n")
    cfg = load_project(root, environment="dev")  # registers db_password's value as secret
    target = AwsTarget("dev", tmp_path / "home", region="eu-west-1", bucket="bkt",
                       execution_role="arn:aws:iam::123456789012:role/r")
    try:
        with pytest.raises(ConfigError) as info:
            target.components().glue_spec(cfg, root, "first")
        assert info.value.message.startswith("sluice.yaml:")  # at the argument's line
        line = int(info.value.message.split(":")[1])
        assert "--DB:" in (root / "sluice.yaml").read_text().splitlines()[line - 1]
        assert "argument --DB holds a secret value" in info.value.message
        assert "s3cr3t-value" not in info.value.message + (info.value.tip or "")
        assert info.value.tip and "Secrets Manager" in info.value.tip
        refuse_secrets("first", {"--LABEL": "daily for de"})  # nothing secret: no error
    finally:
        secrecy.forget(f"config:{root.resolve()}")
        target.close()


def test_every_output_must_be_an_output_location(tmp_path: Path) -> None:
    root = project(tmp_path, ARGUMENTS.replace("--OUTPUT_PATH: ${output:curated.out}",
                                               "--TABLE: curated.out"))
    cfg = load_project(root, environment="dev")
    with pytest.raises(ConfigError, match=r"no argument is \$\{output:curated\.out\}") as info:
        check_outputs(cfg, "first", root)
    assert info.value.tip and "--OUTPUT_PATH: ${output:curated.out}" in info.value.tip
    check_outputs(cfg, "second", root)
