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
    "FENCE_APPLY_SECONDS": "60",
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


def test_dr_on_wants_the_fence_on_every_tick():
    state, actions = lease.step(fresh(confirmed_at=T - 1), see(T, "On"), RULES)
    assert kinds(actions) == ["fence"] and "DR routing control is On" in actions[0].message
    # Whether there is anything left to do is read from the instance, not remembered: a fence
    # on record does not disarm it.
    state, actions = lease.step(dict(state, fence_started_at=T, rebooted_at=T + 1), see(T + 5, "On"), RULES)
    assert kinds(actions) == ["fence"] and state["verdict"] == lease.DR_HOLDS
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
    assert state["unconfirmed_since"] is None
    state, actions = lease.step(state, see(T + 50, None), RULES)
    assert actions == []
    assert kinds(lease.step(state, see(T + 55, None), RULES)[1]) == ["fence"]


def test_a_hole_between_runs_longer_than_the_lease_fences_on_the_first_failed_read():
    """The confirmation persists: a run that starts after missing runs, and cannot read ARC,
    fences at once."""
    state, actions = lease.step(fresh(confirmed_at=T - 300), see(T, None), RULES)
    assert kinds(actions) == ["fence"]


def test_without_any_confirmation_the_lease_counts_from_the_first_failed_read_on_record():
    state, actions = lease.step(fresh(unconfirmed_since=T), see(T + 29, None), RULES)
    assert actions == [] and state["unconfirmed_since"] == T
    # It persists: a later run (a lease longer than a run) goes on counting from it.
    state, actions = lease.step(lease.initial_state(lease.record_of(state)), see(T + 30, None), RULES)
    assert kinds(actions) == ["fence"] and "its first failed read" in actions[0].message


def test_both_controls_off_page_every_repage_interval_and_never_fence():
    state, actions = lease.step(fresh(), see(T, "Off", "Off"), RULES)
    assert kinds(actions) == ["page"] and "routing controls not initialised: set the primary's On" in actions[0].message
    state, actions = lease.step(state, see(T + 899, "Off", "Off"), RULES)
    assert actions == []
    state, actions = lease.step(state, see(T + 900, "Off", "Off"), RULES)
    assert kinds(actions) == ["page"] and state["fence_started_at"] is None


def test_an_unread_primary_control_pages_nothing():
    assert lease.step(fresh(), see(T, "Off", None), RULES)[1] == []


def test_a_fence_on_record_is_checked_against_the_instance_while_arc_names_the_primary():
    state, actions = lease.step(fresh(fence_started_at=T - 10, rebooted_at=T - 5), see(T, "Off", "On"), RULES)
    assert kinds(actions) == ["self-fenced"] and state["fence_started_at"] == T - 10
    # The lease still runs: unreadable past it, or DR On, wants the fence again.
    assert kinds(lease.step(state, see(T + 30, None), RULES)[1]) == ["fence"]
    assert kinds(lease.step(state, see(T + 1, "On"), RULES)[1]) == ["fence"]


def test_a_fence_is_complete_once_its_reboot_came_after_its_modification():
    assert not lease.fence_complete(fresh())
    assert not lease.fence_complete(fresh(fence_started_at=T))
    assert not lease.fence_complete(fresh(fence_started_at=T, rebooted_at=T - 1))
    assert lease.fence_complete(fresh(fence_started_at=T, rebooted_at=T + 40))


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
        # moto applies a modification at once and never reports `modifying`: the keeper then
        # reboots once FENCE_APPLY_SECONDS have passed since the change, here one tick.
        yield CFG._replace(fence_group=group, topic_arn=topic, fence_apply_seconds=5.0)


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


def calls(k):
    return [n for n in k.aws.names if n in ("instance", "fence", "reboot", "notify")]


def test_dr_on_fences_then_reboots_on_a_later_tick_and_pages_once(world):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run() == {"ticks": 1, "verdicts": [lease.DR_HOLDS], "fenced": False}
    assert groups() == [world.fence_group]
    # No ApplyImmediately: it would also apply the instance's pending modifications.
    assert calls(k) == ["instance", "fence", "notify"]
    assert record()["fence_started_at"] == T and "rebooted_at" not in record()
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run()["fenced"] is True
    assert calls(k) == ["instance", "reboot"]
    assert record()["rebooted_at"] == T + 60
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run()["fenced"] is True and calls(k) == ["instance"]
    # ARC names the primary again: the fence stays, and a page says so.
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: confirmations(1)}, clock)
    assert k.run()["fenced"] is True
    assert groups() == [world.fence_group] and calls(k) == ["instance", "notify"]


