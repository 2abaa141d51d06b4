"""Runs every command of the rendered terraform/RUNBOOK.md of the default topology and of every
example, in document order, in one bash session, as an on-call engineer would paste them:

- `aws ...`: the real AWS CLI (awscli's own argument model and parameter validation,
  tests/runbook/aws_shim.py) against moto in server mode on 127.0.0.1, seeded with the
  resources the rendered Terraform declares, under the names read from the .tf files (not from
  the RUNBOOK, which is what is checked);
- `drgen ...`: the real binary (`drgen.hcl` stands for the example's config);
- `date`, `echo`, `jq`, `cat`, `rm`, `umask`: the real commands; `dig` answers without a
  network.

Then it checks: every command exited 0 and made its calls; every call of a section marked "DR
region only" went to a regional endpoint of the DR region, and none of those sections runs
Terraform; and the procedures did what they say in moto: the workflow started with the replica
in its input, the DR secret names the promoted instance and rotates with the DR rotation
function, the old primary sits in the fence group, the monitor's schedule and concurrency are
back after the abort, the diverged snapshot exists, and the monitor was invoked with the
`promote` and `reset-authority` commands.

Needs a built drgen (`cargo build`), awscli, moto[server] and jq (lambda/requirements-dev.txt,
.ci/install).
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DRGEN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "drgen"
SUFFIX = "prod"
EXAMPLES = [("default", None)] + [
    (p.stem, p) for p in sorted((ROOT / "examples").iterdir()) if p.suffix in (".hcl", ".json")
]
# Where the test's AWS calls may go: moto (plain HTTP on 127.0.0.1), and nowhere else: every
# HTTPS request, which is what an AWS endpoint would be, meets a proxy that does not exist.
ISOLATION = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "2",
    "AWS_RETRY_MODE": "standard",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}


# --- moto ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto():
    """moto_server on a free port of 127.0.0.1; its URL."""
    log = open(os.devnull, "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, **ISOLATION),
    )
    url = None
    deadline = time.monotonic() + 30
    while url is None and time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            break
        found = re.search(r"Running on (http://127\.0\.0\.1:\d+)", line)
        url = found.group(1) if found else None
    if url is None:
        server.kill()
        pytest.fail("moto_server did not start within 30 s")
    # Keep reading its output so that it never blocks on a full pipe.
    drain = subprocess.Popen(["cat"], stdin=server.stdout, stdout=log)
    yield url
    server.terminate()
    server.wait(timeout=30)
    drain.wait(timeout=30)
    log.close()


def client(moto, service, region):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=moto,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


# --- what the rendered Terraform declares --------------------------------------------------------


class Rendered:
    """Names and regions read from the rendered .tf files, with the suffix filled in."""

    def __init__(self, out):
        self.text = {p.name: p.read_text() for p in out.glob("*.tf")}
        self.all = "\n".join(self.text.values())
        self.regions = dict(
            re.findall(r'alias += "(primary|dr)"\n  region += "([a-z0-9-]+)"', self.text["providers.tf"])
        )

    def block(self, kind, label):
        found = re.search(rf'^resource "{kind}" "{label}" {{\n(.*?)^}}', self.all, re.M | re.S)
        return found.group(1) if found else None

    def attr(self, kind, label, name):
        block = self.block(kind, label)
        if block is None:
            return None
        found = re.search(rf'^  {name} += "(.*)"$', block, re.M)
        return found.group(1).replace("${var.environment_suffix}", SUFFIX) if found else None

    def function(self, label):
        return self.attr("aws_lambda_function", label, "function_name")

    def rotation_function(self):
        found = re.search(
            r'functionName += "(.*)"',
            self.block("aws_serverlessapplicationrepository_cloudformation_stack", "dr_rotation"),
        )
        return found.group(1).replace("${var.environment_suffix}", SUFFIX)

    def primary_id(self):
        declared = self.attr("aws_db_instance", "primary", "identifier")
        if declared:
            return declared
        found = re.search(r'PRIMARY_ID += "(.*)"', self.block("aws_lambda_function", "dr_failover"))
        return found.group(1).replace("${var.environment_suffix}", SUFFIX)

    def dr_log_groups(self):
        return [
            name.replace("${var.environment_suffix}", SUFFIX)
            for provider, name in re.findall(
                r'^resource "aws_cloudwatch_log_group" "[^"]+" \{\n  provider += aws\.(\w+)\n  name += "(.*)"$',
                self.all,
                re.M,
            )
            if provider == "dr"
        ]


def seed(moto, r):
    """The resources the RUNBOOK's commands act on, in moto, as the rendering names them."""
    primary, dr = r.regions["primary"], r.regions["dr"]
    retired = r.block("aws_db_instance", "primary") is None
    primary_id, replica_id = r.primary_id(), r.attr("aws_db_instance", "dr", "identifier")

    rds = client(moto, "rds", primary)
    source = rds.create_db_instance(
        DBInstanceIdentifier=primary_id,
        Engine="postgres",
        DBInstanceClass="db.r6g.large",
        MasterUsername="dbadmin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=100,
    )["DBInstance"]
    if retired:
        replica = client(moto, "rds", dr).create_db_instance(
            DBInstanceIdentifier=replica_id,
            Engine="postgres",
            DBInstanceClass="db.r6g.large",
            MasterUsername="dbadmin",
            MasterUserPassword="not-a-real-password",
            AllocatedStorage=100,
        )["DBInstance"]
    else:
        replica = client(moto, "rds", dr).create_db_instance_read_replica(
            DBInstanceIdentifier=replica_id, SourceDBInstanceIdentifier=source["DBInstanceArn"], SourceRegion=primary
        )["DBInstance"]

    # The DR copy of the master secret, standalone already: moto 5.2.1 cannot stop a replication.
    secret = r.attr("aws_secretsmanager_secret", "master", "name") or r.attr("aws_secretsmanager_secret", "dr", "name")
    client(moto, "secretsmanager", dr).create_secret(
        Name=secret,
        SecretString=json.dumps(
            {
                "engine": "postgres",
                "username": "dbadmin",
                "password": "x",
                "host": source["Endpoint"]["Address"],
                "port": 5432,
            }
        ),
    )

    role = client(moto, "iam", "us-east-1").create_role(RoleName="runbook-test", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return event\n")
    functions = [r.function("dr_failover"), r.rotation_function()]
    if r.function("dr_monitor"):
        functions.append(r.function("dr_monitor"))
    lam = client(moto, "lambda", dr)
    for name in functions:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )

    logs = client(moto, "logs", dr)
    for group in r.dr_log_groups():
        logs.create_log_group(logGroupName=group)
    events = client(moto, "events", dr)
    schedule = r.attr("aws_cloudwatch_event_rule", "dr_monitor_schedule", "name")
    if schedule:
        events.put_rule(Name=schedule, ScheduleExpression="rate(1 minute)")
    client(moto, "stepfunctions", dr).create_state_machine(
        name=r.attr("aws_sfn_state_machine", "promote", "name"),
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=role,
    )
    for side, region in (("primary", primary), ("dr", dr)):
        client(moto, "sns", region).create_topic(Name=r.attr("aws_sns_topic", f"{side}_alerts", "name"))
    table = r.attr("aws_dynamodb_table", "failover", "name")
    ddb = client(moto, "dynamodb", dr)
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"pk": {"S": "heartbeat"}, "at": {"N": repr(time.time() - 600)}})
    ec2 = client(moto, "ec2", primary)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    fence = ec2.create_security_group(
        GroupName=r.attr("aws_security_group", "fenced", "name"), Description="fence", VpcId=vpc
    )["GroupId"]
    return {
        "retired": retired,
        "primary": primary,
        "dr": dr,
        "primary_id": primary_id,
        "replica_id": replica_id,
        "replica_endpoint": replica["Endpoint"]["Address"],
        "secret": secret,
        "rotation_arn": lam.get_function(FunctionName=r.rotation_function())["Configuration"]["FunctionArn"],
        "fence": fence,
        "schedule": schedule,
        "monitor": r.function("dr_monitor"),
        "state_machine": r.attr("aws_sfn_state_machine", "promote", "name"),
    }


