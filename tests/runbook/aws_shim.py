"""The `aws` command of the RUNBOOK test: the real AWS CLI (awscli's own driver, with its
argument model, shorthand and file:// parsing and botocore's parameter validation), whose HTTP
requests go to moto in server mode on 127.0.0.1 instead of AWS.

Every request is recorded before it is redirected, with the endpoint the CLI resolved for it
from `--region` (so a test can tell which region and which service endpoint a command needs),
in $RUNBOOK_LOG as one JSON line per invocation: the section ($RUNBOOK_SECTION), argv, exit
code and calls. moto finds the service and region in the request's signature, so the
redirected request reaches the right backend.

Two operations moto cannot carry out are answered here, after the CLI has built and validated
the request: lambda Invoke (moto runs functions in Docker) and secretsmanager
StopReplicationToReplica (moto 5.2.1 answers it with an internal error; the test seeds the DR
copy standalone instead).
"""

import io
import json
import os
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from awscli.clidriver import create_clidriver
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

calls = []


def _answer(service, operation, params):
    """The parsed response of an operation moto cannot carry out, or None."""
    if (service, operation) == ("lambda", "Invoke"):
        body = b'{"answered": "by the runbook test"}'
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(body), len(body))}
    if (service, operation) == ("secretsmanager", "StopReplicationToReplica"):
        return {"ARN": json.loads(params["body"])["SecretId"]}
    return None


def before_call(model, params, **kwargs):
    service = model.service_model.endpoint_prefix
    url = urlsplit(params["url"])
    body = params.get("body")
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    calls.append({"service": service, "operation": model.name, "host": url.hostname, "body": body})
    parsed = _answer(service, model.name, params)
    if parsed is None:
        return None
    return AWSResponse(params["url"], 200, {}, None), parsed


def before_send(request, **kwargs):
    """Sends the request to moto instead of the endpoint it was signed for."""
    moto = urlsplit(os.environ["RUNBOOK_MOTO"])
    url = urlsplit(request.url)
    request.url = urlunsplit((moto.scheme, moto.netloc, url.path, url.query, url.fragment))


def main(argv):
    # Nothing waits for real: retries' backoff.
    time.sleep = lambda seconds: None
    driver = create_clidriver()
    driver.session.register("before-call", before_call)
    driver.session.register("before-send", before_send)
    code = 255
    try:
        code = driver.main(argv)
    except SystemExit as e:  # argparse's usage errors
        code = e.code
    finally:
        record = {
            "section": os.environ.get("RUNBOOK_SECTION", ""),
            "argv": argv,
            "code": code,
            "calls": calls,
        }
        with open(os.environ["RUNBOOK_LOG"], "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
