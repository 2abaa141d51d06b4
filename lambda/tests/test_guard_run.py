"""The primary-region guard against moto: whole runs through the real adapters, the record the DR
side reads, the run's timing, and a guard whose reads or writes fail."""

import datetime
import socket

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.rds.models import Event, rds_backends
from test_monitor import TABLE, create_table

from drgen_lambda import adapters, guard, guard_run, probe
from drgen_lambda.config import guard_config

PRIMARY = "trading-db-primary-prod"

GUARD = {
    "AWS_REGION": "us-west-2",
    "PRIMARY_HOST": "db.example.internal",
    "PRIMARY_PORT": "5432",
    "PROBE_TIMEOUT_SECONDS": "2",
    "PRIMARY_ID": PRIMARY,
    "STATE_TABLE": TABLE,
    "GUARD_INTERVAL_SECONDS": "5",
    "RUN_SECONDS": "50",
    "GUARD_LATE_SECONDS": "20",
    "EVENT_WINDOW_SECONDS": "1800",
}

CFG = guard_config(GUARD)


class Clock:
    """One clock for the wall time, the monotonic time and sleep; each probe and call costs
    `cost` seconds."""

    def __init__(self, now=None):
        self.now = now or datetime.datetime.now(datetime.timezone.utc).timestamp()
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def checker(*states, clock=None, cost=0.0):
    """A probe that answers each state in turn (the last one from then on)."""
    answers = list(states)

    def check(host, port, timeout):
        assert (host, port, timeout) == ("db.example.internal", 5432, 2.0)
        if clock is not None:
            clock.now += cost
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return check


@pytest.fixture()
def world(aws_env):
    with mock_aws():
        boto3.client("rds").create_db_instance(
            DBInstanceIdentifier=PRIMARY,
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password-1",
            AllocatedStorage=100,
        )
        create_table()
        yield


def backend():
    return rds_backends[DEFAULT_ACCOUNT_ID]["us-west-2"]


def rds_event(message, at):
    """An event of the primary as RDS would list it (moto records only a few kinds itself)."""
    event = Event("DB_INSTANCE_CREATE", backend().databases[PRIMARY])
    event.message = message
    event.date = datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc)
    backend().events.append(event)


def set_status(status):
    backend().databases[PRIMARY].status = status


def new_guard(clock, check, aws=None, cfg=CFG):
    aws = aws or adapters.Aws(config=adapters.GUARD_CLIENT)
    store = adapters.Store(aws, cfg.table)
    return guard_run.Guard(cfg, aws, store, check=check, clock=clock, monotonic=clock, sleep=clock.sleep), store


def test_a_run_ticks_every_interval_and_ends_before_its_minute(world):
    clock = Clock()
    start = clock.now
    g, store = new_guard(clock, checker(probe.DOWN))
    result = g.run()
    # Each tick's worst case is 2 s of probe and three 3 s calls: the last tick starts at 35 s
    # and would end by 46 s; one at 40 s could run to 51 s, past RUN_SECONDS.
    assert g.tick_seconds == 11
    assert result == {"ticks": 8, "verdict": "unreachable", "since": start}
    assert clock.now == start + 35
    report = store.guard()
    # The last tick's next report is the next run's first: a minute after this run started, 20 s
    # late at most, and a tick.
    assert report == guard.GuardReport(
        "unreachable", "status available, no recovery under way", start, start + 35, next_by=start + 91
    )


def test_each_report_says_when_the_next_is_due_at_the_latest(world, monkeypatch):
    clock = Clock()
    start = clock.now
    g, store = new_guard(clock, checker(probe.ACCEPTING))
    reports = []
    monkeypatch.setattr(store, "report_guard", reports.append)
    g.run()
    # A tick that starts at t is followed by one that starts no earlier than its worst case
    # (t + 11) and is written a worst case later, while that surely fits in the run (up to the
    # tick at 25 s); the ticks after it cannot be sure, and point at the next run.
    assert [(r.at - start, r.next_by - start) for r in reports] == [
        (0, 22),
        (5, 27),
        (10, 32),
        (15, 37),
        (20, 42),
        (25, 47),
        (30, 91),
        (35, 91),
    ]


def test_a_slow_tick_delays_the_next_and_the_run_still_ends_in_time(world):
    clock = Clock()
    start = clock.now
    g, _ = new_guard(clock, checker(probe.DOWN, clock=clock, cost=7.0))
    result = g.run()
    # Ticks at 0, 7, 14, 21, 28, 35 (each probe takes 7 s, longer than the interval).
    assert result["ticks"] == 6
    assert clock.now - start == 42
    assert all(s == 0.0 for s in clock.slept)


def test_a_reachable_primary_is_reported_without_reading_rds(world, monkeypatch):
    clock = Clock()
    g, store = new_guard(clock, checker(probe.ACCEPTING))
    monkeypatch.setattr(g.aws, "instance_status", lambda *a: pytest.fail("RDS read while the probe answers"))
    assert g.tick(None).verdict == guard.REACHABLE
    assert store.guard().verdict == guard.REACHABLE


def test_since_carries_across_runs_through_the_record(world):
    clock = Clock()
    first_tick = clock.now
    g, store = new_guard(clock, checker(probe.DOWN))
    g.run()
    clock.now = first_tick + 60  # the next minute's run
    g2, _ = new_guard(clock, checker(probe.DOWN))
    assert g2.run()["since"] == first_tick
    # A run after a hole longer than the gap between two runs starts over.
    clock.now += 60 + g2.max_gap
    g3, _ = new_guard(clock, checker(probe.DOWN))
    assert g3.run()["since"] == clock.now - 35


