"""A courier's proof of delivery travels back to the hub and closes the loop as status 10."""
from __future__ import annotations

import json

from agent.desk.courier import list_tasks, pending_proofs, record_delivery, record_failed_attempt
from agent.delivery.feed import events_of
from agent.desk.intake import IntakeForm, take_in
from agent.delivery.sync import sync_once

from .conftest import run_motcua
from .test_courier import png
from .test_intake import GOOD


def _delivered_dossier(hub, agent, pages, failed_first: bool = False):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    assert sync_once(agent).committed == [dossier.code]
    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9", "--note", "Có kết quả")
    assert posted.returncode == 0, posted.stderr
    sync_once(agent)  # the feed brings "result ready", which makes the courier task
    [task] = list_tasks(agent)
    assert task["dossier_code"] == dossier.code
    if failed_first:  # a first attempt found nobody at home
        record_failed_attempt(agent, dossier.code, "not_home")
    envelope = record_delivery(agent, dossier.code, recipient_name="Trần Văn Nam", relation="Vợ/chồng",
                               id_last_digits="1234", signature=png())
    return dossier, envelope


def test_proof_reaches_hub_and_status_becomes_returned(hub, agent, pages):
    dossier, envelope = _delivered_dossier(hub, agent, pages)
    [evidence] = envelope.document["evidence"]

    report = sync_once(agent)
    assert report.proofs_sent == 1 and report.complete
    assert pending_proofs(agent) == []
    assert not agent.outbox.blobs.has(evidence["sha256"])  # minimum data: the hub holds it now

    [(kind, stored)] = hub.sql("SELECT kind, envelope FROM delivery_proofs")
    assert kind == "delivered" and json.loads(stored)["document"]["record_id"] == envelope.document["record_id"]
    assert hub.sql("SELECT status FROM dossiers WHERE dossier_id=?", (dossier.id,)) == [(10,)]
    assert hub.sql("SELECT COUNT(*) FROM object_owners WHERE sha256=?", (evidence["sha256"],)) == [(1,)]
    # the desk learns "result returned" from the feed in the same pass
    assert [e["status"] for e in events_of(agent, dossier.id)][-1] == 10

    again = sync_once(agent)
    assert again.proofs_sent == 0 and again.bytes_sent == 0


def test_tampered_proof_is_refused_and_stays_pending(hub, agent, pages):
    dossier, envelope = _delivered_dossier(hub, agent, pages)
    forged = envelope.to_dict()
    forged["document"]["recipient"]["name"] = "Người Khác"
    with agent.outbox.transaction() as conn:
        conn.execute("UPDATE delivery_records SET envelope=? WHERE id=?",
                     (json.dumps(forged, ensure_ascii=False), envelope.document["record_id"]))

    report = sync_once(agent)
    assert report.proofs_sent == 0 and report.unreachable is None
    assert len(pending_proofs(agent)) == 1
    assert hub.sql("SELECT COUNT(*) FROM delivery_proofs") == [(0,)]
    assert hub.sql("SELECT status FROM dossiers WHERE dossier_id=?", (dossier.id,)) == [(9,)]