def test_the_reboot_waits_while_rds_applies_the_group_and_a_slow_fence_pages(world, monkeypatch, capsys):
    clock = Clock()
    k, _ = keeper(
        world._replace(run_seconds=59, tick_seconds=15, fence_apply_seconds=60.0),
        {URLS[0]: [state(DR_CONTROL, "On")] * 3},
        clock,
    )
    real = k.aws.instance
    status = ["modifying"]
    pages = []
    monkeypatch.setattr(k.aws, "instance", lambda i, region=None: dict(real(i, region), DBInstanceStatus=status[0]))
    monkeypatch.setattr(k.aws, "notify", lambda topic, subject, message: pages.append(subject))
    assert k.run()["fenced"] is False
    assert "reboot" not in k.aws.names and "fence_waiting" in capsys.readouterr().out
    assert pages == ["drgen: primary fenced itself, ARC names DR"]
    # Still modifying past FENCE_APPLY_SECONDS (60): paged, once per repage interval.
    k.cluster._aws._session = arc_stub.Session({URLS[0]: [state(DR_CONTROL, "On")] * 3})
    k.cluster._clients = {}
    clock.sleep(30)
    assert k.run()["fenced"] is False
    assert pages[1:] == ["drgen: primary fence NOT complete"]
    # A reboot under way (the DR side's workflow reboots too) cuts the same sessions.
    status[0] = "rebooting"
    k.cluster._aws._session = arc_stub.Session({URLS[0]: [state(DR_CONTROL, "On")]})
    k.cluster._clients = {}
    k.cfg = world._replace(run_seconds=1)
    assert k.run()["fenced"] is True and "reboot" not in k.aws.names


def test_restoring_the_groups_arms_the_keeper_again(world, capsys):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=30), {URLS[0]: [state(DR_CONTROL, "On")] * 2}, clock)
    assert k.run()["fenced"] is True
    # Failback by the RUNBOOK: the controls back to the primary, its groups restored.
    default = boto3.client("ec2").describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
    boto3.client("rds").modify_db_instance(
        DBInstanceIdentifier=PRIMARY, VpcSecurityGroupIds=[default["SecurityGroups"][0]["GroupId"]]
    )
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: confirmations(1)}, clock)
    assert k.run()["fenced"] is False
    assert "lease_rearmed" in capsys.readouterr().out and "notify" not in k.aws.names
    assert "fence_started_at" not in record() and "rebooted_at" not in record()
    # The next time ARC names DR, it fences (and pages) again.
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    k.run()
    assert groups() == [world.fence_group] and calls(k) == ["instance", "fence", "notify"]


def test_a_fence_on_record_that_cannot_be_checked_is_kept(world, monkeypatch, capsys):
    adapters.Store(adapters.Aws(), TABLE).keep_lease({"fence_started_at": T - 100, "rebooted_at": T - 90, "pages": {}})
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: confirmations(1)}, clock)
    monkeypatch.setattr(
        k.aws, "instance", lambda *a, **kw: (_ for _ in ()).throw(adapters.AwsError("rds.describe_db_instances", "x"))
    )
    assert k.run()["fenced"] is True
    assert "fence_unreadable" in capsys.readouterr().out and record()["fence_started_at"] == T - 100


def test_a_lease_that_ran_out_between_runs_fences_on_the_first_unreadable_tick(world):
    adapters.Store(adapters.Aws(), TABLE).keep_lease({"confirmed_at": T - 120, "pages": {}})
    clock = Clock()
    unreachable = {url: [error("get_routing_control_state", "ThrottlingException", 429)] for url in URLS}
    k, _ = keeper(world._replace(run_seconds=1), unreachable, clock)
    assert k.run() == {"ticks": 1, "verdicts": [lease.UNREADABLE], "fenced": False}
    assert groups() == [world.fence_group]
    assert record()["confirmed_at"] == T - 120 and record()["fence_started_at"] == T


def test_with_its_record_unreadable_an_unreadable_arc_fences_at_once_and_failed_writes_are_logged(world, capsys):
    clock = Clock()
    cfg = world._replace(run_seconds=59)
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
    # The last confirmation is unknown: nothing says the lease still runs.
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    order = [e["event"] for e in events if e["event"] == "lease" or e.get("kind") == "fence"]
    assert order == ["lease", "action"] * 7
    assert aws.names.count("fence") == 1 and groups() == [world.fence_group]


def test_with_nothing_on_record_an_unreadable_arc_fences_at_once():
    """A record lost, unreadable or never written (its writes failing): a run's ticks cover less
    than the lease, so counting anew in each run would never let it run out."""
    state, actions = lease.step(lease.initial_state({}), see(T, None), RULES)
    assert kinds(actions) == ["fence"] and "no confirmation on record" in actions[0].message
    assert state["unconfirmed_since"] == T


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
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=15), {URLS[0]: [state(DR_CONTROL, "On")] * 3}, clock)
    reboots = []

    def reboot(region, instance_id):
        reboots.append(region)
        if len(reboots) == 1:
            raise adapters.AwsError("rds.reboot_db_instance", "Throttling: Rate exceeded")

    monkeypatch.setattr(k.aws, "reboot", reboot)
    assert k.run() == {"ticks": 3, "verdicts": [lease.DR_HOLDS] * 3, "fenced": True}
    assert reboots == [None, None]
    assert "fence_failed" in capsys.readouterr().out
    # The later ticks found the deny-all group in place and only rebooted.
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
    assert lease.handler({}, None) == {"ticks": 1, "verdicts": [lease.DR_HOLDS], "fenced": False}
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
    assert k.run()["fenced"] is False
    assert pages[-1] == "drgen: primary fenced itself, ARC names DR"


