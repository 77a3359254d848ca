"""Chaos: 200+ dossiers delivered over a lossy, shaped link while a driver SIGKILLs the agent
and the hub and cuts the link at random. Afterwards every dossier is at the hub exactly once,
every receipt verifies, the hub's payload hashes are the agent's, nothing is left uploading.

Runs as root in CI (network namespaces); skips with the reason elsewhere. Sized for ~2–3
minutes on 2 cores: set MOTCUA_CHAOS_DOSSIERS / MOTCUA_CHAOS_SECONDS to go bigger.
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import time

import pytest

from agent.context import AgentContext
from sync_protocol.keys import public_key_from_text
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .dossiers import make_many
from .netns import Link, available
from .procs import NsAgent, NsHub

OK, WHY = available()
pytestmark = [pytest.mark.skipif(not OK, reason=f"chaos harness unavailable: {WHY}"), pytest.mark.timeout(900)]

DOSSIERS = int(os.environ.get("MOTCUA_CHAOS_DOSSIERS", "200"))
CHAOS_SECONDS = float(os.environ.get("MOTCUA_CHAOS_SECONDS", "50"))
SEED = int(os.environ.get("MOTCUA_CHAOS_SEED", str(random.randrange(1 << 30))))


def _wait_until_delivered(agent: NsAgent, hub: NsHub, expected: int, timeout: float) -> dict[str, int]:
    deadline = time.time() + timeout
    counts: dict[str, int] = {}
    while time.time() < deadline:
        counts = agent.counts()
        if counts.get("committed", 0) + counts.get("purged", 0) == expected:
            return counts
        if not agent.alive():  # the loop must never die on its own
            pytest.fail(f"motcua run exited with {agent.proc.returncode}: "
                        f"{(agent.home / 'run.log').read_text('utf-8', 'replace')[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"not all delivered after healing: {counts}; hub log tail: "
                f"{hub.log_path.read_text('utf-8', 'replace')[-2000:]}")


def test_every_dossier_arrives_exactly_once_through_kills_and_cuts(tmp_path):
    rng = random.Random(SEED)
    print(f"chaos seed={SEED} dossiers={DOSSIERS} seconds={CHAOS_SECONDS}")
    with Link(rate_kbit=16_000, loss=0.01) as link:
        hub = NsHub(link, tmp_path / "hub").start()
        agent = NsAgent(link, tmp_path / "agent")
        agent.enrol(hub, timeout=3, max_backoff=3, idle_interval=1, probe_interval=0.5, reconnect_jitter=0.5)
        ctx = AgentContext.open(agent.home)
        try:
            made = make_many(ctx, DOSSIERS)  # sealed through the real seal step (signing, encryption)
        finally:
            ctx.close()
        agent.start()
        events = {"agent_kills": 0, "hub_kills": 0, "cuts": 0}
        try:
            end = time.time() + CHAOS_SECONDS
            while time.time() < end:
                time.sleep(rng.uniform(0.5, 2.5))
                action = rng.choice(("agent", "hub", "cut", "cut"))
                if action == "agent":
                    agent.kill()
                    time.sleep(rng.uniform(0, 0.5))
                    agent.start()
                    events["agent_kills"] += 1
                elif action == "hub":
                    hub.kill()
                    time.sleep(rng.uniform(0, 1.0))
                    hub.start()
                    events["hub_kills"] += 1
                else:
                    link.down()
                    time.sleep(rng.uniform(0.5, 4.0))
                    link.up()
                    events["cuts"] += 1
            print(f"chaos events={events} progress={agent.counts()}")
            link.up()
            link.set_loss(0.0)
            if not agent.alive():
                agent.start()
            _wait_until_delivered(agent, hub, DOSSIERS, timeout=240)
        finally:
            code = agent.stop()
            hub.stop()
        assert code == 0, (agent.home / "run.log").read_text("utf-8", "replace")[-3000:]

        # -- exactly once at the hub ---------------------------------------------------------
        rows = hub.sql("SELECT dossier_id, COUNT(*), MAX(manifest_hash), MAX(signed_manifest) FROM dossiers"
                       " GROUP BY dossier_id")
        assert len(rows) == DOSSIERS and all(count == 1 for _, count, _, _ in rows)
        by_id = {r[0]: r for r in rows}
        assert set(by_id) == {d.id for d in made}
        assert hub.sql("SELECT COUNT(DISTINCT hub_sequence), COUNT(*) FROM dossiers") == [(DOSSIERS, DOSSIERS)]

        # -- every receipt verifies; manifests and payload hashes agree ---------------------------
        conn = sqlite3.connect(agent.home / "outbox.db")
        config = json.loads((agent.home / "config.json").read_text("utf-8"))
        hub_key = public_key_from_text(config["hub_public_key"])
        local = conn.execute("SELECT id, state, manifest_hash, receipt FROM dossiers").fetchall()
        assert {state for _, state, _, _ in local} <= {"committed", "purged"}, "nothing may be left uploading"
        for dossier_id, _, manifest_hash, receipt in local:
            verify_receipt(Envelope.from_dict(json.loads(receipt)), hub_key, manifest_hash)
            assert by_id[dossier_id][2] == manifest_hash
            hub_objects = {(o["sha256"], o["size"]) for o in json.loads(by_id[dossier_id][3])["document"]["objects"]}
            ours = set(conn.execute("SELECT sha256, size FROM documents WHERE dossier_id=?", (dossier_id,)).fetchall())
            assert hub_objects == ours
            for sha, _ in ours:  # the hub's copy re-hashes to its address
                from sync_protocol.castore import ContentStore

                ContentStore(hub.data_dir / "objects").verify(sha)
        conn.close()
        assert sum(events.values()) >= 5, events
