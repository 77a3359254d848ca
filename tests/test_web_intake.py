"""Intake at the counter in real Chromium: the chip ID card fills the applicant (keystrokes and clicks
counted), a damaged card falls back to typing, a form never makes two dossiers (double click,
resend, two at once), and a form with errors keeps every field and the attached scans."""
from __future__ import annotations

import json
import re
import threading

from agent.desk.sample_cards import card_image, damaged_card_image

from .conftest import queue_json
from .web_support import browser, login, needs_chromium, session_of, shots, ui  # noqa: F401 - fixtures

pytestmark = needs_chromium
SUBMIT = "Tiếp nhận và niêm phong"
COUNT_SCRIPT = """
window.__keys = 0; window.__clicks = 0;
addEventListener('keydown', () => { window.__keys += 1; }, true);
addEventListener('mousedown', () => { window.__clicks += 1; }, true);
"""


def test_card_scan_intake_in_few_keystrokes_and_clicks(agent, agent_home, ui, browser, pages, tmp_path, shots):
    card = tmp_path / "cccd.png"
    card.write_bytes(card_image(rotate=7, wear=0.3))
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, ui)
    page.add_init_script(COUNT_SCRIPT)
    page.goto(ui + "/intake")
    chooser_and_select_clicks = 0
    page.locator("#card_image").set_input_files(str(card))  # the card scan (1 click on the file chooser)
    chooser_and_select_clicks += 1
    page.wait_for_function("document.getElementById('applicant_name').value !== ''")
    assert page.evaluate("document.activeElement.id") == "phone"  # the cursor waits on the phone field
    page.keyboard.type("0912345678")
    page.get_by_label("Thủ tục").select_option("1.004222")  # a drop-down: open + choose = 2 clicks
    chooser_and_select_clicks += 2
    page.get_by_role("checkbox", name="Tờ khai thay đổi thông tin cư trú (CT01)").click()
    page.get_by_label("Trang quét (ảnh hoặc PDF)").set_input_files([str(p) for p in pages])
    chooser_and_select_clicks += 1
    assert page.get_by_label("Họ và tên người nộp").input_value() == "Nguyễn Thị Ánh Tuyết"
    assert page.get_by_label("Ngày sinh (dd/mm/yyyy)").input_value() == "05/03/1990"
    assert page.get_by_label("Giới tính").input_value() == "Nữ"
    shots(page, "intake-card")
    keys, clicks = page.evaluate("[window.__keys, window.__clicks]")  # counted in the page, before it is left
    page.get_by_role("button", name=SUBMIT).click()
    page.wait_for_url("**/dossiers/**")
    clicks += chooser_and_select_clicks + 1
    print(f"\nINTAKE WITH CARD SCAN: {keys} keystrokes, {clicks} clicks")
    assert keys <= 15 and clicks <= 6

    code = page.locator("#dossier-code").inner_text()
    from agent.desk.intake import get_intake

    applicant = get_intake(agent, agent.outbox.get(code).id).applicant
    assert {k: applicant[k] for k in ("applicant_name", "citizen_id", "birth_date", "sex", "phone", "birth_year")} == {
        "applicant_name": "Nguyễn Thị Ánh Tuyết", "citizen_id": "079190001234", "birth_date": "05/03/1990",
        "sex": "Nữ", "phone": "0912345678", "birth_year": 1990}
    # The card image was read and dropped: the dossier holds the scans and intake.json only.
    assert [d.name for d in agent.outbox.documents(agent.outbox.get(code).id)] == ["document-1.pdf", "intake.json"]
    assert not any((agent_home / "forms").rglob("scan-*"))


def test_keyboard_wedge_reader_and_damaged_card(agent, ui, browser, tmp_path):
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/intake")
    bad = tmp_path / "torn.png"
    bad.write_bytes(damaged_card_image())
    page.locator("#card_image").set_input_files(str(bad))
    status = page.locator("#card-status")
    page.wait_for_function("document.getElementById('card-status').textContent.length > 3")
    assert "Không đọc được mã QR" in status.inner_text() and "Nhập tay" in status.inner_text()
    assert page.get_by_label("Họ và tên người nộp").input_value() == ""  # nothing half-filled
    page.get_by_label("Hoặc máy đọc mã QR (gõ như bàn phím)").click()
    page.keyboard.type("001301012345||Trần Văn Bình|29022000|Nam|Thôn 3, xã Đông Anh|01072024")  # the reader types
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('citizen_id').value === '001301012345'")
    assert page.get_by_label("Họ và tên người nộp").input_value() == "Trần Văn Bình"
    assert page.get_by_label("Năm sinh (để đối chiếu)").input_value() == "2000"
    assert "/intake" in page.url  # Enter from the reader did not submit the form


