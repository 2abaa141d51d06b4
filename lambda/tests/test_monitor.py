"""The monitor against moto: a whole run through the real adapters, the run lock, the writer
authority, and every failure path of the calls it makes."""

import datetime
import json

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from moto import mock_aws
from test_config import MONITOR

from drgen_lambda import adapters, fsm, monitor, probe
from drgen_lambda.config import monitor_config

REPLICA = MONITOR["REPLICA_ID"]
TABLE = MONITOR["STATE_TABLE"]


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


class Positions:
    """WAL positions and the replica's WAL receiver as the test sets them; counts the receiver's
    reads."""

    def __init__(self, primary=100, replica=100, receiving=None):
        self.values = {"primary": primary, "replica": replica, "receiving": receiving}
        self.receiver_reads = 0

    def primary(self):
        return self.values["primary"]

    def replica(self):
        self.receiver_reads += 1
        receiving = self.values["receiving"]
        return self.values["replica"], None, None if receiving is None else (receiving, None)


class Clock:
    def __init__(self):
        self.now = datetime.datetime.now(datetime.timezone.utc).timestamp()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def create_table():
    boto3.client("dynamodb").create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture()
def world(aws_env, rds_detaches_on_promotion):
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
        create_table()
        topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
        machine = boto3.client("stepfunctions").create_state_machine(
            name="promote",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/promoter",
        )["stateMachineArn"]
        yield monitor_config(dict(MONITOR, TOPIC_ARN=topic, STATE_MACHINE_ARN=machine))


def put_lag(seconds, ago=30):
    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "ReplicaLag",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": REPLICA}],
                "Timestamp": datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=ago),
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def is_replica():
    instance = boto3.client("rds").describe_db_instances(DBInstanceIdentifier=REPLICA)["DBInstances"][0]
    return bool(instance.get("ReadReplicaSourceDBInstanceIdentifier"))


def published(name):
    answer = boto3.client("cloudwatch").get_metric_statistics(
        Namespace=MONITOR["METRIC_NAMESPACE"],
        MetricName=name,
        StartTime=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1),
        EndTime=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )
    return max((p["Maximum"] for p in answer["Datapoints"]), default=None)


def make(cfg, aws=None, probes=probe.DOWN, positions=None, clock=None):
    aws = aws or Recording()
    clock = clock or Clock()
    states = iter(probes) if isinstance(probes, list) else None
    check = (lambda h, p, t: next(states)) if states else (lambda h, p, t: probes)
    return monitor.Monitor(
        cfg,
        aws,
        adapters.Store(aws, TABLE),
        positions or Positions(),
        check=check,
        clock=clock,
        sleep=clock.sleep,
    )


def caught_up(cfg, clock):
    """A run with the primary reachable and the replica caught up: the data at risk is known."""
    make(cfg, probes=probe.ACCEPTING, clock=clock).run("healthy")


def test_a_reachable_primary_keeps_the_authority_and_measures_the_data_at_risk(world):
    clock = Clock()
    positions = Positions()
    m = make(world, probes=probe.ACCEPTING, clock=clock, positions=positions)
    began = clock()
    # A tick every 5 s from 0 to 45 s: RUN_SECONDS is 45.
    assert m.run("run-1") == {"action": "ran", "phase": fsm.HEALTHY, "ticks": 10}
    assert clock() - began == 45
    state = adapters.Store(adapters.Aws(), TABLE).load()
    assert state["phase"] == fsm.HEALTHY and fsm.data_at_risk(state) == 0
    assert published("WriterIsDr") == 0 and published("DataAtRiskSeconds") == 0
    assert m.aws.names().count("replica_state") == 1
    # The replica (its position and its WAL receiver) is read on every tick.
    assert positions.receiver_reads == 10


def test_a_run_ends_by_elapsed_time_so_slow_ticks_shorten_it(world):
    clock = Clock()

    def slow_probe(host, port, timeout):
        clock.sleep(2)  # every probe takes 2 s
        return probe.ACCEPTING

    m = monitor.Monitor(
        world,
        Recording(),
        adapters.Store(Recording(), TABLE),
        Positions(),
        check=slow_probe,
        clock=clock,
        sleep=clock.sleep,
    )
    began = clock()
    # Ticks start 7 s apart (5 s asleep, 2 s probing); the 8th would end at 51 s, past 45 s.
    assert m.run("slow")["ticks"] == 7
    assert clock() - began == 44


