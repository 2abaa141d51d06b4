"""The drill's rig on loopback: a PostgreSQL 15 primary and an asynchronous streaming standby,
and TCP relays standing for the network paths between them.

Every server and relay listens on the same port at its own loopback address, as RDS instances
share the port:

  127.0.0.1  primary                127.0.0.2  standby (the DR replica)
  127.0.0.3  peering relay -> the primary's security group (the DR side's probes and samples)
  127.0.0.4  replication relay -> primary (RDS's own replication path)
  127.0.0.5  security-group relay -> primary (clients, the primary-region observer; the fence)
"""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PRIMARY, STANDBY, PEERING, REPLICATION, SECURITY_GROUP = (f"127.0.0.{i}" for i in range(1, 6))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One PostgreSQL data directory, run as the postgres user when the drill runs as root."""

    def __init__(self, root: Path, address: str, port: int):
        self.root = root
        self.data = root / "data"
        self.address = address
        self.port = port
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def run(self, *args, check=True):
        return subprocess.run(
            self.as_user + [str(a) for a in args], check=check, capture_output=True, text=True, timeout=120
        )

    def configure(self, extra=""):
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '{self.address}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\nssl = on\n"
                "wal_sender_timeout = 5s\nwal_receiver_timeout = 5s\nwal_retrieve_retry_interval = 500ms\n"
                "max_connections = 50\n" + extra
            )

    def start(self):
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.root / "log", "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self.run(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def psql(self, sql):
        out = self.run(
            PG_BIN / "psql", "-h", self.root, "-p", self.port, "-U", "postgres", "-d", "drill", "-AtXq", "-c", sql
        )
        return out.stdout.strip()


class Pair:
    """A primary and a standby made with pg_basebackup -R, replicating through the relay."""

    def __init__(self, port):
        self.base = Path(tempfile.mkdtemp(prefix="drgen-drill-"))
        os.chmod(self.base, 0o755)
        self.port = port
        self.primary = Server(self.base / "primary", PRIMARY, port)
        self.standby = Server(self.base / "standby", STANDBY, port)

    def create(self):
        for server in (self.primary, self.standby):
            server.root.mkdir()
            if server.as_user:
                shutil.chown(server.root, "postgres", "postgres")
        p = self.primary
        p.run(PG_BIN / "initdb", "-D", p.data, "-A", "trust", "-U", "postgres", "--no-sync")
        self._certificate(p)
        p.configure("wal_level = replica\nmax_wal_senders = 4\nwal_keep_size = 256MB\n")
        with open(p.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication postgres 127.0.0.0/8 trust\nhost all all 127.0.0.0/8 trust\n")
        p.start()
        p.run(
            PG_BIN / "psql",
            "-h",
            p.root,
            "-p",
            p.port,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "CREATE DATABASE drill",
        )
        p.psql("CREATE TABLE markers (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
        p.psql("CREATE TABLE heartbeat (at timestamptz NOT NULL DEFAULT now())")
        s = self.standby
        # The base backup is retried a bounded number of times: on a loaded machine its
        # replication connection is at times refused while the new primary settles.
        for attempt in range(3):
            copied = s.run(
                PG_BIN / "pg_basebackup",
                "-h",
                REPLICATION,
                "-p",
                self.port,
                "-U",
                "postgres",
                "-D",
                s.data,
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
                "--no-sync",
                check=False,
            )
            if copied.returncode == 0:
                break
            shutil.rmtree(s.data, ignore_errors=True)
            if attempt == 2:
                raise RuntimeError(f"pg_basebackup failed three times: {copied.stderr.strip()}")
            time.sleep(1)
        # The copied configuration names the primary's address; the standby listens on its own.
        s.configure("hot_standby = on\n")
        s.start()

    @staticmethod
    def _certificate(server):
        cert, key = server.data / "server.crt", server.data / "server.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"]
            + ["-keyout", str(key), "-out", str(cert), "-days", "1"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        key.chmod(0o600)
        if server.as_user:
            for path in (cert, key):
                shutil.chown(path, "postgres", "postgres")

    def destroy(self):
        for server in (self.primary, self.standby):
            server.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


class Relay:
    """A TCP relay for one network path. `cut()` blackholes it: connections hang, as in a
    regional outage (new ones are accepted and never answered; open ones stop moving data).
    `delay` holds every chunk that long; `stall()` holds everything until `resume()`.
    `deny_new()` is a security group replaced by a deny-all one: established connections keep
    working, new ones hang; `kill_established()` is what a reboot does to them."""

    def __init__(self, listen, target, port):
        self.target = (target, port)
        self.delay = 0.0
        self.cut_flag = threading.Event()
        self.stall_flag = threading.Event()
        self.deny_flag = threading.Event()
        self.closed = threading.Event()
        self.pairs = []
        self.lock = threading.Lock()
        self.server = socket.create_server((listen, port))
        self.server.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self):
        self.cut_flag.set()

    def heal(self):
        self.cut_flag.clear()

    def stall(self):
        self.stall_flag.set()

    def resume(self):
        self.stall_flag.clear()

    def deny_new(self):
        self.deny_flag.set()

    def allow(self):
        self.deny_flag.clear()

    def established(self):
        with self.lock:
            self.pairs = [p for p in self.pairs if not p[2].is_set()]
            return len(self.pairs)

    def kill_established(self):
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream, done in pairs:
            done.set()
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self):
        self.closed.set()
        self.server.close()
        self.kill_established()

    def _accept(self):
        while not self.closed.is_set():
            try:
                client, _ = self.server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.cut_flag.is_set() or self.deny_flag.is_set():
                # Dropped packets: the client's connection attempt hangs until it gives up.
                threading.Thread(target=self._hold, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                client.close()
                continue
            done = threading.Event()
            with self.lock:
                self.pairs.append((client, upstream, done))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b, done), daemon=True).start()

    def _hold(self, client):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.closed.is_set():
            time.sleep(0.2)
        client.close()

    def _pump(self, source, sink, done):
        pending = []
        try:
            # A reboot may close the pair before this thread runs.
            source.settimeout(0.2)
            while not done.is_set() and not self.closed.is_set():
                if not (self.cut_flag.is_set() or self.stall_flag.is_set()):
                    now = time.monotonic()
                    while pending and pending[0][0] <= now:
                        sink.sendall(pending.pop(0)[1])
                if self.cut_flag.is_set():
                    time.sleep(0.05)
                    continue
                try:
                    chunk = source.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                pending.append((time.monotonic() + self.delay, chunk))
        except OSError:
            pass
        finally:
            done.set()
            for sock in (source, sink):
                try:
                    sock.close()
                except OSError:
                    pass