def _fill_valid(page, pages) -> None:
    page.get_by_label("Họ và tên người nộp").fill("Trần Văn Bình")
    page.get_by_label("Số định danh cá nhân (12 số)").fill("079190001234")
    page.get_by_label("Địa chỉ", exact=True).fill("Thôn 2, xã Tân Phú")
    page.get_by_label("Thủ tục").select_option("1.001193")
    page.get_by_role("checkbox", name="Tờ khai đăng ký khai sinh").check()
    page.get_by_label("Trang quét (ảnh hoặc PDF)").set_input_files([str(p) for p in pages])


def test_a_form_never_makes_two_dossiers(agent, agent_home, ui, browser, pages):
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/intake")
    form_key = page.locator("input[name=form_key]").input_value()
    csrf = page.locator("#intake-form input[name=csrf]").input_value()
    _fill_valid(page, pages)
    page.evaluate("() => { const b = document.getElementById('submit-intake'); b.click(); b.click(); b.click(); }")
    assert page.locator("#submit-intake").is_disabled() or "/dossiers/" in page.url
    page.wait_for_url("**/dossiers/**")
    code = page.locator("#dossier-code").inner_text()
    assert [d["code"] for d in queue_json(agent_home)] == [code]

    # The same form resent (a refresh of the POST, a second tab): the first dossier again, no new one.
    session = session_of(page)
    data = {"csrf": csrf, "form_key": form_key, "applicant_name": "Trần Văn Bình", "citizen_id": "079190001234",
            "address": "Thôn 2, xã Tân Phú", "procedure_code": "1.001193",
            "documents_received": "Tờ khai đăng ký khai sinh"}
    files = [("scans", (p.name, p.read_bytes())) for p in pages]
    again = session.post(ui + "/intake", data=data, files=files, timeout=120)
    assert again.url.endswith(f"/dossiers/{code}?again=1") and "đã được tiếp nhận trước đó" in again.text
    assert len(queue_json(agent_home)) == 1

    # A new form submitted twice at the same instant: one dossier, both answers show it.
    page.goto(ui + "/intake")
    data["form_key"] = page.locator("input[name=form_key]").input_value()
    answers: list = []

    def post(client) -> None:
        answers.append(client.post(ui + "/intake", data=data, files=files, timeout=300))

    threads = [threading.Thread(target=post, args=(session_of(page),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = {re.search(r"/dossiers/([^?]+)", a.url).group(1) for a in answers}
    assert len(codes) == 1 and len(queue_json(agent_home)) == 2
    # A made-up or someone else's key is refused, not turned into a dossier.
    data["form_key"] = "x" * 32
    forged = session.post(ui + "/intake", data=data, files=files, timeout=60)
    assert forged.status_code == 400 and "hết hạn" in forged.text and len(queue_json(agent_home)) == 2


def test_errors_show_all_fields_and_keep_the_scans(agent, agent_home, ui, browser, pages):
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/intake")
    _fill_valid(page, pages)
    page.get_by_label("Số định danh cá nhân (12 số)").fill("003190001234")  # 003 is no province code
    page.get_by_label("Ngày sinh (dd/mm/yyyy)").fill("31/02/1990")
    page.get_by_label("Số điện thoại (nhận tin nhắn)").fill("12345")
    page.get_by_role("button", name=SUBMIT).click()
    page.locator("#citizen_id-error").wait_for()
    for field in ("citizen_id", "birth_date", "phone"):  # every bad field marked at once, next to itself
        assert page.locator(f"#{field}").get_attribute("aria-invalid") == "true", field
        assert page.locator(f"#{field}-error").is_visible(), field
    assert page.get_by_label("Họ và tên người nộp").input_value() == "Trần Văn Bình"
    kept = page.locator("fieldset.kept input[name=keep_scan]")
    assert kept.count() == len(pages)  # the scans stayed on the desk with the form
    assert queue_json(agent_home) == []

    # Fix the fields without attaching the scans again.
    page.get_by_label("Số định danh cá nhân (12 số)").fill("079190001234")
    page.get_by_label("Ngày sinh (dd/mm/yyyy)").fill("05/03/1990")
    page.get_by_label("Số điện thoại (nhận tin nhắn)").fill("0912345678")
    page.get_by_role("button", name=SUBMIT).click()
    page.wait_for_url("**/dossiers/**")
    [dossier] = queue_json(agent_home)
    assert dossier["pages"] == len(pages)
    assert not any((agent_home / "forms").rglob("scan-*"))  # kept scans are gone once in the dossier


def test_missing_scans_and_bad_fields_are_reported_together(agent, agent_home, ui, browser):
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/intake")
    session = session_of(page)
    data = {"csrf": page.locator("#intake-form input[name=csrf]").input_value(),
            "form_key": page.locator("input[name=form_key]").input_value(), "applicant_name": "B",
            "citizen_id": "12", "address": "x", "procedure_code": "9.999999", "sex": "?"}
    answer = session.post(ui + "/intake", data=data, timeout=60)
    assert answer.status_code == 422
    for field in ("applicant_name", "citizen_id", "address", "procedure_code", "sex", "files"):
        assert f'id="{field}-error"' in answer.text, field
    assert json.dumps(queue_json(agent_home)) == "[]"
