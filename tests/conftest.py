"""Shared fixtures: a real hub process on loopback, enrolled agents, sample scans.

Nothing here is mocked: the hub is `motcua hub serve` in its own process, the
agent uses real SQLite files and the real blob store in tmp directories.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.capture.sample_pages import sample_dossier

from .child_process import ChildProcess

ROOT = Path(__file__).resolve().parent.parent
AGENCY = "000.00.01.H29"
SITE = "UBND xã Thử Nghiệm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class HubProcess(ChildProcess):
    """`motcua hub serve` as a child process; can be killed and restarted on the same port and data."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    #: more `hub serve` options (e.g. --tls-cert/--tls-key); with `tls_ca` set the hub is reached over HTTPS
    extra_args: list[str] = field(default_factory=list)
    tls_ca: str | None = None
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_ca else 'http'}://{self.host}:{self.port}"

    def start(self) -> "HubProcess":
        self.log_path = self.data_dir.parent / f"hub-{self.port}.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "hub", "serve", "--data", str(self.data_dir), "--port", str(self.port),
             *self.extra_args],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.extra_env},
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited early: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/v1/hello", timeout=1, verify=self.tls_ca or True).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("hub did not start")

    def token(self, site: str = SITE, agency: str = AGENCY, ttl_hours: int = 24) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "agent.cli", "hub", "token", "--data", str(self.data_dir), "--site", site,
             "--agency", agency, "--ttl-hours", str(ttl_hours)],
            cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import sqlite3

        conn = sqlite3.connect(self.data_dir / "hub.db")
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace") if self.log_path and self.log_path.exists() else ""


@pytest.fixture(autouse=True, scope="session")
def desk_workflows_subscribed() -> None:
    """As the CLI and the web UI do at start-up: the desk's handlers listen to delivery's events."""
    from agent.desk.workflows import subscribe

    subscribe()


@pytest.fixture
def hub(tmp_path: Path):
    server = HubProcess(tmp_path / "hub").start()
    yield server
    server.stop()


@pytest.fixture
def agent_home(tmp_path: Path) -> Path:
    return tmp_path / "agent"


@pytest.fixture
def agent(hub: HubProcess, agent_home: Path):
    """An agent enrolled with `hub`, as a library context."""
    ctx = AgentContext.open(agent_home)
    enrol(ctx, hub.url, hub.token(), SITE)
    yield ctx
    ctx.close()


@pytest.fixture
def pages(tmp_path: Path) -> list[Path]:
    return sample_dossier(tmp_path / "scans")


def run_motcua(*args: str, home: Path | None = None, env: dict[str, str] | None = None,
               timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess:
    """Run the real `motcua` CLI in a subprocess (with `input` on its stdin)."""
    full_env = {**os.environ, **(env or {})}
    if home is not None:
        full_env["MOTCUA_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=full_env, timeout=timeout, input=input)


def queue_json(home: Path) -> list[dict]:
    result = run_motcua("queue", "--json", home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_clean_failure(result: subprocess.CompletedProcess, *expected: str, exit_code: int | None = None) -> str:
    """A CLI failure as desk staff must see it: exit code != 0 (or `exit_code`), every `expected`
    text in the output, and no Python traceback. Returns stdout + stderr for further checks."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    if exit_code is not None:
        assert result.returncode == exit_code, output
    assert "Traceback" not in output, output
    for text in expected:
        assert text in output, f"{text!r} not in:\n{output}"
    return output


@pytest.fixture
def sane_test_backend(tmp_path: Path) -> dict[str, str]:
    """Environment for SANE's test backend: virtual scanners scanning test patterns, no hardware."""
    config = tmp_path / "sane.d"
    config.mkdir()
    (config / "dll.conf").write_text("test\n")
    return {"SANE_CONFIG_DIR": str(config)}


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Capture without the OCR text layer (here and in CLI subprocesses): for tests about something else."""
    monkeypatch.setenv("MOTCUA_OCR", "off")
