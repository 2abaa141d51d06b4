"""The failover workflow's steps against moto: idempotent, waiting by answering "not ready" (never by
raising: a raised exception counts in the function's Errors alarm), the fence in the primary's own
region, and a fence record that belongs to one promotion."""

import datetime
import io
import json
import zipfile

import arc_stub
import boto3
import pytest
from arc_stub import DR_CONTROL, ENDPOINTS, PRIMARY_CONTROL, error, state, taken
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID as ACCOUNT
from moto.secretsmanager.models import secretsmanager_backends
from test_config import FAILOVER
from test_monitor import TABLE, create_table

from drgen_lambda import adapters, workflow
from drgen_lambda.config import ArcSettings, ConfigError, failover_config

CFG = failover_config(FAILOVER)


def zip_of(name, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(name, data)
    return buffer.getvalue()


NOW = 1_000_000.0


@pytest.fixture()
def world(aws_env, rds_detaches_on_promotion):
    with mock_aws():
        east = boto3.client("rds", region_name="us-east-1")
        vpc = boto3.client("ec2", region_name="us-east-1").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group = boto3.client("ec2", region_name="us-east-1").create_security_group(
            GroupName="fenced", Description="deny all", VpcId=vpc
        )["GroupId"]
        east.create_db_instance(
            DBInstanceIdentifier=CFG.primary_id,
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password-1",
            AllocatedStorage=100,
        )
        west = boto3.client("rds", region_name="us-west-2")
        west.create_db_instance(
            DBInstanceIdentifier="source-in-moto",
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password-1",
            AllocatedStorage=100,
        )
        west.create_db_instance_read_replica(
            DBInstanceIdentifier=CFG.replica_id, SourceDBInstanceIdentifier="source-in-moto"
        )
        create_table()
        boto3.client("secretsmanager", region_name="us-east-1").create_secret(
            Name=CFG.secret_id,
            SecretString=json.dumps({"host": "old-primary.example", "username": "dbadmin", "password": "x"}),
            AddReplicaRegions=[{"Region": "us-west-2"}],
        )
        topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
        role = boto3.client("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        rotation = boto3.client("lambda").create_function(
            FunctionName="rotation",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": zip_of("index.py", b"def handler(event, context):\n    return None\n")},
        )["FunctionArn"]
        cfg = CFG._replace(fence_group=group, topic_arn=topic, rotation_function=rotation)
        aws = adapters.Aws()
        yield cfg, aws, adapters.Store(aws, TABLE)


def step(world, name):
    cfg, aws, store = world
    return workflow.handle({"step": name}, cfg, aws, store, NOW)


def replica():
    return boto3.client("rds").describe_db_instances(DBInstanceIdentifier=CFG.replica_id)["DBInstances"][0]


def test_ensure_promoted_promotes_once_and_records_the_start(world):
    assert step(world, "ensure_promoted") == {"ready": True, "promoted": True}
    assert not replica().get("ReadReplicaSourceDBInstanceIdentifier")
    assert workflow.handle({"step": "ensure_promoted"}, *world, NOW + 60) == {"ready": True, "promoted": True}
    # The promotion is identified by its start, which a later call does not move.
    assert world[2].promotion() == NOW
    assert world[2].fence() == {"promotion_started_at": NOW}


def test_a_promotion_in_progress_does_not_hold_up_the_fence(world, monkeypatch):
    cfg, aws, store = world
    store.set_authority(NOW - 30)  # the monitor called PromoteReadReplica 30 s ago
    busy = {"ReadReplicaSourceDBInstanceIdentifier": "x", "DBInstanceStatus": "modifying"}
    monkeypatch.setattr(aws, "instance", lambda i, region=None: busy)
    monkeypatch.setattr(aws, "promote", lambda *a: pytest.fail("promoted twice"))
    assert step(world, "ensure_promoted") == {"ready": True, "promoted": True}
    assert store.promotion() == NOW - 30


def test_a_replica_promoted_by_hand_is_not_promoted_again(world, monkeypatch):
    cfg, aws, store = world
    boto3.client("rds").promote_read_replica(DBInstanceIdentifier=CFG.replica_id)
    monkeypatch.setattr(aws, "promote", lambda *a: pytest.fail("promoted twice"))
    assert step(world, "ensure_promoted") == {"ready": True, "promoted": True}
    assert store.authority_is_dr()


def test_ensure_promoted_waits_for_a_busy_replica(world, monkeypatch):
    cfg, aws, store = world
    monkeypatch.setattr(
        aws,
        "instance",
        lambda i, region=None: {"ReadReplicaSourceDBInstanceIdentifier": "x", "DBInstanceStatus": "backing-up"},
    )
    answer = step(world, "ensure_promoted")
    assert answer["ready"] is False and "backing-up" in answer["waiting_for"]
    assert not store.authority_is_dr()


def test_await_standalone_waits_until_the_replica_is_a_writer(world):
    answer = step(world, "await_standalone")
    assert answer["ready"] is False and "not yet a standalone writer" in answer["waiting_for"]
    step(world, "ensure_promoted")
    assert step(world, "await_standalone") == {"ready": True, "endpoint": replica()["Endpoint"]["Address"]}


def test_the_secret_is_not_moved_while_the_instance_is_not_standalone(world, monkeypatch):
    monkeypatch.setattr(world[1], "secret", lambda secret_id: pytest.fail("read the secret"))
    answer = step(world, "promote_secret")
    assert answer["ready"] is False and "not yet a standalone writer" in answer["waiting_for"]


def stop_replication(aws):
    """StopReplicationToReplica as AWS documents it: the DR copy becomes a standalone secret with
    the same name and value. moto 5.2.1 does not implement the call, so a botocore before-call
    handler on the adapter's own client answers it after making the change in moto's backends;
    the package's code makes the real call."""

    def answer(params, **kwargs):
        secret_id = json.loads(params["body"])["SecretId"]
        west = secretsmanager_backends[ACCOUNT]["us-west-2"]
        replica = west.describe_secret(secret_id)
        value = boto3.client("secretsmanager", region_name="us-west-2").get_secret_value(SecretId=secret_id)
        source = replica.source
        source.replicas = [r for r in source.replicas if r.region != "us-west-2"]
        del west.secrets[replica.arn]
        created = boto3.client("secretsmanager", region_name="us-west-2").create_secret(
            Name=secret_id, SecretString=value["SecretString"]
        )
        stop_replication.calls.append(secret_id)
        return AWSResponse("", 200, {}, None), {"ARN": created["ARN"]}

    aws._client("secretsmanager").meta.events.register("before-call.secrets-manager.StopReplicationToReplica", answer)


stop_replication.calls = []


def test_the_dr_secret_is_detached_pointed_at_the_writer_and_rotated_later(world, monkeypatch):
    stop_replication(world[1])
    step(world, "ensure_promoted")
    assert step(world, "promote_secret") == {"ready": True, "host": replica()["Endpoint"]["Address"]}
    sm = boto3.client("secretsmanager", region_name="us-west-2")
    described = sm.describe_secret(SecretId=CFG.secret_id)
    assert "PrimaryRegion" not in described or described["PrimaryRegion"] == "us-west-2"
    assert described["RotationEnabled"] is True
    value = json.loads(sm.get_secret_value(SecretId=CFG.secret_id)["SecretString"])
    assert value["host"] == replica()["Endpoint"]["Address"] and value["password"] == "x"
    # A retry changes nothing.
    assert step(world, "promote_secret")["host"] == value["host"]
    assert stop_replication.calls == [CFG.secret_id]


def reboots(aws, monkeypatch):
    """The old primary's reboots, counted on their way to moto."""
    calls = []
    original = aws.reboot

    def reboot(region, instance_id):
        calls.append(instance_id)
        original(region, instance_id)

    monkeypatch.setattr(aws, "reboot", reboot)
    return calls


def test_the_fence_replaces_the_groups_and_reboots_once(world, monkeypatch):
    cfg, aws, store = world
    rebooted = reboots(aws, monkeypatch)
    step(world, "ensure_promoted")
    # The security-group change first; the instance is `modifying` until it applies, so the
    # reboot waits for a later call rather than failing on an instance that cannot reboot yet.
    first = step(world, "fence")
    assert first["ready"] is False and "deny-all" in first["waiting_for"]
    assert rebooted == []
    east = boto3.client("rds", region_name="us-east-1")
    groups = east.describe_db_instances(DBInstanceIdentifier=cfg.primary_id)["DBInstances"][0]["VpcSecurityGroups"]
    assert [g["VpcSecurityGroupId"] for g in groups] == [cfg.fence_group]
    assert step(world, "fence") == {"ready": True, "fenced": True}
    assert {"fenced_at", "rebooted_at"} <= set(store.fence())
    assert step(world, "fence") == {"ready": True, "fenced": True}
    assert rebooted == [cfg.primary_id]


def test_a_second_failover_after_a_reset_reboots_again_and_confirms_anew(world, monkeypatch):
    """Failback's reset-authority ends the promotion: the next one must cut the old primary's
    sessions again and must not take the previous confirmation for its own."""
    cfg, aws, store = world
    rebooted = reboots(aws, monkeypatch)
    step(world, "ensure_promoted")
    step(world, "fence")
    step(world, "fence")
    put_connections(0)
    assert step(world, "verify_fence")["ready"] is True
    assert "confirmed_at" in store.fence() and len(rebooted) == 1
    store.clear_authority()
    assert store.fence() == {}
    later = NOW + 86_400
    assert workflow.handle({"step": "ensure_promoted"}, cfg, aws, store, later)["ready"] is True
    assert store.fence() == {"promotion_started_at": later}
    # The groups are still the deny-all group: found set, the reboot waits a poll interval.
    assert workflow.handle({"step": "fence"}, cfg, aws, store, later)["ready"] is False
    assert workflow.handle({"step": "fence"}, cfg, aws, store, later + 60) == {"ready": True, "fenced": True}
    assert len(rebooted) == 2
    assert "confirmed_at" not in store.fence()


def test_a_fence_record_of_another_promotion_is_ignored(world, monkeypatch):
    """A record left by an earlier promotion (a drill that was never reset, or one written before
    records were scoped) neither skips the reboot nor confirms the fence."""
    cfg, aws, store = world
    rebooted = reboots(aws, monkeypatch)
    earlier = NOW - 86_400
    store._put("fence", promotion_started_at=earlier, fenced_at=earlier, rebooted_at=earlier, confirmed_at=earlier)
    step(world, "ensure_promoted")
    assert store.fence() == {"promotion_started_at": NOW}
    step(world, "fence")
    step(world, "fence")
    assert rebooted == [cfg.primary_id]


def primary_region(aws, monkeypatch, error):
    """Every call to the primary region fails with `error`."""
    original = aws._call

    def failing(service, operation, region=None, **kw):
        if region == "us-east-1":
            raise adapters.AwsError(f"{service}.{operation}", error)
        return original(service, operation, region=region, **kw)

    monkeypatch.setattr(aws, "_call", failing)


def refused(operation):
    answer = {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return ClientError(answer, operation)


def test_the_fence_waits_while_the_primary_region_does_not_answer(world, monkeypatch):
    # A regional outage is the fence's normal course: an answer, not an error (no Errors alarm).
    cfg, aws, store = world
    primary_region(aws, monkeypatch, EndpointConnectionError(endpoint_url="https://rds.us-east-1.amazonaws.com"))
    answer = step(world, "fence")
    assert answer["ready"] is False and "us-east-1 RDS API does not answer" in answer["waiting_for"]


def test_a_refused_fence_call_is_an_error(world, monkeypatch):
    cfg, aws, store = world
    primary_region(aws, monkeypatch, refused("DescribeDBInstances"))
    with pytest.raises(adapters.AwsError, match="describe_db_instances"):
        step(world, "fence")


def test_the_reboot_waits_for_an_instance_that_is_not_available(world, monkeypatch):
    cfg, aws, store = world
    monkeypatch.setattr(
        aws,
        "instance",
        lambda i, region=None: {
            "VpcSecurityGroups": [{"VpcSecurityGroupId": cfg.fence_group}],
            "DBInstanceStatus": "rebooting",
        },
    )
    step(world, "ensure_promoted")
    answer = step(world, "fence")
    assert answer["ready"] is False and "found set" in answer["waiting_for"]
    answer = step(world, "fence")
    assert answer["ready"] is False and "rebooting" in answer["waiting_for"]
    assert "rebooted_at" not in store.fence()


def test_a_group_found_set_is_rebooted_on_a_later_call_only(world, monkeypatch):
    """Set by the old primary's own lease keeper moments ago, perhaps: RDS lists it at once and
    may still say `available` before `modifying`, so the reboot waits a poll interval."""
    cfg, aws, store = world
    boto3.client("rds", region_name="us-east-1").modify_db_instance(
        DBInstanceIdentifier=cfg.primary_id, VpcSecurityGroupIds=[cfg.fence_group]
    )
    step(world, "ensure_promoted")
    rebooted = []
    monkeypatch.setattr(aws, "reboot", lambda region, instance_id: rebooted.append(instance_id))
    answer = step(world, "fence")
    assert answer["ready"] is False and "found set" in answer["waiting_for"] and rebooted == []
    assert step(world, "fence") == {"ready": True, "fenced": True} and len(rebooted) == 1


def put_connections(value):
    boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "DatabaseConnections",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": CFG.primary_id}],
                "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30),
                "Value": value,
            }
        ],
    )


