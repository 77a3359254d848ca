"""Reference data the province publishes: hub import/publish, the feed announces it, desks verify and apply it.

A real hub process, real agents (SQLite outbox, files in a tmp home), the real CLI.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from agent.delivery import reference_data
from agent.delivery.feed import pull_feed, try_pull_feed
from agent.desk import refdata as desk_refdata
from agent.desk.catalogue import Catalogue
from agent.desk.holidays import DEFAULT_TABLE, HolidayCalendar
from agent.desk.intake import current_due, get_intake, save_intake
from agent.ops.audit import AuditLog
from sync_protocol.refdata import SCHEMA

from .conftest import AGENCY, assert_clean_failure, run_motcua
from .fixtures_servers import pg_url, postgres_server  # noqa: F401 - fixtures


def hub_cli(hub, *args: str):
    return run_motcua("hub", "refdata", *args, "--data", str(hub.data_dir))


def calendar_with(tmp_path: Path, name: str, change) -> Path:  # type: ignore[no-untyped-def]
    data = json.loads(DEFAULT_TABLE.read_text("utf-8"))
    change(data)
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def publish(hub) -> int:  # type: ignore[no-untyped-def]
    out = hub_cli(hub, "publish", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["version"]


def add_2027(data: dict) -> None:
    data["years"]["2027"] = {"status": "announced", "holidays": {}, "days_off": [], "working_days": [],
                             "source": "test: a province's announcement"}


def fake_intake(agent, received: str, days: int, due: str, version: str = "2026.2") -> str:  # type: ignore[no-untyped-def]
    """An intake row for a captured dossier (no scans needed for due-date bookkeeping)."""
    dossier = agent.outbox.add_captured(procedure_code="1.004222", channel="counter", agency_code=AGENCY,
                                        code_block=agent.config.code_block, documents=[])
    save_intake(agent, dossier, {"procedure_code": "1.004222", "channel": "counter", "return_method": "counter",
                                 "received_at": received, "processing_days": days, "due_at": due,
                                 "calendar_version": version, "documents_received": ["Tờ khai đăng ký thường trú"]})
    return dossier.id


def test_import_reports_bad_rows_by_line_and_imports_nothing(hub, tmp_path):
    bad = tmp_path / "danh-muc.csv"
    bad.write_text("code,name_vi,processing_days,documents\n"
                   "1.001193,Đăng ký khai sinh,0,Tờ khai [bản chính]\n"
                   "1.00119,Sai mã,1,Tờ khai\n"
                   "1.004222,Đăng ký thường trú,bảy,CT01 [bản nháp]\n", "utf-8")
    out = hub_cli(hub, "import", "catalogue", str(bad))
    text = assert_clean_failure(out, "line 3", "1.00119", "line 4", "dòng 4", "nothing imported")
    assert "processing_days" in text and "documents" in text
    shown = json.loads(hub_cli(hub, "show", "--json").stdout)
    assert shown["sets"]["catalogue"]["source"].startswith("default") and shown["versions"] == []

    agencies = tmp_path / "co-quan.csv"
    agencies.write_text("code,name_vi\n000.00.01.H29,UBND xã Thử Nghiệm\nkhông-hợp-lệ,Xã B\n", "utf-8")
    assert_clean_failure(hub_cli(hub, "import", "agencies", str(agencies)), "line 3", "agency code")
    calendar = tmp_path / "lich.csv"
    calendar.write_text("date,kind,rule,source\n2027-02-30,holiday,tet,x\n2027-01-01,party,,x\n", "utf-8")
    assert_clean_failure(hub_cli(hub, "import", "calendar", str(calendar)), "line 2", "line 3")
    templates = tmp_path / "mau.csv"
    templates.write_text("status,text\n2,Hồ sơ {code} đã nhận\n11,Sai mã\n5,Chào {name}\n", "utf-8")
    assert_clean_failure(hub_cli(hub, "import", "templates", str(templates)), "line 3", "line 4", "unknown placeholder")
    broken = tmp_path / "lich.json"
    broken.write_text('{"schema": "motcua.holidays/1", "years": {"2027": {"days_off": ["2026-05-01"]}}}', "utf-8")
    assert_clean_failure(hub_cli(hub, "import", "calendar", str(broken)), "years.2027.days_off", "outside 2027")
    assert hub.sql("SELECT COUNT(*) FROM refdata_drafts") == [(0,)]


def test_publish_feed_desk_applies(hub, agent, agent_home, tmp_path):
    # before anything is published the desk uses its shipped tables, and old-style feed pages still work
    assert pull_feed(agent)["fetched"] == 0 and desk_refdata.current_version(agent_home) == 0
    agencies = tmp_path / "co-quan.csv"
    agencies.write_text(f"code,name_vi\n{AGENCY},UBND xã Thử Nghiệm (tên chính thức)\n", "utf-8")
    assert hub_cli(hub, "import", "agencies", str(agencies)).returncode == 0
    calendar = tmp_path / "lich.csv"
    calendar.write_text("date,kind,rule,source\n2027-02-05,holiday,tet,Thông báo thử\n"
                        "2027-02-08,day_off,,Thông báo thử\n2027-02-20,working_day,,Thông báo thử\n", "utf-8")
    imported = hub_cli(hub, "import", "calendar", str(calendar), "--json")
    assert imported.returncode == 0, imported.stderr
    assert publish(hub) == 1
    again = hub_cli(hub, "publish")
    assert_clean_failure(again, "nothing changed", "Không có gì thay đổi")

    assert pull_feed(agent)["cursor"] == 0
    assert desk_refdata.current_version(agent_home) == 1
    calendar_now = HolidayCalendar.for_home(agent_home)
    assert calendar_now.version == "refdata-1"
    assert not calendar_now.is_working_day(date(2027, 2, 8)) and calendar_now.is_working_day(date(2027, 2, 20))
    assert desk_refdata.agency_name(agent_home, AGENCY, "x") == "UBND xã Thử Nghiệm (tên chính thức)"
    assert Catalogue.for_home(agent_home).get("2.000635").code_verified
    assert reference_data.state(agent) == {"fetched": 1, "applied": 1, "error": ""}
    actions = [e["action"] for e in AuditLog(agent_home / "audit.db").entries()]
    assert "refdata.applied" in actions

    # a second version replaces it; the previous one is kept on disk, older ones are not
    assert hub_cli(hub, "import", "calendar", str(calendar_with(tmp_path, "c.json", add_2027))).returncode == 0
    assert publish(hub) == 2
    pull_feed(agent)
    assert desk_refdata.status(agent_home)["version"] == 2 and desk_refdata.previous_version(agent_home) == 1
    assert sorted(p.name for p in (agent_home / "refdata").glob("v*.json")) == ["v1.json", "v2.json"]
    assert publish_third(hub, tmp_path) == 3
    pull_feed(agent)
    assert sorted(p.name for p in (agent_home / "refdata").glob("v*.json")) == ["v2.json", "v3.json"]


def publish_third(hub, tmp_path: Path) -> int:  # type: ignore[no-untyped-def]
    templates = tmp_path / "mau.csv"
    templates.write_text("status,text\n2,Hồ sơ {code} đã được tiếp nhận (mẫu của tỉnh).\n", "utf-8")
    assert hub_cli(hub, "import", "templates", str(templates)).returncode == 0
    return publish(hub)


def test_tampered_signature_is_refused_and_the_old_version_stays(hub, agent, agent_home, tmp_path):
    publish(hub)
    pull_feed(agent)
    assert desk_refdata.current_version(agent_home) == 1
    assert hub_cli(hub, "import", "calendar", str(calendar_with(tmp_path, "c.json", add_2027))).returncode == 0
    publish(hub)
    # someone with write access to the hub's database (not its key) changes version 2
    envelope = json.loads(hub.sql("SELECT envelope FROM refdata_versions WHERE version=2")[0][0])
    envelope["document"]["calendar"]["years"]["2027"]["days_off"] = ["2027-03-01"]
    conn = sqlite3.connect(hub.data_dir / "hub.db")
    with conn:
        conn.execute("UPDATE refdata_versions SET envelope=? WHERE version=2", (json.dumps(envelope),))
    conn.close()
    pull_feed(agent)
    assert desk_refdata.current_version(agent_home) == 1
    state = reference_data.state(agent)
    assert state["fetched"] == 1 and "refused" in state["error"]
    assert HolidayCalendar.for_home(agent_home).is_working_day(date(2027, 3, 1))

    # the desk's own check refuses a forged document handed to it directly (e.g. from a USB stick)
    forged = json.loads((agent_home / "refdata" / "v1.json").read_text("utf-8"))
    forged["document"]["version"] = 9
    with pytest.raises(desk_refdata.RefdataRefused) as err:
        desk_refdata.apply_refdata(agent, json.dumps(forged))
    assert "refused" in err.value.message_en and "Không áp dụng" in err.value.message_vi
    assert desk_refdata.current_version(agent_home) == 1
    assert "refdata.refused" in [e["action"] for e in AuditLog(agent_home / "audit.db").entries()]


def test_offline_desk_keeps_the_last_version(hub, agent, agent_home, tmp_path):
    publish(hub)
    pull_feed(agent)
    hub.stop()
    assert hub_cli(hub, "import", "calendar", str(calendar_with(tmp_path, "c.json", add_2027))).returncode == 0
    publish(hub)  # published while this desk has no link
    assert try_pull_feed(agent) is not None  # the link is down: reported, not raised
    assert desk_refdata.current_version(agent_home) == 1
    assert HolidayCalendar.for_home(agent_home).version == "refdata-1"
    hub.start()
    pull_feed(agent)
    assert desk_refdata.current_version(agent_home) == 2


def test_due_date_keeps_its_version_and_recomputation_is_audited(hub, agent, agent_home, tmp_path):
    # two dossiers received under the shipped calendar: one across 24/11/2026, one in December
    across = fake_intake(agent, "2026-11-23T02:00:00Z", 1, "2026-11-25T10:00:00Z")
    december = fake_intake(agent, "2026-12-01T02:00:00Z", 1, "2026-12-02T10:00:00Z")

    # the province publishes a calendar with 2027 announced: neither due date changes, both keep their version
    assert hub_cli(hub, "import", "calendar", str(calendar_with(tmp_path, "a.json", add_2027))).returncode == 0
    publish(hub)
    pull_feed(agent)
    assert get_intake(agent, across).calendar_version == "2026.2"
    assert get_intake(agent, december).calendar_version == "2026.2"
    assert desk_refdata.due_date_history(agent, across) == []

    # the province decides 24/11 is not a day off after all: only the dossier across it is recomputed
    def drop_culture_day(data: dict) -> None:
        add_2027(data)
        data["rules"] = [r for r in data["rules"] if r["id"] != "culture_day"]

    assert hub_cli(hub, "import", "calendar", str(calendar_with(tmp_path, "b.json", drop_culture_day))).returncode == 0
    publish(hub)
    pull_feed(agent)
    record = get_intake(agent, across)
    assert (record.due_at, record.calendar_version) == ("2026-11-24T10:00:00Z", "refdata-2")
    assert current_due(agent, record).date() == date(2026, 11, 24)
    [change] = desk_refdata.due_date_history(agent, across)
    assert change["old_due"] == "2026-11-25T10:00:00Z" and change["new_due"] == "2026-11-24T10:00:00Z"
    assert change["old_version"] == "2026.2" and change["new_version"] == "refdata-2"
    assert get_intake(agent, december).calendar_version == "2026.2"  # unchanged: keeps the version that made it


def test_refdata_endpoint_needs_an_enrolled_device(hub, agent):
    import requests

    publish(hub)
    assert requests.get(hub.url + "/v1/refdata/1", timeout=10).status_code == 401
    assert agent.hub.refdata(1)["document"]["schema"] == SCHEMA
    missing = agent.hub._send("GET", "/v1/refdata/7")
    assert missing.status_code == 404 and missing.json()["error"] == "refdata_unknown" and missing.json()["reason_vi"]
    huge = agent.hub._send("GET", "/v1/refdata/" + "9" * 30)
    assert huge.status_code == 400 and "reason" in huge.json()


def test_hub_defaults_match_the_desk_tables():
    """The hub publishes its defaults until a province imports its own: they must be the desk's corrected tables."""
    root = Path(__file__).resolve().parent.parent
    for hub_file, desk_file in (("holidays.json", "holidays.json"), ("catalogue.json", "catalogue.json"),
                                ("notification_templates.json", "notification_templates.json")):
        assert json.loads((root / "hub/data" / hub_file).read_text("utf-8")) == \
            json.loads((root / "agent/desk/data" / desk_file).read_text("utf-8")), hub_file


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_import_and_publish_on_both_metadata_backends(backend, tmp_path, request):
    """hub.refdata on SQLite and on PostgreSQL (the migration adds its tables to both)."""
    from hub import refdata as hub_refdata
    from hub.config import HubConfig
    from hub.state import HubState
    from sync_protocol.refdata import verify_refdata
    from sync_protocol.signed_document import Envelope

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    state = HubState.open(HubConfig(data_dir=tmp_path / "hub", database_url=url, database_pool_size=4))
    try:
        agencies = tmp_path / "a.csv"
        agencies.write_text(f"code,name_vi\n{AGENCY},Xã A\n", "utf-8")
        assert hub_refdata.import_set(state, "agencies", agencies)["entries"] == 1
        first = hub_refdata.publish(state)
        assert first["version"] == 1 and hub_refdata.feed_field(state)["refdata"]["version"] == 1
        with pytest.raises(hub_refdata.Conflict):
            hub_refdata.publish(state)
        bad = tmp_path / "b.csv"
        bad.write_text("code,name_vi\n,Xã B\n", "utf-8")
        with pytest.raises(hub_refdata.RefdataInvalid) as err:
            hub_refdata.import_set(state, "agencies", bad)
        assert err.value.problems[0][0] == 2
        envelope = Envelope.from_dict(hub_refdata.signed_version(state, 1))
        assert verify_refdata(envelope, state.hub_key.public_key())["agencies"]["agencies"] == {AGENCY: "Xã A"}
        assert envelope.document_hash == first["document_hash"]
    finally:
        state.storage.close()
