"""The desk's daily view in real Chromium: search by code, name (without diacritics), ID or phone;
due lists with a paused dossier shown as paused, not late; a result handed back at the counter
with the receiver's ID checked, reaching the hub as status 10."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from agent.context import AgentContext
from sync_protocol.timestamps import format_utc

from agent.desk.intake import IntakeForm, take_in

from .conftest import run_motcua
from .web_support import OFFICER, browser, login, needs_chromium, shots, sign_on_pad, ui  # noqa: F401 - fixtures

pytestmark = needs_chromium


def _take_in(agent, pages, name: str, citizen_id: str, phone: str, days_ago: int = 0):
    form = IntakeForm.from_mapping({"applicant_name": name, "citizen_id": citizen_id, "phone": phone,
                                    "address": "Thôn 1, xã Tân Phú", "procedure_code": "1.004222",
                                    "documents_received": ["Tờ khai thay đổi thông tin cư trú (CT01)"]})
    received = datetime.now(timezone.utc) - timedelta(days=days_ago)

    def run():  # in its own thread: Playwright's event loop runs in this one, and PDF signing starts its own
        ctx = AgentContext.open(agent.config.home)
        try:
            return take_in(ctx, form, pages[:1], received_at=received,
                           officer={"username": "lan", "full_name": OFFICER[1]})[0]
        finally:
            ctx.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def test_search_and_due_lists(agent, ui, browser, pages, shots):
    late = _take_in(agent, pages, "Nguyễn Thị Ánh Tuyết", "079190001234", "0912345678", days_ago=30)
    paused = _take_in(agent, pages, "Phạm Văn Đức", "001080012345", "0987654321", days_ago=30)
    with agent.outbox.transaction() as conn:  # the clock pause a status 5 event from the feed leaves
        conn.execute("INSERT INTO clock_pauses(dossier_id, started_at, reason) VALUES (?,?,?)",
                     (paused.id, format_utc(datetime.now(timezone.utc) - timedelta(days=20)), "supplement"))
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, ui)
    for query, expected in (("tuyet", late.code), ("nguyen anh", late.code), ("091 234 5678", late.code),
                            ("+84987654321", paused.code), ("001080012345", paused.code), (late.code, late.code),
                            ("Đức", paused.code)):
        page.goto(ui + "/search")
        page.get_by_label("Mã hồ sơ, họ tên, số định danh hoặc số điện thoại").fill(query)
        page.get_by_role("button", name="Tìm").click()
        page.wait_for_url("**/search?q=**")
        rows = page.locator("table.results tbody tr")
        assert rows.count() == 1 and expected in rows.inner_text(), query
    page.goto(ui + '/search?q="')  # a stray quote is a search for nothing, not an error
    assert page.locator("#no-results").is_visible() or page.locator("table.results").count() == 0
    page.goto(ui + "/search?q=khongco")
    assert page.locator("#no-results").is_visible()
    shots(page, "search")

    page.goto(ui + "/due")
    assert late.code in page.locator("#due-overdue").inner_text()
    paused_box = page.locator("#due-paused").inner_text()
    assert paused.code in paused_box and "Đang tạm dừng tính thời hạn" in paused_box
    assert paused.code not in page.locator("#due-overdue").inner_text()
    shots(page, "due")


def test_hand_back_at_the_counter(hub, agent, agent_home, ui, browser, pages):
    dossier = _take_in(agent, pages, "Nguyễn Thị Ánh Tuyết", "079190001234", "0912345678")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, ui)
    page.goto(f"{ui}/dossiers/{dossier.code}")
    page.get_by_role("button", name="Đồng bộ ngay").click()
    page.wait_for_url("**/dossiers/**")
    assert page.locator("#handback").count() == 0  # no result yet, nothing to hand back
    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9", "--note", "Đã ký")
    assert posted.returncode == 0, posted.stderr
    page.get_by_role("button", name="Đồng bộ ngay").click()
    page.wait_for_url("**/dossiers/**")
    assert page.locator("#portal-status").inner_text() == "9 · Đã xử lý xong"
    page.locator("#handback").click()
    page.wait_for_url("**/handback")

    page.get_by_label("Số định danh của người nhận (12 số)").fill("079190009999")  # not the applicant's
    sign_on_pad(page)
    page.get_by_role("button", name="Trả kết quả tại quầy").click()
    page.locator("#receiver_id-error").wait_for()
    assert "không khớp" in page.locator("#receiver_id-error").inner_text()
    page.get_by_label("Số định danh của người nhận (12 số)").fill("079190001234")
    sign_on_pad(page)
    page.get_by_role("button", name="Trả kết quả tại quầy").click()
    page.wait_for_url(f"**/dossiers/{dossier.code}?msg=**")

    from agent.desk.courier import records_of

    [proof] = records_of(agent, dossier.id)
    assert (proof["kind"], proof["batch"], proof["courier"]) == ("delivered", "counter", OFFICER[1])
    assert proof["recipient"]["id_last_digits"] == "1234"
    page.get_by_role("button", name="Đồng bộ ngay").click()  # the proof goes up; the hub answers status 10
    page.wait_for_url("**/dossiers/**")
    page.get_by_role("button", name="Đồng bộ ngay").click()
    page.wait_for_url("**/dossiers/**")
    assert page.locator("#portal-status").inner_text() == "10 · Đã trả kết quả"
    assert page.locator("#handback").count() == 0