def test_the_fence_is_confirmed_only_when_connections_drop_to_zero(world):
    step(world, "ensure_promoted")
    answer = step(world, "verify_fence")
    assert answer == {"ready": False, "waiting_for": "the old primary reports no DatabaseConnections datapoint yet"}
    put_connections(12)
    answer = step(world, "verify_fence")
    assert answer == {"ready": False, "waiting_for": "the old primary reports 12 connections"}
    assert "confirmed_at" not in world[2].fence()


def test_zero_connections_confirm_the_fence(world):
    step(world, "ensure_promoted")
    put_connections(0)
    assert step(world, "verify_fence") == {"ready": True, "confirmed": True}
    assert world[2].fence()["confirmed_at"] == NOW


def test_announce(world):
    assert step(world, "announce")["replica"] == CFG.replica_id


@pytest.mark.parametrize(
    ("event_id", "result"),
    [("RDS-EVENT-0013", {"opened": "multi-az-failover"}), ("RDS-EVENT-0002", {"ignored": "RDS-EVENT-0002"})],
)
def test_rds_events_open_and_close_recoveries(world, event_id, result):
    cfg, aws, store = world
    event = {"source": "aws.rds", "detail": {"EventID": event_id}}
    assert workflow.handle(event, cfg, aws, store, NOW) == result


