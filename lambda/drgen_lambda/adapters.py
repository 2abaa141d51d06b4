"""Thin boto3 adapters. Every failure surfaces as AwsError; nothing here decides anything."""

import datetime
import json
from typing import NamedTuple, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2, "mode": "standard"})


class AwsError(Exception):
    """An AWS call failed or was throttled."""

    def __init__(self, operation, error):
        super().__init__(f"{operation} failed: {error}")
        self.operation = operation


class ReplicaState(NamedTuple):
    status: str
    is_replica: bool


class Aws:
    """The AWS calls the functions make, each in one place."""

    def __init__(self, session=None):
        self._session = session or boto3.session.Session()
        self._clients = {}

    def _client(self, name):
        if name not in self._clients:
            self._clients[name] = self._session.client(name, config=_CLIENT_CONFIG)
        return self._clients[name]

    def _call(self, service, operation, **kwargs):
        try:
            return getattr(self._client(service), operation)(**kwargs)
        except (ClientError, BotoCoreError) as e:
            raise AwsError(f"{service}.{operation}", e) from e

    def replica_lag(self, replica_id, now=None) -> Optional[float]:
        """The latest ReplicaLag datapoint of the last five minutes, or None when there is none."""
        end = now or datetime.datetime.now(datetime.timezone.utc)
        answer = self._call(
            "cloudwatch",
            "get_metric_data",
            MetricDataQueries=[
                {
                    "Id": "lag",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/RDS",
                            "MetricName": "ReplicaLag",
                            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": replica_id}],
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
                return float(result["Values"][0])
        return None

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

    def replica_state(self, replica_id) -> ReplicaState:
        answer = self._call("rds", "describe_db_instances", DBInstanceIdentifier=replica_id)
        instance = answer["DBInstances"][0]
        return ReplicaState(
            status=instance.get("DBInstanceStatus", ""),
            is_replica=bool(instance.get("ReadReplicaSourceDBInstanceIdentifier")),
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
