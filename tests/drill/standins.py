"""Local stand-ins for AWS in the drill. They live here, never in the Lambda package: the code
under test (probe, fsm, monitor, workflow, observer, adapters.Store) runs unchanged on them.

- `Aws` answers the calls of `drgen_lambda.adapters.Aws`: RDS from the two PostgreSQL servers
  (promote = pg_promote(), the fence = the security-group relay), ReplicaLag as RDS computes it
  for PostgreSQL (now() - pg_last_xact_replay_timestamp(), one datapoint a metric period),
  metrics, pages and events in memory, and DynamoDB's item calls on an in-memory table.
- `Route53` evaluates the health-check graph that `drgen explain --format json` reports against
  the observers' answers (the package's handler) and the writer-authority alarm, and answers what the writer name resolves
  to, with the TTL.
"""

import threading
import time

from drgen_lambda import adapters, fsm, observer, pg, probe


class RegionDown(Exception):
    pass


class Aws:
    def __init__(self, world):
        self.world = world
        self.lock = threading.Lock()
        self.metrics = []  # (time, name, value)
        self.pages = []  # (time, subject, message)
        self.events = []
        self.items = {}
        self.secret_value = {"host": "primary", "username": "postgres", "password": ""}
        self.lag_points = []  # (time, value)
        self.primary_api_down = False
        self.promoted_at = None
        self.fenced_groups = False
        self.rds_events = []  # (time, message) of the primary, in its own region
        # The DR side's calls to the primary region's API fail (the workflow's fence), while that
        # region's own functions still reach it (the guard).
        self.cross_region_api_down = False

    # --- DynamoDB, for adapters.Store -----------------------------------------------------
    def _call(self, service, operation, region=None, **kw):
        assert service == "dynamodb", service
        with self.lock:
            if operation == "get_item":
                item = self.items.get(kw["Key"]["pk"]["S"])
                return {"Item": dict(item)} if item else {}
            if operation == "put_item":
                self.items[kw["Item"]["pk"]["S"]] = dict(kw["Item"])
                return {}
            if operation == "delete_item":
                self.items.pop(kw["Key"]["pk"]["S"], None)
                return {}
            if operation == "batch_get_item":
                ((table, request),) = kw["RequestItems"].items()
                found = [dict(self.items[k["pk"]["S"]]) for k in request["Keys"] if k["pk"]["S"] in self.items]
                return {"Responses": {table: found}}
        raise AssertionError(operation)

    # --- metrics, pages, events ------------------------------------------------------------
    def put_metrics(self, namespace, metrics, dimensions):
        now = time.time()
        with self.lock:
            self.metrics.extend((now, name, float(value)) for name, value, _ in metrics)

    def notify(self, topic_arn, subject, message):
        with self.lock:
            self.pages.append((time.time(), subject, message))

    def put_event(self, bus, detail_type, detail):
        with self.lock:
            self.events.append((time.time(), detail_type, detail))

    def authority_points(self):
        with self.lock:
            return [(t, v) for t, name, v in self.metrics if name == "WriterIsDr"]

    # --- RDS ---------------------------------------------------------------------------------
    def _standby(self, sql):
        try:
            return self.world.query(self.world.rig.standby.address, sql)
        except (pg.PgError, OSError) as e:
            raise adapters.AwsError("rds.describe_db_instances", e) from e

    def _replica(self):
        """(status, still a replica) as RDS reports them: pg_promote() takes a second, RDS takes
        minutes, so for the modelled promotion time after the call the instance stays
        `modifying` with its replication source."""
        in_recovery = self._standby("SELECT pg_is_in_recovery()") == "t"
        with self.lock:
            started = self.promoted_at
        if started is not None and time.time() - started < self.world.promotion_seconds:
            return "modifying", True
        return "available", in_recovery

    def replica_state(self, replica_id):
        return fsm.Replica(*self._replica())

    def instance(self, instance_id, region=None):
        if region is not None:
            if self.primary_api_down or self.cross_region_api_down:
                raise adapters.AwsError("rds.describe_db_instances", "Could not connect to the endpoint URL")
            groups = ["sg-fenced"] if self.fenced_groups else ["sg-db"]
            return {"DBInstanceStatus": "available", "VpcSecurityGroups": [{"VpcSecurityGroupId": g} for g in groups]}
        status, is_replica = self._replica()
        instance = {"DBInstanceStatus": status, "Endpoint": {"Address": "standby"}}
        if is_replica:
            instance["ReadReplicaSourceDBInstanceIdentifier"] = "primary"
        return instance

    def instance_status(self, instance_id):
        """The primary's status from its own region's API (the guard's read)."""
        if self.primary_api_down:
            raise adapters.AwsError("rds.describe_db_instances", "Could not connect to the endpoint URL")
        return "available"

    def instance_events(self, instance_id, start, end):
        if self.primary_api_down:
            raise adapters.AwsError("rds.describe_events", "Could not connect to the endpoint URL")
        low, high = start.timestamp(), end.timestamp()
        with self.lock:
            return [(t, m) for t, m in self.rds_events if low <= t <= high]

    def promote(self, replica_id, backup_retention):
        self._standby("SELECT pg_promote(false)")
        with self.lock:
            if self.promoted_at is None:
                self.promoted_at = time.time()

    def fence(self, region, instance_id, security_group_id):
        if self.primary_api_down or self.cross_region_api_down:
            raise adapters.AwsError("rds.modify_db_instance", "Could not connect to the endpoint URL")
        self.fenced_groups = True
        self.world.relays["security_group"].deny_new()

    def reboot(self, region, instance_id):
        if self.primary_api_down or self.cross_region_api_down:
            raise adapters.AwsError("rds.reboot_db_instance", "Could not connect to the endpoint URL")
        self.world.relays["security_group"].kill_established()

    def connections(self, region, instance_id, now=None):
        if self.primary_api_down or self.cross_region_api_down:
            raise adapters.AwsError("cloudwatch.get_metric_data", "Could not connect to the endpoint URL")
        return float(self.world.relays["security_group"].established())

    def sample_lag(self):
        """One ReplicaLag datapoint, as RDS publishes it for a PostgreSQL replica."""
        try:
            # NULL (nothing replayed yet, or no longer a replica): no datapoint.
            value = self._standby(
                "SELECT CASE WHEN pg_is_in_recovery() THEN "
                "extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
            )
        except adapters.AwsError:
            return
        if value:
            with self.lock:
                self.lag_points.append((time.time(), float(value)))

    def replica_lag(self, replica_id, now=None):
        with self.lock:
            if not self.lag_points:
                return None
            at, value = self.lag_points[-1]
        return fsm.Lag(value, time.time() - at)

    # --- Step Functions and Secrets Manager ---------------------------------------------------
    def start_failover(self, state_machine_arn, name, payload):
        self.world.start_workflow()
        return "execution-" + name

    def secret(self, secret_id):
        with self.lock:
            return {"PrimaryRegion": "us-east-1"}, dict(self.secret_value)

    def credentials(self, secret_id):
        return self.secret(secret_id)[1]

    def detach_secret(self, secret_id):
        pass

    def put_secret(self, secret_id, value):
        with self.lock:
            self.secret_value = dict(value)

    def schedule_rotation(self, secret_id, function_arn, days):
        pass


