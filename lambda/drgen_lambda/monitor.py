"""The DR-region monitor: decides on failover and starts it.

Each scheduled run probes the primary several times, reads the replica's lag, publishes what
it saw, and applies `decision.decide`. It promotes only when that holds and the replica is
still an available replica, so a second run does nothing. When any AWS call it depends on
fails, it does not promote: it alerts instead.
"""

import os
import time

from . import adapters, config, probe
from .decision import decide
from .logs import log


def _probe_all(cfg, check, sleep):
    results = []
    for i in range(cfg.probes):
        if i:
            sleep(cfg.interval)
        state = check(cfg.target.host, cfg.target.port, cfg.target.timeout)
        results.append(state == probe.ACCEPTING)
        log("info", "probe", attempt=i + 1, state=state)
    return results


def _alert(aws, cfg, error):
    """Reports a failed AWS call; the run ends without promoting."""
    log("error", "aws_call_failed", operation=error.operation, error=str(error))
    try:
        aws.notify(
            cfg.topic_arn,
            "drgen monitor: no failover decision possible",
            f"The failover monitor could not complete {error.operation}, so it did not promote. Error: {error}",
        )
    except adapters.AwsError as again:
        log("error", "alert_failed", error=str(again))
    return {"action": "alert", "operation": error.operation}


def _announce(aws, cfg, detail_type, detail):
    """Tells the event bus and the topic; failures are logged, not fatal."""
    try:
        aws.put_event(cfg.event_bus, detail_type, detail)
    except adapters.AwsError as e:
        log("error", "announce_failed", channel="events", error=str(e))
    try:
        aws.notify(cfg.topic_arn, detail_type, detail["reason"])
    except adapters.AwsError as e:
        log("error", "announce_failed", channel="sns", error=str(e))


def run(cfg, aws, check=probe.probe, sleep=time.sleep, execution_name="failover"):  # noqa: PLR0911 - one exit per outcome
    """One monitor run. Returns what it did."""
    probes = _probe_all(cfg, check, sleep)
    dimensions = [{"Name": "ReplicaId", "Value": cfg.replica_id}]
    try:
        lag = aws.replica_lag(cfg.replica_id)
        metrics = [("PrimaryReachable", sum(probes) / len(probes), "None")]
        metrics.append(("ReplicaLagObserved", lag if lag is not None else -1, "Seconds"))
        aws.put_metrics(cfg.namespace, metrics, dimensions)
    except adapters.AwsError as e:
        return _alert(aws, cfg, e)

    decision = decide(probes, lag, cfg.lag_threshold, cfg.probes)
    log("info", "decision", promote=decision.promote, reason=decision.reason, lag=lag)
    if not decision.promote:
        return {"action": "none", "reason": decision.reason}

    try:
        state = aws.replica_state(cfg.replica_id)
    except adapters.AwsError as e:
        return _alert(aws, cfg, e)
    if not state.is_replica or state.status != "available":
        kind = "still" if state.is_replica else "no longer"
        reason = f"replica is {state.status} and {kind} a replica; nothing to do"
        log("info", "already_handled", reason=reason)
        return {"action": "none", "reason": reason}

    detail = {"replica": cfg.replica_id, "reason": decision.reason, "lag": lag, "dry_run": cfg.dry_run}
    if cfg.dry_run:
        _announce(aws, cfg, "drgen failover dry run", detail)
        return {"action": "dry_run", "reason": decision.reason}

    try:
        if cfg.state_machine_arn:
            detail["execution"] = aws.start_failover(cfg.state_machine_arn, execution_name, detail)
        else:
            aws.promote(cfg.replica_id, cfg.backup_retention)
    except adapters.AwsError as e:
        return _alert(aws, cfg, e)
    _announce(aws, cfg, "drgen failover started", detail)
    return {"action": "promoted", "reason": decision.reason}


def handler(event, context):
    """Lambda entry point."""
    cfg = config.monitor_config(os.environ)
    name = "failover-{}".format(getattr(context, "aws_request_id", "manual"))
    return run(cfg, adapters.Aws(), execution_name=name[:80])
