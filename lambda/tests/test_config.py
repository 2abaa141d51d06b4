"""Configuration from the environment: defaults, and a clear error for each bad value."""

import pytest

from drgen_lambda.config import ConfigError, monitor_config, observer_config

MONITOR = {
    "PRIMARY_HOST": "db.example.internal",
    "PRIMARY_PORT": "5432",
    "PROBE_TIMEOUT_SECONDS": "2",
    "PROBES": "3",
    "PROBE_INTERVAL_SECONDS": "5",
    "LAG_THRESHOLD_SECONDS": "60",
    "REPLICA_ID": "trading-db-replica-prod",
    "METRIC_NAMESPACE": "drgen/trading-db",
    "TOPIC_ARN": "arn:aws:sns:us-west-2:123456789012:alerts",
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
    assert cfg.probes == 3
    assert cfg.interval == 5.0
    assert cfg.event_bus == "default"
    assert cfg.state_machine_arn is None
    assert cfg.dry_run is False
    assert cfg.backup_retention == 7
    assert cfg.target.port == 5432


def test_monitor_options():
    cfg = monitor_config(
        dict(MONITOR, DRY_RUN="TRUE", STATE_MACHINE_ARN="arn:sfn", EVENT_BUS="bus", BACKUP_RETENTION_DAYS="14")
    )
    assert (cfg.dry_run, cfg.state_machine_arn, cfg.event_bus, cfg.backup_retention) == (True, "arn:sfn", "bus", 14)


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
        ({"PROBES": None}, "PROBES is required"),
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
