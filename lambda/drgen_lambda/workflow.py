"""The failover workflow's steps, one handler each, called by the DR-region state machine.

The function runs outside the VPCs: the fence must reach the primary region's RDS API, and the DR
VPC has no route to another region. Every step is idempotent, so Step Functions may call it again.
A step that has to wait answers `{"ready": False, "waiting_for": ...}`: waiting is a normal
answer, not an error, so a healthy failover does not count in the function's Errors metric (and
its alarm). The state machine checks the answer and calls the step again after a Wait, a bounded
number of times, and pages when the bound runs out. A failed AWS call raises AwsError, which the
state machine retries with backoff and then pages. The same function records the primary's RDS
events forwarded from the primary region, for the monitor's veto.

With `authority = arc` (ARC_ENDPOINTS set) two steps come first: `take_authority` switches ARC's
routing controls to DR, and `await_lease` waits until the old primary's lease keeper has fenced
it (or could have, by its lease); `ensure_promoted` promotes only after that.
"""

import datetime
import os
import time

from . import adapters, arc, config, fsm
from .logs import log


def _waiting(what):
    """The answer of a step whose condition does not hold yet."""
    return {"ready": False, "waiting_for": what}


def _promote(cfg, aws):
    """PromoteReadReplica unless the instance is standalone already; a waiting answer while the
    replica is not available, else None."""
    instance = aws.instance(cfg.replica_id)
    if instance.get("ReadReplicaSourceDBInstanceIdentifier"):
        status = instance.get("DBInstanceStatus")
        if status != "available":
            return _waiting(f"the replica is {status}; PromoteReadReplica needs it available")
        aws.promote(cfg.replica_id, cfg.backup_retention)
    return None


def _promote_once(cfg, aws, store, now):
    """`authority = arc`: the promotion call, recorded before it is made (RDS reports a replica for
    minutes after it accepted one); an answer that did not come, or a promotion already under
    way, counts as started. A refusal raises: Step Functions retries, then pages, and the monitor
    calls again every minute once the lease wait has passed."""
    instance = aws.instance(cfg.replica_id)
    if not instance.get("ReadReplicaSourceDBInstanceIdentifier"):
        store.mark_fence(promote_called_at=now)
        return None
    status = instance.get("DBInstanceStatus")
    if status != "available":
        return _waiting(f"the replica is {status}; PromoteReadReplica needs it available")
    if _authority_moved_back(cfg, aws):
        raise adapters.AwsError(
            "arc.get_routing_control_state",
            "the DR routing control is Off: the writer authority was moved back in ARC since the switch, and the "
            "old primary's keeper is not fenced by it; no promotion (RUNBOOK, the writer authority in ARC)",
        )
    store.mark_fence(promote_called_at=now)
    try:
        aws.promote(cfg.replica_id, cfg.backup_retention)
    except adapters.AwsError as e:
        if not (e.unreachable or "InvalidDBInstanceState" in str(e)):
            raise
        log("warning", "promotion_call_unanswered", error=str(e))
    return None


def _authority_moved_back(cfg, aws):
    """Just before the promotion call: whether ARC now says the DR side does not hold the
    authority (a human switched the controls back after the workflow took them). An unreadable
    control is not that: the switch on record stands, and the old primary's lease has run out."""
    settings = cfg.arc
    try:
        cluster = arc.Arc(aws, settings.endpoints, config=adapters.GUARD_CLIENT)
        return cluster.state(settings.dr_control) == arc.OFF
    except adapters.AwsError as e:
        log("warning", "authority_unread", operation=e.operation, error=str(e))
        return False


def ensure_promoted(cfg, aws, store, now):
    """Promotes the replica unless that has already started, and publishes the writer authority.

    A promotion in progress keeps the replica `modifying` with its source set for minutes; the
    authority recorded in the state table (by the monitor, or by this step) says it has started,
    so the fence does not wait for RDS to finish. The authority's first time identifies the
    promotion, and with it the fence record.

    With `authority = arc` the recorded authority says only that the failover started (the
    monitor records it before the workflow takes ARC): this step promotes once the lease wait
    has passed (`await_lease`, checked again here), and the fence record's `promote_called_at`
    says that it has."""
    if cfg.arc is not None:
        lease = await_lease(cfg, aws, store, now)
        if not lease["ready"]:
            return lease
        if "promote_called_at" not in store.fence():
            waiting = _promote_once(cfg, aws, store, now)
            if waiting:
                return waiting
    elif not store.authority_is_dr():
        waiting = _promote(cfg, aws)
        if waiting:
            return waiting
    aws.put_metrics(cfg.namespace, [("WriterIsDr", 1, "None")], [])
    store.set_authority(now)
    return {"ready": True, "promoted": True}


def _arc_settings(cfg, step):
    if cfg.arc is None or cfg.lease_wait is None:
        raise config.ConfigError(f"ARC_ENDPOINTS is required for the {step} step (authority = arc)")
    return cfg.arc


def take_authority(cfg, aws, store, now, clock=None):
    """`authority = arc`: the primary's routing control Off and the DR side's On, in one ARC
    transaction, through each of the cluster's endpoints until one answers; then records when
    (measured after the call returned: the old primary's lease counts from no earlier). Once
    recorded for this promotion, answers at once without calling ARC again. Records the writer
    authority in the table first when the monitor has not (a workflow started by hand)."""
    settings = _arc_settings(cfg, "take_authority")
    store.set_authority(now)
    switched = store.arc_switch()
    if switched is None:
        # One attempt of at most GUARD_CALL_SECONDS per endpoint, as the recovery budget counts
        # the switch (src/rto.rs, ARC_ENDPOINTS): a slow endpoint hands over to the next.
        cluster = arc.Arc(aws, settings.endpoints, config=adapters.GUARD_CLIENT)
        cluster.take(settings.primary_control, settings.dr_control)
        switched = store.record_arc_switch((clock or time.time)())
    return {"ready": True, "switched_at": switched}


def await_lease(cfg, aws, store, now):
    """`authority = arc`: ready once LEASE_WAIT_SECONDS have passed since the switch, by when the
    old primary has fenced itself, whether or not it could read ARC."""
    _arc_settings(cfg, "await_lease")
    switched = store.arc_switch()
    if switched is None:
        return _waiting("the authority has not been taken in ARC")
    if now < switched + cfg.lease_wait:
        return _waiting(f"the old primary's lease: {switched + cfg.lease_wait - now:.0f} s more")
    return {"ready": True}


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
        if "fenced_at" not in store.fence():
            # The group was set by someone else (the old primary's own lease keeper, or by hand)
            # moments ago, perhaps: RDS lists it at once and may still say `available` before
            # `modifying`. A later call, a poll interval on, reboots once it has applied.
            store.mark_fence(fenced_at=now)
            return _waiting("the deny-all security group, found set, to apply before the reboot")
        if "rebooted_at" not in store.fence():
            status = instance.get("DBInstanceStatus")
            if status not in adapters.Aws.REBOOTABLE:
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
    "take_authority": take_authority,
    "await_lease": await_lease,
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
