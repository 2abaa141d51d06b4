"""The failover workflow's steps, one handler each, called by the DR-region state machine.

The function runs outside the VPCs: the fence must reach the primary region's RDS API, and the DR
VPC has no route to another region. Every step is idempotent, so Step Functions may call it again.
A step that has to wait answers `{"ready": False, "waiting_for": ...}`: waiting is a normal
answer, not an error, so a healthy failover does not count in the function's Errors metric (and
its alarm). The state machine checks the answer and calls the step again after a Wait, a bounded
number of times, and pages when the bound runs out. A failed AWS call raises AwsError, which the
state machine retries with backoff and then pages. The same function records the primary's RDS
events forwarded from the primary region, for the monitor's veto.
"""

import datetime
import os
import time

from . import adapters, config, fsm
from .logs import log


def _waiting(what):
    """The answer of a step whose condition does not hold yet."""
    return {"ready": False, "waiting_for": what}


def ensure_promoted(cfg, aws, store, now):
    """Promotes the replica unless that has already started, and publishes the writer authority.

    A promotion in progress keeps the replica `modifying` with its source set for minutes; the
    authority recorded in the state table (by the monitor, or by this step) says it has started,
    so the fence does not wait for RDS to finish. The authority's first time identifies the
    promotion, and with it the fence record."""
    if not store.authority_is_dr():
        instance = aws.instance(cfg.replica_id)
        if instance.get("ReadReplicaSourceDBInstanceIdentifier"):
            status = instance.get("DBInstanceStatus")
            if status != "available":
                return _waiting(f"the replica is {status}; PromoteReadReplica needs it available")
            aws.promote(cfg.replica_id, cfg.backup_retention)
    aws.put_metrics(cfg.namespace, [("WriterIsDr", 1, "None")], [])
    store.set_authority(now)
    return {"ready": True, "promoted": True}


def await_standalone(cfg, aws, store, now):
    instance = aws.instance(cfg.replica_id)
    status = instance.get("DBInstanceStatus")
    if instance.get("ReadReplicaSourceDBInstanceIdentifier") or status != "available":
        return _waiting(f"the DR instance is {status} and not yet a standalone writer")
    return {"ready": True, "endpoint": instance["Endpoint"]["Address"]}


def promote_secret(cfg, aws, store, now):
    """The DR secret serves the promoted instance: standalone, its host, rotation in the DR region.
    In this order: StopReplicationToReplica, PutSecretValue, RotateSecret(RotateImmediately=False)."""
    standalone = await_standalone(cfg, aws, store, now)
    if not standalone["ready"]:
        return standalone
    endpoint = standalone["endpoint"]
    described, value = aws.secret(cfg.secret_id)
    if described.get("PrimaryRegion") and described["PrimaryRegion"] != cfg.region:
        aws.detach_secret(cfg.secret_id)
    if value.get("host") != endpoint:
        aws.put_secret(cfg.secret_id, dict(value, host=endpoint))
    aws.schedule_rotation(cfg.secret_id, cfg.rotation_function, cfg.rotation_days)
    return {"ready": True, "host": endpoint}


def _gone(error):
    """The old primary no longer exists (deleted after its retirement): it takes no writes."""
    return "DBInstanceNotFound" in str(error)


def _region_down(cfg, error):
    """While the old primary's region does not answer, the fence waits: in a regional outage that
    is the normal course, not a failure (a refused call still raises)."""
    if not error.unreachable:
        raise error
    return _waiting(f"the {cfg.primary_region} RDS API does not answer ({error.operation})")


def fence(cfg, aws, store, now):
    """Replaces the old primary's security groups with the deny-all group, then, in a later call
    once the change has applied, reboots it once per promotion to cut the sessions that
    connection tracking keeps open. Waits while its region's API does not answer and while the
    instance is in a state that cannot be rebooted; raises AwsError when a call is refused."""
    try:
        instance = aws.instance(cfg.primary_id, region=cfg.primary_region)
        groups = [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
        if groups != [cfg.fence_group]:
            aws.fence(cfg.primary_region, cfg.primary_id, cfg.fence_group)
            store.mark_fence(fenced_at=now)
            # The instance is `modifying` until the change applies: reboot on a later call.
            return _waiting("the deny-all security group to apply before the reboot")
        if "rebooted_at" not in store.fence():
            status = instance.get("DBInstanceStatus")
            if status not in ("available", "storage-optimization"):
                return _waiting(f"the old primary is {status}; the reboot that cuts its open sessions waits for it")
            aws.reboot(cfg.primary_region, cfg.primary_id)
            store.mark_fence(rebooted_at=now)
    except adapters.AwsError as e:
        if _gone(e):
            store.mark_fence(fenced_at=now, rebooted_at=now)
            return {"ready": True, "fenced": True, "deleted": True}
        return _region_down(cfg, e)
    return {"ready": True, "fenced": True}


def verify_fence(cfg, aws, store, now):
    """Confirms the fence once the old primary reports no connections (or no longer exists)."""
    try:
        aws.instance(cfg.primary_id, region=cfg.primary_region)
        connections = aws.connections(cfg.primary_region, cfg.primary_id)
    except adapters.AwsError as e:
        if _gone(e):
            store.mark_fence(confirmed_at=now)
            return {"ready": True, "confirmed": True, "deleted": True}
        return _region_down(cfg, e)
    if connections is None:
        return _waiting("the old primary reports no DatabaseConnections datapoint yet")
    if connections > 0:
        return _waiting(f"the old primary reports {connections:g} connections")
    store.mark_fence(confirmed_at=now)
    return {"ready": True, "confirmed": True}


def announce(cfg, aws, store, now):
    detail = {"replica": cfg.replica_id, "reason": "promoted, secret moved, old primary fenced"}
    aws.put_event(cfg.event_bus, "drgen failover completed", detail)
    aws.notify(cfg.topic_arn, "drgen failover completed", f"The replica {cfg.replica_id} is the writer.")
    return detail


STEPS = {
    "ensure_promoted": ensure_promoted,
    "await_standalone": await_standalone,
    "promote_secret": promote_secret,
    "fence": fence,
    "verify_fence": verify_fence,
    "announce": announce,
}


def event_time(event, now):
    """When RDS emitted the event (EventBridge's `time`, ISO 8601), not when it arrived here: the
    guard's readings of the same events carry RDS's times. `now` when it is missing or later."""
    try:
        stamp = datetime.datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return now
    return min(stamp, now)


def record_event(store, event, now):
    """Opens or closes an in-region recovery from an RDS event of the primary."""
    event_id = (event.get("detail") or {}).get("EventID", "")
    if event_id in fsm.RECOVERY_EVENTS:
        kind = fsm.RECOVERY_EVENTS[event_id][0]
        store.open_event(kind, event_time(event, now))
        return {"opened": kind}
    if event_id in fsm.CLOSING_EVENTS:
        kind = fsm.CLOSING_EVENTS[event_id]
        store.close_event(kind)
        return {"closed": kind}
    return {"ignored": event_id}


def handle(event, cfg, aws, store, now):
    if event.get("source") == "aws.rds":
        result = record_event(store, event, now)
    else:
        result = STEPS[event["step"]](cfg, aws, store, now)
    log("info", "workflow", step=event.get("step", "event"), result=result)
    return result


def handler(event, context):
    """Lambda entry point."""
    cfg = config.failover_config(os.environ)
    aws = adapters.Aws()
    return handle(event, cfg, aws, adapters.Store(aws, cfg.table), time.time())
