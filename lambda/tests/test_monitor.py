"""The monitor against moto: the decision end to end, idempotence, dry run, and every failure
path of every AWS call it makes."""

import datetime
import json

import boto3
import pytest
from moto import mock_aws
from moto.rds.models import RDSBackend
from test_config import MONITOR

from drgen_lambda import adapters, monitor, probe
from drgen_lambda.config import monitor_config

REPLICA = MONITOR["REPLICA_ID"]


class Recording(adapters.Aws):
    """The real adapters, recording each call, with failures injected by method name."""

    def __init__(self, fail=()):
        super().__init__()
        self.calls = []
        self.fail = set(fail)

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name.startswith("_") or name in ("calls", "fail", "names") or not callable(attr):
            return attr

        def wrapper(*args, **kwargs):
            self.calls.append((name, args))
            if name in self.fail:
                raise adapters.AwsError(name, "Throttling: Rate exceeded")
            return attr(*args, **kwargs)

        return wrapper

    def names(self):
        return [c[0] for c in self.calls]


def states(*results):
    it = iter(results)
    return lambda host, port, timeout: next(it)


DOWN3 = (probe.DOWN, probe.DOWN, probe.DOWN)


@pytest.fixture()
def world(aws_env, monkeypatch):
    # RDS clears ReadReplicaSourceDBInstanceIdentifier when a replica is promoted; moto 5.2
    # keeps it. Make the fake behave as the service does.
    promote = RDSBackend.promote_read_replica

    def promote_and_detach(self, db_kwargs):
        database = promote(self, db_kwargs)
        database.source_db_instance_identifier = None
        return database

    monkeypatch.setattr(RDSBackend, "promote_read_replica", promote_and_detach)
    with mock_aws():
        rds = boto3.client("rds")
        rds.create_db_instance(
            DBInstanceIdentifier="trading-db-primary-prod",
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password-1",
            AllocatedStorage=100,
        )
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier=REPLICA, SourceDBInstanceIdentifier="trading-db-primary-prod"
        )
        topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="promote",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/promoter",
        )["stateMachineArn"]
        cfg = monitor_config(dict(MONITOR, TOPIC_ARN=topic))
        yield cfg, machine


def put_lag(seconds):
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": REPLICA}],
                "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30),
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def is_replica():
    instance = boto3.client("rds").describe_db_instances(DBInstanceIdentifier=REPLICA)["DBInstances"][0]
    return bool(instance.get("ReadReplicaSourceDBInstanceIdentifier"))


def run(cfg, aws, probes=DOWN3):
    return monitor.run(cfg, aws, check=states(*probes), sleep=lambda s: None)


def test_a_dead_primary_with_missing_lag_is_promoted_and_announced(world):
    cfg, _ = world
    aws = Recording()
    result = run(cfg, aws)
    assert result["action"] == "promoted"
    assert "missing" in result["reason"]
    assert not is_replica()
    assert aws.names() == ["replica_lag", "put_metrics", "replica_state", "promote", "put_event", "notify"]


def test_a_dead_primary_with_high_lag_is_promoted(world):
    cfg, _ = world
    put_lag(300.0)
    assert run(cfg, Recording())["action"] == "promoted"


def test_a_second_run_does_nothing(world):
    cfg, _ = world
    assert run(cfg, Recording())["action"] == "promoted"
    aws = Recording()
    result = run(cfg, aws)
    assert result["action"] == "none"
    assert "no longer a replica" in result["reason"]
    assert "promote" not in aws.names()


def test_a_replica_that_is_not_available_is_left_alone(world, monkeypatch):
    cfg, _ = world
    aws = Recording()
    monkeypatch.setattr(adapters.Aws, "replica_state", lambda self, rid: adapters.ReplicaState("modifying", True))
    result = run(cfg, aws)
    assert result["action"] == "none"
    assert "modifying" in result["reason"]
    assert is_replica()


def test_an_idle_primary_with_high_lag_is_not_promoted(world):
    cfg, _ = world
    put_lag(280.0)
    aws = Recording()
    result = run(cfg, aws, probes=(probe.ACCEPTING,) * 3)
    assert result["action"] == "none"
    assert is_replica()
    assert "replica_state" not in aws.names()


