"""USB bundles: a courier carries sealed dossiers to the hub and receipts back."""
from __future__ import annotations

import json
from pathlib import Path

from agent.delivery.sync import sync_once
from sync_protocol.bundle import INDEX_NAME, bundle_dir_name
from sync_protocol.keys import public_key_from_text
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from .chaos.dossiers import make_dossier
from .conftest import assert_clean_failure, queue_json, run_motcua


def _hub_import(hub, stick: Path):
    return run_motcua("hub", "import", "--data", str(hub.data_dir), str(stick), "--json")


def test_round_trip_export_import_receipts_back(hub, agent, agent_home, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    made = [make_dossier(agent, size) for size in (3_000, 40_000, 7_000)]
    exported = run_motcua("bundle", "export", str(stick), "--json", home=agent_home)
    assert exported.returncode == 0, exported.stderr
    assert sorted(json.loads(exported.stdout)["exported"]) == sorted(d.code for d in made)
    assert {r["state"] for r in queue_json(agent_home)} == {"sealed"}  # exporting delivers nothing by itself

    imported = _hub_import(hub, stick)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert sorted(json.loads(imported.stdout)["imported"]) == sorted(d.code for d in made)
    again = _hub_import(hub, stick)  # the same stick twice: nothing new, nothing doubled
    assert again.returncode == 0 and len(json.loads(again.stdout)["duplicates"]) == 3
    assert hub.sql("SELECT COUNT(*) FROM dossiers") == [(3,)]

    receipts = run_motcua("hub", "export-receipts", "--data", str(hub.data_dir), str(stick), "--json")
    assert receipts.returncode == 0, receipts.stderr
    back = run_motcua("bundle", "import-receipts", str(stick), "--json", home=agent_home)
    assert back.returncode == 0, back.stdout + back.stderr
    assert sorted(json.loads(back.stdout)["committed"]) == sorted(d.code for d in made)
    assert {r["state"] for r in queue_json(agent_home)} == {"purged"}  # verified receipt: payload may go
    hub_key = public_key_from_text(agent.config.hub_public_key)
    for dossier in made:
        fresh = agent.outbox.get(dossier.id)
        verify_receipt(Envelope.from_dict(json.loads(fresh.receipt)), hub_key, fresh.manifest_hash)
    assert sync_once(agent).bytes_sent == 0  # nothing left for HTTP


def test_corrupt_stick_reports_the_bad_dossiers_and_imports_the_rest(hub, agent, agent_home, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    good, truncated, garbled = (make_dossier(agent, 5_000) for _ in range(3))
    assert run_motcua("bundle", "export", str(stick), home=agent_home).returncode == 0
    root = stick / bundle_dir_name(agent.config.device_id)
    [doc] = agent.outbox.documents(truncated.id)
    victim = root / "objects" / doc.sha256
    victim.write_bytes(victim.read_bytes()[:1000])  # the stick was pulled out mid-copy
    manifest = root / "manifests" / f"{garbled.id}-v1"
    data = bytearray(manifest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    manifest.write_bytes(bytes(data))

    result = _hub_import(hub, stick)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == [good.code]
    failed = {f["dossier"]: f for f in report["failed"]}
    assert set(failed) == {truncated.code, garbled.code}
    assert doc.sha256 in failed[truncated.code]["reason"] and "truncated" in failed[truncated.code]["reason"]
    assert all(f["reason_vi"] for f in failed.values())
    assert hub.sql("SELECT dossier_code FROM dossiers") == [(good.code,)]

    # Mixing paths: HTTP then delivers the other two, and the USB copy of the first is not doubled.
    report = sync_once(agent)
    assert sorted(report.committed) == sorted(d.code for d in (good, truncated, garbled))
    assert hub.sql("SELECT COUNT(*), COUNT(DISTINCT dossier_id) FROM dossiers") == [(3, 3)]
    stored = hub.sql("SELECT receipt FROM dossiers WHERE dossier_id=?", (good.id,))[0][0]
    assert json.loads(stored) == json.loads(agent.outbox.get(good.id).receipt)  # one receipt, whichever path
    assert run_motcua("hub", "export-receipts", "--data", str(hub.data_dir), str(stick)).returncode == 0
    back = json.loads(run_motcua("bundle", "import-receipts", str(stick), "--json", home=agent_home).stdout)
    assert back["committed"] == [] and len(back["already"]) == 3


def test_incomplete_bundle_and_foreign_receipts_are_refused_clearly(hub, agent, agent_home, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    make_dossier(agent, 3_000)
    assert run_motcua("bundle", "export", str(stick), home=agent_home).returncode == 0
    (stick / bundle_dir_name(agent.config.device_id) / INDEX_NAME).unlink()  # export never finished
    result = run_motcua("hub", "import", "--data", str(hub.data_dir), str(stick))
    assert_clean_failure(result, "index.json", "xuất lại", exit_code=1)

    missing = run_motcua("bundle", "import-receipts", str(tmp_path / "empty"), home=agent_home)
    assert_clean_failure(missing, "Không có tệp biên nhận", "No receipts file")
    foreign = stick / "motcua-receipts"
    foreign.mkdir()
    (foreign / f"{agent.config.device_id}.json").write_text(json.dumps(
        {"schema": "motcua.receipts/1", "device_id": "dev_someoneelse01", "hub_key_id": "x", "created_at": "",
         "receipts": [], "events": []}), "utf-8")
    assert_clean_failure(run_motcua("bundle", "import-receipts", str(stick), home=agent_home), "thiết bị khác")
    no_drive = run_motcua("bundle", "export", str(tmp_path / "not-plugged-in"), home=agent_home)
    assert_clean_failure(no_drive, "ổ USB", "does not exist")
