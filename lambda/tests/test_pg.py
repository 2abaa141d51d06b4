"""The standard-library PostgreSQL client against a real PostgreSQL 15 with TLS and passwords,
and against scripted servers for the answers a real one does not give."""

import base64
import socket
import ssl
import struct
import threading

import pytest
from conftest import self_signed

from drgen_lambda import pg


def connect(server, user, password, **kw):
    kw.setdefault("database", "postgres")
    kw.setdefault("timeout", 5)
    return pg.Connection("127.0.0.1", server.port, user, password, **kw)


@pytest.mark.parametrize(
    ("user", "password"), [("dbadmin", "scram-secret-1"), ("legacy", "md5-secret-1"), ("clear", "clear-secret-1")]
)
def test_each_password_method_over_tls_reads_a_wal_position(secure_postgres, user, password):
    with connect(secure_postgres, user, password) as conn:
        assert conn.encrypted
        lsn = conn.scalar("SELECT pg_current_wal_lsn()")
        assert pg.parse_lsn(lsn) > 0
        assert conn.scalar("SELECT NULL") is None
        assert conn.scalar("SELECT 1 WHERE false") is None


def test_the_server_certificate_is_verified_when_a_ca_bundle_is_given(secure_postgres, tmp_path):
    ca = str(secure_postgres.data / "server.crt")
    with connect(secure_postgres, "dbadmin", "scram-secret-1", cafile=ca) as conn:
        assert conn.scalar("SELECT generate_series(7, 9)") == "7"
        assert conn.scalar("SELECT") is None
    other = self_signed(tmp_path)[0]
    with pytest.raises(ssl.SSLError):
        connect(secure_postgres, "dbadmin", "scram-secret-1", cafile=str(other))


def test_a_server_that_closes_during_a_query_is_an_error():
    def script(conn):
        conn.recv(8)
        conn.sendall(b"N")
        conn.recv(4096)
        conn.sendall(auth(0) + b"Z" + struct.pack("!i", 5) + b"I")
        conn.recv(4096)

    with scripted(script) as port:
        c = pg.Connection("127.0.0.1", port, "u", "p", database="d", timeout=2, require_tls=False)
        with pytest.raises(pg.PgError, match="closed"):
            c.scalar("SELECT 1")
        c.close()


def test_a_wrong_password_is_refused(secure_postgres):
    with pytest.raises(pg.PgError, match="28P01"):
        connect(secure_postgres, "dbadmin", "wrong")


def test_a_failing_query_raises_after_the_server_is_ready_again(secure_postgres):
    with connect(secure_postgres, "dbadmin", "scram-secret-1") as conn:
        with pytest.raises(pg.PgError, match="42883"):
            conn.scalar("SELECT no_such_function()")
        assert conn.scalar("SELECT 'still usable'") == "still usable"


def test_a_server_without_tls_is_refused_unless_allowed(postgres):
    with pytest.raises(pg.PgError, match="does not offer TLS"):
        connect(postgres, "postgres", "")
    with connect(postgres, "postgres", "", require_tls=False) as conn:
        assert not conn.encrypted
        assert conn.scalar("SELECT pg_is_in_recovery()") == "f"


def test_the_deadline_bounds_a_silent_server():
    with scripted(lambda conn: conn.recv(8) and threading.Event().wait(3)) as port:
        with pytest.raises(pg.PgError, match="timed out"):
            pg.Connection("127.0.0.1", port, "u", "p", database="d", timeout=0.3)


def test_parse_lsn():
    assert pg.parse_lsn("16/B374D848") == (0x16 << 32) + 0xB374D848


class scripted:
    """A one-connection server on loopback that runs `script(conn)`."""

    def __init__(self, script):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)

        def serve():
            conn, _ = self.server.accept()
            try:
                script(conn)
            except OSError:
                pass
            finally:
                conn.close()

        threading.Thread(target=serve, daemon=True).start()

    def __enter__(self):
        return self.server.getsockname()[1]

    def __exit__(self, *exc):
        self.server.close()


def auth(code, extra=b""):
    return b"R" + struct.pack("!ii", 8 + len(extra), code) + extra


def plaintext_then(*replies):
    def script(conn):
        conn.recv(8)
        conn.sendall(b"N")
        conn.recv(4096)
        for reply in replies:
            conn.sendall(reply)
        if replies:
            conn.recv(4096)

    return script


@pytest.mark.parametrize(
    ("replies", "message"),
    [
        ((auth(3),), "cleartext password without TLS"),
        ((auth(7),), "unsupported authentication request 7"),
        ((auth(10, b"SCRAM-SHA-256-PLUS\x00\x00"),), "no SCRAM-SHA-256"),
        ((b"Z" + struct.pack("!i", 2),), "bad message length"),
        ((), "closed by the server"),
    ],
)
def test_answers_a_real_server_does_not_give_are_errors(replies, message):
    with scripted(plaintext_then(*replies)) as port:
        with pytest.raises(pg.PgError, match=message):
            pg.Connection("127.0.0.1", port, "u", "p", database="d", timeout=2, require_tls=False)


def scram_server(server_first, final=None):
    """Answers SCRAM with `server_first(client_nonce)` and then `final`."""

    def script(conn):
        conn.recv(8)
        conn.sendall(b"N")
        conn.recv(4096)
        conn.sendall(auth(10, b"SCRAM-SHA-256\x00\x00"))
        first = conn.recv(4096)
        nonce = first.split(b"r=", 1)[1].decode()
        conn.sendall(auth(11, server_first(nonce).encode()))
        conn.recv(4096)
        if final is not None:
            conn.sendall(final)
        conn.recv(4096)

    return script


SALT = base64.b64encode(b"0123456789abcdef").decode()


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (scram_server(lambda n: f"r=other{n},s={SALT},i=4096"), "nonce does not extend ours"),
        (scram_server(lambda n: f"r={n}x,s={SALT},i=4096", auth(3)), "unexpected SCRAM final answer"),
        (scram_server(lambda n: f"r={n}x,s={SALT},i=4096", auth(12, b"v=AAAA")), "signature is wrong"),
    ],
)
def test_a_scram_server_that_does_not_prove_itself_is_refused(script, message):
    with scripted(script) as port:
        with pytest.raises(pg.PgError, match=message):
            pg.Connection("127.0.0.1", port, "u", "p", database="d", timeout=2, require_tls=False)


def test_an_unexpected_first_scram_answer_is_refused():
    def script(conn):
        conn.recv(8)
        conn.sendall(b"N")
        conn.recv(4096)
        conn.sendall(auth(10, b"SCRAM-SHA-256\x00\x00"))
        conn.recv(4096)
        conn.sendall(auth(0))
        conn.recv(4096)

    with scripted(script) as port:
        with pytest.raises(pg.PgError, match="unexpected SCRAM answer"):
            pg.Connection("127.0.0.1", port, "u", "p", database="d", timeout=2, require_tls=False)