def test_a_dead_primary_with_low_lag_is_not_promoted(world):
    cfg, _ = world
    put_lag(3.0)
    assert run(cfg, Recording())["action"] == "none"
    assert is_replica()


def test_one_good_probe_prevents_promotion(world):
    cfg, _ = world
    assert run(cfg, Recording(), probes=(probe.DOWN, probe.ACCEPTING, probe.DOWN))["action"] == "none"
    assert is_replica()


def test_a_primary_that_refuses_connections_counts_as_failed(world):
    cfg, _ = world
    assert run(cfg, Recording(), probes=(probe.NOT_ACCEPTING,) * 3)["action"] == "promoted"


def test_dry_run_announces_but_never_promotes(world):
    cfg, _ = world
    aws = Recording()
    result = run(cfg._replace(dry_run=True), aws)
    assert result["action"] == "dry_run"
    assert is_replica()
    assert "promote" not in aws.names()
    assert [c for c in aws.calls if c[0] == "put_event"][0][1][1] == "drgen failover dry run"


def test_with_step_functions_the_monitor_starts_an_execution(world):
    cfg, machine = world
    aws = Recording()
    result = run(cfg._replace(state_machine_arn=machine), aws)
    assert result["action"] == "promoted"
    assert "start_failover" in aws.names() and "promote" not in aws.names()
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == 1
    assert is_replica()  # the state machine promotes, not the monitor


@pytest.mark.parametrize("failing", ["replica_lag", "put_metrics", "replica_state", "promote", "start_failover"])
def test_a_failed_aws_call_means_no_promotion_and_an_alert(world, failing):
    cfg, machine = world
    if failing == "start_failover":
        cfg = cfg._replace(state_machine_arn=machine)
    aws = Recording(fail=[failing])
    result = run(cfg, aws)
    assert result == {"action": "alert", "operation": failing}
    assert is_replica()
    assert aws.calls[-1][0] == "notify"
    assert "did not promote" in aws.calls[-1][1][2]


def test_an_alert_that_fails_too_is_logged(world, capsys):
    cfg, _ = world
    result = run(cfg, Recording(fail=["replica_lag", "notify"]))
    assert result["action"] == "alert"
    assert "alert_failed" in capsys.readouterr().out


@pytest.mark.parametrize("failing", ["put_event", "notify"])
def test_a_failed_announcement_does_not_undo_the_promotion(world, failing, capsys):
    cfg, _ = world
    result = run(cfg, Recording(fail=[failing]))
    assert result["action"] == "promoted"
    assert not is_replica()
    assert "announce_failed" in capsys.readouterr().out


def test_observations_are_published(world):
    cfg, _ = world
    put_lag(12.0)
    run(cfg, Recording(), probes=(probe.ACCEPTING, probe.DOWN, probe.ACCEPTING))
    metrics = boto3.client("cloudwatch").list_metrics(Namespace=cfg.namespace)["Metrics"]
    assert sorted(m["MetricName"] for m in metrics) == ["PrimaryReachable", "ReplicaLagObserved"]


def test_probes_are_spaced_by_the_interval(world):
    cfg, _ = world
    slept = []
    monitor.run(cfg, Recording(), check=states(*DOWN3), sleep=slept.append)
    assert slept == [5.0, 5.0]


def test_the_handler_reads_its_config_and_names_the_execution(world, monkeypatch):
    cfg, machine = world
    for key, value in MONITOR.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TOPIC_ARN", cfg.topic_arn)
    monkeypatch.setenv("STATE_MACHINE_ARN", machine)
    monkeypatch.setattr(monitor.probe, "probe", lambda *a: probe.DOWN)
    monkeypatch.setattr(monitor.run, "__defaults__", (lambda *a: probe.DOWN, lambda s: None, "failover"))

    class Context:
        aws_request_id = "0f1e2d3c"

    assert monitor.handler({}, Context())["action"] == "promoted"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert executions[0]["name"] == "failover-0f1e2d3c"
