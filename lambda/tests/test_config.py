"""Configuration from the environment: defaults, and a clear error for each bad value."""

import json

import pytest

from drgen_lambda.config import (
    TICK_CALLS_SECONDS,
    ConfigError,
    failover_config,
    guard_config,
    lease_config,
    monitor_config,
    observer_config,
)

MONITOR = {
    "AWS_REGION": "us-west-2",
    "PRIMARY_HOST": "db.example.internal",
    "PRIMARY_PORT": "5432",
    "PROBE_TIMEOUT_SECONDS": "2",
    "PROBE_INTERVAL_SECONDS": "5",
    "RUN_SECONDS": "45",
    "CONFIRM_SECONDS": "20",
    "LAG_THRESHOLD_SECONDS": "60",
    "MAX_DATA_LOSS_SECONDS": "60",
    "REPLICA_ID": "trading-db-replica-prod",
    "REPLICA_HOST": "replica.example.internal",
    "DB_NAME": "trading",
    "SECRET_ID": "trading-db/prod/master",
    "STATE_TABLE": "trading-db-failover-prod",
    "METRIC_NAMESPACE": "drgen/trading-db",
    "TOPIC_ARN": "arn:aws:sns:us-west-2:123456789012:alerts",
    "STATE_MACHINE_ARN": "arn:aws:states:us-west-2:123456789012:stateMachine:promote",
}

FAILOVER = {
    "AWS_REGION": "us-west-2",
    "PRIMARY_REGION": "us-east-1",
    "PRIMARY_ID": "trading-db-primary-prod",
    "REPLICA_ID": "trading-db-replica-prod",
    "FENCE_SECURITY_GROUP": "sg-0123456789abcdef0",
    "STATE_TABLE": "trading-db-failover-prod",
    "METRIC_NAMESPACE": "drgen/trading-db",
    "TOPIC_ARN": "arn:aws:sns:us-west-2:123456789012:alerts",
    "SECRET_ID": "trading-db/prod/master",
    "ROTATION_FUNCTION_ARN": "arn:aws:lambda:us-west-2:123456789012:function:rotation",
    "ROTATION_DAYS": "30",
}

OBSERVER = {
    "PRIMARY_HOST": "db.example.internal",
    "PRIMARY_PORT": "5432",
    "PROBE_TIMEOUT_SECONDS": "2",
    "PATH_TOKEN": "abcdefghijklmnop0123",
    "METRIC_NAMESPACE": "drgen/trading-db",
    "OBSERVER": "dr",
}


def test_monitor_defaults():
    cfg = monitor_config(MONITOR)
    assert cfg.interval == 5.0
    assert cfg.event_bus == "default"
    assert cfg.rules.dry_run is False
    assert cfg.rules.automatic is True
    assert cfg.rules.lag_max_age == 120
    assert cfg.backup_retention == 7
    assert cfg.target.port == 5432
    # The manual path goes through the monitor's promote command, never straight to RDS.
    assert "promote-read-replica" not in cfg.rules.manual_command
    assert '{"command": "promote"}' in cfg.rules.manual_command
    assert "aws lambda invoke --region us-west-2 --function-name <the monitor function>" in cfg.rules.manual_command
    named = monitor_config(dict(MONITOR, AWS_LAMBDA_FUNCTION_NAME="trading-db-monitor-dr-prod"))
    assert "--function-name trading-db-monitor-dr-prod " in named.rules.manual_command


def test_the_monitor_schedule_bounds_the_gap_between_runs_and_the_run():
    cfg = monitor_config(MONITOR)
    # The default 60 s schedule less the 45 s run, one 5 s interval, a 2 s probe timing out
    # twice, and a slow tick's calls.
    assert cfg.rules.max_gap == 60 - 45 + 5 + 2 * 2 + TICK_CALLS_SECONDS
    slower = monitor_config(dict(MONITOR, SCHEDULE_SECONDS="120"))
    assert slower.rules.max_gap == cfg.rules.max_gap + 60
    assert monitor_config(dict(MONITOR, RUN_SECONDS="60")).run_seconds == 60
    with pytest.raises(ConfigError, match=r"^RUN_SECONDS must not exceed SCHEDULE_SECONDS \(60\), not 90$"):
        monitor_config(dict(MONITOR, RUN_SECONDS="90"))
    with pytest.raises(ConfigError, match="SCHEDULE_SECONDS must be between 60 and 3600, not 30"):
        monitor_config(dict(MONITOR, SCHEDULE_SECONDS="30"))


def test_the_promotion_bound_defaults_to_half_an_hour():
    assert monitor_config(MONITOR).rules.promotion_bound == 1800
    assert monitor_config(dict(MONITOR, PROMOTION_BOUND_SECONDS="600")).rules.promotion_bound == 600
    with pytest.raises(ConfigError, match="PROMOTION_BOUND_SECONDS must be between 60 and 86400"):
        monitor_config(dict(MONITOR, PROMOTION_BOUND_SECONDS="10"))


