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