def test_a_closing_event_closes_its_recovery(world):
    cfg, aws, store = world
    workflow.handle({"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0050"}}, cfg, aws, store, NOW)
    assert store.open_events() == [("multi-az-activation", NOW)]
    workflow.handle({"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0051"}}, cfg, aws, store, NOW)
    assert store.open_events() == []


def test_the_handler_reads_its_settings(world, monkeypatch):
    cfg, aws, store = world
    env = dict(FAILOVER, FENCE_SECURITY_GROUP=cfg.fence_group, TOPIC_ARN=cfg.topic_arn)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert workflow.handler({"step": "announce"}, None)["replica"] == CFG.replica_id


def test_a_deleted_old_primary_counts_as_fenced(world):
    cfg, aws, store = world
    boto3.client("rds", region_name="us-east-1").delete_db_instance(
        DBInstanceIdentifier=cfg.primary_id, SkipFinalSnapshot=True
    )
    step(world, "ensure_promoted")
    assert step(world, "fence") == {"ready": True, "fenced": True, "deleted": True}
    assert step(world, "verify_fence") == {"ready": True, "confirmed": True, "deleted": True}
    assert {"fenced_at", "rebooted_at", "confirmed_at"} <= set(store.fence())


def test_verify_fence_waits_while_the_region_does_not_answer_and_fails_when_refused(world, monkeypatch):
    cfg, aws, store = world
    primary_region(aws, monkeypatch, ReadTimeoutError(endpoint_url="https://monitoring.us-east-1.amazonaws.com"))
    assert step(world, "verify_fence")["ready"] is False
    primary_region(aws, monkeypatch, refused("DescribeDBInstances"))
    with pytest.raises(adapters.AwsError):
        step(world, "verify_fence")