def test_monitor_options():
    cfg = monitor_config(dict(MONITOR, DRY_RUN="TRUE", MODE="manual", EVENT_BUS="bus", BACKUP_RETENTION_DAYS="14"))
    assert (cfg.rules.dry_run, cfg.rules.automatic, cfg.event_bus, cfg.backup_retention) == (True, False, "bus", 14)


def test_failover_settings():
    cfg = failover_config(FAILOVER)
    assert (cfg.primary_region, cfg.rotation_days, cfg.event_bus) == ("us-east-1", 30, "default")


def test_observer_settings():
    cfg = observer_config(dict(OBSERVER, PUBLISH_METRIC="true"))
    assert cfg.publish_metric is True
    assert cfg.observer == "dr"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"PRIMARY_HOST": ""}, "PRIMARY_HOST is required"),
        ({"PRIMARY_PORT": "x"}, "PRIMARY_PORT must be a whole number"),
        ({"PRIMARY_PORT": "70000"}, "between 1 and 65535"),
        ({"CONFIRM_SECONDS": None}, "CONFIRM_SECONDS is required"),
        ({"MODE": "sometimes"}, "MODE must be automatic or manual"),
        ({"DRY_RUN": "maybe"}, "DRY_RUN must be true or false"),
        ({"PROBE_TIMEOUT_SECONDS": "0"}, "between 1 and 10"),
    ],
)
def test_monitor_errors(change, message):
    env = dict(MONITOR)
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    with pytest.raises(ConfigError, match=message):
        monitor_config(env)


def test_a_short_token_is_refused():
    with pytest.raises(ConfigError, match="PATH_TOKEN"):
        observer_config(dict(OBSERVER, PATH_TOKEN="short"))


def test_the_observer_target_side_is_primary_or_dr():
    assert observer_config(OBSERVER).target_side == "primary"
    assert observer_config(dict(OBSERVER, TARGET_SIDE="dr")).target_side == "dr"
    with pytest.raises(ConfigError, match="TARGET_SIDE must be primary or dr"):
        observer_config(dict(OBSERVER, TARGET_SIDE="west"))


GUARD = {
    "PRIMARY_HOST": "db.example.internal",
    "PRIMARY_PORT": "5432",
    "PROBE_TIMEOUT_SECONDS": "2",
    "PRIMARY_ID": "trading-db-primary-prod",
    "STATE_TABLE": "trading-db-failover-prod",
    "GUARD_INTERVAL_SECONDS": "5",
    "RUN_SECONDS": "50",
    "GUARD_LATE_SECONDS": "20",
}


def test_guard_settings():
    cfg = guard_config(GUARD)
    assert (cfg.interval, cfg.run_seconds, cfg.event_window, cfg.late) == (5.0, 50.0, 1800.0, 20.0)
    assert guard_config(dict(GUARD, EVENT_WINDOW_SECONDS="3600")).event_window == 3600.0
    # A run ends within its minute.
    with pytest.raises(ConfigError, match="RUN_SECONDS must be between 1 and 59"):
        guard_config(dict(GUARD, RUN_SECONDS="60"))
    with pytest.raises(ConfigError, match="PRIMARY_ID is required"):
        guard_config(dict(GUARD, PRIMARY_ID=""))


def test_the_monitor_reads_how_long_a_silent_primary_region_has_been_silent():
    # Without it (no guard rendered) the decision has one path.
    assert monitor_config(MONITOR).rules.silence_seconds is None
    assert monitor_config(dict(MONITOR, SILENCE_SECONDS="90")).rules.silence_seconds == 90.0
    # Silence must outlast the primary-region observer's one-minute beat.
    with pytest.raises(ConfigError, match="SILENCE_SECONDS must be between 61 and 3600"):
        monitor_config(dict(MONITOR, SILENCE_SECONDS="60"))


def test_the_monitor_reads_the_guards_longest_pause():
    # Without it the silence window stands in for it.
    assert monitor_config(MONITOR).rules.guard_gap is None
    assert monitor_config(dict(MONITOR, GUARD_GAP_SECONDS="61")).rules.guard_gap == 61.0
    with pytest.raises(ConfigError, match="GUARD_GAP_SECONDS must be between 1 and 3600"):
        monitor_config(dict(MONITOR, GUARD_GAP_SECONDS="0"))


ENDPOINTS = json.dumps(
    [
        {"endpoint": "https://host-aaaaaa.us-east-1.example", "region": "us-east-1"},
        {"endpoint": "https://host-bbbbbb.us-west-2.example", "region": " us-west-2 "},
    ]
)

ARC = {
    "ARC_ENDPOINTS": ENDPOINTS,
    "PRIMARY_CONTROL_ARN": "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/primary",
    "DR_CONTROL_ARN": "arn:aws:route53-recovery-control::123456789012:controlpanel/p/routingcontrol/dr",
}

LEASE = dict(
    ARC,
    LEASE_SECONDS="60",
    TICK_SECONDS="5",
    RUN_SECONDS="50",
    PRIMARY_ID="trading-db-primary-prod",
    FENCE_SECURITY_GROUP="sg-0123456789abcdef0",
    FENCE_APPLY_SECONDS="60",
    STATE_TABLE="trading-db-failover-prod",
    TOPIC_ARN="arn:aws:sns:us-east-1:123456789012:alerts",
)


