"""The observer behind a function URL and on a schedule."""

import socket
import time

import boto3
import pytest
from moto import mock_aws
from test_config import OBSERVER
from test_monitor import TABLE, create_table

from drgen_lambda import adapters, observer, probe
from drgen_lambda.config import observer_config

CFG = observer_config(OBSERVER)


def request(path, method="GET"):
    """An API Gateway REST proxy event: `path` is the resource path, without the stage."""
    return {"httpMethod": method, "path": path, "resource": path, "requestContext": {"stage": "observe"}}


def checker(state):
    calls = []

    def check(host, port, timeout):
        calls.append((host, port, timeout))
        return state

    check.calls = calls
    return check


def test_reachable_primary_answers_200():
    reply = observer.handle(request("/" + CFG.token), CFG, check=checker(probe.ACCEPTING))
    assert reply["statusCode"] == 200
    assert reply["body"] == "ok"


def test_unreachable_or_refusing_primary_answers_503_without_detail():
    for state in (probe.DOWN, probe.NOT_ACCEPTING):
        reply = observer.handle(request("/" + CFG.token), CFG, check=checker(state))
        assert reply["statusCode"] == 503
        assert reply["body"] == "unavailable"


def test_a_wrong_token_or_method_gets_404_and_no_probe():
    check = checker(probe.ACCEPTING)
    for event in (request("/wrong"), request("/"), request("/" + CFG.token, "POST"), {"httpMethod": "GET"}):
        assert observer.handle(event, CFG, check=check)["statusCode"] == 404
    assert check.calls == []


def test_the_probe_uses_the_configured_target_within_the_answer_budget():
    check = checker(probe.ACCEPTING)
    observer.handle(request("/" + CFG.token), CFG, check=check)
    observer.handle({}, CFG, check=check)
    # Route 53's request gets at most the answer budget; the scheduled run the configured timeout.
    assert check.calls == [("db.example.internal", 5432, observer.ANSWER_SECONDS), ("db.example.internal", 5432, 2.0)]


@mock_aws
def test_a_scheduled_run_publishes_the_metric(aws_env):
    cfg = CFG._replace(publish_metric=True)
    assert observer.handle({}, cfg, check=checker(probe.DOWN)) == {"reachable": False}
    metrics = boto3.client("cloudwatch").list_metrics(Namespace=cfg.namespace)["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["PrimaryReachable"]
    assert metrics[0]["Dimensions"] == [{"Name": "Observer", "Value": "dr"}]


def test_a_scheduled_run_without_metrics_only_probes():
    assert observer.handle({}, CFG, check=checker(probe.ACCEPTING)) == {"reachable": True}


def test_the_handler_reads_its_config(monkeypatch):
    for key, value in OBSERVER.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(observer.probe, "probe", lambda *a: probe.DOWN)
    monkeypatch.setattr(observer.handle, "__defaults__", (lambda *a: probe.DOWN, None))
    assert observer.handler(request("/" + CFG.token), None)["statusCode"] == 503


@mock_aws
def test_the_primary_region_observer_leaves_a_heartbeat_only_while_the_primary_answers(aws_env):
    create_table()
    cfg = CFG._replace(heartbeat_table=TABLE, observer="primary")
    store = adapters.Store(adapters.Aws(), TABLE)
    observer.handle({}, cfg, check=checker(probe.DOWN))
    assert store.heartbeat() is None
    observer.handle({}, cfg, check=checker(probe.ACCEPTING))
    assert store.heartbeat() is not None


@mock_aws
def test_the_primary_region_observer_says_alive_on_every_scheduled_run_whatever_the_probe_says(aws_env):
    create_table()
    cfg = CFG._replace(heartbeat_table=TABLE, observer="primary")
    store = adapters.Store(adapters.Aws(), TABLE)
    before = time.time()
    observer.handle({}, cfg, check=checker(probe.DOWN))
    spoken = store.alive()
    assert spoken is not None and spoken >= before
    observer.handle({}, cfg, check=checker(probe.NOT_ACCEPTING))
    assert store.alive() >= spoken
    # Route 53's requests are not the region speaking, and the DR observer has no table to speak in.
    store._aws._call("dynamodb", "delete_item", TableName=TABLE, Key={"pk": {"S": "alive"}})
    observer.handle(request("/" + CFG.token), cfg, check=checker(probe.DOWN))
    observer.handle({}, CFG, check=checker(probe.DOWN))
    assert store.alive() is None


@mock_aws
def test_a_failed_alive_beat_fails_the_run_after_the_probe_and_the_metric(aws_env, capsys):
    cfg = CFG._replace(heartbeat_table="no-such-table", observer="primary", publish_metric=True)
    check = checker(probe.DOWN)
    with pytest.raises(adapters.AwsError, match="dynamodb.put_item"):
        observer.handle({}, cfg, check=check)
    assert len(check.calls) == 1
    metrics = boto3.client("cloudwatch").list_metrics(Namespace=cfg.namespace)["Metrics"]
    assert [m["MetricName"] for m in metrics] == ["PrimaryReachable"]
    assert "alive_not_written" in capsys.readouterr().out


@mock_aws
def test_once_the_authority_says_dr_the_observer_reports_the_old_primary_unreachable(aws_env):
    create_table()
    cfg = CFG._replace(state_table=TABLE)
    store = adapters.Store(adapters.Aws(), TABLE)
    assert observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING))["statusCode"] == 200
    store.set_authority(1000.0)
    assert observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING))["statusCode"] == 503
    store.clear_authority()
    assert observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING))["statusCode"] == 200


