"""The lease keeper: its pure step case by case, then whole runs against moto (RDS, DynamoDB, SNS)
with ARC's data plane on Stubber-driven botocore clients (moto has none)."""

import json
import subprocess
import sys
from pathlib import Path

import arc_stub
import boto3
import pytest
from arc_stub import DR_CONTROL, ENDPOINTS, PRIMARY_CONTROL, error, state
from moto import mock_aws
from test_monitor import TABLE, create_table

from drgen_lambda import adapters, arc, lease
from drgen_lambda.config import lease_config

PRIMARY = "trading-db-primary-prod"
URLS = [url for url, _ in ENDPOINTS]

LEASE = {
    "ARC_ENDPOINTS": json.dumps([{"endpoint": url, "region": region} for url, region in ENDPOINTS]),
    "PRIMARY_CONTROL_ARN": PRIMARY_CONTROL,
    "DR_CONTROL_ARN": DR_CONTROL,
    "LEASE_SECONDS": "30",
    "TICK_SECONDS": "5",
    "RUN_SECONDS": "50",
    "PRIMARY_ID": PRIMARY,
    "FENCE_SECURITY_GROUP": "sg-0123456789abcdef0",
    "STATE_TABLE": TABLE,
    "TOPIC_ARN": "arn:aws:sns:us-west-2:123456789012:alerts",
}

CFG = lease_config(LEASE)
RULES = lease.Rules(lease_seconds=30.0)
T = 1_000_000.0


def fresh(**known):
    return lease.initial_state(known)


def see(now, dr, primary=None):
    return lease.Observation(now, dr, primary)


def kinds(actions):
    return [a.kind for a in actions]


# The pure step.


def test_dr_off_confirms_and_does_nothing_else():
    state, actions = lease.step(fresh(confirmed_at=T - 100), see(T, "Off", "On"), RULES)
    assert state["confirmed_at"] == T and state["verdict"] == lease.CONFIRMED and actions == []


def test_dr_on_fences_once():
    state, actions = lease.step(fresh(confirmed_at=T - 1), see(T, "On"), RULES)
    assert kinds(actions) == ["fence"] and "DR routing control is On" in actions[0].message
    # The fence is recorded by whoever carried it out; a fenced primary is not fenced again.
    state, actions = lease.step(dict(state, fenced_at=T), see(T + 5, "On"), RULES)
    assert actions == [] and state["verdict"] == lease.DR_HOLDS
    # DR On is no confirmation.
    assert state["confirmed_at"] == T - 1


def test_an_unreadable_authority_fences_once_the_lease_since_the_last_confirmation_has_passed():
    state, actions = lease.step(fresh(confirmed_at=T), see(T + 29, None), RULES)
    assert actions == [] and state["verdict"] == lease.UNREADABLE
    state, actions = lease.step(state, see(T + 30, None), RULES)
    assert kinds(actions) == ["fence"] and "could not read ARC for the lease time" in actions[0].message
    assert "since the last confirmation" in actions[0].message


def test_a_confirmation_between_failed_reads_renews_the_lease():
    state, _ = lease.step(fresh(confirmed_at=T), see(T + 20, None), RULES)
    state, _ = lease.step(state, see(T + 25, "Off", "On"), RULES)
    assert state["first_failure"] is None
    state, actions = lease.step(state, see(T + 50, None), RULES)
    assert actions == []
    assert kinds(lease.step(state, see(T + 55, None), RULES)[1]) == ["fence"]


def test_a_hole_between_runs_longer_than_the_lease_fences_on_the_first_failed_read():
    """The confirmation persists: a run that starts after missing runs, and cannot read ARC,
    fences at once."""
    state, actions = lease.step(fresh(confirmed_at=T - 300), see(T, None), RULES)
    assert kinds(actions) == ["fence"]


def test_without_any_confirmation_the_lease_counts_from_the_first_failed_read():
    state, actions = lease.step(fresh(), see(T, None), RULES)
    assert actions == [] and state["first_failure"] == T
    state, actions = lease.step(state, see(T + 29, None), RULES)
    assert actions == [] and state["first_failure"] == T
    state, actions = lease.step(state, see(T + 30, None), RULES)
    assert kinds(actions) == ["fence"] and "its first failed read" in actions[0].message