def test_a_forwarded_event_is_recorded_at_rds_time_not_at_its_arrival(world):
    cfg, aws, store = world
    sent = datetime.datetime.fromtimestamp(NOW - 150, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"source": "aws.rds", "time": sent, "detail": {"EventID": "RDS-EVENT-0013"}}
    workflow.handle(event, cfg, aws, store, NOW)
    assert store.open_events() == [("multi-az-failover", float(int(NOW - 150)))]


@pytest.mark.parametrize("sent", ["not a time", "2999-01-01T00:00:00Z"])
def test_an_unreadable_or_future_event_time_counts_as_its_arrival(sent):
    event = {"time": sent}
    assert workflow.event_time(event, NOW) == NOW


# authority = arc: the workflow's own steps before ensure_promoted.


def with_arc(world, answers):
    """The world's workflow with ARC settings, and an Aws whose ARC clients answer from `answers`."""
    cfg, _, _ = world
    session = arc_stub.Session(answers)
    aws = adapters.Aws(session=session)
    cfg = cfg._replace(arc=ArcSettings(ENDPOINTS, PRIMARY_CONTROL, DR_CONTROL), lease_wait=120.0)
    return cfg, aws, adapters.Store(aws, TABLE), session


URLS = [url for url, _ in ENDPOINTS]


