"""The comparison between the calls the code makes and lambda/calls.json can fail both ways."""

import boto3
from calls_record import Recorder, compare, declared, load
from test_observer import CFG

from drgen_lambda import adapters, observer

DECLARATION = load()


def test_a_call_the_declaration_does_not_list_is_a_problem():
    made = {("observer", "rds", "RebootDBInstance", "own")}
    problems = compare(made, DECLARATION, complete=False)
    assert problems == ["observer: rds:RebootDBInstance (own region) is made but not declared in lambda/calls.json"]


def test_a_declared_call_no_test_made_is_a_problem_only_in_a_complete_run():
    made = declared(DECLARATION) - {("monitor", "rds", "PromoteReadReplica", "own")}
    assert compare(made, DECLARATION, complete=False) == []
    assert compare(made, DECLARATION, complete=True) == [
        "monitor: rds:PromoteReadReplica (own region) is declared in lambda/calls.json but no test saw the code make it"
    ]


def test_implied_permissions_are_not_calls():
    assert not any(service == "lambda" for _, service, _, _ in declared(DECLARATION))


class FakeClient:
    """A client whose one entry point is wrapped as botocore's is; its method calls it the way
    botocore's generated methods do."""

    def __init__(self, meta):
        self.meta = meta
        self.operations = []

    def _make_api_call(self, operation, params):
        self.operations.append(operation)
        return {}

    def get_item(self, **params):
        return self._make_api_call("GetItem", params)


def test_a_call_is_recorded_for_the_handler_that_made_it_and_not_for_the_test(aws_env):
    recorder = Recorder(DECLARATION)
    recorder.install(FakeClient)
    fake = FakeClient(boto3.client("dynamodb").meta)
    fake.get_item(TableName="t")
    assert recorder.calls == set(), "a test's own call is not the code's"
    aws = adapters.Aws()
    aws._clients[("dynamodb", None)] = fake
    assert observer._demoted(CFG._replace(state_table="t"), aws) is False
    assert recorder.calls == {("observer", "dynamodb", "GetItem", "own")}
    assert fake.operations == ["GetItem", "GetItem"]
