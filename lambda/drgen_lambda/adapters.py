"""Thin boto3 adapters. Every failure surfaces as AwsError; nothing here decides anything."""

import datetime
import importlib
import json
from typing import Optional

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

# fsm and guard are imported where they are used: the lease keeper's package (lease.zip) ships
# this module without them, and never calls what needs them. The names of theirs that this module
# has always offered still resolve here, imported when first asked for.
_THEIRS = {
    "Lag": ("fsm", "Lag"),
    "Replica": ("fsm", "Replica"),
    "ReplicaState": ("fsm", "Replica"),
    "RECOVERY_EVENTS": ("fsm", "RECOVERY_EVENTS"),
    "GuardReport": ("guard", "GuardReport"),
}


def __getattr__(name):
    if name not in _THEIRS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _THEIRS[name]
    return getattr(importlib.import_module("." + module, __package__), attribute)


_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})

# The observer answers Route 53, which waits two seconds: one attempt with short timeouts.
OBSERVER_CLIENT = Config(connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1, "mode": "standard"})

# The guard speaks every few seconds: one attempt with short timeouts, so that a tick is bounded
# (a call that does not answer in time is a failed read, said as such, and the next tick asks
# again). GUARD_CALL_SECONDS is one call's bound.
GUARD_CLIENT = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 1, "mode": "standard"})
GUARD_CALL_SECONDS = 3


class AwsError(Exception):
    """An AWS call failed or was throttled. `unreachable` says the service did not answer (no
    connection, a timeout, or a 5xx): what a region's outage looks like, as opposed to an
    answer that refuses the call. A caller that tried several endpoints says so itself."""

    def __init__(self, operation, error, unreachable=None):
        super().__init__(f"{operation} failed: {error}")
        self.operation = operation
        self.unreachable = _unreachable(error) if unreachable is None else unreachable
        self.code = error.response.get("Error", {}).get("Code", "") if isinstance(error, ClientError) else ""


def _unreachable(error):
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)):
        return True
    if isinstance(error, ClientError):
        return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return False


