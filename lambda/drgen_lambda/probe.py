"""PostgreSQL readiness over TCP, without credentials, in the manner of pg_isready.

The probe sends an SSLRequest (and, if the server agrees, wraps the socket in TLS), then a
StartupMessage. An authentication request or any error other than "cannot connect now" means
the server is accepting connections; SQLSTATE 57P03 means it is up but not accepting now
(starting up, shutting down, or a standby that admits nobody). A refused connection, a reset,
a timeout, or an answer that is not PostgreSQL's means down.
"""

import socket
import ssl
import struct
import threading
import time

ACCEPTING = "accepting"
NOT_ACCEPTING = "not_accepting"
DOWN = "down"

SSL_REQUEST_CODE = 80877103
PROTOCOL_3_0 = 196608
CANNOT_CONNECT_NOW = "57P03"


class _NotPostgres(Exception):
    """The peer answered, but not as PostgreSQL does."""


def _resolve(host, port, deadline):
    """getaddrinfo in a daemon thread, so a slow resolver cannot outlast the deadline."""
    result = {}

    def work():
        try:
            result["addresses"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as e:
            result["error"] = e

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if "addresses" in result:
        return result["addresses"]
    raise result.get("error") or socket.timeout("name resolution timed out")


def _remaining(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("probe deadline passed")
    return left


def _read_exactly(sock, count, deadline):
    data = b""
    while len(data) < count:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionResetError("connection closed by the server")
        data += chunk
    return data


def _startup_message():
    params = b"user\x00drgen_probe\x00database\x00postgres\x00application_name\x00drgen-probe\x00\x00"
    return struct.pack("!ii", 8 + len(params), PROTOCOL_3_0) + params


def _sqlstate(payload):
    for field in payload.split(b"\x00"):
        if field[:1] == b"C":
            return field[1:].decode("ascii", "replace")
    return ""


def _classify(sock, deadline):
    """Reads the server's first answer to the StartupMessage."""
    header = _read_exactly(sock, 5, deadline)
    kind, length = header[:1], struct.unpack("!i", header[1:])[0]
    if kind == b"R" and 8 <= length <= 2048:
        return ACCEPTING
    if kind == b"v" and 8 <= length <= 65536:
        return ACCEPTING
    if kind == b"E" and 4 < length <= 65536:
        payload = _read_exactly(sock, length - 4, deadline)
        return NOT_ACCEPTING if _sqlstate(payload) == CANNOT_CONNECT_NOW else ACCEPTING
    raise _NotPostgres(f"unexpected message {kind!r}")


def probe(host, port, timeout):
    """Returns ACCEPTING, NOT_ACCEPTING or DOWN within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    sock = None
    try:
        family, kind, proto, _, address = _resolve(host, port, deadline)[0]
        sock = socket.socket(family, kind, proto)
        sock.settimeout(_remaining(deadline))
        sock.connect(address)
        sock.sendall(struct.pack("!ii", 8, SSL_REQUEST_CODE))
        answer = _read_exactly(sock, 1, deadline)
        if answer == b"S":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock.settimeout(_remaining(deadline))
            sock = context.wrap_socket(sock, server_hostname=host)
        elif answer != b"N":
            raise _NotPostgres(f"unexpected SSL answer {answer!r}")
        sock.settimeout(_remaining(deadline))
        sock.sendall(_startup_message())
        return _classify(sock, deadline)
    except (OSError, _NotPostgres, struct.error):
        return DOWN
    finally:
        if sock is not None:
            sock.close()