def test_take_authority_switches_arc_once_and_records_when_after_the_call(world):
    cfg, aws, store, session = with_arc(world, {URLS[0]: [taken()]})
    store.set_authority(NOW)
    answer = workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW + 7)
    assert answer == {"ready": True, "switched_at": NOW + 7}
    session.assert_all_answered()
    # Again (Step Functions retries, or the state machine is run again): no second call.
    assert workflow.handle({"step": "take_authority"}, cfg, aws, store, NOW + 60) == answer
    assert store.arc_switch() == NOW + 7
    # Nothing was promoted by it.
    assert replica().get("ReadReplicaSourceDBInstanceIdentifier")


def test_take_authority_records_the_writer_authority_when_the_monitor_has_not(world):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken()]})
    assert workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW + 1)["ready"]
    assert store.promotion() == NOW and store.arc_switch() == NOW + 1


def test_take_authority_tries_every_endpoint_and_records_nothing_when_none_answers(world):
    throttled = error("update_routing_control_states", "ThrottlingException", 429)
    cfg, aws, store, session = with_arc(world, {url: [throttled] for url in URLS})
    with pytest.raises(adapters.AwsError) as raised:
        workflow.handle({"step": "take_authority"}, cfg, aws, store, NOW)
    assert raised.value.unreachable and sorted(session.made) == sorted(URLS)
    assert store.arc_switch() is None