def test_a_run_of_zero_seconds_ticks_once(world):
    cfg = world._replace(run_seconds=0.0)
    clock = Clock()
    assert make(cfg, probes=probe.ACCEPTING, clock=clock).run("short")["ticks"] == 1


def test_a_dead_primary_is_promoted_the_authority_published_and_the_workflow_started(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording()
    result = make(world, aws=aws, clock=clock).run("run-2")
    assert result["phase"] == fsm.PROMOTING
    assert not is_replica()
    assert published("WriterIsDr") == 1
    names = aws.names()
    assert names.index("promote") < names.index("start_failover") < names.index("put_event")
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=world.state_machine_arn)
    assert len(executions["executions"]) == 1
    # The next run keeps the authority with DR and does not promote again.
    aws = Recording()
    assert make(world, aws=aws, clock=clock).run("run-3")["phase"] == fsm.PROMOTING
    assert "promote" not in aws.names()


def test_missing_lag_holds_and_pages(world):
    clock = Clock()
    caught_up(world, clock)
    aws = Recording()
    assert make(world, aws=aws, clock=clock).run("run")["phase"] == fsm.HELD
    assert is_replica() and "notify" in aws.names() and "promote" not in aws.names()


def test_a_run_skips_while_another_holds_the_lock(world):
    store = adapters.Store(adapters.Aws(), TABLE)
    clock = Clock()
    assert store.acquire("other", clock(), 100)
    assert make(world, clock=clock).run("me") == {"action": "skipped"}
    clock.sleep(200)
    assert make(world, clock=clock).run("me")["action"] == "ran"


def notified(aws):
    return [c[1][1] for c in aws.calls if c[0] == "notify"]


