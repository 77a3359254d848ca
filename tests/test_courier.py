"""Courier mode: tasks from the feed, handover record, signed proofs of delivery and failed attempts."""
from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from agent.desk.courier import (handover, list_tasks, pending_proofs, record_delivery, record_failed_attempt, verify_proof,
                           Gps, mark_proofs_synced)
from agent.errors import InputError
from agent.desk.intake import IntakeForm, take_in
from agent.desk.workflows import on_status_event
from sync_protocol.errors import SignatureInvalid
from sync_protocol.signed_document import Envelope

from .conftest import run_motcua
from .test_intake import GOOD
from .test_notifications import event


def png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (60, 20), 255).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def ready(agent, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages, seal=False)
    on_status_event(agent, event(dossier, 1, 9, ready=True))
    return dossier


def test_result_ready_becomes_a_task_with_address(agent, ready, pages):
    [task] = list_tasks(agent)
    assert task["dossier_code"] == ready.code and task["state"] == "to_deliver"
    assert task["address"] == GOOD["address"] and task["phone"] == "0912345678"
    # a counter-return dossier never becomes a courier task
    counter, _ = take_in(agent, IntakeForm.from_mapping({**GOOD, "return_method": "counter"}), pages, seal=False)
    on_status_event(agent, event(counter, 2, 9, ready=True))
    assert [t["dossier_code"] for t in list_tasks(agent)] == [ready.code]


def test_handover_and_signed_delivery_proof(agent, ready):
    batch, pdf = handover(agent, [ready.code], "Lê Văn Cường")
    assert pdf.read_bytes().startswith(b"%PDF") and list_tasks(agent)[0]["state"] == "out"
    envelope = record_delivery(agent, ready.code, recipient_name="Trần Văn Nam", relation="Vợ/chồng",
                               id_last_digits="1234", signature=png(), gps=Gps(10.776889, 106.700806, 12))
    document = verify_proof(envelope, agent.device_key.public_key())
    assert document["kind"] == "delivered" and document["batch"] == batch and document["courier"] == "Lê Văn Cường"
    assert document["gps"] == {"lat_e6": 10776889, "lon_e6": 106700806, "accuracy_m": 12}
    [evidence] = document["evidence"]
    assert evidence["media_type"] == "image/png" and agent.outbox.blobs.has(evidence["sha256"])
    assert list_tasks(agent)[0]["state"] == "delivered"
    # queued for sync back, signed; tampering breaks the signature
    [pending] = pending_proofs(agent)
    assert pending.document_hash == envelope.document_hash
    forged = Envelope({**pending.document, "recipient": {**pending.document["recipient"], "name": "X"}},
                      pending.key_id, pending.signature)
    with pytest.raises(SignatureInvalid):
        verify_proof(forged, agent.device_key.public_key())
    mark_proofs_synced(agent, [document["record_id"]])
    assert pending_proofs(agent) == []
    with pytest.raises(InputError):  # delivered already
        record_delivery(agent, ready.code, recipient_name="A B", relation="x", id_last_digits="1234", signature=png())


def test_delivery_needs_evidence_and_valid_fields(agent, ready):
    with pytest.raises(InputError) as err:
        record_delivery(agent, ready.code, recipient_name="", relation="", id_last_digits="12")
    for what in ("họ tên người nhận", "4 số cuối", "chữ ký hoặc ảnh"):
        assert what in err.value.message_vi
    with pytest.raises(InputError) as err:
        record_delivery(agent, ready.code, recipient_name="Trần Nam", relation="Con", id_last_digits="1234",
                        photo=b"GIF89a not a photo")
    assert "PNG hoặc JPEG" in err.value.message_vi
    assert list_tasks(agent)[0]["state"] == "to_deliver" and pending_proofs(agent) == []


def test_three_failed_attempts_send_it_back_to_the_desk(agent, ready):
    with pytest.raises(InputError):
        record_failed_attempt(agent, ready.code, "dog_ate_it")
    with pytest.raises(InputError):
        record_failed_attempt(agent, ready.code, "other")  # needs a note
    for reason in ("not_home", "phone_unreachable", "not_home"):
        envelope = record_failed_attempt(agent, ready.code, reason, "Gọi 2 lần")
        assert verify_proof(envelope, agent.device_key.public_key())["reason"] == reason
    [task] = list_tasks(agent)
    assert task["state"] == "returned_to_desk" and task["attempts"] == 3
    assert len(pending_proofs(agent)) == 3


def test_returned_at_counter_closes_the_task(agent, ready):
    on_status_event(agent, event(ready, 5, 10))
    assert list_tasks(agent)[0]["state"] == "closed"


def test_courier_cli(agent, agent_home, ready, tmp_path):
    listed = run_motcua("courier", "list", "--json", home=agent_home)
    assert json.loads(listed.stdout)[0]["dossier_code"] == ready.code
    out = run_motcua("courier", "handover", ready.code, "--courier", "Lê Văn Cường", "--json", home=agent_home)
    assert out.returncode == 0, out.stderr
    sig = tmp_path / "sig.png"
    sig.write_bytes(png())
    done = run_motcua("courier", "deliver", ready.code, "--recipient", "Trần Văn Nam", "--relation", "Bản thân",
                      "--id-last", "1234", "--signature", str(sig), "--gps", "10.77,106.70", "--json", home=agent_home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["document"]["recipient"]["name"] == "Trần Văn Nam"
    again = run_motcua("courier", "fail", ready.code, "--reason", "not_home", home=agent_home)
    assert again.returncode == 1 and "delivered" in again.stderr and "Traceback" not in again.stderr
