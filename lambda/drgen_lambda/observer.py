"""Connectivity observer: probes the primary database from inside a VPC.

Behind an API Gateway REST API (endpoint mode) it answers Route 53: 200 `ok` while the primary
accepts connections, 503 otherwise, 404 for a request without the deployment's path token (API
Gateway answers other paths itself; the function checks again). It
never returns detail. On a schedule it publishes PrimaryReachable (CloudWatch mode) and, in the
primary region, leaves a heartbeat in the failover state table while the primary accepts
connections.
"""

import hmac
import os
import time

from . import adapters, config, probe
from .logs import log

_NOT_FOUND = {"statusCode": 404, "headers": {"Content-Type": "text/plain"}, "body": "not found"}


def _reply(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "text/plain", "Cache-Control": "no-store"}, "body": body}


def _authority_is_dr(cfg, aws):
    """The writer authority as recorded in this region's copy of the state table. Once it says DR
    the observer reports the old primary as unreachable, so that DNS cannot swing back to it in
    the minutes Route 53 takes to follow the authority alarm. A failed read counts as "not DR":
    the alarm stays the sticky guard."""
    if not cfg.state_table:
        return False
    try:
        return adapters.Store(aws, cfg.state_table).authority_is_dr()
    except adapters.AwsError as e:
        log("warning", "authority_unreadable", error=str(e))
        return False


def handle(event, cfg, check=probe.probe, aws=None):
    """Handles an API Gateway proxy request or a scheduled run."""
    target = cfg.target
    http = "httpMethod" in event
    if http:
        path = event.get("path") or ""
        if event["httpMethod"] not in ("GET", "HEAD") or not hmac.compare_digest(path, "/" + cfg.token):
            return _NOT_FOUND
    aws = aws or adapters.Aws()
    state = check(target.host, target.port, target.timeout)
    accepting = state == probe.ACCEPTING
    demoted = accepting and _authority_is_dr(cfg, aws)
    reachable = accepting and not demoted
    log("info", "probe", observer=cfg.observer, state=state, authority_dr=demoted)
    if not http:
        if accepting and cfg.heartbeat_table:
            # The primary-region observer tells the DR side, through the global table, that the
            # primary is alive in its own region: the monitor's partition veto.
            adapters.Store(aws, cfg.heartbeat_table).beat(time.time())
        if cfg.publish_metric:
            aws.put_metrics(
                cfg.namespace,
                [("PrimaryReachable", 1 if reachable else 0, "Count")],
                [{"Name": "Observer", "Value": cfg.observer}],
            )
        return {"reachable": reachable}
    return _reply(200, "ok") if reachable else _reply(503, "unavailable")


def handler(event, context):
    """Lambda entry point."""
    return handle(event, config.observer_config(os.environ))
