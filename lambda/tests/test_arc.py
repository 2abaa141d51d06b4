"""The ARC data-plane adapter on real botocore clients (Stubber; moto has no ARC data plane):
each endpoint in turn until one answers, a refusal raised at once, and "every endpoint failed"
said as unreachable."""

import socket

import arc_stub
import pytest
from arc_stub import DR_CONTROL, ENDPOINTS, PRIMARY_CONTROL, Session, error, state, taken

from drgen_lambda import adapters, arc

URLS = [url for url, _ in ENDPOINTS]


def cluster(answers, start=0, config=adapters.GUARD_CLIENT):
    session = Session(answers)
    return arc.Arc(adapters.Aws(session=session, config=config), ENDPOINTS, start=start), session


def test_a_state_is_read_on_the_first_endpoint_that_answers_and_the_next_read_starts_there(aws_env):
    c, session = cluster(
        {
            URLS[0]: [error("get_routing_control_state", "ThrottlingException", 429)],
            URLS[1]: [error("get_routing_control_state", "InternalServerException", 500)],
            URLS[2]: [state(DR_CONTROL, "Off"), state(PRIMARY_CONTROL, "On")],
        }
    )
    assert c.state(DR_CONTROL) == "Off"
    assert session.made == URLS
    # The next call starts from the endpoint that answered last.
    assert c.state(PRIMARY_CONTROL, 1) == "On"
    session.assert_all_answered()


def test_the_next_call_starts_where_the_last_answered(aws_env):
    c, session = cluster(
        {
            URLS[0]: [error("get_routing_control_state", "EndpointTemporarilyUnavailableException", 503)],
            URLS[1]: [state(DR_CONTROL, "Off"), state(PRIMARY_CONTROL, "On")],
        }
    )
    assert c.state(DR_CONTROL) == "Off"
    assert c.state(PRIMARY_CONTROL, 1) == "On"
    assert session.made == URLS[:2]
    session.assert_all_answered()


def test_a_random_start_is_one_of_the_endpoints(aws_env):
    c, _ = cluster({}, start=None)
    assert 0 <= c._next < len(ENDPOINTS)
    assert arc.Arc(adapters.Aws(), ENDPOINTS, start=4)._next == 1


def test_no_endpoint_is_no_cluster():
    with pytest.raises(ValueError, match="at least one endpoint"):
        arc.Arc(adapters.Aws(), [])


def test_every_endpoint_failing_is_unreachable_and_names_each(aws_env):
    c, session = cluster(
        {url: [error("update_routing_control_states", "ThrottlingException", 429)] for url in URLS}, start=1
    )
    with pytest.raises(adapters.AwsError) as raised:
        c.take(PRIMARY_CONTROL, DR_CONTROL)
    assert raised.value.unreachable
    assert session.made == [URLS[1], URLS[2], URLS[0]]
    assert all(url in str(raised.value) for url in URLS)


def test_attempts_bound_the_endpoints_tried(aws_env):
    c, session = cluster({URLS[0]: [error("get_routing_control_state", "ThrottlingException", 429)]})
    with pytest.raises(adapters.AwsError) as raised:
        c.state(PRIMARY_CONTROL, 1)
    assert raised.value.unreachable and session.made == URLS[:1]


@pytest.mark.parametrize("code", ["ConflictException", "ValidationException", "AccessDeniedException"])
def test_a_refusal_is_raised_at_once_and_not_tried_elsewhere(aws_env, code):
    c, session = cluster(
        {
            URLS[0]: [error("update_routing_control_states", code, 409 if code == "ConflictException" else 400)],
            URLS[1]: [taken()],
        }
    )
    with pytest.raises(adapters.AwsError) as raised:
        c.take(PRIMARY_CONTROL, DR_CONTROL)
    assert not raised.value.unreachable and raised.value.code == code
    assert session.made == URLS[:1]


def test_the_switch_is_one_call_with_both_controls(aws_env):
    c, session = cluster({URLS[0]: [taken()]})
    c.take(PRIMARY_CONTROL, DR_CONTROL)
    session.assert_all_answered()


def test_an_endpoint_that_refuses_connections_moves_to_the_next(aws_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    endpoints = [(closed, "us-east-1"), ENDPOINTS[1]]
    session = Session({URLS[1]: [state(DR_CONTROL, "On")]})
    c = arc.Arc(adapters.Aws(session=session, config=adapters.GUARD_CLIENT), endpoints, start=0)
    assert c.state(DR_CONTROL) == "On"
    assert session.made == [closed, URLS[1]]


def test_the_stub_checks_the_requests_against_the_service_model(aws_env):
    c, _ = cluster({URLS[0]: [state(DR_CONTROL, "On")]})
    with pytest.raises(Exception, match="RoutingControlArn"):
        c._call("get_routing_control_state", RoutingControlArn=5)
    assert arc_stub.DR_CONTROL == DR_CONTROL