def test_both_controls_off_page_every_repage_interval_and_never_fence():
    state, actions = lease.step(fresh(), see(T, "Off", "Off"), RULES)
    assert kinds(actions) == ["page"] and "routing controls not initialised: set the primary's On" in actions[0].message
    state, actions = lease.step(state, see(T + 899, "Off", "Off"), RULES)
    assert actions == []
    state, actions = lease.step(state, see(T + 900, "Off", "Off"), RULES)
    assert kinds(actions) == ["page"] and state["fenced_at"] is None


def test_an_unread_primary_control_pages_nothing():
    assert lease.step(fresh(), see(T, "Off", None), RULES)[1] == []


def test_a_fenced_primary_is_never_unfenced_and_pages_while_arc_names_it():
    state, actions = lease.step(fresh(fenced_at=T - 10), see(T, "Off", "On"), RULES)
    assert kinds(actions) == ["page"]
    assert "self-fenced; ARC names the primary; restore by hand (RUNBOOK)" in actions[0].message
    assert state["fenced_at"] == T - 10
    state, actions = lease.step(state, see(T + 60, "Off", "On"), RULES)
    assert actions == []
    state, actions = lease.step(state, see(T + 900, "Off", "On"), RULES)
    assert kinds(actions) == ["page"]
    # Unreadable or DR On: nothing more to do.
    assert lease.step(state, see(T + 2000, None), RULES)[1] == []
    assert lease.step(state, see(T + 2000, "On"), RULES)[1] == []


def test_the_step_does_not_change_the_state_it_is_given():
    before = fresh(confirmed_at=T)
    lease.step(before, see(T + 5, "Off", "Off"), RULES)
    assert before == fresh(confirmed_at=T)


# Whole runs.


class Clock:
    """Wall clock, monotonic clock and sleep in one, advanced by sleeping."""

    def __init__(self, now=T):
        self.now = now

    def __call__(self):
        return self.now

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture()
def world(aws_env):
    with mock_aws():
        ec2 = boto3.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        group = ec2.create_security_group(GroupName="fenced", Description="deny all", VpcId=vpc)["GroupId"]
        boto3.client("rds").create_db_instance(
            DBInstanceIdentifier=PRIMARY,
            DBInstanceClass="db.r6g.large",
            Engine="postgres",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password-1",
            AllocatedStorage=100,
        )
        create_table()
        topic = boto3.client("sns").create_topic(Name="alerts")["TopicArn"]
        yield CFG._replace(fence_group=group, topic_arn=topic)


class Recording(adapters.Aws):
    """The real adapters, recording the names of the calls made."""

    def __init__(self, session):
        super().__init__(session=session, config=adapters.GUARD_CLIENT)
        self.names = []

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name.startswith("_") or name == "names" or not callable(attr):
            return attr

        def wrapper(*args, **kwargs):
            self.names.append(name)
            return attr(*args, **kwargs)

        return wrapper


def keeper(cfg, answers, clock, store_aws=None):
    session = arc_stub.Session(answers)
    aws = Recording(session)
    cluster = arc.Arc(aws, cfg.arc.endpoints, start=0)
    store = adapters.Store(store_aws or aws, cfg.table)
    return lease.Keeper(cfg, aws, store, cluster, clock=clock, monotonic=clock.monotonic, sleep=clock.sleep), session


def confirmations(ticks):
    return [state(DR_CONTROL, "Off"), state(PRIMARY_CONTROL, "On")] * ticks


def record():
    return adapters.Store(adapters.Aws(), TABLE).lease()


def groups():
    instance = boto3.client("rds").describe_db_instances(DBInstanceIdentifier=PRIMARY)["DBInstances"][0]
    return [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]]


