"""Configuration from environment variables, checked once at start."""

from collections.abc import Mapping
from typing import NamedTuple, Optional


class ConfigError(ValueError):
    """An environment variable is missing or out of range."""


def _text(env, name):
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required")
    return value


def _number(env, name, low, high, default=None):
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise ConfigError(f"{name} is required")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _flag(env, name):
    raw = env.get(name, "false").strip().lower()
    if raw not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false, not {raw!r}")
    return raw == "true"


class ProbeTarget(NamedTuple):
    host: str
    port: int
    timeout: float


def _target(env):
    return ProbeTarget(
        host=_text(env, "PRIMARY_HOST"),
        port=_number(env, "PRIMARY_PORT", 1, 65535),
        timeout=float(_number(env, "PROBE_TIMEOUT_SECONDS", 1, 10)),
    )


class ObserverConfig(NamedTuple):
    target: ProbeTarget
    token: str
    namespace: str
    observer: str
    publish_metric: bool


def observer_config(env: Mapping[str, str]) -> ObserverConfig:
    """Reads the observer's settings."""
    token = _text(env, "PATH_TOKEN")
    if len(token) < 16 or not token.isalnum():
        raise ConfigError("PATH_TOKEN must be at least 16 letters and digits")
    return ObserverConfig(
        target=_target(env),
        token=token,
        namespace=_text(env, "METRIC_NAMESPACE"),
        observer=_text(env, "OBSERVER"),
        publish_metric=_flag(env, "PUBLISH_METRIC"),
    )


class MonitorConfig(NamedTuple):
    target: ProbeTarget
    probes: int
    interval: float
    lag_threshold: float
    replica_id: str
    namespace: str
    topic_arn: str
    event_bus: str
    state_machine_arn: Optional[str]
    dry_run: bool
    backup_retention: int


def monitor_config(env: Mapping[str, str]) -> MonitorConfig:
    """Reads the monitor's settings."""
    return MonitorConfig(
        target=_target(env),
        probes=_number(env, "PROBES", 1, 10),
        interval=float(_number(env, "PROBE_INTERVAL_SECONDS", 1, 30)),
        lag_threshold=float(_number(env, "LAG_THRESHOLD_SECONDS", 1, 3600)),
        replica_id=_text(env, "REPLICA_ID"),
        namespace=_text(env, "METRIC_NAMESPACE"),
        topic_arn=_text(env, "TOPIC_ARN"),
        event_bus=env.get("EVENT_BUS", "").strip() or "default",
        state_machine_arn=env.get("STATE_MACHINE_ARN", "").strip() or None,
        dry_run=_flag(env, "DRY_RUN"),
        backup_retention=_number(env, "BACKUP_RETENTION_DAYS", 1, 35, default=7),
    )