def test_an_open_failover_event_is_reported_as_recovering_since_the_event(world):
    clock = Clock()
    rds_event("Multi-AZ instance failover started", clock.now - 40)
    g, store = new_guard(clock, checker(probe.DOWN))
    g.tick(None)
    report = store.guard()
    assert report.verdict == guard.RECOVERING
    assert report.detail == "event multi-az-failover (RDS-EVENT-0013)"
    assert report.since == pytest.approx(clock.now - 40, abs=0.001)
    rds_event("Multi-AZ instance failover completed", clock.now - 5)
    assert g.tick(report).verdict == guard.UNREACHABLE


def test_a_recovery_status_is_reported_as_recovering(world):
    set_status("rebooting")
    g, store = new_guard(Clock(), checker(probe.DOWN))
    g.tick(None)
    assert (store.guard().verdict, store.guard().detail) == (guard.RECOVERING, "status rebooting")


def test_an_instance_rds_does_not_know_is_unreachable_not_unknown(world):
    cfg = CFG._replace(primary_id="no-such-instance")
    g, store = new_guard(Clock(), checker(probe.DOWN), cfg=cfg)
    assert g.tick(None).detail == "status not-found, no recovery under way"


def test_a_guard_whose_rds_reads_fail_still_speaks_unknown(world, monkeypatch):
    clock = Clock()
    aws = adapters.Aws(config=adapters.GUARD_CLIENT)

    def down(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://rds.us-west-2.amazonaws.com")

    monkeypatch.setattr(aws._client("rds"), "describe_db_instances", down)
    monkeypatch.setattr(aws._client("rds"), "describe_events", down)
    g, store = new_guard(clock, checker(probe.DOWN), aws=aws)
    g.tick(None)
    report = store.guard()
    assert report.verdict == guard.UNKNOWN
    assert "DescribeDBInstances failed" in report.detail and "DescribeEvents failed" in report.detail


def test_a_failed_write_or_an_unreadable_previous_report_does_not_stop_the_run(aws_env, capsys):
    with mock_aws():  # no table at all
        clock = Clock()
        g, _ = new_guard(clock, checker(probe.ACCEPTING))
        result = g.run()
    assert result["ticks"] == 8 and result["verdict"] == guard.REACHABLE
    out = capsys.readouterr().out
    assert "guard_previous_unreadable" in out and out.count("guard_report_failed") == 8


def test_one_call_of_the_guard_is_one_attempt_within_its_bound():
    client = adapters.GUARD_CLIENT
    assert client.retries["total_max_attempts"] == 1
    assert client.connect_timeout + client.read_timeout == adapters.GUARD_CALL_SECONDS
    aws = adapters.Aws(config=client)
    assert aws._client("rds", "us-west-2").meta.config.read_timeout == client.read_timeout


def test_the_gap_that_continues_an_observation_spans_two_runs():
    clock = Clock()
    g, _ = new_guard(clock, checker(probe.DOWN), aws=object())
    # A whole schedule period and one tick (11 s): a late run continues, a missing one does not.
    assert g.max_gap == 71


def test_the_handler_runs_one_guard_run_from_its_environment(world, monkeypatch):
    # A port nobody listens on: the probe fails at once. RUN_SECONDS leaves room for one tick.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for key, value in dict(GUARD, PRIMARY_HOST="127.0.0.1", PRIMARY_PORT=str(port), RUN_SECONDS="1").items():
        monkeypatch.setenv(key, value)
    result = guard_run.handler({}, None)
    assert result["ticks"] == 1 and result["verdict"] == guard.UNREACHABLE
    stored = adapters.Store(adapters.Aws(), TABLE).guard()
    assert stored.verdict == guard.UNREACHABLE and stored.since == result["since"]


def test_a_runs_first_tick_reads_the_events_also_while_the_primary_answers(world, monkeypatch):
    # The closing event of a Multi-AZ failover that the DR side may never have been told of: the
    # guard reads it on the run's first tick and publishes when it closed.
    clock = Clock()
    rds_event("Multi-AZ instance failover started", clock.now - 300)
    rds_event("Multi-AZ instance failover completed", clock.now - 200)
    g, store = new_guard(clock, checker(probe.ACCEPTING))
    monkeypatch.setattr(g.aws, "instance_status", lambda *a: pytest.fail("status read while the probe answers"))
    report = g.tick(None, first=True)
    assert report.verdict == guard.REACHABLE
    assert report.closed == {"multi-az-failover": pytest.approx(clock.now - 200, abs=1)}
    assert store.guard().closed == report.closed
    # Later ticks of the run do not read the events while the primary answers, and carry it.
    monkeypatch.setattr(g.aws, "instance_events", lambda *a: pytest.fail("events read on a later tick"))
    assert g.tick(report).closed == report.closed


def test_a_report_written_before_closings_were_recorded_reads_as_none(world):
    aws = adapters.Aws(config=adapters.GUARD_CLIENT)
    boto3.client("dynamodb").put_item(
        TableName=TABLE,
        Item={"pk": {"S": "guard"}, "verdict": {"S": "reachable"}, "since": {"N": "1"}, "at": {"N": "2"}},
    )
    assert adapters.Store(aws, TABLE).guard().closed == {}
