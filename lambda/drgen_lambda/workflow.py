"""The failover workflow's steps, one handler each, called by the DR-region state machine.

The function runs outside the VPCs: the fence must reach the primary region's RDS API, and the DR
VPC has no route to another region. Every step is idempotent, so Step Functions may retry it.
A step that must wait raises NotReady; a failed AWS call raises AwsError; both are retried by
the state machine, which pages when it gives up. The same function records the primary's RDS
events forwarded from the primary region, for the monitor's veto.
"""

import os
import time

from . import adapters, config, fsm
from .logs import log


class NotReady(Exception):
    """The step's condition does not hold yet; the state machine retries it."""


def ensure_promoted(cfg, aws, store, now):
    """Promotes the replica unless that has already started, and publishes the writer authority.

    A promotion in progress keeps the replica `modifying` with its source set for minutes; the
    authority recorded in the state table (by the monitor, or by this step) says it has started,
    so the fence does not wait for RDS to finish. The authority's first time identifies the
    promotion, and with it the fence record."""
    if not store.authority_is_dr():
        instance = aws.instance(cfg.replica_id)
        if instance.get("ReadReplicaSourceDBInstanceIdentifier"):
            if instance.get("DBInstanceStatus") != "available":
                raise NotReady(f"replica is {instance.get('DBInstanceStatus')}")
            aws.promote(cfg.replica_id, cfg.backup_retention)
    aws.put_metrics(cfg.namespace, [("WriterIsDr", 1, "None")], [])
    store.set_authority(now)
    return {"promoted": True}


def await_standalone(cfg, aws, store, now):
    instance = aws.instance(cfg.replica_id)
    status = instance.get("DBInstanceStatus")
    if instance.get("ReadReplicaSourceDBInstanceIdentifier") or status != "available":
        raise NotReady(f"the DR instance is {status} and not yet a standalone writer")
    return {"endpoint": instance["Endpoint"]["Address"]}


def promote_secret(cfg, aws, store, now):
    """The DR secret serves the promoted instance: standalone, its host, rotation in the DR region.
    In this order: StopReplicationToReplica, PutSecretValue, RotateSecret(RotateImmediately=False)."""
    endpoint = await_standalone(cfg, aws, store, now)["endpoint"]
    described, value = aws.secret(cfg.secret_id)
    if described.get("PrimaryRegion") and described["PrimaryRegion"] != cfg.region:
        aws.detach_secret(cfg.secret_id)
    if value.get("host") != endpoint:
        aws.put_secret(cfg.secret_id, dict(value, host=endpoint))
    aws.schedule_rotation(cfg.secret_id, cfg.rotation_function, cfg.rotation_days)
    return {"host": endpoint}


def _gone(error):
    """The old primary no longer exists (deleted after its retirement): it takes no writes."""
    return "DBInstanceNotFound" in str(error)


def fence(cfg, aws, store, now):
    """Replaces the old primary's security groups with the deny-all group, then reboots it once per
    promotion to cut the sessions that connection tracking keeps open. Fails while its region's
    API fails."""
    try:
        instance = aws.instance(cfg.primary_id, region=cfg.primary_region)
    except adapters.AwsError as e:
        if not _gone(e):
            raise
        store.mark_fence(fenced_at=now, rebooted_at=now)
        return {"fenced": True, "deleted": True}
    groups = [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
    if groups != [cfg.fence_group]:
        aws.fence(cfg.primary_region, cfg.primary_id, cfg.fence_group)
        store.mark_fence(fenced_at=now)
    if "rebooted_at" not in store.fence():
        if instance.get("DBInstanceStatus") not in ("available", "storage-optimization"):
            raise NotReady(f"the old primary is {instance.get('DBInstanceStatus')}; reboot waits")
        aws.reboot(cfg.primary_region, cfg.primary_id)
        store.mark_fence(rebooted_at=now)
    return {"fenced": True}


def verify_fence(cfg, aws, store, now):
    """Confirms the fence once the old primary reports no connections (or no longer exists)."""
    try:
        aws.instance(cfg.primary_id, region=cfg.primary_region)
    except adapters.AwsError as e:
        if not _gone(e):
            raise
        store.mark_fence(confirmed_at=now)
        return {"confirmed": True, "deleted": True}
    connections = aws.connections(cfg.primary_region, cfg.primary_id)
    if connections is None or connections > 0:
        raise NotReady(f"the old primary reports {connections} connections")
    store.mark_fence(confirmed_at=now)
    return {"confirmed": True}


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


def record_event(store, event, now):
    """Opens or closes an in-region recovery from an RDS event of the primary."""
    event_id = (event.get("detail") or {}).get("EventID", "")
    if event_id in fsm.RECOVERY_EVENTS:
        kind = fsm.RECOVERY_EVENTS[event_id][0]
        store.open_event(kind, now)
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