def test_a_primary_found_fenced_is_rebooted_again_without_a_second_page(world):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    k.run()
    # Its record is lost (a table copy impaired, say): the next run fences again.
    adapters.Store(adapters.Aws(), TABLE).keep_lease({"pages": {}})
    clock.sleep(60)
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run()["fenced"] is True
    assert "fence" not in k.aws.names and "reboot" in k.aws.names and "notify" not in k.aws.names


def test_a_primary_in_storage_optimization_is_rebooted(world, monkeypatch):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=30), {URLS[0]: [state(DR_CONTROL, "On")] * 2}, clock)
    real = k.aws.instance
    monkeypatch.setattr(
        k.aws, "instance", lambda i, region=None: dict(real(i, region), DBInstanceStatus="storage-optimization")
    )
    assert k.run()["fenced"] is True
    assert [n for n in calls(k) if n != "instance"] == ["fence", "notify", "reboot"]


def test_a_change_to_the_deny_all_group_under_way_is_not_made_again(world, monkeypatch):
    """Another run's, or the DR side's workflow's: RDS lists the new group beside the old while
    the instance is `modifying` (or may), and would refuse a second modification."""
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    monkeypatch.setattr(
        k.aws,
        "instance",
        lambda i, region=None: {
            "DBInstanceStatus": "modifying",
            "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-db"}, {"VpcSecurityGroupId": world.fence_group}],
        },
    )
    assert k.run()["fenced"] is False and calls(k) == ["instance"]
    assert record()["fence_started_at"] == T


def test_a_reboot_refused_for_the_instance_state_waits_without_a_failure_page(world, monkeypatch, capsys):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=30), {URLS[0]: [state(DR_CONTROL, "On")] * 2}, clock)

    def reboot(region, instance_id):
        raise adapters.AwsError("rds.reboot_db_instance", "InvalidDBInstanceState: the instance is rebooting")

    monkeypatch.setattr(k.aws, "reboot", reboot)
    assert k.run()["fenced"] is False
    out = capsys.readouterr().out
    assert "fence_waiting" in out and "fence_failed" not in out
    assert "fence-failed" not in record()["pages"]
    # Its record lost, the group found in place: the same.
    adapters.Store(adapters.Aws(), TABLE).keep_lease({"pages": {}})
    k.cluster._aws._session = arc_stub.Session({URLS[0]: [state(DR_CONTROL, "On")]})
    k.cluster._clients = {}
    k.cfg = world._replace(run_seconds=1)
    assert k.run()["fenced"] is False and record()["fence_started_at"] == clock.now


def test_a_primary_that_no_longer_exists_takes_no_writes(world, capsys):
    boto3.client("rds").delete_db_instance(DBInstanceIdentifier=PRIMARY, SkipFinalSnapshot=True)
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=1), {URLS[0]: [state(DR_CONTROL, "On")]}, clock)
    assert k.run()["fenced"] is True
    assert "fence_instance_gone" in capsys.readouterr().out and "notify" not in k.aws.names


def status_after_the_change(k, monkeypatch, status):
    """RDS answering `status` for the instance, with the groups moto holds."""
    real = k.aws.instance
    monkeypatch.setattr(k.aws, "instance", lambda i, region=None: dict(real(i, region), DBInstanceStatus=status[0]))


def test_a_restart_seen_before_the_group_can_have_applied_is_not_the_fence_s_reboot(world, monkeypatch):
    clock = Clock()
    cfg = world._replace(run_seconds=59, tick_seconds=15, fence_apply_seconds=60.0)
    k, _ = keeper(cfg, {URLS[0]: [state(DR_CONTROL, "On")] * 3}, clock)
    status = ["rebooting"]
    status_after_the_change(k, monkeypatch, status)
    # Never seen `modifying`, and the allowance not over: a restart then may predate the group.
    assert k.run()["fenced"] is False and "reboot" not in k.aws.names


def test_a_stopped_primary_takes_no_writes(world, monkeypatch, capsys):
    clock = Clock()
    k, _ = keeper(world._replace(run_seconds=59, tick_seconds=30), {URLS[0]: [state(DR_CONTROL, "On")] * 2}, clock)
    status_after_the_change(k, monkeypatch, ["stopped"])
    assert k.run()["fenced"] is True and "reboot" not in k.aws.names
    assert "fence_instance_stopped" in capsys.readouterr().out


def test_an_unreadable_arc_after_a_fence_of_its_own_keeps_wanting_it():
    state, actions = lease.step(fresh(confirmed_at=T, fence_started_at=T + 1), see(T + 5, None), RULES)
    assert kinds(actions) == ["fence"] and "has fenced itself already" in actions[0].message
