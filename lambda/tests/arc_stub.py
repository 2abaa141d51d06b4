"""ARC's data plane for the tests. moto has no ARC data plane: these are real botocore
`route53-recovery-cluster` clients with botocore's Stubber activated, so that every request the
code makes is validated against the service model and matched against the parameters expected
here; the answers are queued per endpoint URL."""

import boto3
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

PRIMARY_CONTROL = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/primary"
DR_CONTROL = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/dr"

ENDPOINTS = (
    ("https://host-aaaaaa.us-east-1.example", "us-east-1"),
    ("https://host-bbbbbb.us-west-2.example", "us-west-2"),
    ("https://host-cccccc.eu-west-1.example", "eu-west-1"),
)


def state(arn, value):
    """GetRoutingControlState of `arn` answered with `value`."""
    return (
        "get_routing_control_state",
        {"RoutingControlArn": arn, "RoutingControlState": value, "RoutingControlName": arn.rsplit("/", 1)[1]},
        {"RoutingControlArn": arn},
    )


def taken(primary=PRIMARY_CONTROL, dr=DR_CONTROL):
    """UpdateRoutingControlStates (primary Off, DR On in one call), answered."""
    return (
        "update_routing_control_states",
        {},
        {
            "UpdateRoutingControlStateEntries": [
                {"RoutingControlArn": primary, "RoutingControlState": "Off"},
                {"RoutingControlArn": dr, "RoutingControlState": "On"},
            ]
        },
    )


def error(operation, code, status):
    """The operation answered with a service error."""
    return (operation, (code, status), None)


class Session(boto3.session.Session):
    """A real session; its ARC clients answer from `answers` ({url: [answer, ...]}), one client
    per URL. An endpoint of ENDPOINTS without answers says it is temporarily unavailable (503) to
    every call; a URL outside ENDPOINTS gets the ordinary client, which reaches the network (the
    unreachable case). Every other client is the ordinary one (moto's, under mock_aws). `made`
    lists the URLs of the ARC clients in the order they were made."""

    def __init__(self, answers):
        super().__init__()
        self.answers = answers
        self.made = []
        self.clients = {}
        self.stubbers = {}

    def client(self, service_name, *args, **kwargs):
        if service_name != "route53-recovery-cluster":
            return super().client(service_name, *args, **kwargs)
        url = kwargs["endpoint_url"]
        if url in self.clients:
            return self.clients[url]
        assert kwargs["region_name"] == dict(ENDPOINTS).get(url, kwargs["region_name"])
        client = super().client(service_name, *args, **kwargs)
        self.made.append(url)
        self.clients[url] = client
        if url not in dict(ENDPOINTS):
            return client
        if url not in self.answers:
            # Answered as the Stubber answers (before anything is sent), to every call.
            client.meta.events.register("before-call.*.*", _unavailable)
            return client
        stubber = Stubber(client)
        for operation, answer, expected in self.answers[url]:
            if expected is None:
                code, status = answer
                stubber.add_client_error(operation, service_error_code=code, http_status_code=status)
            else:
                stubber.add_response(operation, answer, expected)
        stubber.activate()
        self.stubbers[url] = stubber
        return client

    def assert_all_answered(self):
        """Every answer given for an endpoint was asked for."""
        for url, answers in self.answers.items():
            if url in self.stubbers:
                self.stubbers[url].assert_no_pending_responses()
            else:
                assert not answers, f"{url} was never asked"


def _unavailable(model, **kwargs):
    error = {"Code": "EndpointTemporarilyUnavailableException", "Message": "unavailable"}
    return AWSResponse("https://unavailable.example", 503, {}, None), {
        "Error": error,
        "ResponseMetadata": {"HTTPStatusCode": 503},
    }
