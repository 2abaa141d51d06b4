"""Configuration from environment variables, checked once at start."""

import json
from collections.abc import Mapping
from typing import Any, NamedTuple, Optional

# fsm is imported where it is used: the lease keeper's package (lease.zip) ships this module
# without it.

# The seconds one tick's AWS calls may take at worst, as the recovery budget counts them.
TICK_CALLS_SECONDS = 45


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
    heartbeat_table: str
    state_table: str
    target_side: str


def _side(env, name):
    value = env.get(name, "primary").strip()
    if value not in ("primary", "dr"):
        raise ConfigError(f"{name} must be primary or dr, not {value!r}")
    return value


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
        heartbeat_table=env.get("HEARTBEAT_TABLE", "").strip(),
        state_table=env.get("STATE_TABLE", "").strip(),
        target_side=_side(env, "TARGET_SIDE"),
    )


class MonitorConfig(NamedTuple):
    target: ProbeTarget
    interval: float
    run_seconds: float
    replica_id: str
    replica_host: str
    database: str
    secret_id: str
    table: str
    namespace: str
    topic_arn: str
    event_bus: str
    state_machine_arn: str
    region: str
    backup_retention: int
    rules: Any  # an fsm.Rules
    # `authority = arc`: the workflow takes the authority in ARC, waits out the old primary's
    # lease and promotes; the monitor records the authority and starts it, and never promotes.
    authority: str = "table"


def _mode(env):
    mode = env.get("MODE", "automatic").strip()
    if mode not in ("automatic", "manual"):
        raise ConfigError(f"MODE must be automatic or manual, not {mode!r}")
    return mode == "automatic"


def _silence(env):
    if not env.get("SILENCE_SECONDS", "").strip():
        return None
    return float(_number(env, "SILENCE_SECONDS", 61, 3600))


def _guard_gap(env):
    if not env.get("GUARD_GAP_SECONDS", "").strip():
        return None
    return float(_number(env, "GUARD_GAP_SECONDS", 1, 3600))


def monitor_config(env: Mapping[str, str]) -> MonitorConfig:
    """Reads the monitor's settings."""
    from .fsm import Rules  # noqa: PLC0415 - see the imports

    region = _text(env, "AWS_REGION")
    replica_id = _text(env, "REPLICA_ID")
    # The manual failover goes through the monitor's promote command, which records the writer
    # authority before it calls PromoteReadReplica (the rendered RUNBOOK.md, "Manual failover").
    function = env.get("AWS_LAMBDA_FUNCTION_NAME", "").strip() or "<the monitor function>"
    authority = _authority(env)
    does = (
        "starts the workflow that takes the authority in ARC, waits out the old primary's lease and promotes"
        if authority == "arc"
        else "promotes the replica and starts the fence"
    )
    command = (
        f'echo \'{{"command": "promote"}}\' > promote.json && aws lambda invoke --region {region} '
        f"--function-name {function} --payload fileb://promote.json promoted.json"
        f" (the monitor records the writer authority, {does})"
    )
    # In ARC mode the promotion starts only after the lease wait: its bound counts that too.
    lease_wait = _lease_wait(env) if authority == "arc" else 0.0
    target = _target(env)
    interval = float(_number(env, "PROBE_INTERVAL_SECONDS", 1, 30))
    run_seconds = float(_number(env, "RUN_SECONDS", 0, 3600))
    schedule = float(_number(env, "SCHEDULE_SECONDS", 60, 3600, default=60))
    if run_seconds > schedule:
        raise ConfigError(f"RUN_SECONDS must not exceed SCHEDULE_SECONDS ({schedule:.0f}), not {run_seconds:.0f}")
    return MonitorConfig(
        target=target,
        interval=interval,
        run_seconds=run_seconds,
        replica_id=replica_id,
        replica_host=_text(env, "REPLICA_HOST"),
        database=_text(env, "DB_NAME"),
        secret_id=_text(env, "SECRET_ID"),
        table=_text(env, "STATE_TABLE"),
        namespace=_text(env, "METRIC_NAMESPACE"),
        topic_arn=_text(env, "TOPIC_ARN"),
        event_bus=env.get("EVENT_BUS", "").strip() or "default",
        state_machine_arn=_text(env, "STATE_MACHINE_ARN"),
        region=region,
        backup_retention=_number(env, "BACKUP_RETENTION_DAYS", 1, 35, default=7),
        rules=Rules(
            confirm_seconds=float(_number(env, "CONFIRM_SECONDS", 1, 3600)),
            lag_threshold=float(_number(env, "LAG_THRESHOLD_SECONDS", 1, 3600)),
            lag_max_age=float(_number(env, "LAG_MAX_AGE_SECONDS", 1, 3600, default=120)),
            max_data_loss=float(_number(env, "MAX_DATA_LOSS_SECONDS", 0, 86400)),
            event_expiry=float(_number(env, "EVENT_EXPIRY_SECONDS", 60, 86400, default=1800)),
            automatic=_mode(env),
            dry_run=_flag(env, "DRY_RUN"),
            repage_seconds=float(_number(env, "REPAGE_SECONDS", 60, 86400, default=900)),
            manual_command=command,
            # Between two runs: the schedule's rest, one interval, a probe that timed out, and the
            # calls of a slow tick (the budget's allowance for them, src/rto.rs).
            max_gap=schedule - run_seconds + interval + 2 * target.timeout + TICK_CALLS_SECONDS,
            promotion_bound=float(_number(env, "PROMOTION_BOUND_SECONDS", 60, 86400, default=1800)) + lease_wait,
            authority_wait=lease_wait,
            # The primary region is silent when neither its guard's report nor its observer's
            # `alive` beat nor the heartbeat is younger than this; without it (no guard rendered)
            # the decision has one path, the confirm window.
            silence_seconds=_silence(env),
            guard_gap=_guard_gap(env),
        ),
        authority=authority,
    )


