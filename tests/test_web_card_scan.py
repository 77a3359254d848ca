"""The chip ID card from the desk's scanners in real Chromium: the "Quét thẻ CCCD" button runs a real
scan (SANE's test backend) and says plainly that no QR was found; a card dropped in the hot folder's
card/ subfolder is offered as "thẻ vừa quét", fills the form in one click and makes a dossier; a
damaged one shows why and the officer types the fields instead."""
from __future__ import annotations

from pathlib import Path

import pytest

from agent.desk.card_scan import card_hot_folder, card_reads_dir
from agent.desk.sample_cards import card_image, damaged_card_image

from .web_support import browser, login, needs_chromium, shots, ui  # noqa: F401 - fixtures

pytestmark = needs_chromium
SUBMIT = "Tiếp nhận và niêm phong"


@pytest.fixture
def sane_backend(sane_test_backend: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """SANE's test backend for the `motcua ui` process (set before `ui` starts it)."""
    monkeypatch.setenv("SANE_CONFIG_DIR", sane_test_backend["SANE_CONFIG_DIR"])


def _drop(agent, inbox: Path, name: str, image: bytes) -> None:
    """A network scanner drops a card image in the card/ subfolder; the watcher reads it."""
    folder = card_hot_folder(agent, inbox, settle_seconds=0)
    (folder.inbox / name).write_bytes(image)
    for _ in range(3):
        folder.scan_once()
    assert not (folder.inbox / name).exists()


def test_scan_button_runs_the_scanner_and_says_no_qr(sane_backend, agent, agent_home, ui, browser):
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/intake")
    page.get_by_role("button", name="Quét thẻ CCCD").click()
    page.wait_for_function("document.getElementById('card-status').className === 'bad'", timeout=120_000)
    status = page.locator("#card-status").inner_text()
    assert "Không thấy mã QR trên bản quét" in status and "Nhập tay" in status
    assert page.get_by_role("button", name="Quét thẻ CCCD").is_enabled()  # ready to scan again
    assert page.get_by_label("Họ và tên người nộp").input_value() == ""
    assert not any((agent_home / "card_scan").iterdir())  # the test pattern was not kept
    page.goto(ui + "/intake?lang=en")
    assert page.get_by_role("button", name="Scan ID card").is_visible()


def test_hot_folder_card_fills_the_form_once(agent, agent_home, ui, browser, pages, tmp_path, shots):
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, ui)
    page.goto(ui + "/intake")
    assert page.locator("#card-offer").is_hidden()
    _drop(agent, tmp_path / "share", "scan0001.jpg", card_image(rotate=5, wear=0.2, fmt="JPEG"))
    offer = page.locator("#card-offer")
    offer.wait_for(state="visible", timeout=30_000)  # the page asks every few seconds
    assert "Thẻ vừa quét lúc" in offer.inner_text()
    assert "Nguyễn" not in page.content()  # offered, not yet shown: the officer takes it with one click
    shots(page, "intake-card-hot-folder")
    page.get_by_role("button", name="Dùng thẻ này").click()
    page.wait_for_function("document.getElementById('citizen_id').value === '079190001234'")
    assert page.evaluate("document.activeElement.id") == "phone"
    assert page.get_by_label("Họ và tên người nộp").input_value() == "Nguyễn Thị Ánh Tuyết"
    assert list(card_reads_dir(agent).iterdir()) == []  # taken once
    page.keyboard.type("0912345678")
    page.get_by_label("Thủ tục").select_option("1.001193")
    page.get_by_role("checkbox", name="Tờ khai đăng ký khai sinh").check()
    page.get_by_label("Trang quét (ảnh hoặc PDF)").set_input_files([str(p) for p in pages])
    page.get_by_role("button", name=SUBMIT).click()
    page.wait_for_url("**/dossiers/**", timeout=120_000)
    from agent.desk.intake import get_intake

    code = page.locator("#dossier-code").inner_text()
    applicant = get_intake(agent, agent.outbox.get(code).id).applicant
    assert (applicant["citizen_id"], applicant["birth_date"], applicant["phone"]) == ("079190001234", "05/03/1990",
                                                                                      "0912345678")
    # A second intake page gets no offer: the card was used.
    page.goto(ui + "/intake")
    page.wait_for_timeout(1000)
    assert page.locator("#card-offer").is_hidden()


def test_hot_folder_damaged_card_says_why_and_typing_still_works(agent, agent_home, ui, browser, pages, tmp_path):
    page = browser.new_page()
    login(page, ui)
    page.goto(ui + "/intake")
    _drop(agent, tmp_path / "share", "torn.png", damaged_card_image())
    page.locator("#card-offer").wait_for(state="visible", timeout=30_000)
    assert page.get_by_role("button", name="Dùng thẻ này").is_hidden()
    status = page.locator("#card-status").inner_text()
    assert "Không đọc được mã QR" in status and "Nhập tay" in status
    page.get_by_label("Họ và tên người nộp").fill("Trần Văn Bình")
    page.get_by_label("Số định danh cá nhân (12 số)").fill("001301012345")
    page.get_by_label("Địa chỉ", exact=True).fill("Thôn 3, xã Đông Anh")
    page.get_by_label("Thủ tục").select_option("1.001193")
    page.get_by_role("checkbox", name="Tờ khai đăng ký khai sinh").check()
    page.get_by_label("Trang quét (ảnh hoặc PDF)").set_input_files([str(p) for p in pages])
    page.get_by_role("button", name=SUBMIT).click()
    page.wait_for_url("**/dossiers/**", timeout=120_000)
    assert page.locator("#dossier-code").inner_text()