class Check:
    """One Route 53 health check on an observer: unhealthy after `threshold` failed requests in
    a row, healthy again after `threshold` successes."""

    def __init__(self, threshold):
        self.threshold = threshold
        self.healthy = True
        self.streak = 0

    def observe(self, ok):
        if ok == self.healthy:
            self.streak = 0
            return
        self.streak += 1
        if self.streak >= self.threshold:
            self.healthy, self.streak = ok, 0


class Route53:
    """The PRIMARY record's calculated check, from `drgen explain`'s graph."""

    def __init__(self, graph, scale, authority_delay, aws, observers):
        self.graph = graph
        self.scale = scale
        self.authority_delay = authority_delay / scale
        self.aws = aws
        self.observers = observers  # side -> the observer's ObserverConfig
        observer = next(c for c in graph["children"] if c["role"] == "observer")
        self.interval = observer["interval_seconds"] / scale
        self.checks = {c["side"]: Check(c["failure_threshold"]) for c in graph["children"] if c["role"] == "observer"}
        self.ttl = graph["ttl_seconds"] / scale
        self.alarm = []  # (time, in ALARM)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for side, check in self.checks.items():
                cfg = self.observers[side]
                request = {"httpMethod": "GET", "path": "/" + cfg.token}
                reply = observer.handle(request, cfg, check=probe.probe, aws=self.aws)
                check.observe(reply["statusCode"] == 200)
            self.stop.wait(self.interval)

    def _alarm_at(self, t):
        """The writer-authority alarm's state at time t: the newest datapoint decides; missing
        data keeps the state (treat_missing_data = ignore)."""
        state = False
        for at, value in self.aws.authority_points():
            if at <= t:
                state = value >= 1
        return state

    def primary_healthy(self, now=None):
        now = time.time() if now is None else now
        authority_says_primary = not self._alarm_at(now - self.authority_delay)
        healthy = 0
        for child in self.graph["children"]:
            if child["role"] == "observer":
                healthy += int(self.checks[child["side"]].healthy)
            else:
                healthy += child["copies"] * int(authority_says_primary)
        return healthy >= self.graph["threshold"]


class Resolver:
    """A client's resolver: the answer is cached for the record's TTL."""

    def __init__(self, route53):
        self.route53 = route53
        self.answer = None
        self.expires = 0.0
        self.lock = threading.Lock()

    def resolve(self):
        with self.lock:
            now = time.time()
            if now >= self.expires:
                self.answer = "primary" if self.route53.primary_healthy(now) else "dr"
                self.expires = now + self.route53.ttl
            return self.answer
