"""The agent SIGKILLed at every named crash point, then simply run again.

For each point in agent.crashpoints.POINTS the real CLI runs the desk's steps
(`motcua import … --seal`, then `motcua sync`) with MOTCUA_CRASH_AT set and dies
with SIGKILL — no cleanup, like a power cut. Carrying on without it (re-import
if nothing was queued, `motcua seal` if the seal was lost, `motcua sync`) must
end with the dossier delivered exactly once: one row and
one hub sequence number at the hub, one stored object, a receipt that verifies
against the pinned hub key, and nothing left half-way on the desk.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.crashpoints import POINTS
from sync_protocol.keys import public_key_from_text
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .conftest import queue_json, run_motcua

pytestmark = pytest.mark.usefixtures("no_ocr")  # OCR is not what these tests are about


def desk_steps(pages: list[Path]) -> list[tuple[str, ...]]:
    return [("import", *map(str, pages), "--procedure", "1.001193", "--channel", "postal", "--seal", "--json"),
            ("sync", "--json")]


#: the command each known point kills (`import --seal` seals too)
DIES_IN = {"after_capture_blob": "import", "before_seal_commit": "import", "after_upload_create": "sync",
           "after_first_chunk": "sync", "after_upload": "sync", "after_commit_sent": "sync", "before_purge": "sync"}


def files_named(root: Path, name: str) -> list[Path]:
    return [p for p in root.rglob(name) if p.is_file() and "tmp" not in p.relative_to(root).parts]


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_at_crash_point_then_rerun_delivers_exactly_once(point, hub, agent, agent_home, pages):
    steps = desk_steps(pages)
    crashed = None
    for step in steps:
        result = run_motcua(*step, home=agent_home, env={"MOTCUA_CRASH_AT": point})
        if result.returncode == -9:
            crashed = step[0]
            break
        assert result.returncode == 0, f"{step[0]}: {result.stderr}"
    assert crashed, (f"crash point {point!r} is not reached by `import --seal` or `sync`; "
                     "extend desk_steps() with the command that reaches it")
    assert crashed == DIES_IN.get(point, crashed)

    # The officer carries on: re-import if the dossier never appeared in the queue, seal it if the
    # seal was lost, then sync — all without the crash point.
    queued = [d.state for d in agent.outbox.list()]
    rerun = steps if not queued else [("seal", "--json"), steps[1]] if queued == ["captured"] else steps[1:]
    for step in rerun:
        result = run_motcua(*step, home=agent_home)
        assert result.returncode == 0, f"{step[0]} after crash in {crashed}: {result.stderr}"

    # -- the desk: one dossier, delivered, payload purged, no upload half-way ---------------------
    [row] = queue_json(agent_home)
    assert row["state"] == "purged", row
    assert row["hub_sequence"] == 1
    conn = sqlite3.connect(agent_home / "outbox.db")
    try:
        receipt_json, manifest_hash = conn.execute("SELECT receipt, manifest_hash FROM dossiers").fetchone()
        shas = [r[0] for r in conn.execute("SELECT sha256 FROM documents")]
        assert conn.execute("SELECT COUNT(*) FROM uploads").fetchone()[0] == 0
    finally:
        conn.close()
    assert not any(files_named(agent_home / "blobs", sha) for sha in shas), "payload must be purged after the receipt"

    config = json.loads((agent_home / "config.json").read_text("utf-8"))
    receipt = verify_receipt(Envelope.from_dict(json.loads(receipt_json)),
                             public_key_from_text(config["hub_public_key"]), manifest_hash)

    # -- the hub: exactly once ----------------------------------------------------------------------
    assert hub.sql("SELECT dossier_code, hub_sequence, manifest_hash FROM dossiers") == [
        (row["code"], 1, manifest_hash)]
    assert hub.sql("SELECT MAX(hub_sequence), COUNT(*) FROM dossiers") == [(1, 1)]
    [(stored_receipt,)] = hub.sql("SELECT receipt FROM dossiers")
    assert json.loads(stored_receipt) == json.loads(receipt_json)
    assert receipt.hub_sequence == 1 and receipt.dossier_code == row["code"]
    for sha in shas:
        assert len(files_named(hub.data_dir, sha)) == 1, f"object {sha[:12]} must be stored exactly once at the hub"
