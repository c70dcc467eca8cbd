"""The retail example on AWS: dev, staging and prod are three moto accounts, each reached by
assuming its deployer role. Deploy → promote → approve → promote, a second release, then a
rollback of prod: through the real CLI, checked in each account's S3, Glue, Step Functions,
Lambda and CloudFormation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from tests.flow.conftest import Project
from tests.retail import copy_retail

pytestmark = pytest.mark.aws

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
DATASETS = {"staging.orders", "marts.customer_orders", "marts.product_sales"}

NIGHTLY = {"Comment": "notify after the nightly load", "StartAt": "Notify", "States": {
    "Notify": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": "notify", "Payload": {"env": "${env}"}},
               "End": True}}}
STACK = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String}
Resources:
  Landing:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "retail-landing-${Env}"
"""
COMPONENTS = """
workflows:
  nightly:
    definition: workflows/nightly.asl.json
    triggers: [raw.orders]
functions:
  notify:
    code: functions/notify.py
    handler: notify.handler
stacks:
  landing:
    template: stacks/landing.yaml
    parameters: {Env: "${env}"}
crawlers:
  raw_orders:
    sources: [raw.orders]
    database: raw
"""


def environments(endpoint: str) -> str:
    out = ["environments:"]
    for env, account in ACCOUNTS.items():
        target = {"type": "aws", "region": "eu-west-1", "bucket": f"acme-retail-{env}",
                  "role_arn": f"arn:aws:iam::{account}:role/sluice-deployer",
                  "external_id": "retail-ci", "endpoint_url": endpoint,
                  "execution_role": f"arn:aws:iam::{account}:role/sluice-exec",
                  "glue_database_prefix": ""}
        out += [f"  {env}:", f"    target: {json.dumps(target)}",
                '    parameters: {min_amount: "0"}']
        if env == "prod":
            out += ["    protection: {approval_required: true, auto_promote: false}"]
    return "\n".join(out) + "\n"


