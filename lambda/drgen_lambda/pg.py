"""A minimal PostgreSQL client for one-value queries, on the standard library alone.

The monitor uses it to read WAL positions (`pg_current_wal_lsn()` on the primary,
`pg_last_wal_receive_lsn()` on the replica). It speaks protocol 3.0: TLS first (refused
plaintext unless the caller allows it), then SCRAM-SHA-256 (the server's signature is checked, so
a server that does not know the password is detected), MD5 or, over TLS only, a cleartext
password; then simple queries. Every read and write is bounded by the connection's deadline.
"""

import base64
import hashlib
import hmac
import os
import socket
import ssl
import struct
import time

PROTOCOL_3_0 = 196608
SSL_REQUEST_CODE = 80877103


class PgError(Exception):
    """The server refused, failed, or did not answer as PostgreSQL does."""


def parse_lsn(text):
    """`16/B374D848` -> an integer WAL position."""
    high, low = text.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def _message(kind, payload):
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _fields(payload):
    out = {}
    for field in payload.split(b"\x00"):
        if field:
            out[field[:1].decode("ascii", "replace")] = field[1:].decode("utf-8", "replace")
    return out


class Connection:
    """One session; use as a context manager."""

    def __init__(self, host, port, user, password, *, database, timeout, require_tls=True, cafile=None):
        self._deadline = time.monotonic() + timeout
        self._user = user
        self._password = password
        self._sock = socket.create_connection((host, port), timeout=self._left())
        try:
            self._tls(host, require_tls, cafile)
            params = b"".join(
                k.encode() + b"\x00" + v.encode() + b"\x00"
                for k, v in (("user", user), ("database", database), ("application_name", "drgen-monitor"))
            )
            body = struct.pack("!i", PROTOCOL_3_0) + params + b"\x00"
            self._send(struct.pack("!i", len(body) + 4) + body)
            self._authenticate()
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self._send(_message(b"X", b""))
        except (OSError, PgError):
            pass
        self._sock.close()

    def _left(self):
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise PgError("timed out")
        return left

    def _send(self, data):
        self._sock.settimeout(self._left())
        self._sock.sendall(data)

    def _read(self, count):
        data = b""
        while len(data) < count:
            self._sock.settimeout(self._left())
            try:
                chunk = self._sock.recv(count - len(data))
            except socket.timeout:
                raise PgError("timed out") from None
            if not chunk:
                raise PgError("connection closed by the server")
            data += chunk
        return data

    def _receive(self):
        header = self._read(5)
        kind, length = header[:1], struct.unpack("!i", header[1:])[0]
        if length < 4 or length > 1 << 24:
            raise PgError(f"bad message length {length}")
        payload = self._read(length - 4)
        if kind == b"E":
            f = _fields(payload)
            raise PgError(f"{f.get('C', '')}: {f.get('M', '')}")
        return kind, payload

    def _tls(self, host, require_tls, cafile):
        self._send(struct.pack("!ii", 8, SSL_REQUEST_CODE))
        answer = self._read(1)
        if answer == b"S":
            context = ssl.create_default_context(cafile=cafile) if cafile else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            if not cafile:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            self._sock.settimeout(self._left())
            self._sock = context.wrap_socket(self._sock, server_hostname=host)
            self.encrypted = True
        elif answer == b"N" and not require_tls:
            self.encrypted = False
        else:
            raise PgError("the server does not offer TLS")

    def _authenticate(self):
        while True:
            kind, payload = self._receive()
            if kind == b"R":
                code = struct.unpack("!i", payload[:4])[0]
                if code == 0:
                    continue
                if code == 3:
                    if not self.encrypted:
                        raise PgError("refusing to send a cleartext password without TLS")
                    self._send(_message(b"p", self._password.encode() + b"\x00"))
                elif code == 5:
                    inner = hashlib.md5((self._password + self._user).encode()).hexdigest()  # noqa: S324 - the protocol's
                    outer = hashlib.md5(inner.encode() + payload[4:8]).hexdigest()  # noqa: S324
                    self._send(_message(b"p", b"md5" + outer.encode() + b"\x00"))
                elif code == 10:
                    self._scram(payload[4:])
                else:
                    raise PgError(f"unsupported authentication request {code}")
            elif kind == b"Z":
                return
            # ParameterStatus, BackendKeyData and notices need no answer.

    def _scram(self, mechanisms):
        if b"SCRAM-SHA-256" not in mechanisms.split(b"\x00"):
            raise PgError("the server offers no SCRAM-SHA-256")
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = f"n=,r={nonce}"
        first = ("n,," + first_bare).encode()
        self._send(_message(b"p", b"SCRAM-SHA-256\x00" + struct.pack("!i", len(first)) + first))
        kind, payload = self._receive()
        if kind != b"R" or struct.unpack("!i", payload[:4])[0] != 11:
            raise PgError("unexpected SCRAM answer")
        server_first = payload[4:].decode()
        attrs = dict(item.split("=", 1) for item in server_first.split(","))
        if not attrs["r"].startswith(nonce):
            raise PgError("the server's SCRAM nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", self._password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_bare = f"c=biws,r={attrs['r']}"
        auth_message = f"{first_bare},{server_first},{final_bare}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        final = f"{final_bare},p={base64.b64encode(proof).decode()}".encode()
        self._send(_message(b"p", final))
        kind, payload = self._receive()
        if kind != b"R" or struct.unpack("!i", payload[:4])[0] != 12:
            raise PgError("unexpected SCRAM final answer")
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        expected = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(payload[4:].decode(), "v=" + expected):
            raise PgError("the server's SCRAM signature is wrong")

    def scalar(self, sql):
        """Runs one query and returns the first column of its first row as text (or None)."""
        self._send(_message(b"Q", sql.encode() + b"\x00"))
        value, error = None, None
        while True:
            try:
                kind, payload = self._receive()
            except PgError as e:
                if "closed" in str(e) or "timed out" in str(e):
                    raise
                error = e
                continue
            if kind == b"D" and value is None:
                columns = struct.unpack("!h", payload[:2])[0]
                if columns:
                    length = struct.unpack("!i", payload[2:6])[0]
                    value = None if length < 0 else payload[6 : 6 + length].decode()
            elif kind == b"Z":
                if error is not None:
                    raise error
                return value