def test_the_automatic_promotion_records_the_authority_then_publishes_it_then_calls_rds(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording()
    m = make(world, aws=aws, clock=clock)
    original = m.store.set_authority
    m.store.set_authority = lambda now: (aws.calls.append(("set_authority", (now,))), original(now))[1]
    assert m.run("run")["phase"] == fsm.PROMOTING
    names = aws.names()
    writer_is_dr = next(
        i for i, (name, args) in enumerate(aws.calls) if name == "put_metrics" and ("WriterIsDr", 1, "None") in args[1]
    )
    assert names.index("set_authority") < writer_is_dr < names.index("promote") < names.index("start_failover")
    assert not is_replica()


def test_a_promotion_whose_authority_cannot_be_recorded_does_not_call_rds_and_keeps_the_state(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording()
    m = make(world, aws=aws, clock=clock)

    def broken(now):
        raise adapters.AwsError("dynamodb.put_item", "ProvisionedThroughputExceededException")

    m.store.set_authority = broken
    assert m.run("run")["phase"] == fsm.UNREACHABLE
    assert "promote" not in aws.names() and "start_failover" not in aws.names()
    assert set(notified(aws)) == {"drgen: writer authority not recorded"}
    state = adapters.Store(adapters.Aws(), TABLE).load()
    assert state["phase"] == fsm.UNREACHABLE and state["promoted_at"] is None
    assert is_replica() and not adapters.Store(adapters.Aws(), TABLE).authority_is_dr()
    assert published("WriterIsDr") == 0


def test_a_refused_promotion_call_keeps_promoting_pages_once_per_repage_interval_and_is_called_again(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording(fail={"promote"})
    assert make(world, aws=aws, clock=clock).run("run")["phase"] == fsm.PROMOTING
    assert is_replica() and adapters.Store(adapters.Aws(), TABLE).authority_is_dr()
    assert notified(aws).count("drgen: promotion call refused") == 1
    assert "start_failover" in aws.names() and published("WriterIsDr") == 1
    # The next run calls it again a minute after the first call, and does not page again.
    aws = Recording(fail={"promote"})
    assert make(world, aws=aws, clock=clock).run("again")["phase"] == fsm.PROMOTING
    assert aws.names().count("promote") == 1
    assert "drgen: promotion call refused" not in notified(aws)
    # After the repage interval the refusal pages again; once RDS accepts, the replica is promoted.
    clock.sleep(world.rules.repage_seconds)
    aws = Recording(fail={"promote"})
    make(world, aws=aws, clock=clock).run("later")
    assert notified(aws).count("drgen: promotion call refused") == 1
    clock.sleep(60)
    aws = Recording()
    assert make(world, aws=aws, clock=clock).run("accepted")["phase"] == fsm.PROMOTING
    assert aws.names().count("promote") == 1 and not is_replica()


@pytest.mark.parametrize(
    "error",
    [ReadTimeoutError(endpoint_url="https://rds"), "InvalidDBInstanceState: a promotion is under way"],
    ids=["no-answer", "under-way"],
)
def test_a_promotion_call_without_an_answer_or_with_one_under_way_counts_as_started(world, monkeypatch, capsys, error):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording()

    def promote(*args):
        raise adapters.AwsError("rds.promote", error)

    monkeypatch.setattr(aws, "promote", promote)
    assert make(world, aws=aws, clock=clock).run("run")["phase"] == fsm.PROMOTING
    assert "drgen: promotion call refused" not in notified(aws) and "start_failover" in aws.names()
    assert "promotion_call_unanswered" in capsys.readouterr().out
    assert "promote-refused" not in adapters.Store(adapters.Aws(), TABLE).load()["pages"]


def test_a_replica_still_streaming_from_the_primary_holds_the_failover_as_a_partition(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    positions = Positions(receiving=True)
    aws = Recording()
    assert make(world, aws=aws, clock=clock, positions=positions).run("run")["phase"] == fsm.HELD
    assert "drgen: failover held (partition)" in notified(aws) and "promote" not in aws.names()
    # Read with the replica's position on every tick: the whole run.
    assert positions.receiver_reads == 10


def test_a_workflow_that_does_not_start_pages(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording(fail={"start_failover"})
    assert make(world, aws=aws, clock=clock).run("run")["phase"] == fsm.PROMOTING
    subjects = [c[1][1] for c in aws.calls if c[0] == "notify"]
    assert "drgen: failover workflow did not start" in subjects


def test_failed_reads_cannot_decide_and_failed_publishing_is_logged(world, capsys):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    aws = Recording(fail={"replica_lag", "put_metrics", "put_event"})
    assert make(world, aws=aws, clock=clock).run("run")["phase"] == fsm.HELD
    out = capsys.readouterr().out
    assert "publish_failed" in out and "aws_call_failed" in out


def test_a_failed_page_is_logged(world, capsys):
    clock = Clock()
    caught_up(world, clock)
    make(world, aws=Recording(fail={"notify"}), clock=clock).run("run")
    assert "page_failed" in capsys.readouterr().out


def test_a_replica_promoted_by_hand_is_adopted_and_fenced(world):
    boto3.client("rds").promote_read_replica(DBInstanceIdentifier=REPLICA)
    aws = Recording()
    assert make(world, aws=aws, probes=probe.ACCEPTING).run("run")["phase"] == fsm.PROMOTING
    assert "start_failover" in aws.names() and published("WriterIsDr") == 1
    assert published("SplitBrainRisk") == 1


def test_the_manual_promotion_records_the_authority_before_it_calls_rds(world):
    """The manual failover path: the authority first, then PromoteReadReplica, then the workflow.
    The next run takes the promotion over from the recorded authority while RDS still reports the
    instance as a replica (a promotion takes minutes), so nothing publishes "primary" meanwhile."""
    aws = Recording()
    store = adapters.Store(aws, TABLE)
    order = []
    original = store.set_authority
    store.set_authority = lambda now: (order.append("authority"), original(now))[1]
    promote = aws.promote
    aws.promote = lambda *a: (order.append("promote"), promote(*a))[1]
    m = monitor.Monitor(world, aws, store, Positions(), check=lambda h, p, t: probe.ACCEPTING, clock=Clock())
    assert m.promote_by_hand() == {"action": "promoted", "replica": REPLICA}
    assert order == ["authority", "promote"]
    assert "start_failover" in aws.names() and published("WriterIsDr") == 1
    assert make(world, probes=probe.ACCEPTING).run("next")["phase"] == fsm.PROMOTING
    assert m.promote_by_hand()["action"] == "already"


def test_the_manual_promotion_is_taken_over_while_rds_still_reports_a_replica(world):
    # Nothing promotes here: RDS keeps reporting a replica, and the recorded authority alone
    # makes the next run take the promotion over.
    store = adapters.Store(adapters.Aws(), TABLE)
    store.set_authority(1000.0)
    assert is_replica()
    assert make(world, probes=probe.ACCEPTING).run("next")["phase"] == fsm.PROMOTING


def test_a_refused_manual_promotion_pages_and_a_busy_lock_refuses(world):
    store = adapters.Store(adapters.Aws(), TABLE)
    assert store.acquire("a-run", 0.0, 10**10)
    assert make(world).promote_by_hand()["action"] == "refused"
    store.release("a-run")
    aws = Recording(fail=["promote"])
    answer = make(world, aws=aws).promote_by_hand()
    assert answer["action"] == "promotion refused"
    assert ("notify", (world.topic_arn, "drgen: promotion call refused")) in [(n, a[:2]) for n, a in aws.calls]


def test_a_manual_promotion_that_does_not_answer_counts_as_started(world, monkeypatch, capsys):
    # Publishing the authority metric fails too: logged; the recorded authority stands.
    aws = Recording(fail=["put_metrics"])
    monkeypatch.setattr(
        aws,
        "promote",
        lambda *a: (_ for _ in ()).throw(
            adapters.AwsError("rds.promote", ReadTimeoutError(endpoint_url="https://rds"))
        ),
    )
    assert make(world, aws=aws).promote_by_hand()["action"] == "promoted"
    assert "publish_failed" in capsys.readouterr().out
    assert adapters.Store(adapters.Aws(), TABLE).authority_is_dr()


def test_the_fence_confirmed_by_the_workflow_ends_in_fenced(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    make(world, clock=clock).run("run")
    adapters.Store(adapters.Aws(), TABLE).mark_fence(confirmed_at=clock())
    assert make(world, clock=clock).run("run")["phase"] == fsm.FENCED


def test_reset_authority_only_once_the_dr_instance_is_a_replica_again(world):
    m = make(world)
    assert m.reset_authority()["action"] == "reset"
    boto3.client("rds").promote_read_replica(DBInstanceIdentifier=REPLICA)
    assert m.reset_authority()["action"] == "refused"


def test_reset_authority_waits_for_a_running_monitor_instead_of_racing_it(world):
    """A scheduled run saves its state after every tick: a reset in the middle of a run would be
    undone by the run's next save. The reset takes the run lock, and refuses while a run has it."""
    clock = Clock()
    store = adapters.Store(adapters.Aws(), TABLE)
    assert store.acquire("a-scheduled-run", clock(), 60)
    answer = make(world, clock=clock).reset_authority()
    assert answer["action"] == "refused" and "run lock" in answer["reason"]
    store.release("a-scheduled-run")
    assert make(world, clock=clock).reset_authority()["action"] == "reset"
    # The reset released the lock: the next scheduled run is not skipped.
    assert store.acquire("the-next-run", clock(), 60)


def recreate_replica():
    """Failback's precondition: the DR instance is a replica again."""
    rds = boto3.client("rds")
    rds.delete_db_instance(DBInstanceIdentifier=REPLICA, SkipFinalSnapshot=True)
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=REPLICA, SourceDBInstanceIdentifier="trading-db-primary-prod"
    )


def test_reset_authority_forgets_the_fence_and_the_next_failover_waits_for_its_own(world):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    assert make(world, clock=clock).run("failover-1")["phase"] == fsm.PROMOTING
    store = adapters.Store(adapters.Aws(), TABLE)
    store.mark_fence(fenced_at=clock(), rebooted_at=clock(), confirmed_at=clock())
    assert make(world, clock=clock).run("fenced")["phase"] == fsm.FENCED
    recreate_replica()
    assert make(world, clock=clock).reset_authority()["action"] == "reset"
    assert store.fence() == {} and not store.authority_is_dr()
    # The next failover: the previous confirmation is not this promotion's.
    caught_up(world, clock)
    put_lag(250)
    aws = Recording()
    assert make(world, aws=aws, clock=clock).run("failover-2")["phase"] == fsm.PROMOTING
    assert "promote" in aws.names()
    assert "confirmed_at" not in store.fence()
    assert make(world, clock=clock).run("waiting")["phase"] == fsm.PROMOTING


def test_the_handler_runs_and_resets(world, monkeypatch):
    env = dict(MONITOR, TOPIC_ARN=world.topic_arn, STATE_MACHINE_ARN=world.state_machine_arn, RUN_SECONDS="0")
    env["PRIMARY_HOST"] = "127.0.0.1"
    env["PRIMARY_PORT"] = "9"
    env["REPLICA_HOST"] = "127.0.0.1"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    boto3.client("secretsmanager").create_secret(
        Name=MONITOR["SECRET_ID"], SecretString=json.dumps({"username": "dbadmin", "password": "x"})
    )
    assert monitor.handler({}, None)["action"] == "ran"
    assert monitor.handler({"command": "reset-authority"}, None)["action"] == "reset"
    assert monitor.handler({"command": "promote"}, None)["action"] == "promoted"
    boto3.client("dynamodb").delete_table(TableName=TABLE)
    with pytest.raises(adapters.AwsError):
        monitor.handler({}, None)


def test_positions_read_real_wal_positions_with_the_secret(world, secure_postgres):
    boto3.client("secretsmanager").create_secret(
        Name=MONITOR["SECRET_ID"], SecretString=json.dumps({"username": "dbadmin", "password": "scram-secret-1"})
    )
    env = dict(MONITOR, PRIMARY_HOST="127.0.0.1", REPLICA_HOST="127.0.0.1", DB_NAME="postgres")
    env["PRIMARY_PORT"] = str(secure_postgres.port)
    positions = monitor.Positions(adapters.Aws(), monitor_config(env))
    assert positions.primary() > 0
    # Not a standby: pg_last_wal_receive_lsn() is NULL, and no WAL receiver runs.
    assert positions.replica() == (None, None, (False, None))


class Receiver:
    """A connection whose replica query answers `status` (the row's text)."""

    def __init__(self, status):
        self.status = status
        self.opened = None
        self.sql = []

    def __call__(self, host, port, user, password, database, timeout):
        self.opened = (host, port, user, database)
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def scalar(self, sql):
        self.sql.append(sql)
        return self.status


@pytest.mark.parametrize(
    ("row", "read"),
    [
        ("0/3000060 1733212340.5 streaming 1733212345.25", (0x3000060, 1733212340.5, (True, 1733212345.25))),
        ("0/3000060 1733212340.5 waiting -", (0x3000060, 1733212340.5, (False, None))),
        ("0/3000060 - - -", (0x3000060, None, (False, None))),
        ("- 1733212340.5 - -", (None, 1733212340.5, (False, None))),
        (None, (None, None, (False, None))),
    ],
)
def test_the_replica_is_read_in_one_query_and_streams_only_when_its_receiver_says_so(world, row, read):
    boto3.client("secretsmanager").create_secret(
        Name=MONITOR["SECRET_ID"], SecretString=json.dumps({"username": "dbadmin", "password": "x"})
    )
    connection = Receiver(row)
    assert monitor.Positions(adapters.Aws(), world, connect=connection).replica() == read
    assert connection.opened == (world.replica_host, world.target.port, "dbadmin", world.database)
    assert connection.sql == [monitor.Positions.REPLICA_SQL]


def test_positions_are_none_when_the_secret_or_the_server_fails(world, capsys):
    positions = monitor.Positions(adapters.Aws(), world)
    assert positions.primary() is None
    assert positions.replica() == (None, None, None)
    assert capsys.readouterr().out.count("wal_position_failed") == 2


def test_a_failed_announcement_is_logged(world, capsys):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    make(world, aws=Recording(fail={"put_event"}), clock=clock).run("run")
    assert "announce_failed" in capsys.readouterr().out


def test_the_authority_is_recorded_for_the_observers_and_a_failure_pages(world, monkeypatch):
    clock = Clock()
    caught_up(world, clock)
    put_lag(250)
    m = make(world, clock=clock)
    assert m.run("run")["phase"] == fsm.PROMOTING
    assert m.store.authority_is_dr()

    def broken(now):
        raise adapters.AwsError("dynamodb.put_item", "Throttling")

    aws = Recording()
    m = make(world, aws=aws, clock=clock)
    monkeypatch.setattr(m.store, "set_authority", broken)
    state = fsm.initial_state()
    assert m._record_authority(state) is False
    assert m._record_authority(state) is False  # again within the repage interval: no second page
    assert [c[1][1] for c in aws.calls if c[0] == "notify"] == ["drgen: writer authority not recorded"]


class Commands:
    """A monitor that says which of its entry points was called."""

    def run(self, owner):
        return ("run", owner)

    def promote_by_hand(self):
        return ("promote",)

    def reset_authority(self):
        return ("reset-authority",)


def test_serve_runs_under_the_request_id_unless_a_command_is_given():
    assert monitor.serve(Commands(), None, "req-1") == ("run", "req-1")
    assert monitor.serve(Commands(), {}, "req-2") == ("run", "req-2")
    assert monitor.serve(Commands(), {"command": "promote"}, "req-3") == ("promote",)
    assert monitor.serve(Commands(), {"command": "reset-authority"}, "req-4") == ("reset-authority",)


def test_a_failed_run_is_logged_and_raised_without_a_page(world, capsys):
    # The function's Errors alarm pages when runs start failing; the run itself does not.
    aws = Recording()
    m = make(world, aws=aws)
    boto3.client("dynamodb").delete_table(TableName=TABLE)
    with pytest.raises(adapters.AwsError):
        monitor.serve(m, {}, "req-1")
    assert "notify" not in aws.names()
    assert '"event": "run_failed"' in capsys.readouterr().out


# AUTHORITY=arc: the workflow takes the authority in ARC, waits out the lease and promotes.


def arc_mode(cfg):
    return cfg._replace(authority="arc")


def test_in_arc_mode_the_automatic_failover_records_the_authority_and_starts_the_workflow_without_promoting(world):
    cfg = arc_mode(world)
    clock = Clock()
    caught_up(cfg, clock)
    put_lag(250)
    aws = Recording()
    assert make(cfg, aws=aws, clock=clock).run("run")["phase"] == fsm.PROMOTING
    assert "promote" not in aws.names() and is_replica()
    assert adapters.Store(adapters.Aws(), TABLE).authority_is_dr() and published("WriterIsDr") == 1
    assert "start_failover" in aws.names()
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=cfg.state_machine_arn)
    assert len(executions["executions"]) == 1
    # Minutes later RDS still reports an available replica (the workflow waits out the lease):
    # the monitor does not call PromoteReadReplica again either.
    for minute in range(3):
        clock.sleep(60)
        aws = Recording()
        assert make(cfg, aws=aws, clock=clock).run(f"later-{minute}")["phase"] == fsm.PROMOTING
        assert "promote" not in aws.names()
    assert is_replica()


def test_in_arc_mode_the_manual_failover_starts_the_workflow_and_never_promotes(world):
    cfg = arc_mode(world)
    aws = Recording()
    m = make(cfg, aws=aws)
    assert m.promote_by_hand() == {"action": "workflow started", "replica": REPLICA, "authority": "arc"}
    assert "promote" not in aws.names() and is_replica()
    assert "start_failover" in aws.names() and adapters.Store(adapters.Aws(), TABLE).authority_is_dr()
    assert m.promote_by_hand()["action"] == "already"
    assert "promote" not in aws.names()


def test_in_arc_mode_a_workflow_that_does_not_start_pages_that_nothing_is_promoted(world):
    cfg = arc_mode(world)
    aws = Recording(fail={"start_failover"})
    make(cfg, aws=aws).promote_by_hand()
    pages = [c[1][2] for c in aws.calls if c[0] == "notify" and c[1][1] == "drgen: failover workflow did not start"]
    assert len(pages) == 1 and "Nothing is promoted until it runs" in pages[0]
    assert "promote" not in aws.names()


def test_in_arc_mode_the_monitor_calls_again_only_after_the_switch_and_the_lease_wait(world):
    cfg = arc_mode(world)
    cfg = cfg._replace(rules=cfg.rules._replace(authority_wait=120.0))
    clock = Clock()
    caught_up(cfg, clock)
    put_lag(250)
    assert make(cfg, clock=clock).run("run")["phase"] == fsm.PROMOTING
    store = adapters.Store(adapters.Aws(), TABLE)
    # The lease wait and a minute more have passed, but the workflow has not taken the
    # authority in ARC: no call.
    clock.sleep(200)
    aws = Recording()
    make(cfg, aws=aws, clock=clock).run("no-switch")
    assert "promote" not in aws.names() and is_replica()
    # Switched now: not before the lease wait has passed since the switch.
    store.record_arc_switch(clock())
    clock.sleep(70)
    aws = Recording()
    make(cfg, aws=aws, clock=clock).run("within-the-wait")
    assert "promote" not in aws.names()
    clock.sleep(60)
    aws = Recording()
    make(cfg, aws=aws, clock=clock).run("after-the-wait")
    assert "promote" in aws.names() and not is_replica()


def test_in_arc_mode_an_unreadable_switch_record_means_no_call(world, monkeypatch):
    cfg = arc_mode(world)
    m = make(cfg)

    def unreadable():
        raise adapters.AwsError("dynamodb.get_item", "InternalServerError")

    monkeypatch.setattr(m.store, "arc_switch", unreadable)
    assert m._lease_waited() is False
