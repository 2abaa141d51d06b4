"""Fixtures: a real PostgreSQL 15 cluster on 127.0.0.1, and AWS through moto."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

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
