"""The desk web UI in real Chromium (Debian's /usr/bin/chromium driven by Playwright): a dossier taken in
through the form, sealed and synced, a status event arriving from the hub, a courier delivery recorded.

Screenshots go to a temp dir; with MOTCUA_SCREENSHOTS=1 they are also written to docs/screenshots/.
"""
from __future__ import annotations

import requests

from .conftest import run_motcua
from .web_support import (COURIER, OFFICER, browser, login, needs_chromium, session_of, shots,  # noqa: F401 - fixtures
                          sign_on_pad, ui)

pytestmark = needs_chromium


def pdf_text(data: bytes) -> str:
    import subprocess

    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()

def test_desk_day_in_the_browser(hub, agent, agent_home, ui, browser, pages, shots):
    from .web_support import add_account

    add_account(agent, COURIER, "courier")
    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    login(page, ui)
    page.goto(ui + "/intake")
    # The officer's work: 7 fields typed or chosen, 1 file chooser, 1 submit (counted in the README).
    page.get_by_label("Họ và tên người nộp").fill("Nguyễn Thị Ánh Tuyết")
    page.get_by_label("Số định danh cá nhân (12 số)").fill("079190001234")
    page.get_by_label("Số điện thoại (nhận tin nhắn)").fill("0912345678")
    page.get_by_label("Địa chỉ", exact=True).fill("Số 5, ấp Phước Lợi, xã Tân Phú")
    page.get_by_label("Thủ tục").select_option("1.004222")
    page.get_by_role("checkbox", name="Tờ khai thay đổi thông tin cư trú (CT01)").check()
    page.get_by_label("Qua bưu điện đến nhà").check()
    page.get_by_label("Trang quét (ảnh hoặc PDF)").set_input_files([str(p) for p in pages])
    shots(page, "intake")
    page.get_by_role("button", name="Tiếp nhận và niêm phong").click()
    page.wait_for_url("**/dossiers/**")
    code = page.locator("#dossier-code").inner_text()
    assert code.startswith("000.00.01.H29-") and page.locator("#dossier-state").inner_text() == "Đã niêm phong"
    slip = session_of(page).get(f"{ui}/dossiers/{code}/slip.pdf?size=A5", timeout=30)
    assert slip.headers["content-type"] == "application/pdf" and slip.content.startswith(b"%PDF")
    assert OFFICER[1] in pdf_text(slip.content)  # the receiving officer's name on the slip
    from agent.ops.audit import AuditLog

    taken = [e for e in AuditLog(agent_home / "audit.db").entries() if e["action"] == "dossier.taken_in"]
    assert [e["actor"] for e in taken] == ["officer:lan"]

    page.get_by_role("button", name="Đồng bộ ngay").click()
    page.wait_for_url("**/dossiers/**")
    assert page.locator("#dossier-state").inner_text() == "Đã gửi, đã xoá bản trên máy"

    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), code, "9", "--note", "Đã ký kết quả")
    assert posted.returncode == 0, posted.stderr
    page.get_by_role("button", name="Đồng bộ ngay").click()
    page.wait_for_url("**/dossiers/**")
    assert "9 · Đã xử lý xong · giao tận nhà" in page.locator("table.events").inner_text()
    assert "đã có kết quả" in page.locator("table.messages").inner_text()
    shots(page, "dossier")

    page.goto(ui + "/")
    assert page.locator("[data-state=purged]").inner_text() == "1"
    shots(page, "dashboard")
    page.goto(ui + "/events")
    shots(page, "events")

    page.goto(ui + "/courier")
    page.get_by_label(f"Lập biên bản bàn giao: {code}").check()
    page.get_by_label("Tài khoản nhân viên bưu chính").select_option(COURIER[0])
    page.get_by_role("button", name="Lập biên bản bàn giao").click()
    handover_link = page.get_by_role("link", name="Tải về PDF")
    handover_pdf = session_of(page).get(ui + handover_link.get_attribute("href"), timeout=10).content
    assert COURIER[1] in pdf_text(handover_pdf) and OFFICER[1] in pdf_text(handover_pdf)
    shots(page, "courier")

    # The courier, logged in on a phone, sees the task handed to them and records the delivery.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    login(phone, ui, COURIER)
    phone.goto(f"{ui}/courier/{code}")
    phone.get_by_label("4 số cuối giấy tờ tuỳ thân").fill("1234")
    sign_on_pad(phone)
    shots(phone, "deliver-phone")
    phone.get_by_role("button", name="Đã giao thành công").click()
    phone.wait_for_url("**/courier?msg=**")
    assert "Đã giao" in phone.locator(".tasks").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone

    from agent.context import AgentContext
    from agent.desk.courier import pending_proofs, verify_proof

    ctx = AgentContext.open(agent_home)
    try:
        [proof] = pending_proofs(ctx)
        document = verify_proof(proof, ctx.device_key.public_key())
        assert document["dossier_code"] == code and document["evidence"][0]["media_type"] == "image/png"
        assert document["recipient"]["name"] == "Nguyễn Thị Ánh Tuyết"
        from agent.desk.intake import get_intake

        assert get_intake(ctx, ctx.outbox.get(code).id).data["officer"] == {"username": "lan", "full_name": OFFICER[1]}
    finally:
        ctx.close()

    page.goto(ui + "/")
    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Queue by state").is_visible()


def test_bad_intake_marks_fields_and_queues_nothing(agent, agent_home, ui, browser, pages):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, ui)
    page.goto(ui + "/intake")
    page.get_by_label("Họ và tên người nộp").fill("Trần Văn Bình")
    page.get_by_label("Số định danh cá nhân (12 số)").fill("003190001234")  # 003 is no province code
    page.get_by_label("Địa chỉ", exact=True).fill("Thôn 2, xã Tân Phú")
    page.get_by_label("Thủ tục").select_option("1.001193")
    page.get_by_label("Trang quét (ảnh hoặc PDF)").set_input_files([str(pages[0])])
    page.get_by_role("button", name="Tiếp nhận và niêm phong").click()
    page.locator("#citizen_id-error").wait_for()
    field = page.get_by_label("Số định danh cá nhân (12 số)")
    assert field.get_attribute("aria-invalid") == "true"
    assert "mã tỉnh" in page.locator("#citizen_id-error").inner_text()
    assert field.input_value() == "003190001234"  # what was typed is kept
    assert run_motcua("queue", "--json", home=agent_home).stdout.strip() == "[]"


def test_forms_need_the_csrf_token_and_a_local_host(ui, browser):
    page = browser.new_page()
    login(page, ui)
    assert session_of(page).post(ui + "/sync", data={"next": "/"}, timeout=10).status_code == 403
    assert requests.get(ui + "/", headers={"Host": "evil.example"}, timeout=10).status_code == 421
