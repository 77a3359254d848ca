"""The real hub and the real agent loop as processes inside the namespaces of a `netns.Link`.

Both are the `motcua` CLI (`hub serve`, `run`) started with `ip netns exec`,
which execs in place, so the Popen pid is the process itself and SIGKILL hits
it like a power cut. The test process stays in the root namespace and reads
the hub's and the agent's SQLite files directly.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..child_process import ChildProcess
from .netns import Link

ROOT = Path(__file__).resolve().parents[2]
SITE = "UBND xã Thử Nghiệm"
AGENCY = "000.00.01.H29"


def motcua(*args: str, env: dict[str, str] | None = None, ns: str | None = None, link: Link | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "agent.cli", *args]
    if ns is not None and link is not None:
        argv = link.wrap(ns, argv)
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})},
                          timeout=timeout)


@dataclass
class NsHub(ChildProcess):
    link: Link
    data_dir: Path
    port: int = 8470
    proc: subprocess.Popen | None = None
    log_path: Path = field(init=False)
    restarts: int = 0
    #: more `hub serve` options, e.g. ("--no-progress-timeout", "5")
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / "hub.log"

    @property
    def url(self) -> str:
        return f"http://{self.link.hub_ip}:{self.port}"

    def start(self, timeout: float = 30) -> "NsHub":
        mark = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.link.wrap(self.link.hub_ns, [
            sys.executable, "-m", "agent.cli", "hub", "serve", "--data", str(self.data_dir), "--host", self.link.hub_ip,
            "--port", str(self.port), "--log-level", "warning", *self.extra_args]), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log_path.read_text('utf-8', 'replace')[-2000:]}")
            probe = subprocess.run(self.link.wrap(self.link.hub_ns, [
                sys.executable, "-c", f"import socket; socket.create_connection(('{self.link.hub_ip}', {self.port}), 1)"]),
                capture_output=True)
            if probe.returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"hub did not start (log from byte {mark})")

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def token(self) -> str:
        out = motcua("hub", "token", "--data", str(self.data_dir), "--site", SITE, "--agency", AGENCY)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        return out.stdout.strip()

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        import sqlite3

        conn = sqlite3.connect(self.data_dir / "hub.db", timeout=30)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()


@dataclass
class NsAgent:
    link: Link
    home: Path
    proc: subprocess.Popen | None = None
    kills: int = 0

    @property
    def env(self) -> dict[str, str]:
        return {"MOTCUA_HOME": str(self.home)}

    def enrol(self, hub: NsHub, **settings: float) -> None:
        out = motcua("init", "--hub", hub.url, "--token", hub.token(), "--site", SITE, env=self.env,
                     ns=self.link.agent_ns, link=self.link)
        if out.returncode != 0:
            raise RuntimeError(f"enrolment failed: {out.stdout}{out.stderr}")
        config_path = self.home / "config.json"
        config = json.loads(config_path.read_text("utf-8"))
        config.setdefault("settings", {}).update(settings)
        config_path.write_text(json.dumps(config, ensure_ascii=False), "utf-8")

    def start(self) -> None:
        log = open(self.home / "run.log", "ab")
        self.proc = subprocess.Popen(self.link.wrap(self.link.agent_ns, [sys.executable, "-m", "agent.cli", "run"]),
                                     cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        log.close()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
            self.kills += 1

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def counts(self) -> dict[str, int]:
        import sqlite3

        conn = sqlite3.connect(self.home / "outbox.db", timeout=30)
        try:
            return dict(conn.execute("SELECT state, COUNT(*) FROM dossiers GROUP BY state").fetchall())
        finally:
            conn.close()
