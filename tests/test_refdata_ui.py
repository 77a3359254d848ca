"""What staff see about reference data: doctor and dashboard warnings, "lịch chưa xác nhận" on the dossier and
the slip, the audited due-date recomputation on the dossier page (real hub, real CLI, real Chromium)."""
from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from agent.delivery.feed import pull_feed
from agent.desk.due_dates import vn
from agent.desk.holidays import DEFAULT_TABLE

from .conftest import run_motcua
from .test_refdata import fake_intake, hub_cli, publish
from .web_support import CHROMIUM, browser, login, login_session, ui  # noqa: F401 - fixtures

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make deps)")


def confirmed_calendar(tmp_path: Path, *, keep_culture_day: bool) -> Path:
    """The shipped calendar with 2027 announced and 24/11 either confirmed or dropped by the province."""
    data = json.loads(DEFAULT_TABLE.read_text("utf-8"))
    for year in (2027, date.today().year, date.today().year + 1):  # doctor looks at this year and the next
        data["years"].setdefault(str(year), {"status": "announced", "holidays": {}, "days_off": [], "working_days": []})
    if keep_culture_day:
        next(r for r in data["rules"] if r["id"] == "culture_day")["verified"] = True
    else:
        data["rules"] = [r for r in data["rules"] if r["id"] != "culture_day"]
    path = tmp_path / "lich-da-xac-nhan.json"
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    return path


def doctor_calendar(home: Path) -> dict:
    result = run_motcua("doctor", "--json", home=home)
    assert "Traceback" not in result.stdout + result.stderr
    return {c["name"]: c for c in json.loads(result.stdout)["checks"]}["calendar"]


def test_doctor_warns_until_the_province_publishes_a_confirmed_calendar(hub, agent, agent_home, tmp_path):
    check = doctor_calendar(agent_home)
    assert check["status"] == "warn"
    assert "2027" in check["message_en"] and "24/11/2026" in check["message_vi"] and "cần đối chiếu" in check["message_vi"]
    assert "shipped table" in check["message_en"]
    assert hub_cli(hub, "import", "calendar", str(confirmed_calendar(tmp_path, keep_culture_day=True))).returncode == 0
    publish(hub)
    pull_feed(agent)
    check = doctor_calendar(agent_home)
    assert check["status"] == "ok" and "version 1" in check["message_en"], check


def test_slip_marks_an_unconfirmed_due_date_and_only_a4_a5_are_served(hub, agent, agent_home, ui):  # noqa: F811
    dossier = fake_intake(agent, "2026-11-23T02:00:00Z", 1, "2026-11-25T10:00:00Z")
    code = agent.outbox.get(dossier).code
    officer = login_session(ui)
    for size in ("A3", "a4", "A4%00", "x" * 500):
        bad = officer.get(f"{ui}/dossiers/{code}/slip.pdf", params={"size": size}, timeout=30)
        assert bad.status_code == 400 and "A4" in bad.text and "Traceback" not in bad.text
    good = officer.get(f"{ui}/dossiers/{code}/slip.pdf", params={"size": "A5"}, timeout=60)
    assert good.status_code == 200 and good.headers["content-type"] == "application/pdf"
    text = " ".join(subprocess.run(["pdftotext", "-", "-"], input=good.content, capture_output=True,
                                   check=True).stdout.decode().split())
    assert "lịch chưa xác nhận" in text and "25/11/2026" in text


@needs_chromium
def test_dashboard_and_dossier_page_show_warnings_and_the_recomputation(hub, agent, agent_home, ui, browser,  # noqa: F811
                                                                        tmp_path):
    dossier = fake_intake(agent, "2026-11-23T02:00:00Z", 1, "2026-11-25T10:00:00Z")
    code = agent.outbox.get(dossier).code
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/?lang=vi")
    warnings = page.locator("#calendar-warnings").inner_text()
    assert "2027" in warnings and "24/11/2026" in warnings
    assert "chưa có" in page.locator("#refdata-version").inner_text()
    page.goto(f"{ui}/dossiers/{code}")
    assert "25/11/2026" in page.locator("#due").inner_text()
    assert page.locator("#due-unconfirmed").inner_text() == "(lịch chưa xác nhận)"
    assert page.locator("#due-changes").count() == 0

    # the province drops 24/11 and announces 2027: the due date moves, audited and shown
    assert hub_cli(hub, "import", "calendar", str(confirmed_calendar(tmp_path, keep_culture_day=False))).returncode == 0
    publish(hub)
    pull_feed(agent)
    page.goto(f"{ui}/dossiers/{code}")
    assert "24/11/2026" in page.locator("#due").inner_text() and "refdata-1" in page.locator("#due").inner_text()
    assert page.locator("#due-unconfirmed").count() == 0
    change = page.locator("#due-changes").inner_text()
    assert "25/11/2026" in change and "24/11/2026" in change and "2026.2 → refdata-1" in change
    page.goto(ui + "/?lang=vi")
    assert page.locator("#refdata-version").inner_text() == "1"
    assert "đã xác nhận" in page.locator("#calendar-warnings").inner_text()
    page.close()


def test_due_dates_before_any_publication_are_computed_with_the_shipped_calendar():
    from agent.desk.due_dates import due_at, due_unconfirmed
    from agent.desk.holidays import HolidayCalendar

    cal = HolidayCalendar.for_home(None)
    due = due_at(vn(2026, 3, 2, 9), 5, cal)
    assert cal.version == "2026.2" and not due_unconfirmed(vn(2026, 3, 2, 9), due, cal)
