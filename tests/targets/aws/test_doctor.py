"""``sluice doctor``'s permission check through IAM's policy simulator (moto has none, so
botocore's Stubber answers, validated against IAM's API model), and the policy's shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from sluice.config import ProjectConfig
from sluice.targets import create_target
from sluice.targets.aws.doctor import _permissions, principal_arn
from sluice.targets.aws.permissions import grants, policy
from sluice.targets.aws.target import AwsTarget

pytestmark = pytest.mark.aws
ROLE = "arn:aws:iam::123456789012:role/deployer"


def config(**extra: Any) -> ProjectConfig:
    return ProjectConfig.model_validate({"project": "retail", "environments": {"prod": {
        "target": {"type": "aws", "region": "eu-west-1", "bucket": "acme-prod",
                   "role_arn": ROLE, "kms_key_id": "1234abcd-12ab-34cd-56ef-1234567890ab",
                   **extra}}}})


def test_an_assumed_role_session_is_simulated_as_its_role() -> None:
    assert principal_arn("arn:aws:sts::123456789012:assumed-role/deployer/sluice-prod-ci") \
        == ROLE
    assert principal_arn("arn:aws:iam::123456789012:user/ada") == \
        "arn:aws:iam::123456789012:user/ada"


def test_a_denied_action_fails_with_the_action_and_resource(aws: str, tmp_path: Path) -> None:
    cfg = config()
    target = create_target("aws", "prod", tmp_path, region="eu-west-1", bucket="acme-prod",
                           endpoint_url=aws)
    assert isinstance(target, AwsTarget)
    iam = target.aws.client("iam")
    with Stubber(iam) as stub:
        for g in grants(cfg, "prod"):
            params: dict[str, Any] = {"PolicySourceArn": ROLE, "ActionNames": list(g.actions)}
            if g.resources != ("*",):
                params["ResourceArns"] = list(g.resources)
            denied = g.sid == "Kms"
            results = [{"EvalActionName": a, "EvalResourceName": g.resources[0],
                        "EvalDecision": "implicitDeny" if denied and a == "kms:Decrypt"
                        else "allowed"} for a in g.actions]
            stub.add_response("simulate_principal_policy", {"EvaluationResults": results},
                              params)
        found = {f.check: f for f in _permissions(target, cfg, ROLE)}
        stub.assert_no_pending_responses()
    kms = found["permissions: Kms"]
    assert kms.status == "fail"
    assert kms.detail == ("denied: kms:Decrypt on arn:aws:kms:eu-west-1:123456789012:key/"
                          "1234abcd-12ab-34cd-56ef-1234567890ab")
    assert {f.status for c, f in found.items() if c != "permissions: Kms"} == {"ok"}


def test_the_policy_grants_only_what_the_project_uses() -> None:
    plain = {s["Sid"] for s in policy(config(), "prod")["Statement"]}
    assert {"Bucket", "Objects", "Kms", "Gluecatalog", "Notifications"} <= plain
    assert not plain & {"Stepfunctions", "Lambda", "Cloudformation", "Gluejobs", "Passrole",
                        "Redshiftdata"}
    with_redshift = policy(config(redshift={"database": "dev", "workgroup": "wg"}), "prod")
    sids = {s["Sid"]: s for s in with_redshift["Statement"]}
    assert sids["Redshiftserverless"]["Action"] == ["redshift-serverless:GetCredentials"]
    tables = sids["Gluecatalog"]["Resource"]
    assert "arn:aws:glue:eu-west-1:123456789012:table/prod_*/*" in tables


def test_a_kms_alias_is_granted_through_the_keys_that_carry_it() -> None:
    statements = {s["Sid"]: s for s in policy(config(kms_key_id="alias/sluice"),
                                              "prod")["Statement"]}
    kms = statements["Kms"]
    assert kms["Resource"] == "arn:aws:kms:eu-west-1:123456789012:key/*"
    assert kms["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases":
                                                             "alias/sluice"}}


def test_a_stack_service_role_is_passed_not_its_resources_granted() -> None:
    cfg = ProjectConfig.model_validate({
        "project": "retail",
        "stacks": {"landing": {"template": "stacks/landing.yaml",
                               "role": "arn:aws:iam::123456789012:role/cfn-service"}},
        "environments": {"prod": {"target": {"type": "aws", "region": "eu-west-1",
                                             "bucket": "acme-prod", "role_arn": ROLE}}}})
    sids = {s["Sid"]: s for s in policy(cfg, "prod")["Statement"]}
    assert sids["Passrole"]["Resource"] == "arn:aws:iam::123456789012:role/cfn-service"
    assert "cloudformation:CreateChangeSet" in sids["Cloudformation"]["Action"]


def test_a_glue_job_is_granted_its_jobs_and_passes_its_role() -> None:
    cfg = ProjectConfig.model_validate({
        "project": "retail",
        "datasets": {"curated.persons": {}, "curated.other": {}},
        "jobs": {"persons": {"type": "glue", "script": "glue/persons.py",
                             "outputs": ["curated.persons"],
                             "arguments": {"--OUTPUT_PATH": "${output:curated.persons}"},
                             "glue": {"role": "arn:aws:iam::123456789012:role/glue-own"}},
                 "other": {"type": "glue", "script": "glue/other.py",
                           "outputs": ["curated.other"]}},
        "environments": {"prod": {"target": {
            "type": "aws", "region": "eu-west-1", "bucket": "acme-prod", "role_arn": ROLE,
            "execution_role": "arn:aws:iam::123456789012:role/glue-default"}}}})
    sids = {s["Sid"]: s for s in policy(cfg, "prod")["Statement"]}
    jobs = sids["Gluejobs"]
    assert jobs["Resource"] == "arn:aws:glue:eu-west-1:123456789012:job/retail-prod-*"
    assert {"glue:CreateJob", "glue:UpdateJob", "glue:StartJobRun", "glue:GetJobRun",
            "glue:BatchStopJobRun"} <= set(jobs["Action"])
    # its own role, and the target's for the job that names none
    assert sids["Passrole"]["Resource"] == ["arn:aws:iam::123456789012:role/glue-default",
                                            "arn:aws:iam::123456789012:role/glue-own"]


def test_doctor_says_which_glue_jobs_cannot_run_as_written(aws: str, tmp_path: Path) -> None:
    from sluice.targets.aws.doctor import _glue_jobs

    cfg = ProjectConfig.model_validate({
        "project": "retail",
        "sources": {"raw.persons": {"format": "json", "path": "persons/*.json"}},
        "datasets": {"curated.persons": {}, "curated.other": {}},
        "jobs": {"persons": {"type": "glue", "script": "glue/persons.py",
                             "inputs": ["raw.persons"], "outputs": ["curated.persons"],
                             "arguments": {"--SRC": "${input:raw.persons}",
                                           "--OUTPUT_PATH": "${output:curated.persons}"},
                             "glue": {"role": "arn:aws:iam::123456789012:role/missing"}},
                 "other": {"type": "glue", "script": "glue/other.py",
                           "outputs": ["curated.other"]}},
        "environments": {"prod": {"target": {"type": "aws", "region": "eu-west-1",
                                             "bucket": "acme-prod"}}}})
    target = create_target("aws", "prod", tmp_path, region="eu-west-1", bucket="acme-prod",
                           endpoint_url=aws)
    assert isinstance(target, AwsTarget)
    found = {f.check: f for f in _glue_jobs(target, cfg)}
    assert found["glue job persons"].status == "ok"
    assert "1 of its 2 arguments kept" in found["glue job persons"].detail
    assert found["glue job other"].status == "fail"
    assert "no argument is ${output:curated.other}" in found["glue job other"].detail
    assert found["execution role"].status == "fail"
    assert "role/missing does not exist" in found["execution role"].detail