def test_a_run_ticks_while_a_whole_tick_fits_and_persists_each_confirmation(world):
    clock = Clock()
    k, session = keeper(world, {URLS[0]: confirmations(5)}, clock)
    # Three endpoints: a tick's worst case is (3 + 1 + 5) calls of 3 s, 27 s. Ticks at 0, 5, 10,
    # 15 and 20 s; one at 25 s could end at 52 s, past RUN_SECONDS (50).
    assert k.tick_seconds == 27
    assert k.run() == {"ticks": 5, "verdicts": [lease.CONFIRMED] * 5, "fenced": False}
    session.assert_all_answered()
    assert record() == {"confirmed_at": T + 20, "pages": {}}
    assert k.aws.names.count("notify") == 0 and "fence" not in k.aws.names


def test_dr_on_fences_the_primary_once_pages_and_the_next_run_does_not_fence_again(world):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run() == {"ticks": 1, "verdicts": [lease.DR_HOLDS], "fenced": True}
    assert groups() == [world.fence_group]
    assert [n for n in k.aws.names if n in ("instance", "fence", "reboot", "notify")] == [
        "instance",
        "fence",
        "reboot",
        "notify",
    ]
    assert record()["fenced_at"] == T
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run()["fenced"] is True
    assert "fence" not in k.aws.names and "reboot" not in k.aws.names
    # ARC names the primary again: the fence stays, and a page says so.
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: confirmations(1)}, clock)
    assert k.run()["fenced"] is True
    assert groups() == [world.fence_group] and "notify" in k.aws.names


def test_a_lease_that_ran_out_between_runs_fences_on_the_first_unreadable_tick(world):
    adapters.Store(adapters.Aws(), TABLE).keep_lease({"confirmed_at": T - 120, "fenced_at": None, "pages": {}})
    clock = Clock()
    unreachable = {url: [error("get_routing_control_state", "ThrottlingException", 429)] for url in URLS}
    k, _ = keeper(world._replace(run_seconds=1), unreachable, clock)
    assert k.run() == {"ticks": 1, "verdicts": [lease.UNREADABLE], "fenced": True}
    assert groups() == [world.fence_group]
    assert record()["confirmed_at"] == T - 120 and record()["fenced_at"] == T


def test_an_unreadable_record_counts_from_the_first_failed_read_and_failed_writes_are_logged(world, capsys):
    clock = Clock()
    cfg = world._replace(run_seconds=59, lease_seconds=10)
    # Ticks at 0, 5, ..., 30 s (30 + 27 <= 59): seven, none of which reads ARC.
    session = arc_stub.Session(
        {url: [error("get_routing_control_state", "ThrottlingException", 429)] * 7 for url in URLS}
    )
    aws = Recording(session)
    store = adapters.Store(aws, "no-such-table")
    k = lease.Keeper(
        cfg,
        aws,
        store,
        arc.Arc(aws, cfg.arc.endpoints, start=0),
        clock=clock,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    assert k.run() == {"ticks": 7, "verdicts": [lease.UNREADABLE] * 7, "fenced": True}
    session.assert_all_answered()
    out = capsys.readouterr().out
    assert "lease_record_unreadable" in out and "lease_record_failed" in out and "lease_read_failed" in out
    # No confirmation known: the lease of 10 s counted from the first failed read, at 0 s.
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    order = [e["event"] for e in events if e["event"] == "lease" or e.get("kind") == "fence"]
    assert order == ["lease"] * 3 + ["action"] + ["lease"] * 4
    assert aws.names.count("fence") == 1 and groups() == [world.fence_group]


def test_a_refused_read_is_an_unreadable_authority(world):
    clock = Clock()
    k, session = keeper(
        world._replace(run_seconds=1),
        {URLS[0]: [error("get_routing_control_state", "AccessDeniedException", 403)], URLS[1]: []},
        clock,
    )
    assert k.run()["verdicts"] == [lease.UNREADABLE]
    assert session.made == URLS[:1]


def test_a_failed_fence_is_logged_and_tried_again_on_the_next_tick(world, capsys, monkeypatch):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=30), {URLS[0]: [state(DR_CONTROL, "On")] * 2}, clock)
    reboots = []

    def reboot(region, instance_id):
        reboots.append(region)
        if len(reboots) == 1:
            raise adapters.AwsError("rds.reboot_db_instance", "InvalidDBInstanceState: the instance is modifying")

    monkeypatch.setattr(k.aws, "reboot", reboot)
    assert k.run() == {"ticks": 2, "verdicts": [lease.DR_HOLDS] * 2, "fenced": True}
    assert reboots == [None, None]
    assert "fence_failed" in capsys.readouterr().out
    # The second tick found the deny-all group in place and only rebooted.
    assert k.aws.names.count("fence") == 1