def account(endpoint: str, env: str) -> Any:
    """A boto3 session in an environment's account (as sluice reaches it: assume-role)."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="eu-west-1")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNTS[env]}:role/sluice-deployer",
                            RoleSessionName="test-inspect", ExternalId="retail-ci")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="eu-west-1")


@pytest.fixture
def on_aws(tmp_path: Path, aws: str) -> Project:
    root = copy_retail(tmp_path / "retail", spark=False)
    config = (root / "sluice.yaml").read_text()
    head, _, tail = config.partition("environments:")
    config = head + environments(aws) + "\npromotion:" + tail.partition("\npromotion:")[2]
    (root / "sluice.yaml").write_text(config + COMPONENTS)
    (root / "workflows").mkdir()
    (root / "workflows" / "nightly.asl.json").write_text(json.dumps(NIGHTLY, indent=2))
    (root / "functions").mkdir()
    (root / "functions" / "notify.py").write_text("def handler(event, context):\n"
                                                  "    return {'ok': True}\n")
    (root / "stacks").mkdir()
    (root / "stacks" / "landing.yaml").write_text(STACK)
    for env in ACCOUNTS:  # what each account's platform team provides: the execution role
        account(aws, env).client("iam", endpoint_url=aws).create_role(
            RoleName="sluice-exec", AssumeRolePolicyDocument="{}")
    project = Project(root)
    project.init_git()
    return project


def glue_locations(session: Any, endpoint: str) -> dict[str, str]:
    glue = session.client("glue", endpoint_url=endpoint)
    out = {}
    for db in ("staging", "marts"):
        for t in glue.get_tables(DatabaseName=db)["TableList"]:
            out[f"{db}.{t['Name']}"] = t["StorageDescriptor"]["Location"]
    return out


def alias_definition(session: Any, endpoint: str, env: str) -> dict[str, Any]:
    sfn = session.client("stepfunctions", endpoint_url=endpoint)
    arn = f"arn:aws:states:eu-west-1:{ACCOUNTS[env]}:stateMachine:retail-{env}-nightly"
    alias = sfn.describe_state_machine_alias(stateMachineAliasArn=f"{arn}:live")
    version = alias["routingConfiguration"][0]["stateMachineVersionArn"]
    found: dict[str, Any] = json.loads(
        sfn.describe_state_machine(stateMachineArn=version)["definition"])
    return found


def test_deploy_promote_and_roll_back_across_three_accounts(on_aws: Project, aws: str) -> None:
    p = on_aws
    r1 = p.json("release")["id"]
    for env in ACCOUNTS:
        assert "copied" in p.ok("load", env, "data").out

    plan = p.json("plan", "dev")
    # a plan changes nothing: not even the release bundle is uploaded
    dev_s3 = account(aws, "dev").client("s3", endpoint_url=aws)
    assert dev_s3.list_objects_v2(Bucket="acme-retail-dev", Prefix="sluice/releases/")[
        "KeyCount"] == 0
    assert {(c["kind"], c["name"], c["action"]) for c in plan["components"]} == {
        ("stack", "landing", "create"), ("function", "notify", "create"),
        ("workflow", "nightly", "create"), ("crawler", "raw_orders", "create")}
    dev = p.json("deploy", "dev")
    assert set(dev["new_versions"]) == DATASETS
    p.ok("promote", "dev", "staging")
    refused = p.sluice("promote", "staging", "prod")
    assert refused.code != 0 and "needs an approval" in refused.err
    p.ok("approve", "prod", user="bob")
    p.ok("promote", "staging", "prod")

    sessions = {env: account(aws, env) for env in ACCOUNTS}
    for env, s in sessions.items():
        # each account holds its own environment only
        assert [b["Name"] for b in s.client("s3", endpoint_url=aws).list_buckets()["Buckets"]] \
            == [f"acme-retail-{env}"]
        locations = glue_locations(s, aws)
        assert set(locations) == DATASETS
        assert all(loc.startswith(f"s3://acme-retail-{env}/sluice/envs/{env}/versions/")
                   for loc in locations.values())
        # the workflow calls this account's function through its alias
        state = alias_definition(s, aws, env)["States"]["Notify"]
        assert state["Parameters"]["FunctionName"] == f"retail-{env}-notify:live"
        assert state["Parameters"]["Payload"] == {"env": env}
        stack = s.client("cloudformation", endpoint_url=aws).describe_stacks(
            StackName=f"retail-{env}-landing")["Stacks"][0]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        crawler = s.client("glue", endpoint_url=aws).get_crawler(
            Name=f"retail-{env}-raw-orders")["Crawler"]
        assert crawler["DatabaseName"] == "raw"
        assert crawler["Targets"]["S3Targets"] == [
            {"Path": f"s3://acme-retail-{env}/sluice/envs/{env}/objects/raw/orders/"}]
        assert s.client("lambda", endpoint_url=aws).get_alias(
            FunctionName=f"retail-{env}-notify", Name="live")["FunctionVersion"] == "1"
    prod_r1 = glue_locations(sessions["prod"], aws)

    # --- release 2: a changed job and a changed workflow
    p.edit("jobs/customer_orders.sql", "count(o.order_id)", "count(DISTINCT o.order_id)")
    p.edit("workflows/nightly.asl.json", "notify after the nightly load", "notify, v2")
    p.commit("v2")
    r2 = p.json("release")["id"]
    assert r2 != r1
    plan = p.json("plan", "dev")
    assert {(c["kind"], c["name"]): c["action"] for c in plan["components"]} == {
        ("stack", "landing"): "none", ("function", "notify"): "none",
        ("workflow", "nightly"): "update", ("crawler", "raw_orders"): "none"}
    p.ok("deploy", "dev")
    p.ok("promote", "dev", "staging")
    p.ok("approve", "prod", user="bob")
    p.ok("promote", "staging", "prod")
    prod = sessions["prod"]
    prod_r2 = glue_locations(prod, aws)
    assert prod_r2["marts.customer_orders"] != prod_r1["marts.customer_orders"]
    assert prod_r2["staging.orders"] == prod_r1["staging.orders"]  # unchanged: not rebuilt
    assert alias_definition(prod, aws, "prod")["Comment"] == "notify, v2"

    # --- roll prod back: catalog, Glue tables, the workflow alias and the current release
    rolled = p.json("rollback", "prod")
    assert (rolled["from_release"], rolled["to_release"]) == (r2, r1)
    assert glue_locations(prod, aws) == prod_r1
    assert alias_definition(prod, aws, "prod")["Comment"] == "notify after the nightly load"
    s3 = prod.client("s3", endpoint_url=aws)
    current = json.loads(s3.get_object(Bucket="acme-retail-prod",
                                       Key="sluice/envs/prod/current.json")["Body"].read())
    assert current["release"] == r1
    # new orders landing in prod's object store start prod's workflow (through its alias)
    events = prod.client("events", endpoint_url=aws)
    (rule,) = events.list_rules(NamePrefix="retail-prod-nightly")["Rules"]
    assert json.loads(rule["EventPattern"])["detail"]["object"]["key"] == [
        {"prefix": "sluice/envs/prod/objects/raw/orders/"}]
    (run,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert run["Arn"].endswith(":stateMachine:retail-prod-nightly:live")
    # prod's subscribers heard every step: an approval request, approvals, deploys, rollback
    from moto.sns.models import sns_backends

    topic = f"arn:aws:sns:eu-west-1:{ACCOUNTS['prod']}:sluice-retail-prod"
    sent = [json.loads(n[1]) for n in
            sns_backends[ACCOUNTS["prod"]]["eu-west-1"].topics[topic].sent_notifications]
    assert [m["kind"] for m in sent] == ["approval_requested", "approved", "published",
                                         "approved", "published", "rolled_back"]
    assert sent[-1]["release"] == r1 and sent[-1]["previous"] == r2
    assert sent[0]["approve"] == f"sluice approve prod --release {r1} --comment '…'"
    # dev and staging keep release 2
    assert alias_definition(sessions["staging"], aws, "staging")["Comment"] == "notify, v2"
    status = {row["env"]: row for row in p.json("status")}
    assert (status["dev"]["release"], status["staging"]["release"],
            status["prod"]["release"]) == (r2, r2, r1)


# S3 operations authorised by an action of another name
S3_ACTIONS = {"HeadObject": "GetObject", "HeadBucket": "ListBucket",
              "ListObjectsV2": "ListBucket", "DeleteObjects": "DeleteObject",
              "CreateMultipartUpload": "PutObject", "UploadPart": "PutObject",
              "CompleteMultipartUpload": "PutObject", "PutBucketEncryption":
              "PutEncryptionConfiguration", "GetBucketEncryption": "GetEncryptionConfiguration",
              "GetBucketNotificationConfiguration": "GetBucketNotification",
              "PutBucketNotificationConfiguration": "PutBucketNotification"}
PREFIX = {"stepfunctions": "states", "sfn": "states"}


def test_the_exported_policy_allows_every_call_a_deploy_makes(
        on_aws: Project, aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.targets.aws.session import AwsSession

    log: list[str] = []
    make_client = AwsSession.client

    def recording(self: AwsSession, service: str) -> Any:
        fresh = service not in self._clients
        client = make_client(self, service)
        if fresh:
            prefix = PREFIX.get(client.meta.service_model.endpoint_prefix,
                                client.meta.service_model.signing_name)

            def record(event_name: str, **_: Any) -> None:
                op = event_name.rsplit(".", 1)[-1]
                log.append(f"{prefix}:{S3_ACTIONS.get(op, op) if prefix == 's3' else op}")

            client.meta.events.register("before-call", record)
        return client

    monkeypatch.setattr(AwsSession, "client", recording)
    p = on_aws
    release = p.release()
    with p.workspace() as ws:
        ws.target("dev").load_objects(p.root / "data")
    p.deploy("dev", release)
    p.edit("workflows/nightly.asl.json", "notify after the nightly load", "notify, v2")
    p.commit("v2")
    v2 = p.release()
    p.deploy("dev", v2)
    calls = set(log)
    # deploying the same release again: only the environment lock and the notification write
    del log[:]
    p.deploy("dev", v2)
    writes = sorted(c for c in log if not c.split(":")[1].startswith(
        ("Get", "List", "Describe", "Head")))
    assert writes == ["s3:DeleteObject", "s3:PutObject", "sns:Publish"], writes

    document = json.loads(p.ok("export", "iam-policy", "dev").out)
    allowed = {a for s in document["Statement"] for a in s["Action"]}
    assert calls - allowed - {"sts:AssumeRole"} == set()  # AssumeRole: the caller's own grant
    assert {"s3:PutObject", "glue:CreateTable", "states:UpdateStateMachineAlias",
            "lambda:CreateFunction", "cloudformation:ExecuteChangeSet"} <= calls
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["Objects"]["Resource"] == "arn:aws:s3:::acme-retail-dev/sluice/*"
    assert by_sid["Passrole"]["Resource"] == "arn:aws:iam::111111111111:role/sluice-exec"
    assert by_sid["Stepfunctions"]["Resource"][0] == \
        "arn:aws:states:eu-west-1:111111111111:stateMachine:retail-dev-*"
    assert "Redshiftdata" not in by_sid and "Gluejobs" not in by_sid  # not used: not granted


def test_doctor_checks_credentials_bucket_role_and_permissions(on_aws: Project,
                                                               aws: str) -> None:
    p = on_aws
    result = p.sluice("doctor", "dev", "--json")
    assert result.out.startswith("["), result.err
    found = {f["check"]: f for f in json.loads(result.out)}
    assert found["credentials"]["status"] == "ok"
    assert "account 111111111111" in found["credentials"]["detail"]
    assert "assumed arn:aws:iam::111111111111:role/sluice-deployer" in \
        found["credentials"]["detail"]
    assert found["bucket"]["status"] == "warn"  # the first deploy creates it
    assert found["execution role"]["status"] == "ok"
    # moto has no policy simulator: said so, not passed silently
    assert found["permissions"]["status"] == "warn"
    assert "iam:SimulatePrincipalPolicy" in found["permissions"]["detail"]
    assert result.code == 0

    p.edit("sluice.yaml", "arn:aws:iam::111111111111:role/sluice-exec",
           "arn:aws:iam::111111111111:role/missing")
    result = p.sluice("doctor", "dev")
    assert result.code == 1
    assert "missing does not exist" in result.out


def test_run_starts_the_live_workflow_follows_it_and_audits(on_aws: Project, aws: str) -> None:
    from botocore.stub import ANY, Stubber

    from sluice.flow.workflow_runs import run_workflow

    p = on_aws
    release = p.release()
    with p.workspace() as ws:
        ws.target("dev").load_objects(p.root / "data")
    p.deploy("dev", release)
    machine = f"arn:aws:states:eu-west-1:{ACCOUNTS['dev']}:stateMachine:retail-dev-nightly"
    with p.workspace() as ws:
        sfn = ws.target("dev").aws.client("stepfunctions")  # type: ignore[attr-defined]
        for status, extra in (("SUCCEEDED", {"output": "{}"}),
                              ("FAILED", {"error": "Lambda.Unknown", "cause": "boom"})):
            execution = f"arn:aws:states:eu-west-1:{ACCOUNTS['dev']}:execution:x:{status}"
            with Stubber(sfn) as stub:
                stub.add_response("describe_state_machine", {
                    "stateMachineArn": machine, "name": "retail-dev-nightly",
                    "definition": "{}", "roleArn": "arn:aws:iam::111111111111:role/x",
                    "type": "STANDARD", "creationDate": "2026-01-01T00:00:00Z"},
                    {"stateMachineArn": machine})
                stub.add_response("start_execution", {
                    "executionArn": execution, "startDate": "2026-01-01T00:00:00Z"}, {
                    "stateMachineArn": f"{machine}:live", "name": ANY,
                    "input": json.dumps({"env": "dev", "release": release})})
                for state in ("RUNNING", status):
                    stub.add_response("describe_execution", {
                        "executionArn": execution, "stateMachineArn": machine,
                        "status": state, "startDate": "2026-01-01T00:00:00Z",
                        **(extra if state == status else {})}, {"executionArn": execution})
                waits: list[float] = []
                run = run_workflow(ws, "dev", "nightly", sleep=waits.append)
                stub.assert_no_pending_responses()
            assert (run.status, run.execution, waits) == (status, execution, [1.0])
            if status == "SUCCEEDED":  # then what dev serves is audited where it lives
                assert run.passed
                assert {a.dataset for a in run.audits} == DATASETS
            else:
                assert not run.passed and run.audits == []
                assert (run.error, run.cause) == ("Lambda.Unknown", "boom")


def test_a_machine_with_a_stale_state_store_is_refused(on_aws: Project, aws: str,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.deploy.gc import collect_garbage
    from sluice.errors import LockError

    p = on_aws
    release = p.release()
    with p.workspace() as ws:
        ws.target("dev").load_objects(p.root / "data")
    p.deploy("dev", release)
    served = glue_locations(account(aws, "dev"), aws)
    # a CI runner with its own (empty) state store builds the same release
    monkeypatch.setenv("SLUICE_HOME", str(tmp_path / "runner-home"))
    assert p.release() == release
    with pytest.raises(LockError, match="another machine deployed it") as info:
        p.deploy("dev", release)
    assert info.value.tip is not None and "SLUICE_STATE_URL" in info.value.tip
    with p.workspace() as ws:  # gc from this state store drops nothing of dev's
        before = {(v.dataset, v.version) for v in ws.target("dev").versions()}
        collect_garbage(ws, "dev")
        assert {(v.dataset, v.version) for v in ws.target("dev").versions()} == before
    assert glue_locations(account(aws, "dev"), aws) == served  # nothing was touched


def test_a_deploy_killed_after_its_components_landed_is_put_back(on_aws: Project,
                                                                 aws: str) -> None:
    p = on_aws
    release = p.release()
    with p.workspace() as ws:
        ws.target("dev").load_objects(p.root / "data")
    p.deploy("dev", release)
    dev = account(aws, "dev")
    lam = dev.client("lambda", endpoint_url=aws)
    assert lam.get_alias(FunctionName="retail-dev-notify", Name="live")["FunctionVersion"] == "1"
    before = alias_definition(dev, aws, "dev")

    # release 2 changes the function and the workflow; its deploy is killed right after the
    # components landed, before anything was published
    p.edit("functions/notify.py", "'ok': True", "'ok': 2")
    p.edit("workflows/nightly.asl.json", "notify after the nightly load", "notify, v2")
    p.commit("v2")
    p.ok("release")
    killed = p.sluice("deploy", "dev", env={"SLUICE_TEST_KILL_AT": "components:done"})
    assert killed.code == -9
    assert lam.get_alias(FunctionName="retail-dev-notify", Name="live")["FunctionVersion"] == "2"

    # the next command that takes the lock (here gc) finds the unfinished deployment and
    # puts the components back as the live release has them; the S3 lock of the dead
    # process is taken over at once
    p.ok("gc", "dev")
    assert lam.get_alias(FunctionName="retail-dev-notify", Name="live")["FunctionVersion"] == "1"
    assert alias_definition(dev, aws, "dev") == before
    status = {row["env"]: row for row in p.json("status")}
    assert status["dev"]["release"] == release
    history = p.json("history", "dev")
    assert any(e["kind"] == "recovered" for e in history)
