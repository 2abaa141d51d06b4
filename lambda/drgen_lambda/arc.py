"""The Route 53 Application Recovery Controller data plane: the two routing controls that hold
the writer authority in `authority = arc` mode, read and set through the cluster's endpoints.

An ARC cluster answers on several regional endpoints, any one of which serves the whole cluster.
Every call is tried on each endpoint in turn, starting from a random one (or the one that
answered last), until one answers. An endpoint that does not answer (no connection, a timeout, a
5xx), that is throttled or says it is temporarily unavailable moves the call to the next one;
when none answers the call raises AwsError with `unreachable` set. An answer that refuses the
call (a safety rule refused the change, ConflictException; a bad request, ValidationException;
access denied; no such control) is the cluster's answer, the same on every endpoint: it raises at
once, not unreachable.

moto has no ARC data plane: the tests drive real botocore clients through botocore's Stubber, so
that every request is validated against the service model, and reach an endpoint that refuses
connections for the unreachable case.
"""

import secrets

from botocore.exceptions import BotoCoreError, ClientError

from .adapters import AwsError

ON = "On"
OFF = "Off"

# Answers that say this endpoint cannot serve the call now; another endpoint may.
_TRY_ANOTHER = ("ThrottlingException", "EndpointTemporarilyUnavailableException", "InternalServerException")


class Arc:
    """The cluster, from its endpoints as (url, region) pairs: a `route53-recovery-cluster`
    client per endpoint, made with the Aws adapter's session and
    client configuration (timeouts and retries) when first needed."""

    def __init__(self, aws, endpoints, start=None, config=None):
        if not endpoints:
            raise ValueError("an ARC cluster has at least one endpoint")
        self._aws = aws
        self._endpoints = [(str(url), str(region)) for url, region in endpoints]
        self._next = secrets.randbelow(len(self._endpoints)) if start is None else start % len(self._endpoints)
        self._clients = {}
        self._config = aws._config if config is None else config

    def _client(self, index):
        if index not in self._clients:
            url, region = self._endpoints[index]
            self._clients[index] = self._aws._session.client(
                "route53-recovery-cluster",
                endpoint_url=url,
                region_name=region,
                config=self._config,
            )
        return self._clients[index]

    def _call(self, operation, attempts=None, **kwargs):
        """The call on each endpoint in turn (at most `attempts` of them) from the one that
        answered last; the next call starts from the one that answers."""
        name = f"route53-recovery-cluster.{operation}"
        count = len(self._endpoints) if attempts is None else min(attempts, len(self._endpoints))
        failures = []
        for offset in range(count):
            index = (self._next + offset) % len(self._endpoints)
            try:
                answer = getattr(self._client(index), operation)(**kwargs)
            except (ClientError, BotoCoreError) as e:
                error = AwsError(name, e)
                if not (error.unreachable or error.code in _TRY_ANOTHER):
                    raise error from e
                failures.append(f"{self._endpoints[index][0]}: {e}")
                continue
            self._next = index
            return answer
        raise AwsError(name, "no endpoint of the cluster answered (" + "; ".join(failures) + ")", unreachable=True)

    def state(self, control_arn, attempts=None) -> str:
        """The routing control's state, "On" or "Off"."""
        return self._call("get_routing_control_state", attempts, RoutingControlArn=control_arn)["RoutingControlState"]

    def take(self, primary_arn, dr_arn):
        """The primary's control Off and the DR side's On in one transaction: ARC's safety rules
        judge its end state, so the authority never rests with neither side or with both."""
        self._call(
            "update_routing_control_states",
            UpdateRoutingControlStateEntries=[
                {"RoutingControlArn": primary_arn, "RoutingControlState": OFF},
                {"RoutingControlArn": dr_arn, "RoutingControlState": ON},
            ],
        )
