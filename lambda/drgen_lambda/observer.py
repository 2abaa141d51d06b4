"""Connectivity observer: probes the primary database from inside a VPC.

Behind a Lambda function URL (endpoint mode) it answers Route 53: 200 `ok` while the primary
accepts connections, 503 otherwise, 404 for a request without the deployment's path token. It
never returns detail. On a schedule (CloudWatch mode) it publishes PrimaryReachable instead.
"""

import hmac
import os

from . import adapters, config, probe
from .logs import log

_NOT_FOUND = {"statusCode": 404, "headers": {"Content-Type": "text/plain"}, "body": "not found"}


def _reply(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "text/plain", "Cache-Control": "no-store"}, "body": body}


def handle(event, cfg, check=probe.probe, aws=None):
    """Handles a function-URL request or a scheduled run."""
    target = cfg.target
    http = (event.get("requestContext") or {}).get("http")
    if http is not None:
        path = event.get("rawPath", "")
        if http.get("method") not in ("GET", "HEAD") or not hmac.compare_digest(path, "/" + cfg.token):
            return _NOT_FOUND
    state = check(target.host, target.port, target.timeout)
    reachable = state == probe.ACCEPTING
    log("info", "probe", observer=cfg.observer, state=state)
    if http is None:
        if cfg.publish_metric:
            (aws or adapters.Aws()).put_metrics(
                cfg.namespace,
                [("PrimaryReachable", 1 if reachable else 0, "Count")],
                [{"Name": "Observer", "Value": cfg.observer}],
            )
        return {"reachable": reachable}
    return _reply(200, "ok") if reachable else _reply(503, "unavailable")


def handler(event, context):
    """Lambda entry point."""
    return handle(event, config.observer_config(os.environ))