def test_a_safety_rule_that_refuses_the_switch_is_an_error_tried_nowhere_else(world):
    refused = error("update_routing_control_states", "ConflictException", 409)
    cfg, aws, store, session = with_arc(world, {url: [refused] for url in URLS})
    with pytest.raises(adapters.AwsError) as raised:
        workflow.take_authority(cfg, aws, store, NOW)
    assert not raised.value.unreachable and raised.value.code == "ConflictException"
    assert len(session.made) == 1 and store.arc_switch() is None


def test_await_lease_waits_for_the_switch_then_for_the_lease(world):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken()]})
    assert workflow.handle({"step": "await_lease"}, cfg, aws, store, NOW) == {
        "ready": False,
        "waiting_for": "the authority has not been taken in ARC",
    }
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW + 5)
    answer = workflow.await_lease(cfg, aws, store, NOW + 124)
    assert answer == {"ready": False, "waiting_for": "the old primary's lease: 1 s more"}
    assert workflow.await_lease(cfg, aws, store, NOW + 125) == {"ready": True}
    assert workflow.await_lease(cfg, aws, store, NOW + 999) == {"ready": True}


def test_a_new_promotion_after_a_failback_takes_the_authority_in_arc_again(world):
    cfg, aws, store, session = with_arc(world, {URLS[0]: [taken(), taken()]})
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW + 1)
    store.clear_authority()
    assert store.arc_switch() is None
    assert workflow.await_lease(cfg, aws, store, NOW + 999)["ready"] is False
    assert workflow.take_authority(cfg, aws, store, NOW + 500, clock=lambda: NOW + 501)["switched_at"] == NOW + 501
    session.assert_all_answered()


def test_the_arc_steps_need_the_arc_settings(world):
    for name in ("take_authority", "await_lease"):
        with pytest.raises(ConfigError, match=f"ARC_ENDPOINTS is required for the {name} step"):
            step(world, name)


def test_a_switch_is_recorded_once_per_promotion(world):
    _, _, store = world
    with pytest.raises(LookupError, match="no promotion is recorded"):
        store.record_arc_switch(NOW)
    store.set_authority(NOW)
    assert store.record_arc_switch(NOW + 1) == NOW + 1
    assert store.record_arc_switch(NOW + 2) == NOW + 1


@pytest.mark.parametrize(
    "failure",
    [
        ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem"),
        EndpointConnectionError(endpoint_url="https://dynamodb"),
    ],
    ids=["refused", "unreachable"],
)
def test_a_failed_switch_record_is_an_error(world, monkeypatch, failure):
    _, aws, store = world
    store.set_authority(NOW)
    client = aws._client("dynamodb")

    def put_item(**kwargs):
        raise failure

    monkeypatch.setattr(client, "put_item", put_item)
    with pytest.raises(adapters.AwsError, match="dynamodb.put_item"):
        store.record_arc_switch(NOW)


def test_in_arc_mode_ensure_promoted_waits_for_the_lease_then_promotes_once(world, monkeypatch):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken(), state(DR_CONTROL, "On")]})
    # The monitor recorded the authority before it started the workflow: no promotion yet.
    store.set_authority(NOW)
    assert workflow.ensure_promoted(cfg, aws, store, NOW) == {
        "ready": False,
        "waiting_for": "the authority has not been taken in ARC",
    }
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW + 2)
    answer = workflow.ensure_promoted(cfg, aws, store, NOW + 60)
    assert answer["ready"] is False and "lease" in answer["waiting_for"]
    assert replica().get("ReadReplicaSourceDBInstanceIdentifier")
    assert workflow.ensure_promoted(cfg, aws, store, NOW + 122) == {"ready": True, "promoted": True}
    assert not replica().get("ReadReplicaSourceDBInstanceIdentifier")
    assert store.fence()["promote_called_at"] == NOW + 122
    monkeypatch.setattr(aws, "promote", lambda *a: pytest.fail("promoted twice"))
    assert workflow.ensure_promoted(cfg, aws, store, NOW + 180) == {"ready": True, "promoted": True}