def _endpoints(env, name):
    """The ARC cluster's endpoints: a JSON list of {"endpoint": "https://...", "region": "..."}."""
    raw = _text(env, name)
    try:
        items = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON list of endpoints, not {raw!r}") from None
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{name} must be a JSON list of at least one endpoint, not {raw!r}")
    endpoints = []
    for item in items:
        url = item.get("endpoint") if isinstance(item, dict) else None
        region = item.get("region") if isinstance(item, dict) else None
        if not (isinstance(url, str) and url.startswith("https://") and isinstance(region, str) and region.strip()):
            raise ConfigError(f'{name}: each endpoint is {{"endpoint": "https://...", "region": "..."}}, not {item!r}')
        endpoints.append((url, region.strip()))
    return tuple(endpoints)


class ArcSettings(NamedTuple):
    """The ARC cluster and the two routing controls that hold the writer authority."""

    endpoints: tuple
    primary_control: str
    dr_control: str


def _arc(env):
    return ArcSettings(
        endpoints=_endpoints(env, "ARC_ENDPOINTS"),
        primary_control=_text(env, "PRIMARY_CONTROL_ARN"),
        dr_control=_text(env, "DR_CONTROL_ARN"),
    )


class FailoverConfig(NamedTuple):
    """The failover workflow's settings (the function outside the VPCs)."""

    region: str
    primary_region: str
    primary_id: str
    replica_id: str
    fence_group: str
    table: str
    namespace: str
    topic_arn: str
    event_bus: str
    secret_id: str
    rotation_function: str
    rotation_days: int
    backup_retention: int
    # `authority = arc`: the cluster and its controls, and how long the old primary's lease
    # keeper may go on before it has fenced itself; None in the default (table) mode.
    arc: Optional[ArcSettings] = None
    lease_wait: Optional[float] = None


def _lease_wait(env):
    return float(_number(env, "LEASE_WAIT_SECONDS", 10, 3600))


def _authority(env):
    """Where the writer authority is: in ARC's routing controls (arc) or in the state table
    (table, the default)."""
    value = env.get("AUTHORITY", "").strip() or "table"
    if value not in ("table", "arc"):
        raise ConfigError(f"AUTHORITY must be table or arc, not {value!r}")
    return value


def failover_config(env: Mapping[str, str]) -> FailoverConfig:
    """Reads the workflow's settings; the ARC ones only when ARC_ENDPOINTS is set."""
    arc = {}
    if env.get("ARC_ENDPOINTS", "").strip():
        arc = {"arc": _arc(env), "lease_wait": _lease_wait(env)}
    return FailoverConfig(
        region=_text(env, "AWS_REGION"),
        primary_region=_text(env, "PRIMARY_REGION"),
        primary_id=_text(env, "PRIMARY_ID"),
        replica_id=_text(env, "REPLICA_ID"),
        fence_group=_text(env, "FENCE_SECURITY_GROUP"),
        table=_text(env, "STATE_TABLE"),
        namespace=_text(env, "METRIC_NAMESPACE"),
        topic_arn=_text(env, "TOPIC_ARN"),
        event_bus=env.get("EVENT_BUS", "").strip() or "default",
        secret_id=_text(env, "SECRET_ID"),
        rotation_function=_text(env, "ROTATION_FUNCTION_ARN"),
        rotation_days=_number(env, "ROTATION_DAYS", 1, 365),
        backup_retention=_number(env, "BACKUP_RETENTION_DAYS", 1, 35, default=7),
        **arc,
    )


class GuardConfig(NamedTuple):
    """The primary-region guard's settings."""

    target: ProbeTarget
    interval: float
    run_seconds: float
    primary_id: str
    table: str
    event_window: float
    # How much later than its minute a run may start (rto.rs, GUARD_DELAY_SECONDS): the bound of
    # the pause after a run's last report, which each report states as its `next_by`.
    late: float


def guard_config(env: Mapping[str, str]) -> GuardConfig:
    return GuardConfig(
        target=_target(env),
        interval=float(_number(env, "GUARD_INTERVAL_SECONDS", 1, 60)),
        run_seconds=float(_number(env, "RUN_SECONDS", 1, 59)),
        primary_id=_text(env, "PRIMARY_ID"),
        table=_text(env, "STATE_TABLE"),
        event_window=float(_number(env, "EVENT_WINDOW_SECONDS", 60, 86400, default=1800)),
        late=float(_number(env, "GUARD_LATE_SECONDS", 0, 600)),
    )


class LeaseConfig(NamedTuple):
    """The primary-region lease keeper's settings."""

    arc: ArcSettings
    lease_seconds: float
    tick_seconds: float
    run_seconds: float
    primary_id: str
    fence_group: str
    fence_apply_seconds: float
    table: str
    topic_arn: str


def lease_config(env: Mapping[str, str]) -> LeaseConfig:
    return LeaseConfig(
        arc=_arc(env),
        lease_seconds=float(_number(env, "LEASE_SECONDS", 10, 600)),
        tick_seconds=float(_number(env, "TICK_SECONDS", 1, 60)),
        run_seconds=float(_number(env, "RUN_SECONDS", 1, 59)),
        primary_id=_text(env, "PRIMARY_ID"),
        fence_group=_text(env, "FENCE_SECURITY_GROUP"),
        fence_apply_seconds=float(_number(env, "FENCE_APPLY_SECONDS", 1, 900)),
        table=_text(env, "STATE_TABLE"),
        topic_arn=_text(env, "TOPIC_ARN"),
    )
