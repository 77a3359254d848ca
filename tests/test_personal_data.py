"""Issue 12 item 8: once a result is returned and the retention has passed (or at once on request), nothing on
the desk names the citizen — checked by searching every byte of the agent home, database, WAL and all."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path


from agent.delivery.sync import sync_once
from agent.desk.courier import handover, record_delivery, records_of
from agent.desk.intake import IntakeForm, get_intake, take_in
from agent.desk.notifications import send_pending
from agent.desk.personal_data import purge_expired
from agent.ops.audit import AuditLog

from .conftest import assert_clean_failure, run_motcua
from .test_courier import png
from .test_intake import GOOD
from .web_support import login_session, ui  # noqa: F401 - fixture

RECIPIENT = "Trần Văn Nam"


def secrets_of(form: dict) -> list[bytes]:
    """Every form in which the citizen's data could sit in a file: UTF-8, JSON-escaped, phone as typed and normalised."""
    found = []
    for text in (form["applicant_name"], RECIPIENT, form["address"]):
        found += [text.encode("utf-8"), json.dumps(text)[1:-1].encode("ascii")]
    found += [form["citizen_id"].encode(), form["phone"].encode(), b"0912345678"]
    return found


def files_naming(home: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path.relative_to(home)}: {n!r}" for n in needles if n in data]
    return hits


def returned_dossier(hub, agent):  # type: ignore[no-untyped-def]
    """A dossier taken in with the citizen's data, messaged, handed to a courier, delivered, returned (status 10)."""
    from .conftest import sample_dossier

    pages = sample_dossier(agent.config.home.parent / "scans")
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    assert sync_once(agent).committed == [dossier.code]
    assert run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9").returncode == 0
    sync_once(agent)  # result ready: a message to the citizen's phone and a courier task
    assert send_pending(agent)["written"] >= 1  # written to <home>/notifications-out for the SMS gateway
    handover(agent, [dossier.code], "Lê Văn Cường")
    record_delivery(agent, dossier.code, recipient_name=RECIPIENT, relation="Vợ/chồng", id_last_digits="1234",
                    signature=png())
    assert sync_once(agent).proofs_sent == 1  # the hub records status 10 and the feed brings it back
    return dossier


def test_personal_data_is_gone_from_the_whole_home_after_the_retention(hub, agent, agent_home, ui, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    dossier = returned_dossier(hub, agent)
    needles = secrets_of(GOOD)
    assert files_naming(agent_home, needles), "the test must first see the data it expects to be removed"

    assert purge_expired(agent) == []  # returned just now: kept for the retention (30 days by default)
    assert get_intake(agent, dossier.id).applicant["applicant_name"] == GOOD["applicant_name"]
    later = datetime.now(timezone.utc) + timedelta(days=31)
    assert purge_expired(agent, now=later) == [dossier.code]
    assert purge_expired(agent, now=later) == []  # once

    record = get_intake(agent, dossier.id)
    assert record.applicant == {} and record.procedure_code == GOOD["procedure_code"] and record.due_at
    assert agent.outbox.get(dossier.id).code == dossier.code  # what is not personal stays
    [proof] = records_of(agent, dossier.id)
    assert proof["kind"] == "delivered" and proof["purged"] and "recipient" not in proof
    agent.close()
    assert files_naming(agent_home, needles) == []
    log_text = caplog.text
    page = login_session(ui).get(f"{ui}/dossiers/{dossier.code}", timeout=60)  # still works, names nobody
    assert page.status_code == 200 and dossier.code in page.text
    assert GOOD["applicant_name"] not in page.text and RECIPIENT not in page.text
    assert files_naming(agent_home, needles) == []
    assert not [n for n in needles if n.decode("utf-8", "replace") in log_text]
    entries = AuditLog(agent_home / "audit.db").entries(dossier.id)
    assert entries[-1]["action"] == "personal_data.purged" and entries[-1]["detail"] == {"reason": "retention"}


def test_purge_on_request_and_its_failures(hub, agent, agent_home, pages):
    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages)
    sync_once(agent)
    unknown = run_motcua("purge-personal-data", "000.00.01.H29-991231-0001", home=agent_home)
    assert_clean_failure(unknown, "000.00.01.H29-991231-0001")

    # a proof of delivery the hub has not received yet is never destroyed
    assert run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9").returncode == 0
    sync_once(agent)
    record_delivery(agent, dossier.code, recipient_name=RECIPIENT, relation="Con", id_last_digits="1234",
                    signature=png())
    agent.close()
    waiting = run_motcua("purge-personal-data", dossier.code, home=agent_home)
    assert_clean_failure(waiting, "chưa gửi trung tâm", "sync first")

    assert run_motcua("sync", home=agent_home).returncode == 0
    done = run_motcua("purge-personal-data", dossier.code, "--json", home=agent_home)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dossier_code"] == dossier.code
    assert files_naming(agent_home, secrets_of(GOOD)) == []

