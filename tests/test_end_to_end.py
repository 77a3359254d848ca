"""A desk officer's day, through the real CLI against a real hub process."""
from __future__ import annotations

import json

from sync_protocol.keys import public_key_from_text
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .conftest import AGENCY, SITE, queue_json, run_motcua


def test_scan_seal_sync_receipt_status(hub, agent_home, pages):
    token = hub.token()
    init = run_motcua("init", "--hub", hub.url, "--token", token, "--site", SITE, "--json", home=agent_home)
    assert init.returncode == 0, init.stderr
    identity = json.loads(init.stdout)
    assert identity["agency_code"] == AGENCY
    assert (agent_home / "device_key.pem").stat().st_mode & 0o777 == 0o600

    imported = run_motcua("import", *map(str, pages), "--procedure", "1.001193", "--channel", "postal", "--json",
                          home=agent_home)
    assert imported.returncode == 0, imported.stderr
    dossier = json.loads(imported.stdout)
    assert dossier["state"] == "captured" and dossier["pages"] == 3
    assert dossier["code"].startswith(AGENCY + "-") and dossier["code"].endswith("-0001")

    sealed = run_motcua("seal", "--json", home=agent_home)
    assert json.loads(sealed.stdout)[0]["state"] == "sealed"

    synced = run_motcua("sync", "--json", home=agent_home)
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["committed"] == [dossier["code"]]
    # sealing signs the PDFs (and may encrypt them), so what travels is the sealed size
    assert report["bytes_sent"] == json.loads(sealed.stdout)[0]["size_bytes"]

    [row] = queue_json(agent_home)
    assert row["state"] == "purged"  # retention 0: payload gone after a verified receipt
    assert not any(p.is_file() for p in (agent_home / "blobs").rglob("*") if p.parent.name != "tmp")

    # The receipt held by the agent verifies against the pinned hub key.
    import sqlite3

    conn = sqlite3.connect(agent_home / "outbox.db")
    receipt_json, manifest_hash = conn.execute("SELECT receipt, manifest_hash FROM dossiers").fetchone()
    conn.close()
    config = json.loads((agent_home / "config.json").read_text())
    receipt = verify_receipt(Envelope.from_dict(json.loads(receipt_json)),
                             public_key_from_text(config["hub_public_key"]), manifest_hash)
    assert receipt.dossier_code == dossier["code"]

    # The hub holds the payload bytes exactly once, and reports status "new".
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(1,)]
    status = run_motcua("status", dossier["code"], "--json", home=agent_home)
    assert json.loads(status.stdout)["hub"]["status_name"] == "new"

    # Syncing again sends nothing and changes nothing.
    again = json.loads(run_motcua("sync", "--json", home=agent_home).stdout)
    assert again["committed"] == [] and again["bytes_sent"] == 0


def test_queue_table_shows_code_state_size_attempts(hub, agent, agent_home, pages):
    from agent.capture.files import import_files

    dossier = import_files(agent, pages, "1.004222", "counter")
    table = run_motcua("queue", home=agent_home)
    assert table.returncode == 0
    assert dossier.code in table.stdout and "captured" in table.stdout and str(dossier.size_bytes) in table.stdout


def test_openapi_is_served(hub):
    import requests

    spec = requests.get(hub.url + "/openapi.json", timeout=5).json()
    for path in ("/v1/enrol", "/v1/uploads", "/v1/uploads/{upload_id}", "/v1/commits", "/v1/dossiers/{dossier_id}"):
        assert path in spec["paths"], path
