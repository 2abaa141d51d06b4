"""The probe against a real PostgreSQL 15 server on 127.0.0.1 and against impostors."""

import socket
import ssl
import struct
import subprocess
import threading
import time

import pytest
from conftest import wait_until

from drgen_lambda import probe

TIMEOUT = 2.0


def test_a_running_server_is_accepting(postgres):
    assert probe.probe("127.0.0.1", postgres.port, TIMEOUT) == probe.ACCEPTING


def test_a_stopped_server_is_down_within_the_timeout(fresh_cluster):
    fresh_cluster.start()
    assert probe.probe("127.0.0.1", fresh_cluster.port, TIMEOUT) == probe.ACCEPTING
    fresh_cluster.stop()
    started = time.monotonic()
    assert probe.probe("127.0.0.1", fresh_cluster.port, TIMEOUT) == probe.DOWN
    assert time.monotonic() - started < TIMEOUT


def _session(port):
    """A real client session (trust authentication), held open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    params = b"user\x00postgres\x00database\x00postgres\x00\x00"
    sock.sendall(struct.pack("!ii", 8 + len(params), probe.PROTOCOL_3_0) + params)
    data = b""
    while b"Z\x00\x00\x00\x05" not in data:
        data += sock.recv(4096)
    return sock


def test_a_server_shutting_down_is_not_accepting(fresh_cluster):
    fresh_cluster.start()
    session = _session(fresh_cluster.port)
    try:
        # A smart shutdown waits for the open session and refuses new ones with 57P03.
        fresh_cluster.stop(mode="smart", wait=False)
        assert wait_until(lambda: probe.probe("127.0.0.1", fresh_cluster.port, TIMEOUT) == probe.NOT_ACCEPTING)
    finally:
        session.close()


def test_a_server_in_recovery_that_admits_nobody_is_not_accepting(fresh_cluster):
    # A standby with hot_standby off stays in recovery and refuses connections with 57P03,
    # as a server that is starting up does.
    (fresh_cluster.data / "standby.signal").write_text("")
    with open(fresh_cluster.data / "postgresql.conf", "a") as conf:
        conf.write("hot_standby = off\n")
    fresh_cluster.run(
        "/usr/lib/postgresql/15/bin/pg_ctl", "-D", fresh_cluster.data, "-l", fresh_cluster.root / "log", "-W", "start"
    )
    assert wait_until(lambda: probe.probe("127.0.0.1", fresh_cluster.port, TIMEOUT) == probe.NOT_ACCEPTING)


class _Listener:
    """A TCP listener on 127.0.0.1 that answers every connection with `reply`."""

    def __init__(self, reply=None, silent=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.silent = silent
        self.open = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.open.append(conn)
            if self.silent:
                continue
            try:
                conn.recv(8)
                if self.reply is not None:
                    conn.sendall(self.reply)
            except OSError:
                pass
            conn.close()

    def close(self):
        self.sock.close()
        for c in self.open:
            c.close()


@pytest.mark.parametrize(
    "reply",
    [b"HTTP/1.0 400 Bad Request\r\n\r\n", b"", b"N"],
    ids=["http-server", "closes-at-once", "ssl-refused-then-closed"],
)
def test_a_listener_that_is_not_postgres_is_down(reply):
    listener = _Listener(reply)
    try:
        assert probe.probe("127.0.0.1", listener.port, TIMEOUT) == probe.DOWN
    finally:
        listener.close()


def test_a_silent_listener_is_down_within_the_timeout():
    listener = _Listener(silent=True)
    try:
        started = time.monotonic()
        assert probe.probe("127.0.0.1", listener.port, 1.0) == probe.DOWN
        assert time.monotonic() - started < 1.5
    finally:
        listener.close()


def test_an_unknown_message_after_startup_is_down():
    listener = _Listener(b"N" + b"X\x00\x00\x00\x04")
    try:
        assert probe.probe("127.0.0.1", listener.port, TIMEOUT) == probe.DOWN
    finally:
        listener.close()


def test_an_error_other_than_57p03_means_accepting():
    error = b"SFATAL\x00C28000\x00Mno pg_hba.conf entry\x00\x00"
    listener = _Listener(b"N" + b"E" + struct.pack("!i", 4 + len(error)) + error)
    try:
        assert probe.probe("127.0.0.1", listener.port, TIMEOUT) == probe.ACCEPTING
    finally:
        listener.close()


def test_an_error_without_a_code_means_accepting():
    error = b"SFATAL\x00\x00"
    listener = _Listener(b"N" + b"E" + struct.pack("!i", 4 + len(error)) + error)
    try:
        assert probe.probe("127.0.0.1", listener.port, TIMEOUT) == probe.ACCEPTING
    finally:
        listener.close()


def test_a_protocol_negotiation_means_accepting():
    listener = _Listener(b"N" + b"v" + struct.pack("!i", 12) + b"\x00\x00\x00\x00\x00\x00\x00\x00")
    try:
        assert probe.probe("127.0.0.1", listener.port, TIMEOUT) == probe.ACCEPTING
    finally:
        listener.close()


def test_a_refused_connection_is_down():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert probe.probe("127.0.0.1", port, TIMEOUT) == probe.DOWN


def test_an_unresolvable_name_is_down():
    assert probe.probe("no-such-host.invalid", 5432, TIMEOUT) == probe.DOWN


def test_a_resolver_slower_than_the_deadline_is_down(monkeypatch):
    def slow(*args, **kwargs):
        time.sleep(1.0)
        return []

    monkeypatch.setattr(probe.socket, "getaddrinfo", slow)
    started = time.monotonic()
    assert probe.probe("slow.example", 5432, 0.2) == probe.DOWN
    assert time.monotonic() - started < 0.6


def test_a_deadline_that_passed_is_down():
    assert probe.probe("127.0.0.1", 1, 0.0) == probe.DOWN
    with pytest.raises(socket.timeout):
        probe._remaining(time.monotonic() - 1.0)


def test_tls_is_used_when_the_server_offers_it(tmp_path):
    # A server that accepts SSL and then speaks TLS: the probe must complete the handshake
    # before its StartupMessage. The certificate is a throwaway self-signed one.
    cert = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def serve():
        conn, _ = server.accept()
        conn.recv(8)
        conn.sendall(b"S")
        tls = context.wrap_socket(conn, server_side=True)
        tls.recv(1024)
        tls.sendall(b"R" + struct.pack("!ii", 8, 5) + b"salt")
        tls.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        assert probe.probe("127.0.0.1", port, TIMEOUT) == probe.ACCEPTING
    finally:
        server.close()
