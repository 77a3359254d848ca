"""Real PostgreSQL and S3-compatible servers on loopback, for tests and bench/.

  PostgresServer   Debian's postgresql: `initdb` + `pg_ctl` in a temporary directory,
                   run as the `postgres` user when we are root; TCP on 127.0.0.1.
  S3Server         moto's server mode (`python -m moto.server`) in a child process.

Session-scoped pytest fixtures `postgres_server` and `s3_server` start each once;
`pg_url` and `s3_url` give every test its own fresh database / bucket. A test
module uses them with `from .fixtures_servers import *  # noqa: F401,F403`.
Nothing is mocked: these are the servers a province would run (moto stands in
for MinIO/Ceph/AWS, speaking the same S3 HTTP API).
"""
from __future__ import annotations

import glob
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


class S3Server:
    """moto's S3 server in a child process on 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "S3Server":
        for key, value in S3_ENV.items():
            os.environ.setdefault(key, value)
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env={**os.environ, **S3_ENV})
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("moto server exited at start")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto server did not start")

    def create_bucket(self, name: str | None = None, prefix: str = "") -> str:
        """Make a bucket; return the hub's object-store URL for it."""
        import boto3

        name = name or "motcua-" + secrets.token_hex(5)
        boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1").create_bucket(Bucket=name)
        path = f"/{prefix}" if prefix else ""
        return f"s3://{name}{path}?endpoint={self.endpoint}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def postgres_server():
    if postgres_bin() is None:
        pytest.skip("PostgreSQL binaries are not installed (make deps installs Debian's postgresql)")
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return postgres_server.create_database()


@pytest.fixture
def s3_url(s3_server: S3Server) -> str:
    """A fresh, empty bucket for this test (as a hub object-store URL)."""
    return s3_server.create_bucket(prefix="hub")


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
