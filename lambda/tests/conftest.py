"""Fixtures: a real PostgreSQL 15 cluster on 127.0.0.1, and AWS through moto."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import calls_record
import pytest
from botocore.client import BaseClient

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A throwaway cluster in a temporary directory, run as the postgres user under root."""

    def __init__(self, root: Path, port: int):
        self.root = root
        self.data = root / "data"
        self.port = port
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *args, check=True):
        return subprocess.run(self.as_user + [str(a) for a in args], check=check, capture_output=True, text=True)

    def init(self):
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        self.run(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = '127.0.0.1'\nport = {self.port}\n")
            conf.write(f"unix_socket_directories = '{self.root}'\n")
            conf.write("fsync = off\n")

    def start(self):
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-t", "30", "start")

    def stop(self, mode="fast", wait=True):
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w" if wait else "-W", "stop", check=wait)


def require_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL 15 is not installed ({PG_BIN}); .ci/install installs it")


@pytest.fixture(scope="session")
def postgres():
    """A running PostgreSQL 15 server on 127.0.0.1, for the whole session."""
    require_postgres()
    root = Path(tempfile.mkdtemp(prefix="drgen-pg-"))
    cluster = Cluster(root, free_port())
    cluster.init()
    cluster.start()
    yield cluster
    cluster.run(PG_BIN / "pg_ctl", "-D", cluster.data, "-m", "immediate", "stop", check=False)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def fresh_cluster():
    """A cluster of the test's own, which the test may stop or put into odd states."""
    require_postgres()
    root = Path(tempfile.mkdtemp(prefix="drgen-pg-"))
    cluster = Cluster(root, free_port())
    cluster.init()
    yield cluster
    cluster.run(PG_BIN / "pg_ctl", "-D", cluster.data, "-m", "immediate", "stop", check=False)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def rds_detaches_on_promotion(monkeypatch):
    """RDS clears ReadReplicaSourceDBInstanceIdentifier when a replica is promoted; moto 5.2
    keeps it. Make the fake behave as the service does."""
    from moto.rds.models import RDSBackend  # noqa: PLC0415 - only the moto tests need it

    promote = RDSBackend.promote_read_replica

    def promote_and_detach(self, db_kwargs):
        database = promote(self, db_kwargs)
        database.source_db_instance_identifier = None
        return database

    monkeypatch.setattr(RDSBackend, "promote_read_replica", promote_and_detach)


@pytest.fixture()
def aws_env(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-west-2",
        "AWS_REGION": "us-west-2",
    }.items():
        monkeypatch.setenv(key, value)


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def self_signed(directory: Path):
    """A throwaway certificate and key for localhost."""
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1"],
        check=True,
        capture_output=True,
    )
    key.chmod(0o600)
    return cert, key


@pytest.fixture(scope="session")
def secure_postgres():
    """PostgreSQL 15 with TLS and password authentication, as RDS runs it: `dbadmin` with
    SCRAM-SHA-256 and `legacy` with an MD5 password, both over TLS only."""
    require_postgres()
    root = Path(tempfile.mkdtemp(prefix="drgen-pg-tls-"))
    cluster = Cluster(root, free_port())
    cluster.init()
    self_signed(cluster.data)
    if cluster.as_user:
        for name in ("server.crt", "server.key"):
            shutil.chown(cluster.data / name, "postgres", "postgres")
    with open(cluster.data / "postgresql.conf", "a") as conf:
        conf.write("ssl = on\n")
    (cluster.data / "pg_hba.conf").write_text(
        "local all all trust\n"
        "hostssl all dbadmin 127.0.0.1/32 scram-sha-256\n"
        "hostssl all legacy 127.0.0.1/32 md5\n"
        "hostssl all clear 127.0.0.1/32 password\n"
    )
    cluster.start()
    psql = [PG_BIN / "psql", "-h", str(root), "-p", str(cluster.port), "-U", "postgres", "-d", "postgres", "-c"]
    cluster.run(*psql, "CREATE ROLE dbadmin LOGIN PASSWORD 'scram-secret-1'")
    cluster.run(*psql, "SET password_encryption = 'md5'; CREATE ROLE legacy LOGIN PASSWORD 'md5-secret-1'")
    cluster.run(*psql, "CREATE ROLE clear LOGIN PASSWORD 'clear-secret-1'")
    yield cluster
    cluster.run(PG_BIN / "pg_ctl", "-D", cluster.data, "-m", "immediate", "stop", check=False)
    shutil.rmtree(root, ignore_errors=True)


RECORDER = calls_record.Recorder(calls_record.load())


def pytest_sessionstart(session):
    """Every AWS call a handler makes is recorded, to be compared with lambda/calls.json."""
    RECORDER.install(BaseClient)


def _complete(session):
    """Whether the whole suite ran (no selection), so that a declared call no test made is a
    finding rather than a test that was left out."""
    option = session.config.option
    selected = {str(Path(a)) for a in session.config.args}
    return not option.keyword and not option.markexpr and selected <= {"tests"} and session.testsfailed == 0


def pytest_sessionfinish(session, exitstatus):
    problems = calls_record.compare(RECORDER.calls, calls_record.load(), _complete(session))
    if problems:
        sys.stderr.write("\nThe code's AWS calls and lambda/calls.json disagree:\n")
        for problem in problems:
            sys.stderr.write(f"  {problem}\n")
        session.exitstatus = 1