# --- the RUNBOOK ---------------------------------------------------------------------------------

AWS_AT = re.compile(r"(?:^|\$\(|\|\s*)aws ")


def sections(text):
    """(heading, kind, commands) per `## ` section; kind is "dr" for "DR region only", "primary"
    for "Acts on <region> on purpose", else None. Commands: the lines of fenced blocks (less
    comments) and the code spans that start with `aws ` or `drgen `."""
    found = []
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        kind = "dr" if "**DR region only.**" in body else "primary" if "**Acts on " in body else None
        commands, fenced = [], False
        for line in body.splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                if stripped and not stripped.startswith("#"):
                    commands.append(stripped)
            else:
                # In prose, `drgen ...` is a page's subject: only `aws ...` spans are commands.
                commands.extend(s for s in stripped.split("`")[1::2] if s.startswith("aws "))
        found.append((heading.strip(), kind, commands))
    return found


def shims(directory, config):
    """`aws`, `drgen`, `dig` and `terraform` for the session."""
    directory.mkdir()
    record = (
        "record() {\n"
        '  printf \'{"section": "%s", "tool": "%s", "argv": "%s", "code": %d}\\n\' \\\n'
        '    "$RUNBOOK_SECTION" "$1" "$2" "$3" >> "$RUNBOOK_TOOLS"\n'
        "}\n"
    )
    scripts = {
        "aws": f'exec "{sys.executable}" "{HERE / "aws_shim.py"}" "$@"\n',
        # drgen.hcl stands for the operator's config.
        "drgen": (
            record + 'args=(); for a in "$@"; do [ "$a" = drgen.hcl ] && a="$RUNBOOK_CONFIG"; args+=("$a"); done\n'
            f'"{DRGEN}" "${{args[@]}}"; code=$?\n'
            'record drgen "$*" "$code"\n'
            "exit $code\n"
        ),
        "dig": record + 'record dig "$*" 0\necho 10.1.2.3\n',
        "terraform": record + 'record terraform "$*" 1\nexit 1\n',
    }
    for name, body in scripts.items():
        path = directory / name
        path.write_text("#!/usr/bin/env bash\n" + body)
        path.chmod(0o755)
    if config is None:
        config = directory / "empty.hcl"
        config.write_text("")
    return config


