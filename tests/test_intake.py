"""Intake at the desk: form validation, intake.json in the sealed dossier, due date, dossier codes."""
from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.desk.due_dates import vn
from agent.outbox.ids import dossier_code
from agent.desk.intake import IntakeForm, IntakeInvalid, check_citizen_id, get_intake, normalise_phone, take_in
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once

GOOD = {"applicant_name": "Nguyễn Thị Ánh Tuyết", "citizen_id": "079190001234", "birth_year": "1990",
        "phone": "0912 345 678", "address": "Số 5, ấp Phước Lợi, xã Tân Phú", "procedure_code": "1.004222",
        "channel": "counter", "return_method": "post", "delivery_address": "",
        "documents_received": ["Tờ khai thay đổi thông tin cư trú (CT01)"]}


@pytest.mark.parametrize("value, problem", [
    ("079190001234", None),
    ("001303000001", None),  # Hà Nội, female born 2003
    ("07919000123", "12 chữ số"),
    ("07919000123a", "12 chữ số"),
    ("003190001234", "mã tỉnh"),  # 003 is not a province code
    ("079299001234", "chưa tới"),  # born 2099: in the future
])
def test_citizen_id_checks(value, problem):
    found = check_citizen_id(value, today=vn(2026, 1, 5))
    assert (found is None) if problem is None else (problem in found[0])


def test_citizen_id_must_match_birth_year():
    assert "không khớp" in check_citizen_id("079190001234", birth_year=1991)[0]
    assert check_citizen_id("079190001234", birth_year=1990) is None


def test_phone_forms():
    assert normalise_phone("+84 912.345.678") == "0912345678"
    assert normalise_phone("0912-345-678") == "0912345678"
    assert normalise_phone("12345") is None


def test_form_reports_every_bad_field():
    from agent.desk.catalogue import Catalogue

    form = IntakeForm.from_mapping({**GOOD, "applicant_name": "", "citizen_id": "123", "phone": "abc",
                                    "procedure_code": "9.999999", "return_method": "drone"})
    with pytest.raises(IntakeInvalid) as err:
        form.validate(Catalogue.for_home(None))
    assert set(err.value.errors) == {"applicant_name", "citizen_id", "phone", "procedure_code", "return_method"}
    assert "Số định danh" in err.value.message_vi and "citizen ID" in err.value.message_en


def test_postal_return_needs_phone_and_a_postal_procedure():
    from agent.desk.catalogue import Catalogue

    catalogue = Catalogue.for_home(None)
    with pytest.raises(IntakeInvalid) as err:
        IntakeForm.from_mapping({**GOOD, "phone": ""}).validate(catalogue)
    assert set(err.value.errors) == {"phone"}
    with pytest.raises(IntakeInvalid) as err:
        IntakeForm.from_mapping({**GOOD, "procedure_code": "1.000894", "documents_received": []}).validate(catalogue)
    # nothing ticked is refused too: the slip lists what was received and never invents it
    assert set(err.value.errors) == {"return_method", "documents_received"}
    form = IntakeForm.from_mapping(GOOD)
    form.validate(catalogue)
    assert form.delivery_address == GOOD["address"] and form.phone == "0912345678"


def test_take_in_seals_intake_json_and_it_reaches_the_hub(hub, agent, pages, caplog):
    caplog.set_level("DEBUG")
    received = vn(2026, 2, 11, 9)
    dossier, record = take_in(agent, IntakeForm.from_mapping(GOOD), pages, received_at=received, seal=False)
    assert dossier.procedure_code == "1.004222" and dossier.code.endswith("-0001")
    # 7 working days from Wed 11 Feb 2026 across Tết: 12, 13, 23, 24, 25, 26, 27 Feb (17:00 = 10:00Z)
    assert record.due_at == "2026-02-27T10:00:00Z"
    [doc] = [d for d in agent.outbox.documents(dossier.id) if d.name == "intake.json"]
    assert doc.media_type == "application/json" and doc.pages == 0
    with agent.outbox.blobs.open(doc.sha256) as stream:
        stored = json.loads(stream.read())
    assert stored["applicant"]["citizen_id"] == "079190001234" and stored["return_method"] == "post"
    assert stored["schema"] == "motcua.intake/1" and stored["processing_days"] == 7

    assert seal_dossier(agent, dossier.id).state == "sealed"
    report = sync_once(agent)
    assert report.committed == [dossier.code]
    [(manifest_text,)] = hub.sql("SELECT signed_manifest FROM dossiers")
    objects = {o["name"]: o for o in json.loads(manifest_text)["document"]["objects"]}
    assert objects["intake.json"]["media_type"] == "application/json"
    # the desk keeps its local copy after the payload is purged
    assert agent.outbox.get(dossier.id).state == "purged"
    assert get_intake(agent, dossier.id).applicant["applicant_name"] == GOOD["applicant_name"]
    # no personal data in the logs
    logs = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("Ánh Tuyết", "079190001234", "0912345678", "Phước Lợi"):
        assert secret not in logs


def test_bad_form_queues_nothing(agent, pages):
    with pytest.raises(IntakeInvalid):
        take_in(agent, IntakeForm.from_mapping({**GOOD, "citizen_id": "000000000000"}), pages)
    assert agent.outbox.list() == []


def test_lost_intake_row_is_rebuilt_from_the_payload(agent, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages, seal=False)
    with agent.outbox.transaction() as conn:
        conn.execute("DELETE FROM intake")
    assert get_intake(agent, dossier.id).applicant["citizen_id"] == "079190001234"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_two_devices_of_one_agency_never_collide(data):
    """Each device owns a block 0-9 (hub-assigned); whatever each issues per day, codes stay distinct."""
    blocks = data.draw(st.lists(st.integers(0, 9), min_size=2, max_size=4, unique=True))
    days = data.draw(st.lists(st.dates(date(2025, 1, 1), date(2027, 12, 31)), min_size=1, max_size=3, unique=True))
    seen: dict[str, int] = {}
    for block in blocks:
        for day in days:
            issued = data.draw(st.integers(1, 999))
            for n in sorted(data.draw(st.sets(st.integers(1, 999), max_size=20)) | {1, issued}):
                code = dossier_code("000.00.01.H29", day.strftime("%y%m%d"), block, n)
                assert seen.setdefault(code, block) == block, f"{code} issued by blocks {seen[code]} and {block}"
    for bad in ((10, 1), (-1, 1), (0, 0), (0, 1000)):
        with pytest.raises(ValueError):
            dossier_code("000.00.01.H29", "260101", *bad)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.dates(date(2026, 2, 15), date(2026, 2, 18))), min_size=1, max_size=40),
       st.lists(st.integers(0, 9), min_size=2, max_size=2, unique=True))
def test_two_real_outboxes_never_collide(captures, blocks):
    """Two devices' real SQLite outboxes issuing codes offline on the same days (blocks from the hub)."""
    import tempfile
    from pathlib import Path

    from agent.outbox.store import Outbox

    with tempfile.TemporaryDirectory() as tmp:
        boxes = [Outbox(Path(tmp) / f"d{i}.db", Path(tmp) / f"blobs{i}") for i in (0, 1)]
        try:
            codes = [boxes[i].add_captured(procedure_code="1.001193", channel="counter", agency_code="000.00.01.H29",
                                           code_block=blocks[i], documents=[], received_at=vn(d.year, d.month, d.day)).code
                     for i, d in captures]
        finally:
            for box in boxes:
                box.close()
    assert len(set(codes)) == len(codes)