def test_in_arc_mode_ensure_promoted_waits_for_a_busy_replica(world, monkeypatch):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken()]})
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW)
    monkeypatch.setattr(
        aws,
        "instance",
        lambda i, region=None: {"ReadReplicaSourceDBInstanceIdentifier": "x", "DBInstanceStatus": "backing-up"},
    )
    answer = workflow.ensure_promoted(cfg, aws, store, NOW + 500)
    assert answer["ready"] is False and "backing-up" in answer["waiting_for"]
    assert "promote_called_at" not in store.fence()


@pytest.mark.parametrize(
    "answer",
    [ReadTimeoutError(endpoint_url="https://rds"), "InvalidDBInstanceState: a promotion is under way"],
    ids=["timeout", "under-way"],
)
def test_in_arc_mode_a_promotion_call_without_an_answer_counts_as_started(world, monkeypatch, answer):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken(), state(DR_CONTROL, "On")]})
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW)
    calls = []

    def promote(*args):
        calls.append(args)
        raise adapters.AwsError("rds.promote_read_replica", answer)

    monkeypatch.setattr(aws, "promote", promote)
    assert workflow.ensure_promoted(cfg, aws, store, NOW + 200) == {"ready": True, "promoted": True}
    assert len(calls) == 1 and store.fence()["promote_called_at"] == NOW + 200


def test_in_arc_mode_a_refused_promotion_call_raises_after_recording_it(world, monkeypatch):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken(), state(DR_CONTROL, "On")]})
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW)

    def promote(*args):
        raise adapters.AwsError("rds.promote_read_replica", "AccessDenied")

    monkeypatch.setattr(aws, "promote", promote)
    with pytest.raises(adapters.AwsError, match="AccessDenied"):
        workflow.ensure_promoted(cfg, aws, store, NOW + 200)
    # Recorded before the call: the monitor calls again once the lease wait has passed.
    assert store.fence()["promote_called_at"] == NOW + 200


def test_in_arc_mode_a_replica_standalone_already_is_not_promoted_again(world, monkeypatch):
    cfg, aws, store, _ = with_arc(world, {URLS[0]: [taken()]})
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW)
    monkeypatch.setattr(aws, "instance", lambda i, region=None: {"DBInstanceStatus": "available"})
    monkeypatch.setattr(aws, "promote", lambda *a: pytest.fail("promoted a standalone instance"))
    assert workflow.ensure_promoted(cfg, aws, store, NOW + 200) == {"ready": True, "promoted": True}
    assert store.fence()["promote_called_at"] == NOW + 200


def test_in_arc_mode_no_promotion_once_the_authority_was_moved_back_in_arc(world, monkeypatch):
    cfg, aws, store, session = with_arc(world, {URLS[0]: [taken(), state(DR_CONTROL, "Off")]})
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW)
    monkeypatch.setattr(aws, "promote", lambda *a: pytest.fail("promoted after the authority moved back"))
    with pytest.raises(adapters.AwsError, match="writer authority was moved back in ARC"):
        workflow.ensure_promoted(cfg, aws, store, NOW + 200)
    assert "promote_called_at" not in store.fence()
    session.assert_all_answered()


def test_in_arc_mode_an_unreadable_control_before_the_promotion_lets_the_recorded_switch_stand(world, capsys):
    # The other endpoints answer 503 to every call.
    cfg, aws, store, _ = with_arc(
        world, {URLS[0]: [taken(), error("get_routing_control_state", "ThrottlingException", 429)]}
    )
    workflow.take_authority(cfg, aws, store, NOW, clock=lambda: NOW)
    assert workflow.ensure_promoted(cfg, aws, store, NOW + 200) == {"ready": True, "promoted": True}
    assert "authority_unread" in capsys.readouterr().out and not replica().get("ReadReplicaSourceDBInstanceIdentifier")
