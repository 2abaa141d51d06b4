"""The boto3 adapters turn every failure into AwsError; the state table keeps one promotion's
fence record."""

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from moto import mock_aws

from drgen_lambda import adapters

TABLE = "failover"


@pytest.fixture()
def store(aws_env):
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield adapters.Store(adapters.Aws(), TABLE)


@mock_aws
def test_an_api_error_becomes_aws_error(aws_env):
    with pytest.raises(adapters.AwsError, match="rds.describe_db_instances"):
        adapters.Aws().replica_state("no-such-instance")


@mock_aws
def test_a_client_side_error_becomes_aws_error(aws_env):
    with pytest.raises(adapters.AwsError, match="sns.publish"):
        adapters.Aws().notify(None, "subject", "message")


@mock_aws
def test_missing_lag_is_none(aws_env):
    assert adapters.Aws().replica_lag("replica") is None


@mock_aws
def test_an_event_the_bus_rejects_is_an_error(aws_env, monkeypatch):
    aws = adapters.Aws()
    client = aws._client("events")
    monkeypatch.setattr(client, "put_events", lambda **kw: {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "x"}]})
    with pytest.raises(adapters.AwsError, match="events.put_events"):
        aws.put_event("default", "type", {"reason": "r"})


@mock_aws
def test_an_event_is_put_on_the_bus(aws_env):
    adapters.Aws().put_event("default", "drgen failover started", {"reason": "test"})


def test_a_session_may_be_given(aws_env):
    session = boto3.session.Session(region_name="eu-west-1")
    assert adapters.Aws(session)._session is session


@mock_aws
def test_the_lock_and_the_state_table_fail_as_aws_errors(aws_env, monkeypatch):
    store = adapters.Store(adapters.Aws(), "no-such-table")
    with pytest.raises(adapters.AwsError, match="dynamodb.put_item"):
        store.acquire("me", 0, 10)
    with pytest.raises(adapters.AwsError, match="dynamodb.delete_item"):
        store.release("me")
    aws = adapters.Aws()

    def broken(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://dynamodb")

    monkeypatch.setattr(aws._client("dynamodb"), "put_item", broken)
    with pytest.raises(adapters.AwsError, match="dynamodb.put_item"):
        adapters.Store(aws, "t").acquire("me", 0, 10)


def test_detach_secret_calls_stop_replication_to_replica(aws_env):
    aws = adapters.Aws()
    calls = []

    class Client:
        def stop_replication_to_replica(self, **kwargs):
            calls.append(kwargs)

    aws._clients[("secretsmanager", None)] = Client()
    aws.detach_secret("s")
    assert calls == [{"SecretId": "s"}]


def test_a_promotion_is_identified_by_its_first_start(store):
    assert store.promotion() is None and not store.authority_is_dr()
    store.set_authority(100.0)
    store.set_authority(160.0)  # the workflow's ensure_promoted after the monitor's promotion
    assert store.promotion() == 100.0 and store.authority_is_dr()


def test_the_fence_record_belongs_to_the_current_promotion(store):
    assert store.fence() == {}
    store.set_authority(100.0)
    assert store.fence() == {"promotion_started_at": 100.0}
    store.mark_fence(fenced_at=101.0)
    store.mark_fence(rebooted_at=102.0)
    assert store.fence() == {"promotion_started_at": 100.0, "fenced_at": 101.0, "rebooted_at": 102.0}
    store.clear_authority()
    assert store.fence() == {} and store._get("fence") is None and store.promotion() is None
    store.set_authority(200.0)
    assert store.fence() == {"promotion_started_at": 200.0}


def test_a_record_of_another_promotion_is_ignored_and_replaced(store):
    store._put("fence", promotion_started_at=100.0, rebooted_at=101.0, confirmed_at=102.0)
    store.set_authority(200.0)
    assert store.fence() == {"promotion_started_at": 200.0}
    store.mark_fence(fenced_at=201.0)
    assert store.fence() == {"promotion_started_at": 200.0, "fenced_at": 201.0}


def test_an_authority_other_than_dr_is_no_promotion(store):
    store._put("authority", writer="primary", at=100.0)
    assert store.promotion() is None and store.fence() == {}


def test_fence_progress_needs_a_promotion(store):
    with pytest.raises(LookupError, match="no promotion"):
        store.mark_fence(fenced_at=1.0)
    assert store._get("fence") is None


def test_an_unanswered_call_is_unreachable_and_a_refused_one_is_not():
    assert adapters.AwsError("rds.x", ConnectTimeoutError(endpoint_url="https://rds")).unreachable
    assert adapters.AwsError("rds.x", EndpointConnectionError(endpoint_url="https://rds")).unreachable
    down = ClientError({"Error": {"Code": "ServiceUnavailable"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "X")
    assert adapters.AwsError("rds.x", down).unreachable
    denied = ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "X")
    assert not adapters.AwsError("rds.x", denied).unreachable
    assert not adapters.AwsError("rds.x", "a message").unreachable
