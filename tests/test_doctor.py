"""`motcua doctor` on a healthy desk and on broken ones: each problem named in Vietnamese and English,
exit status 0 (ok) / 1 (warnings) / 2 (failures), never a traceback."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from agent.ops.doctor import FAIL, OK, WARN, Check, _Hub, check_clock, check_disk, run_doctor

from .conftest import run_motcua
from .fixtures_servers import quick_dossier


def _doctor(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict]]:
    result = run_motcua("doctor", "--json", *args, home=home, env=env)
    assert "Traceback" not in result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["exit_code"] == result.returncode
    return result.returncode, {c["name"]: c for c in report["checks"]}


def test_healthy_desk_passes_every_check(hub, agent, agent_home, sane_test_backend):
    from .test_refdata_ui import confirmed_calendar

    # a calendar with this and next year announced and nothing unverified (tests/test_refdata_ui.py covers the rest)
    confirmed_calendar(agent_home, keep_culture_day=True).rename(agent_home / "holidays.json")
    (agent_home / "notify.json").write_text('{"sender": "webhook", "url": "http://127.0.0.1:9/sms"}')
    code, checks = _doctor(agent_home, env=sane_test_backend)
    assert code == 0, checks
    assert {name: c["status"] for name, c in checks.items()} == {
        "enrolment": OK, "hub": OK, "clock": OK, "device": OK, "disk": OK, "scanner": OK, "queue": OK,
        "rejected": OK, "last_sync": OK, "calendar": OK, "messages": OK}
    assert "test:0" in checks["scanner"]["message_en"]
    text = run_motcua("doctor", home=agent_home, env=sane_test_backend)
    assert text.returncode == 0 and "Mọi thứ ổn / all good" in text.stdout


def test_hub_down_is_a_failure_and_says_the_queue_is_safe(hub, agent, agent_home):
    hub.stop()
    code, checks = _doctor(agent_home, "--no-scanner")
    assert code == 2
    assert checks["hub"]["status"] == FAIL
    assert "Không kết nối được trung tâm" in checks["hub"]["message_vi"] and "Cannot reach" in checks["hub"]["message_en"]
    assert "hàng đợi" in checks["hub"]["hint"]
    assert checks["clock"]["status"] == checks["device"]["status"] == "skip"
    text = run_motcua("doctor", "--no-scanner", home=agent_home)
    assert text.returncode == 2 and "[ LỖI/FAIL ] hub" in text.stdout


def test_hub_that_does_not_speak_tls_fails_the_tls_check(hub, agent, agent_home):
    config = json.loads((agent_home / "config.json").read_text())
    config["hub_url"] = hub.url.replace("http://", "https://")  # the hub answers plain HTTP: TLS handshake fails
    (agent_home / "config.json").write_text(json.dumps(config))
    code, checks = _doctor(agent_home, "--no-scanner")
    assert code == 2 and "TLS" in checks["hub"]["message_en"] and "TLS" in checks["hub"]["message_vi"]


def test_revoked_device_is_a_failure(hub, agent, agent_home):
    revoked = run_motcua("hub", "revoke", agent.config.device_id, "--reason", "máy bị mất", "--data", str(hub.data_dir))
    assert revoked.returncode == 0, revoked.stderr
    code, checks = _doctor(agent_home, "--no-scanner")
    assert code == 2 and checks["device"]["status"] == FAIL and "thu hồi" in checks["device"]["message_vi"]


def test_rejected_dossiers_and_missing_scanner_are_warnings(hub, agent, agent_home, tmp_path):
    dossier = quick_dossier(agent)
    agent.outbox.mark_rejected(dossier.id, "Thiếu trang / missing page")
    empty = tmp_path / "no-scanners"
    empty.mkdir()
    (empty / "dll.conf").write_text("")
    code, checks = _doctor(agent_home, env={"SANE_CONFIG_DIR": str(empty)})
    assert code == 1
    assert checks["rejected"]["status"] == WARN and checks["rejected"]["hint"] == "motcua queue --state rejected"
    assert checks["scanner"]["status"] == WARN and "Không thấy máy quét" in checks["scanner"]["message_vi"]
    # No notify.json: messages only go to a folder, which is a warning, never "sent".
    assert checks["messages"]["status"] == WARN and "chỉ được ghi ra thư mục" in checks["messages"]["message_vi"]


def test_damaged_outbox_is_reported_not_crashed_on(hub, agent, agent_home):
    agent.outbox.counts()  # the outbox exists
    agent.close()
    db = agent_home / "outbox.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    raw = bytearray(db.read_bytes())
    raw[100:4096] = b"\x00garbage" * ((4096 - 100) // 8)
    db.write_bytes(bytes(raw))
    code, checks = _doctor(agent_home, "--no-scanner")
    assert code == 2 and checks["queue"]["status"] == FAIL and "bị hỏng" in checks["queue"]["message_vi"]


def test_not_enrolled_desk_says_how_to_enrol(tmp_path):
    code, checks = _doctor(tmp_path / "fresh", "--no-scanner")
    assert code == 2 and checks["enrolment"]["status"] == FAIL and checks["enrolment"]["hint"].startswith("motcua init")
    assert checks["hub"]["status"] == "skip"


def test_clock_offset_and_disk_thresholds(agent, monkeypatch):
    hub = _Hub()
    hub.offset = 10
    assert check_clock(agent, hub).status == OK
    hub.offset = -700
    warned = check_clock(agent, hub)
    assert warned.status == WARN and "-700" in warned.message_vi and "time sync" in warned.hint
    monkeypatch.setattr("agent.ops.doctor.DISK_FAIL", 1 << 62)  # pretend the disk needs more than exists
    assert check_disk(agent, hub).status == FAIL


def test_a_crashing_check_is_reported_as_a_failure(agent, monkeypatch):
    def explode(ctx, hub) -> Check:
        raise RuntimeError("boom")

    monkeypatch.setattr("agent.ops.doctor.CHECKS", [explode])
    report = run_doctor(agent)
    assert report.exit_code == 2 and report.checks[0].name == "explode" and "boom" in report.checks[0].message_en


def test_sqlite_file_is_left_untouched_by_doctor(hub, agent, agent_home):
    agent.outbox.counts()
    before = sqlite3.connect(agent_home / "outbox.db").execute("PRAGMA user_version").fetchone()
    _doctor(agent_home, "--no-scanner")
    assert sqlite3.connect(agent_home / "outbox.db").execute("PRAGMA user_version").fetchone() == before
