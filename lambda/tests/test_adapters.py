"""The boto3 adapters turn every failure into AwsError; the state table keeps one promotion's
fence record."""

import datetime

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


def test_the_guard_report_and_the_alive_beat_round_trip(store):
    assert store.guard() is None and store.alive() is None
    report = adapters.GuardReport("recovering", "status rebooting", 100.0, 105.0)
    store.report_guard(report)
    assert store.guard() == report
    store.speak(110.0)
    assert store.alive() == 110.0
    # A report written without detail reads back with an empty one.
    store._put("guard", verdict="unknown", since=1.0, at=2.0)
    assert store.guard() == adapters.GuardReport("unknown", "", 1.0, 2.0)


class Pages:
    """describe_events answering from a list of pages, each with a Marker but the last."""

    def __init__(self, pages):
        self.pages = pages
        self.requests = []

    def describe_events(self, **kwargs):
        self.requests.append(kwargs)
        index = len(self.requests) - 1
        answer = {"Events": self.pages[index]}
        if index + 1 < len(self.pages):
            answer["Marker"] = f"m{index + 1}"
        return answer


def event(seconds, message):
    return {"Date": datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc), "Message": message}


def test_the_instances_events_are_read_page_by_page_up_to_a_bound(aws_env):
    aws = adapters.Aws()
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(minutes=30)
    client = Pages([[event(1.0, "a")], [event(2.0, "b"), {"Date": start}]])
    aws._clients[("rds", None)] = client
    assert aws.instance_events("db", start, end) == [(1.0, "a"), (2.0, "b"), (start.timestamp(), "")]
    assert client.requests[0] == {
        "SourceIdentifier": "db",
        "SourceType": "db-instance",
        "StartTime": start,
        "EndTime": end,
        "MaxRecords": 100,
    }
    assert client.requests[1]["Marker"] == "m1"
    aws._clients[("rds", None)] = Pages([[event(1.0, "a")]] * (adapters.Aws.EVENT_PAGES + 1))
    with pytest.raises(adapters.AwsError, match="more than 3 pages of events"):
        aws.instance_events("db", start, end)


@mock_aws
def test_a_missing_instance_has_the_status_not_found_and_other_errors_stay_errors(aws_env, monkeypatch):
    aws = adapters.Aws()
    assert aws.instance_status("no-such-instance") == "not-found"
    denied = ClientError({"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "X")

    def refuse(**kwargs):
        raise denied

    monkeypatch.setattr(aws._client("rds"), "describe_db_instances", refuse)
    with pytest.raises(adapters.AwsError) as raised:
        aws.instance_status("db")
    assert raised.value.code == "AccessDenied"


def test_the_fsm_and_guard_names_still_resolve_here_when_asked_for():
    from drgen_lambda import fsm, guard  # noqa: PLC0415 - the names are compared with their homes

    assert adapters.Lag is fsm.Lag and adapters.Replica is fsm.Replica and adapters.ReplicaState is fsm.Replica
    assert adapters.RECOVERY_EVENTS is fsm.RECOVERY_EVENTS and adapters.GuardReport is guard.GuardReport
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        adapters.Nothing  # noqa: B018