class Aws:
    """The AWS calls the functions make, each in one place."""

    def __init__(self, session=None, config=_CLIENT_CONFIG):
        self._session = session or boto3.session.Session()
        self._config = config
        self._clients = {}

    def _client(self, name, region=None):
        key = (name, region)
        if key not in self._clients:
            self._clients[key] = self._session.client(name, region_name=region, config=self._config)
        return self._clients[key]

    def _call(self, service, operation, region=None, **kwargs):
        try:
            return getattr(self._client(service, region), operation)(**kwargs)
        except (ClientError, BotoCoreError) as e:
            raise AwsError(f"{service}.{operation}", e) from e

    def _newest_rds_datapoint(self, metric, instance_id, end, region=None):
        """(value, timestamp) of the newest one-minute maximum of an AWS/RDS metric of the last
        five minutes, or None."""
        answer = self._call(
            "cloudwatch",
            "get_metric_data",
            region=region,
            MetricDataQueries=[
                {
                    "Id": "newest",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/RDS",
                            "MetricName": metric,
                            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": instance_id}],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=end - datetime.timedelta(minutes=5),
            EndTime=end,
            ScanBy="TimestampDescending",
        )
        for result in answer.get("MetricDataResults", []):
            if result.get("Values"):
                return float(result["Values"][0]), result["Timestamps"][0]
        return None

    def replica_lag(self, replica_id, now=None):
        """The newest ReplicaLag datapoint of the last five minutes with its age (an fsm.Lag), or
        None."""
        from .fsm import Lag  # noqa: PLC0415 - see the imports

        end = now or datetime.datetime.now(datetime.timezone.utc)
        newest = self._newest_rds_datapoint("ReplicaLag", replica_id, end)
        if newest is None:
            return None
        value, stamp = newest
        # A one-minute datapoint is stamped with the start of its period.
        return Lag(value, max(0.0, (end - stamp).total_seconds() - 60))

    def connections(self, region, instance_id, now=None) -> Optional[float]:
        """The newest DatabaseConnections datapoint of the last five minutes, or None."""
        end = now or datetime.datetime.now(datetime.timezone.utc)
        newest = self._newest_rds_datapoint("DatabaseConnections", instance_id, end, region=region)
        return None if newest is None else newest[0]

    def put_metrics(self, namespace, metrics, dimensions):
        """Publishes (name, value, unit) triples."""
        self._call(
            "cloudwatch",
            "put_metric_data",
            Namespace=namespace,
            MetricData=[
                {"MetricName": name, "Value": float(value), "Unit": unit, "Dimensions": dimensions}
                for name, value, unit in metrics
            ],
        )

    def instance(self, instance_id, region=None):
        answer = self._call("rds", "describe_db_instances", region=region, DBInstanceIdentifier=instance_id)
        return answer["DBInstances"][0]

    def instance_status(self, instance_id) -> str:
        """The instance's DBInstanceStatus in this client's region; `not-found` when RDS answers
        that there is no such instance."""
        try:
            return self.instance(instance_id).get("DBInstanceStatus", "")
        except AwsError as e:
            if e.code == "DBInstanceNotFound":
                return "not-found"
            raise

    # Pages of DescribeEvents read per call at most: RDS returns up to 100 events a page, oldest
    # first, and a window of events longer than this is not one the guard can judge.
    EVENT_PAGES = 3

    def instance_events(self, instance_id, start, end):
        """(epoch seconds, message) of the instance's events between `start` and `end`
        (datetimes), oldest first."""
        events = []
        marker = None
        for _ in range(self.EVENT_PAGES):
            page = {"Marker": marker} if marker else {}
            answer = self._call(
                "rds",
                "describe_events",
                SourceIdentifier=instance_id,
                SourceType="db-instance",
                StartTime=start,
                EndTime=end,
                MaxRecords=100,
                **page,
            )
            events.extend((e["Date"].timestamp(), e.get("Message", "")) for e in answer.get("Events", []))
            marker = answer.get("Marker")
            if not marker:
                return events
        raise AwsError("rds.describe_events", f"more than {self.EVENT_PAGES} pages of events in the window")

    def replica_state(self, replica_id):
        """The replica's status and whether it still is one (an fsm.Replica)."""
        from .fsm import Replica  # noqa: PLC0415 - see the imports

        instance = self.instance(replica_id)
        return Replica(
            status=instance.get("DBInstanceStatus", ""),
            is_replica=bool(instance.get("ReadReplicaSourceDBInstanceIdentifier")),
        )

    def fence(self, region, instance_id, security_group_id):
        """Replaces the instance's security groups. Without ApplyImmediately the change still
        "is asynchronously applied as soon as possible" (ModifyDBInstance, VpcSecurityGroupIds),
        and it does not apply the instance's other pending modifications as ApplyImmediately
        would; the instance is `modifying` until the change has applied."""
        self._call(
            "rds",
            "modify_db_instance",
            region=region,
            DBInstanceIdentifier=instance_id,
            VpcSecurityGroupIds=[security_group_id],
        )

    # The states in which RDS accepts RebootDBInstance: `available`, and `storage-optimization`,
    # which may last a day and still allows "any other instance modifications, such as ...
    # performing a reboot" (https://repost.aws/knowledge-center/rds-stuck-in-storage-optimization).
    REBOOTABLE = ("available", "storage-optimization")

    def reboot(self, region, instance_id):
        self._call("rds", "reboot_db_instance", region=region, DBInstanceIdentifier=instance_id)

    def secret(self, secret_id):
        answer = self._call("secretsmanager", "describe_secret", SecretId=secret_id)
        value = self._call("secretsmanager", "get_secret_value", SecretId=secret_id)
        return answer, json.loads(value["SecretString"])

    def credentials(self, secret_id):
        """The secret's current value, without its description (the monitor may only read it)."""
        value = self._call("secretsmanager", "get_secret_value", SecretId=secret_id)
        return json.loads(value["SecretString"])

    def detach_secret(self, secret_id):
        """Makes the DR copy of a replicated secret standalone."""
        self._call("secretsmanager", "stop_replication_to_replica", SecretId=secret_id)

    def put_secret(self, secret_id, value):
        self._call("secretsmanager", "put_secret_value", SecretId=secret_id, SecretString=json.dumps(value))

    def schedule_rotation(self, secret_id, function_arn, days):
        self._call(
            "secretsmanager",
            "rotate_secret",
            SecretId=secret_id,
            RotationLambdaARN=function_arn,
            RotationRules={"AutomaticallyAfterDays": days},
            RotateImmediately=False,
        )

    def promote(self, replica_id, backup_retention):
        self._call(
            "rds",
            "promote_read_replica",
            DBInstanceIdentifier=replica_id,
            BackupRetentionPeriod=backup_retention,
        )

    def start_failover(self, state_machine_arn, name, payload):
        answer = self._call(
            "stepfunctions", "start_execution", stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
        )
        return answer["executionArn"]

    def put_event(self, bus, detail_type, detail):
        answer = self._call(
            "events",
            "put_events",
            Entries=[
                {
                    "Source": "drgen.failover",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, sort_keys=True),
                    "EventBusName": bus,
                }
            ],
        )
        if answer.get("FailedEntryCount"):
            raise AwsError("events.put_events", answer["Entries"])

    def notify(self, topic_arn, subject, message):
        self._call("sns", "publish", TopicArn=topic_arn, Subject=subject[:100], Message=message)


class Store:
    """The failover state table (a DynamoDB global table homed in the DR region): the monitor's
    state and run lock, open recovery events and the fence; and what the primary region says
    about itself, written to its own replica: the observer's heartbeat (while the primary
    accepts) and `alive` beat (every scheduled run), and the guard's report."""

    def __init__(self, aws, table):
        self._aws = aws
        self._table = table

    def _get(self, key):
        answer = self._aws._call(
            "dynamodb", "get_item", TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True
        )
        return answer.get("Item")

    def _put(self, key, **attributes):
        item = {"pk": {"S": key}}
        for name, value in attributes.items():
            item[name] = {"N": repr(float(value))} if isinstance(value, (int, float)) else {"S": value}
        self._aws._call("dynamodb", "put_item", TableName=self._table, Item=item)

    def acquire(self, owner, now, seconds) -> bool:
        """Takes the run lock unless another run holds it; the lock lapses by itself."""
        try:
            self._aws._client("dynamodb").put_item(
                TableName=self._table,
                Item={"pk": {"S": "lock"}, "owner": {"S": owner}, "until": {"N": repr(float(now + seconds))}},
                ConditionExpression="attribute_not_exists(pk) OR #until < :now",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":now": {"N": repr(float(now))}},
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise AwsError("dynamodb.put_item", e) from e
        except BotoCoreError as e:
            raise AwsError("dynamodb.put_item", e) from e
        return True

    def release(self, owner):
        try:
            self._aws._client("dynamodb").delete_item(
                TableName=self._table,
                Key={"pk": {"S": "lock"}},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": owner}},
            )
        except (ClientError, BotoCoreError) as e:
            raise AwsError("dynamodb.delete_item", e) from e

    def load(self):
        item = self._get("state")
        return json.loads(item["state"]["S"]) if item else None

    def save(self, state):
        self._put("state", state=json.dumps(state, sort_keys=True))

    def heartbeat(self) -> Optional[float]:
        item = self._get("heartbeat")
        return float(item["at"]["N"]) if item else None

    def beat(self, now):
        self._put("heartbeat", at=now)

    def guard(self):
        """The primary-region guard's newest report (a guard.GuardReport), or None when it has
        written none."""
        from .guard import GuardReport  # noqa: PLC0415 - see the imports

        item = self._get("guard")
        if not item:
            return None
        return GuardReport(
            verdict=item["verdict"]["S"],
            detail=item.get("detail", {}).get("S", ""),
            since=float(item["since"]["N"]),
            at=float(item["at"]["N"]),
            closed=json.loads(item["closed"]["S"]) if "closed" in item else {},
            next_by=float(item["next_by"]["N"]) if "next_by" in item else None,
        )

    def report_guard(self, report):
        """Writes the guard's report (item `guard`: verdict, detail, since, at, `closed` as JSON,
        and `next_by` when the report states it)."""
        extra = {} if report.next_by is None else {"next_by": report.next_by}
        self._put(
            "guard",
            verdict=report.verdict,
            detail=report.detail,
            since=report.since,
            at=report.at,
            closed=json.dumps(report.closed, sort_keys=True),
            **extra,
        )

    def alive(self) -> Optional[float]:
        """When the primary region last spoke through its observer's scheduled run (item `alive`,
        epoch seconds of that region's clock), whatever its probe saw; None when never."""
        item = self._get("alive")
        return float(item["at"]["N"]) if item else None

    def speak(self, now):
        """The primary-region observer's beat on every scheduled run: the region is up enough to
        run a function and write to its copy of the table."""
        self._put("alive", at=now)

    def open_events(self):
        """(kind, opened_at) of every recovery event recorded as open."""
        from .fsm import RECOVERY_EVENTS  # noqa: PLC0415 - see the imports

        keys = [{"pk": {"S": "event#" + kind}} for kind, _ in RECOVERY_EVENTS.values()]
        answer = self._aws._call(
            "dynamodb", "batch_get_item", RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}}
        )
        items = answer.get("Responses", {}).get(self._table, [])
        return sorted((i["pk"]["S"].split("#", 1)[1], float(i["at"]["N"])) for i in items)

    def open_event(self, kind, at):
        self._put("event#" + kind, at=at)

    def close_event(self, kind):
        self._aws._call("dynamodb", "delete_item", TableName=self._table, Key={"pk": {"S": "event#" + kind}})

    def authority_is_dr(self) -> bool:
        """Whether the writer authority recorded here says DR (a promotion has started)."""
        item = self._get("authority")
        return bool(item) and item.get("writer", {}).get("S") == "dr"

    def promotion(self) -> Optional[float]:
        """When the current promotion started (the writer authority's time), or None."""
        item = self._get("authority")
        if not item or item.get("writer", {}).get("S") != "dr":
            return None
        return float(item["at"]["N"])

    def set_authority(self, now):
        """Records that a promotion started at `now`, unless one is recorded already: its first
        time identifies the promotion, and its fence record is keyed by it."""
        if self.promotion() is None:
            self._put("authority", writer="dr", at=now)

    def clear_authority(self):
        """Failback: ends the promotion, its fence record first (a failure in between leaves a
        record that no later promotion reads)."""
        self._aws._call("dynamodb", "delete_item", TableName=self._table, Key={"pk": {"S": "fence"}})
        self._aws._call("dynamodb", "delete_item", TableName=self._table, Key={"pk": {"S": "authority"}})

    def fence(self):
        """The current promotion's fence progress: promotion_started_at, and fenced_at,
        rebooted_at, confirmed_at as the workflow records them. A record of another promotion
        (one that failback ended, or one from before records were scoped) counts as none."""
        promotion = self.promotion()
        if promotion is None:
            return {}
        item = self._get("fence") or {}
        times = {k: float(v["N"]) for k, v in item.items() if "N" in v}
        if times.get("promotion_started_at") != promotion:
            times = {}
        return dict(times, promotion_started_at=promotion)

    def arc_switch(self) -> Optional[float]:
        """When the failover workflow took the writer authority in ARC for the current promotion
        (item `arc`: promotion_started_at, switched_at), or None; a record of another promotion
        counts as none."""
        promotion = self.promotion()
        item = self._get("arc") if promotion is not None else None
        if not item or float(item["promotion_started_at"]["N"]) != promotion:
            return None
        return float(item["switched_at"]["N"])

    def record_arc_switch(self, at) -> float:
        """Records the current promotion's switch in ARC at `at` unless one is recorded already
        (a conditional write: the first success stands); returns the recorded time."""
        promotion = self.promotion()
        if promotion is None:
            raise LookupError("no promotion is recorded (the writer authority is not DR); no ARC switch to record")
        try:
            self._aws._client("dynamodb").put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": "arc"},
                    "promotion_started_at": {"N": repr(float(promotion))},
                    "switched_at": {"N": repr(float(at))},
                },
                ConditionExpression="attribute_not_exists(pk) OR promotion_started_at <> :promotion",
                ExpressionAttributeValues={":promotion": {"N": repr(float(promotion))}},
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise AwsError("dynamodb.put_item", e) from e
            return self.arc_switch()
        except BotoCoreError as e:
            raise AwsError("dynamodb.put_item", e) from e
        return float(at)

    def lease(self):
        """The lease keeper's record (item `lease`): confirmed_at and fenced_at (epoch seconds,
        each when known) and its page times (`pages`, JSON). {} when there is none."""
        item = self._get("lease") or {}
        record = {k: float(v["N"]) for k, v in item.items() if "N" in v}
        if "pages" in item:
            record["pages"] = json.loads(item["pages"]["S"])
        return record

    def keep_lease(self, record):
        """Writes the lease keeper's record: its times, and its page times as JSON."""
        times = {k: v for k, v in record.items() if k != "pages" and v is not None}
        self._put("lease", pages=json.dumps(record.get("pages", {}), sort_keys=True), **times)

    def mark_fence(self, **times):
        """Adds progress to the current promotion's fence record (replacing one of another)."""
        current = self.fence()
        if not current:
            raise LookupError("no promotion is recorded (the writer authority is not DR); no fence record to mark")
        self._put("fence", **dict(current, **times))