def test_lease_settings():
    cfg = lease_config(LEASE)
    assert cfg.arc.endpoints == (
        ("https://host-aaaaaa.us-east-1.example", "us-east-1"),
        ("https://host-bbbbbb.us-west-2.example", "us-west-2"),
    )
    assert cfg.arc.dr_control.endswith("/dr") and cfg.arc.primary_control.endswith("/primary")
    assert (cfg.lease_seconds, cfg.tick_seconds, cfg.run_seconds, cfg.fence_apply_seconds) == (60.0, 5.0, 50.0, 60.0)
    assert (cfg.primary_id, cfg.fence_group, cfg.table) == (
        "trading-db-primary-prod",
        "sg-0123456789abcdef0",
        "trading-db-failover-prod",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ARC_ENDPOINTS": ""}, "ARC_ENDPOINTS is required"),
        ({"ARC_ENDPOINTS": "https://host.example"}, "ARC_ENDPOINTS must be a JSON list of endpoints"),
        ({"ARC_ENDPOINTS": "[]"}, "ARC_ENDPOINTS must be a JSON list of at least one endpoint"),
        ({"ARC_ENDPOINTS": '{"endpoint": "https://a"}'}, "ARC_ENDPOINTS must be a JSON list of at least one"),
        ({"ARC_ENDPOINTS": '["https://a"]'}, "ARC_ENDPOINTS: each endpoint is"),
        ({"ARC_ENDPOINTS": '[{"endpoint": "http://a", "region": "us-east-1"}]'}, "ARC_ENDPOINTS: each endpoint"),
        ({"ARC_ENDPOINTS": '[{"endpoint": "https://a", "region": " "}]'}, "ARC_ENDPOINTS: each endpoint"),
        ({"ARC_ENDPOINTS": '[{"endpoint": "https://a"}]'}, "ARC_ENDPOINTS: each endpoint"),
        ({"PRIMARY_CONTROL_ARN": ""}, "PRIMARY_CONTROL_ARN is required"),
        ({"DR_CONTROL_ARN": None}, "DR_CONTROL_ARN is required"),
        ({"LEASE_SECONDS": "5"}, "LEASE_SECONDS must be between 10 and 600"),
        ({"LEASE_SECONDS": "601"}, "LEASE_SECONDS must be between 10 and 600"),
        ({"TICK_SECONDS": "0"}, "TICK_SECONDS must be between 1 and 60"),
        ({"RUN_SECONDS": "60"}, "RUN_SECONDS must be between 1 and 59"),
        ({"PRIMARY_ID": None}, "PRIMARY_ID is required"),
        ({"FENCE_SECURITY_GROUP": ""}, "FENCE_SECURITY_GROUP is required"),
        ({"FENCE_APPLY_SECONDS": "0"}, "FENCE_APPLY_SECONDS must be between 1 and 900"),
        ({"STATE_TABLE": None}, "STATE_TABLE is required"),
        ({"TOPIC_ARN": ""}, "TOPIC_ARN is required"),
    ],
)
def test_lease_errors_name_the_variable(change, message):
    env = dict(LEASE)
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value
    with pytest.raises(ConfigError, match=message):
        lease_config(env)


def test_the_workflow_reads_arc_settings_only_when_arc_endpoints_is_set():
    cfg = failover_config(FAILOVER)
    assert (cfg.arc, cfg.lease_wait) == (None, None)
    assert failover_config(dict(FAILOVER, ARC_ENDPOINTS=" ", LEASE_WAIT_SECONDS="x")).arc is None
    cfg = failover_config(dict(FAILOVER, LEASE_WAIT_SECONDS="120", **ARC))
    assert cfg.arc == lease_config(LEASE).arc and cfg.lease_wait == 120.0
    with pytest.raises(ConfigError, match="LEASE_WAIT_SECONDS is required"):
        failover_config(dict(FAILOVER, **ARC))
    with pytest.raises(ConfigError, match="DR_CONTROL_ARN is required"):
        failover_config(dict(FAILOVER, LEASE_WAIT_SECONDS="120", **dict(ARC, DR_CONTROL_ARN="")))


def test_the_monitor_in_arc_mode_bounds_the_promotion_after_the_lease_wait():
    cfg = monitor_config(MONITOR)
    assert cfg.authority == "table" and "promotes the replica and starts the fence" in cfg.rules.manual_command
    cfg = monitor_config(dict(MONITOR, AUTHORITY="arc", LEASE_WAIT_SECONDS="120"))
    assert cfg.authority == "arc" and cfg.rules.promotion_bound == 1800 + 120
    assert "takes the authority in ARC, waits out the old primary's lease" in cfg.rules.manual_command
    with pytest.raises(ConfigError, match="LEASE_WAIT_SECONDS is required"):
        monitor_config(dict(MONITOR, AUTHORITY="arc"))
    with pytest.raises(ConfigError, match="AUTHORITY must be table or arc, not 'dynamo'"):
        monitor_config(dict(MONITOR, AUTHORITY="dynamo"))