def test_a_failed_page_is_logged(world, capsys, monkeypatch):
    clock = Clock()
    k, _ = keeper(
        world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "Off"), state(PRIMARY_CONTROL, "Off")]}, clock
    )
    monkeypatch.setattr(
        k.aws, "notify", lambda *a: (_ for _ in ()).throw(adapters.AwsError("sns.publish", "Throttling"))
    )
    assert k.run()["fenced"] is False
    assert "page_failed" in capsys.readouterr().out
    assert "uninitialised" in record()["pages"]


def test_the_handler_runs_one_run_from_its_environment(world, monkeypatch):
    for name, value in LEASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RUN_SECONDS", "1")
    monkeypatch.setenv("TOPIC_ARN", world.topic_arn)
    monkeypatch.setenv("FENCE_SECURITY_GROUP", world.fence_group)
    session = arc_stub.Session({url: [state(DR_CONTROL, "On")] for url in URLS})
    monkeypatch.setattr(lease.adapters.boto3.session, "Session", lambda: session)
    assert lease.handler({}, None) == {"ticks": 1, "verdicts": [lease.DR_HOLDS], "fenced": True}
    assert groups() == [world.fence_group]


LEASE_PACKAGE = ["__init__.py", "adapters.py", "arc.py", "config.py", "logs.py", "lease.py"]


def test_the_lease_package_imports_with_its_own_sources_only(tmp_path):
    """lease.zip ships only these sources: the handler's module imports from them alone."""
    source = Path(__file__).resolve().parents[1] / "drgen_lambda"
    package = tmp_path / "drgen_lambda"
    package.mkdir()
    for name in LEASE_PACKAGE:
        (package / name).write_text((source / name).read_text())
    code = "import sys, drgen_lambda.lease; print(' '.join(sorted(n for n in sys.modules if 'drgen' in n)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True, text=True)
    assert out.stdout.split() == sorted(["drgen_lambda"] + ["drgen_lambda." + n[:-3] for n in LEASE_PACKAGE[1:]])


def test_a_fence_that_fails_pages_through_the_repage_throttle(world, monkeypatch):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=10), {URLS[0]: [state(DR_CONTROL, "On")] * 4}, clock)

    pages = []
    failing = [True]
    real = k.aws.instance

    def instance(instance_id, region=None):
        if failing[0]:
            raise adapters.AwsError("rds.describe_db_instances", "Could not connect to the endpoint URL")
        return real(instance_id, region)

    monkeypatch.setattr(k.aws, "instance", instance)
    monkeypatch.setattr(k.aws, "notify", lambda topic, subject, message: pages.append(subject))
    assert k.run() == {"ticks": 4, "verdicts": [lease.DR_HOLDS] * 4, "fenced": False}
    assert pages == ["drgen: primary NOT fenced: its region's RDS API failed"]
    assert "fence-failed" in record()["pages"]
    # Its region's API answers again: fenced, and a page says so after the failure's.
    failing[0] = False
    clock.sleep(60)
    k.cluster = arc.Arc(k.aws, world.arc.endpoints, start=0)
    k.cluster._clients = {}
    k.cluster._aws = k.aws
    k.cluster._aws._session = arc_stub.Session({URLS[0]: [state(DR_CONTROL, "On")]})
    k.cfg = world._replace(run_seconds=1)
    assert k.run()["fenced"] is True
    assert pages[-1] == "drgen: primary fenced itself, ARC names DR"


def test_a_primary_found_fenced_is_rebooted_again_without_a_second_page(world):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    k.run()
    # Its record is lost (a table copy impaired, say): the next run fences again.
    adapters.Store(adapters.Aws(), TABLE).keep_lease({"confirmed_at": None, "fenced_at": None, "pages": {}})
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run()["fenced"] is True
    assert "fence" not in k.aws.names and "reboot" in k.aws.names and "notify" not in k.aws.names
