"""Done-when for issue 19: a case-system process (`motcua hub pull --follow`) pulls, downloads and
acknowledges 200 dossiers while two desks keep committing, the hub is restarted and the case system
itself is killed and restarted — and it gets every dossier exactly once, in commit order."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.delivery.sync import sync_once

from .chaos.dossiers import make_dossier
from .child_process import ChildProcess
from .conftest import ROOT, SITE
from .test_case_system_pull import case_token

pytestmark = pytest.mark.timeout(600)
TOTAL, ROUNDS = 200, 10


@dataclass
class PullProcess(ChildProcess):
    """The reference client as the province would run it, in its own process."""

    hub_url: str
    token: str
    dest: Path
    log_path: Path
    proc: subprocess.Popen | None = None
    runs: list[Path] = field(default_factory=list)

    def start(self) -> "PullProcess":
        out = self.log_path.with_name(f"{self.log_path.stem}-{len(self.runs)}.log")
        self.runs.append(out)
        with open(out, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "agent.cli", "hub", "pull", "--url", self.hub_url, "--to", str(self.dest),
                 "--follow", "--poll", "0.2", "--limit", "25"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "MOTCUA_CASE_SYSTEM_TOKEN": self.token})
        return self

    def written(self) -> list[tuple[int, str]]:
        lines = [line.split() for run in self.runs for line in run.read_text("utf-8").splitlines()
                 if line.startswith("Đã lưu / written")]
        return [(int(parts[-2]), parts[-1]) for parts in lines]


def folders(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir() if not p.name.startswith("."))


def test_case_system_gets_200_dossiers_exactly_once_in_order_through_restarts(hub, tmp_path):
    desks = []
    for n in range(2):
        site = f"{SITE} {n}"
        ctx = AgentContext.open(tmp_path / f"desk{n}")
        enrol(ctx, hub.url, hub.token(site=site), site)
        desks.append(ctx)
    dest = tmp_path / "import"
    client = PullProcess(hub.url, case_token(hub), dest, tmp_path / "pull.log").start()
    try:
        for round_ in range(ROUNDS):
            for ctx in desks:
                for _ in range(TOTAL // ROUNDS // len(desks)):
                    make_dossier(ctx, 1500 + 500 * (round_ % 3))
                sync_once(ctx)  # a pass while the hub is down just leaves them queued for the next one
            if round_ == 3:
                hub.stop()  # the hub restarts while the case system is mid-stream
                hub.start()
            if round_ == 6:
                client.kill()  # and the case system itself dies (power cut) and comes back
                client.start()
        while any(sync_once(ctx).committed for ctx in desks):
            pass
        committed = [row[0] for row in hub.sql("SELECT hub_sequence FROM dossiers ORDER BY hub_sequence")]
        assert len(committed) == TOTAL

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            acked = hub.sql("SELECT COUNT(*) FROM case_acks")[0][0]
            if acked == TOTAL and len(folders(dest)) == TOTAL:
                break
            assert client.proc.poll() is None, client.runs[-1].read_text()
            time.sleep(0.5)
        assert hub.sql("SELECT COUNT(*) FROM case_acks")[0][0] == TOTAL
    finally:
        client.stop()
        for ctx in desks:
            ctx.close()

    names = folders(dest)
    assert [int(n.split("_")[0]) for n in names] == committed  # one folder per dossier, named in commit order
    written = client.written()
    assert len({c for c, _ in written}) == len(written)  # never written twice, even across the kill
    assert [c for c, _ in written] == sorted(c for c, _ in written)  # and in commit order
    assert {c for c, _ in written} <= set(committed)
    by_code = dict(hub.sql("SELECT dossier_code, dossier_id FROM dossiers"))
    for name in names[::17]:  # whole dossiers: documents match the hub's hashes
        entry = json.loads((dest / name / "dossier.json").read_text("utf-8"))
        assert by_code[entry["dossier_code"]] == entry["dossier_id"]
        for doc in entry["documents"]:
            assert hashlib.sha256((dest / name / doc["name"]).read_bytes()).hexdigest() == doc["sha256"]
    assert client.proc.returncode == 0  # SIGTERM: a clean stop
