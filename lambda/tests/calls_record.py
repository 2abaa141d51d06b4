"""Records every AWS API call that reaches botocore while the tests run, with the drgen function
whose handler made it, and compares the record with the declaration in `lambda/calls.json`."""

import json
import os
import sys
from pathlib import Path

DECLARATION = Path(__file__).resolve().parents[1] / "calls.json"

# The module whose code is a function's handler, and the function's name in the declaration.
HANDLERS = {
    "drgen_lambda.observer": "observer",
    "drgen_lambda.guard_run": "guard",
    "drgen_lambda.monitor": "monitor",
    "drgen_lambda.workflow": "failover",
    "drgen_lambda.lease": "lease",
}

# The region the tests give the functions (AWS_REGION), and the primary region they name.
OWN_REGION = "us-west-2"

# The ARC cluster's data plane is reached on the cluster's own endpoints, whatever their region.
CLUSTER_CLIENTS = ("route53-recovery-cluster",)


def load(path=DECLARATION):
    return json.loads(Path(path).read_text())


def function_of(frame):
    """The outermost drgen handler module on the stack, or None for a call the test made."""
    found = None
    while frame is not None:
        name = HANDLERS.get(frame.f_globals.get("__name__"))
        if name:
            found = name
        frame = frame.f_back
    return found


class Recorder:
    """Wraps botocore's one entry point for API calls."""

    def __init__(self, declaration):
        self.clients = {s["client"]: prefix for prefix, s in declaration["services"].items()}
        self.calls = set()

    def record(self, client, operation):
        # record <- make_api_call <- botocore's generated method <- the code that called it.
        caller = sys._getframe(3)
        if not caller.f_globals.get("__name__", "").startswith("drgen_lambda."):
            return  # a test's own set-up or stand-in
        function = function_of(caller)
        if function is None:
            return
        client_name = client.meta.service_model.service_name
        prefix = self.clients.get(client_name, client_name)
        if client_name in CLUSTER_CLIENTS:
            region = "cluster"
        elif client.meta.region_name == os.environ.get("AWS_REGION", OWN_REGION):
            region = "own"
        else:
            region = "primary"
        self.calls.add((function, prefix, operation, region))

    def install(self, client_class):
        original = client_class._make_api_call
        recorder = self

        def make_api_call(client, operation, params):
            recorder.record(client, operation)
            return original(client, operation, params)

        client_class._make_api_call = make_api_call
        return original


def declared(declaration):
    """(function, service, action, region) of every declared call, without implied permissions."""
    out = set()
    for function, calls in declaration["functions"].items():
        for call in calls:
            if call.get("implied_by"):
                continue
            for action in call["actions"]:
                out.add((function, call["service"], action, call["region"]))
    return out


def compare(made, declaration, complete):
    """Problems: calls made but not declared; with a complete run, calls declared but never made."""
    expected = declared(declaration)
    problems = [
        f"{f}: {s}:{a} ({r} region) is made but not declared in lambda/calls.json"
        for f, s, a, r in sorted(made - expected)
    ]
    if complete:
        problems += [
            f"{f}: {s}:{a} ({r} region) is declared in lambda/calls.json but no test saw the code make it"
            for f, s, a, r in sorted(expected - made)
        ]
    return problems