def run_runbook(moto, runbook, work, config):
    """Runs the RUNBOOK's commands in one bash session; (aws records, other tools' records)."""
    config = shims(work / "bin", config)
    script = []
    for heading, _, commands in sections(runbook):
        script.append(f"export RUNBOOK_SECTION={json.dumps(heading)}")
        script.extend(commands)
    (work / "runbook.sh").write_text("\n".join(script) + "\n")
    env = dict(
        os.environ,
        **ISOLATION,
        PATH=f"{work / 'bin'}:{os.environ['PATH']}",
        RUNBOOK_MOTO=moto,
        RUNBOOK_LOG=str(work / "aws.jsonl"),
        RUNBOOK_TOOLS=str(work / "tools.jsonl"),
        RUNBOOK_CONFIG=str(config),
    )
    for name in (
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
    ):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "runbook.sh"],
        check=False,
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )

    def lines(name):
        path = work / name
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    return script, lines("aws.jsonl"), lines("tools.jsonl"), done


@pytest.mark.parametrize(("name", "config"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_command_of_the_rendered_runbook_runs(moto, tmp_path, name, config):
    assert DRGEN.exists(), f"build drgen first ({DRGEN})"
    out = tmp_path / "terraform"
    args = [str(DRGEN), "render", "--env-suffix", SUFFIX, "--out", str(out)]
    subprocess.run(args + (["--config", str(config)] if config else []), check=True, capture_output=True)
    runbook = (out / "RUNBOOK.md").read_text()
    rendered = Rendered(out)
    # moto's own reset API: every example starts from an empty account.
    urllib.request.urlopen(urllib.request.Request(f"{moto}/moto-api/reset", method="POST"), timeout=30).read()
    world = seed(moto, rendered)
    work = tmp_path / "work"
    work.mkdir()
    script, aws, tools, done = run_runbook(moto, runbook, work, config)

    expected = sum(len(AWS_AT.findall(line)) for line in script)
    assert len(aws) == expected, f"{len(aws)} aws invocations of {expected}:\n{done.stderr[-3000:]}"
    kinds = {heading: kind for heading, kind, _ in sections(runbook)}
    for record in aws:
        command = "aws " + " ".join(record["argv"])
        assert record["code"] == 0, f"{record['section']}: {command} exited {record['code']}\n{done.stderr[-3000:]}"
        assert record["calls"], f"{command} made no AWS call"
        assert "--region" in record["argv"], f"{command} does not name its region"
        if kinds[record["section"]] == "dr":
            for call in record["calls"]:
                assert re.fullmatch(rf"[a-z0-9-]+\.{re.escape(world['dr'])}\.amazonaws\.com", call["host"]), (
                    f"{record['section']} is DR region only, but {command} calls {call['host']}"
                )
        else:
            assert kinds[record["section"]] == "primary", (
                f"{record['section']} runs {command} but is marked neither way"
            )
    for record in tools:
        assert record["code"] == 0 or record["tool"] == "terraform", record
        assert not (record["tool"] == "terraform" and kinds[record["section"]] == "dr"), record
    assert any(t["tool"] == "drgen" for t in tools) == (not world["retired"])

    def operations(op):
        return [c for r in aws for c in r["calls"] if c["operation"] == op]

    # What the procedures did.
    rds = client(moto, "rds", world["primary"])
    groups = rds.describe_db_instances(DBInstanceIdentifier=world["primary_id"])["DBInstances"][0]["VpcSecurityGroups"]
    assert [g["VpcSecurityGroupId"] for g in groups] == [world["fence"]]
    assert rds.describe_db_snapshots(DBSnapshotIdentifier=f"{world['primary_id']}-diverged")["DBSnapshots"]
    if world["retired"]:
        assert not operations("Invoke") and not operations("StartExecution")
        return
    invoked = [json.loads(c["body"]) for c in operations("Invoke")]
    assert invoked == [{"command": "promote"}, {"command": "reset-authority"}], invoked
    sfn = client(moto, "stepfunctions", world["dr"])
    machine = next(m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == world["state_machine"])
    executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert len(executions) == 1
    started = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert started["replica"] == world["replica_id"]
    secrets = client(moto, "secretsmanager", world["dr"])
    value = json.loads(secrets.get_secret_value(SecretId=world["secret"])["SecretString"])
    assert value["host"] == world["replica_endpoint"]
    assert value["password"] == "x", "the secret's other fields are kept"
    described = secrets.describe_secret(SecretId=world["secret"])
    assert described["RotationEnabled"] and described["RotationLambdaARN"] == world["rotation_arn"]
    events = client(moto, "events", world["dr"])
    assert events.describe_rule(Name=world["schedule"])["State"] == "ENABLED"
    assert [c["operation"] for c in operations("DisableRule") + operations("EnableRule")] == [
        "DisableRule",
        "EnableRule",
    ]
    concurrency = client(moto, "lambda", world["dr"]).get_function_concurrency(FunctionName=world["monitor"])
    assert "ReservedConcurrentExecutions" not in concurrency or concurrency["ReservedConcurrentExecutions"] > 0
    assert (work / "terraform" / "RUNBOOK.md").exists(), "the failback's drgen render wrote its output"
    shutil.rmtree(work / "terraform")
