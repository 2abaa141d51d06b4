"""Connectivity observer: probes the primary database from inside a VPC.

Behind an API Gateway REST API (endpoint mode) it answers Route 53: 200 `ok` while the primary
accepts connections and the writer authority names it, 503 otherwise, 404 for a request without
the deployment's path token (API Gateway answers other paths itself; the function checks
again). It never returns detail. Route 53 needs the answer within two seconds of connecting:
the probe and the authority read run side by side inside one 1.5 s budget (the read also has
the client deadline: one attempt, 0.5 s to connect, 0.5 s to read); an answer that cannot be
had in time is a 503.
On a schedule it publishes PrimaryReachable (CloudWatch mode) and, in the primary region, leaves
two records in its region's replica of the failover state table: `alive` on every scheduled run,
whatever the probe says (the region speaks: with the guard's reports, what tells the DR side that
the primary's region is up), and the heartbeat while the primary accepts connections.
"""

import hmac
import os
import threading
import time

from . import adapters, config, probe
from .logs import log

_NOT_FOUND = {"statusCode": 404, "headers": {"Content-Type": "text/plain"}, "body": "not found"}


def _reply(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "text/plain", "Cache-Control": "no-store"}, "body": body}


def _demoted(cfg, aws):
    """Whether the writer authority, as recorded in this region's copy of the state table, takes
    the writer name away from the instance this observer probes: the old primary once the
    authority says DR. Only an affirmative, readable answer keeps it: a failed or slow read
    demotes (fails closed), so that a returning old primary cannot get the writer name back
    while this region's table cannot say who the writer is. Route 53 then reads a 503 from this
    observer, which moves the writer name to the replica: unavailable for writes, never split."""
    if not cfg.state_table:
        return False
    try:
        writer = "dr" if adapters.Store(aws, cfg.state_table).authority_is_dr() else "primary"
    except adapters.AwsError as e:
        log("warning", "authority_unreadable", error=str(e))
        return True
    return writer != cfg.target_side


_AWS = []


def _aws():
    """One client set per execution environment, reused by warm invocations: a new session per
    request costs more than Route 53's two seconds allow. Its calls have a short deadline and
    no retry (`adapters.OBSERVER_CLIENT`)."""
    if not _AWS:
        _AWS.append(adapters.Aws(config=adapters.OBSERVER_CLIENT))
    return _AWS[0]


# Route 53 waits two seconds for the answer after it connects; API Gateway and Lambda take part
# of them. The whole answer to a health check is bounded by this budget.
ANSWER_SECONDS = 1.5


def _authority_in_background(cfg, aws):
    """Starts the authority read beside the probe; returns a function that waits for it until a
    deadline and answers whether the probed instance is demoted (True when the read has not
    finished in time: fail closed)."""
    result = {}

    def read():
        result["demoted"] = _demoted(cfg, aws)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()

    def wait(deadline):
        worker.join(max(0.0, deadline - time.monotonic()))
        if "demoted" not in result:
            log("warning", "authority_unreadable", error="no answer within the observer's deadline")
            return True
        return result["demoted"]

    return wait


def _speak(cfg, aws):
    """The primary-region observer's `alive` beat, first thing in a scheduled run (before the
    probe, so that a slow probe does not delay it). Returns the error of a failed write, which
    the run raises once the probe, the heartbeat and the metric are done."""
    if not cfg.heartbeat_table:
        return None
    try:
        adapters.Store(aws, cfg.heartbeat_table).speak(time.time())
    except adapters.AwsError as e:
        log("error", "alive_not_written", error=str(e))
        return e
    return None


def handle(event, cfg, check=probe.probe, aws=None):
    """Handles an API Gateway proxy request or a scheduled run."""
    target = cfg.target
    http = "httpMethod" in event
    if http:
        path = event.get("path") or ""
        if event["httpMethod"] not in ("GET", "HEAD") or not hmac.compare_digest(path, "/" + cfg.token):
            return _NOT_FOUND
    aws = aws or _aws()
    if http:
        # The probe and the authority read run side by side, both inside the answer's budget.
        deadline = time.monotonic() + ANSWER_SECONDS
        authority = _authority_in_background(cfg, aws)
        state = check(target.host, target.port, min(target.timeout, ANSWER_SECONDS))
        accepting = state == probe.ACCEPTING
        demoted = accepting and authority(deadline)
    else:
        spoken = _speak(cfg, aws)
        state = check(target.host, target.port, target.timeout)
        accepting = state == probe.ACCEPTING
        demoted = accepting and _demoted(cfg, aws)
    reachable = accepting and not demoted
    log("info", "probe", observer=cfg.observer, state=state, demoted=demoted)
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
        if spoken is not None:
            # The run did everything else; its failure shows in the function's error alarm.
            raise spoken
        return {"reachable": reachable}
    return _reply(200, "ok") if reachable else _reply(503, "unavailable")


def handler(event, context):
    """Lambda entry point."""
    return handle(event, config.observer_config(os.environ))