@mock_aws
def test_an_unreadable_authority_fails_closed(aws_env, capsys):
    # The table copy of this region is impaired: the observer cannot say who the writer is, so a
    # reachable old primary must not keep (or get back) the writer name.
    cfg = CFG._replace(state_table="no-such-table")
    assert observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING))["statusCode"] == 503
    assert "authority_unreadable" in capsys.readouterr().out


@mock_aws
def test_after_a_failover_the_observers_of_the_new_writer_answer_200(aws_env):
    # database.primary_retired: the observers probe the DR instance, which the authority names.
    create_table()
    cfg = CFG._replace(state_table=TABLE, target_side="dr")
    store = adapters.Store(adapters.Aws(), TABLE)
    store.set_authority(1000.0)
    assert observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING))["statusCode"] == 200
    store.clear_authority()
    assert observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING))["statusCode"] == 503


def test_the_observer_keeps_one_client_set_with_a_deadline_inside_route53s_two_seconds(monkeypatch):
    monkeypatch.setattr(observer, "_AWS", [])
    first = observer._aws()
    assert observer._aws() is first
    deadline = adapters.OBSERVER_CLIENT
    assert deadline.retries == {"total_max_attempts": 1, "mode": "standard"}
    # One attempt: connect and read bound the authority read; with the probe of an accepting
    # primary (milliseconds) the answer stays inside the two seconds Route 53 waits.
    assert deadline.connect_timeout + deadline.read_timeout <= 1.0
    assert first._client("dynamodb", "us-west-2").meta.config.read_timeout == deadline.read_timeout


def test_a_slow_authority_read_is_cut_at_the_deadline_and_fails_closed(monkeypatch, capsys):
    # A DynamoDB endpoint that accepts the connection and never answers (a listener on
    # 127.0.0.1 that does not respond): the read gives up within the client deadline.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://127.0.0.1:{port}")
        aws = adapters.Aws(config=adapters.OBSERVER_CLIENT)
        cfg = CFG._replace(state_table=TABLE)
        started = time.monotonic()
        reply = observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING), aws=aws)
        elapsed = time.monotonic() - started
    assert reply["statusCode"] == 503
    assert elapsed < observer.ANSWER_SECONDS + 0.4, elapsed
    assert "authority_unreadable" in capsys.readouterr().out


class SlowTable:
    """An adapter whose table read takes `seconds` and finds no authority item."""

    def __init__(self, seconds):
        self.seconds = seconds

    def _call(self, service, operation, region=None, **kwargs):
        time.sleep(self.seconds)
        return {}


def slow_check(seconds, state):
    def check(host, port, timeout):
        time.sleep(min(seconds, timeout))
        return state

    return check


def test_a_slow_probe_and_a_slow_read_still_answer_inside_route53s_two_seconds():
    cfg = CFG._replace(state_table=TABLE)
    started = time.monotonic()
    reply = observer.handle(request("/" + CFG.token), cfg, check=slow_check(1.2, probe.ACCEPTING), aws=SlowTable(1.0))
    elapsed = time.monotonic() - started
    assert reply["statusCode"] == 200
    assert elapsed < observer.ANSWER_SECONDS + 0.4, elapsed


def test_a_read_that_outlasts_the_budget_fails_closed_at_the_budget(capsys):
    cfg = CFG._replace(state_table=TABLE)
    started = time.monotonic()
    reply = observer.handle(request("/" + CFG.token), cfg, check=checker(probe.ACCEPTING), aws=SlowTable(3.0))
    elapsed = time.monotonic() - started
    assert reply["statusCode"] == 503
    assert observer.ANSWER_SECONDS - 0.1 < elapsed < observer.ANSWER_SECONDS + 0.4, elapsed
    assert "no answer within the observer's deadline" in capsys.readouterr().out
