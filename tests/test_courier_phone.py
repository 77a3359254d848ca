"""The courier's phone app (hub.courier_app) in real Chromium with a phone viewport, as a courier uses it:
paired at the desk by QR link, tasks downloaded, then no network — a delivery (signature + 12 MB photo, after a
wrong-digits error and "back") and a failed attempt recorded offline, the browser closed and reopened offline,
then the link comes back: both proofs reach the hub, verify there and in this test, and after its next sync the
desk learns status 10 for one and the failed attempt (reason, next date) for the other, once.

The day is served on http://127.0.0.1, which browsers treat as a secure origin (service worker, WebCrypto);
one test serves the app over HTTPS with a throwaway CA, as deployed.
Screenshots go to a temp dir; with MOTCUA_SCREENSHOTS=1 also to docs/screenshots/.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from agent.delivery.feed import events_of
from agent.delivery.sync import sync_once
from agent.desk.courier import handover, list_tasks, records_of
from agent.desk.courier_phone import pair_phone, publish_to_phone
from agent.desk.intake import IntakeForm, take_in
from sync_protocol.delivery_proof import LABEL
from sync_protocol.p256 import P256PublicKey, open_evidence, private_from_pem
from sync_protocol.signed_document import Envelope, verify_document

from .conftest import run_motcua
from .test_intake import GOOD

from .test_tls import pki, tls_hub  # noqa: F401,F811  (fixtures: a throwaway CA and a hub over HTTPS)
from .web_support import ARGS, CHROMIUM, shots  # noqa: F401,F811  (shots: the screenshot fixture, shared)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make deps)")
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "locale": "vi-VN"}
#: the service worker's cache of the app shell, whatever its version
APP_CACHE = "caches.keys().then(names => names.length ? caches.open(names[0]) : null)"
WAIT_MS = 60_000  # a loaded 2-core machine: generous, but every wait is for a condition


def _result_ready(hub, agent, pages, name: str) -> str:
    """A dossier taken in for return by post, committed, and decided at the province (a courier task at the desk)."""
    dossier, _ = take_in(agent, IntakeForm.from_mapping({**GOOD, "applicant_name": name}), pages)
    assert dossier.code in sync_once(agent).committed
    posted = run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9", "--note", "Có kết quả")
    assert posted.returncode == 0, posted.stderr
    return dossier.code


def _handed_to_phone(hub, agent, pages, names: list[str]) -> tuple[list[str], str]:
    codes = [_result_ready(hub, agent, pages, name) for name in names]
    sync_once(agent)  # the feed brings "result ready", which makes the courier tasks
    assert {t["dossier_code"] for t in list_tasks(agent)} >= set(codes)
    return codes, pair_phone(agent, "Lê Văn Cường")["url"]


class PhoneBrowser:
    """Chromium with a persistent profile, so the app can be closed and reopened with its data.

    Playwright (sync API) runs an event loop in this thread while started, and the desk's sealing uses
    asyncio.run: desk work happens before `launch` and after `stop`."""

    def __init__(self, profile: Path):
        self.profile, self.playwright = profile, None

    def launch(self, *extra_args: str):
        from playwright.sync_api import sync_playwright

        if self.playwright is None:
            self.playwright = sync_playwright().start()
        return self.playwright.chromium.launch_persistent_context(str(self.profile), executable_path=CHROMIUM,
                                                                  args=[*ARGS, *extra_args], **PHONE)

    def stop(self) -> None:
        if self.playwright is not None:
            self.playwright.stop()
            self.playwright = None


@pytest.fixture
def phone_browser(tmp_path):
    browser = PhoneBrowser(tmp_path / "profile")
    yield browser
    browser.stop()


def _pair(context, url: str):
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.on("console", lambda message: print("phone console:", message.text))
    page.get_by_role("button", name="Ghép / Pair").click()
    page.locator("#find").wait_for()
    # the app shell is in the service worker's cache before the network goes away
    page.wait_for_function(f"{APP_CACHE}.then(c => c && c.keys()).then(k => k && k.length >= 12)")
    return page


def _sign(page, taps: list[str]) -> None:
    """A finger's zigzag on the signature pad: one touch, eleven moves, lift."""
    box = page.locator("#pad").bounding_box()
    points = [(box["x"] + 30 + i * 25, box["y"] + 60 + (i % 3) * 30) for i in range(12)]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point)
    page.mouse.up()
    taps.append("signature")


def _pending(page) -> int:
    return int(page.locator("#queue").get_attribute("data-pending"))


def big_photo(path: Path) -> Path:
    """A 4000x3000 JPEG of noise, over 12 MB: what a phone camera hands the app, and then some."""
    Image.frombytes("RGB", (4000, 3000), os.urandom(4000 * 3000 * 3)).save(path, "JPEG", quality=97)
    assert path.stat().st_size > 12 * 1024 * 1024
    return path


def test_offline_day_at_the_doorstep(hub, agent, pages, phone_browser, shots, tmp_path):  # noqa: F811
    (delivered_code, failed_code), url = _handed_to_phone(hub, agent, pages, ["Nguyễn Thị Ánh Tuyết", "Trần Văn Nam"])
    batch, handover_pdf = handover(agent, [delivered_code, failed_code], "Lê Văn Cường",
                                   postal_items={delivered_code: "RR473124829VN"})
    subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", str(handover_pdf), str(tmp_path / "handover")],
                   check=True, timeout=120)  # the printed handover list, as the courier's camera sees it
    [device_id] = [r[0] for r in hub.sql("SELECT device_id FROM devices WHERE role='courier'")] or [None]
    assert device_id is None  # not yet: the phone enrols itself when it opens the link
    context = phone_browser.launch()
    page = _pair(context, url)
    [(device_id,)] = hub.sql("SELECT device_id FROM devices WHERE role='courier'")
    publish_to_phone(agent, batch, device_id, [delivered_code, failed_code], {delivered_code: "RR473124829VN"})
    page.get_by_role("button", name="Tải lại / Reload tasks").click()
    page.locator(".task").nth(1).wait_for()
    assert "079190001234" not in page.content()  # only the last 4 digits reach the phone
    shots(page, "courier-phone-tasks")
    # finding a task by its postal item number (typed here; scanned where the phone has BarcodeDetector)
    page.get_by_placeholder("Mã hồ sơ hoặc số bưu gửi / code or postal item").fill("RR473124829VN")
    page.wait_for_function("document.querySelectorAll('.task').length === 1")
    assert delivered_code in page.locator(".task").inner_text()
    page.get_by_placeholder("Mã hồ sơ hoặc số bưu gửi / code or postal item").fill("")
    page.locator(".task").nth(1).wait_for()

    context.set_offline(True)
    page.wait_for_function("!navigator.onLine")
    # scanning the barcode printed on the handover list, offline (the decoder is in the app's cache)
    page.locator("#scan").set_input_files(str(tmp_path / "handover.png"))
    page.wait_for_function("document.querySelectorAll('.task').length === 1")
    assert delivered_code in page.locator(".task").inner_text()
    assert page.locator("#find").input_value() == "RR473124829VN"
    taps: list[str] = []
    page.locator(".task", has_text=delivered_code).click(); taps.append("task")
    page.get_by_label("4 số cuối CCCD / last 4 ID digits").fill("9999")
    _sign(page, taps)
    page.get_by_role("button", name="Lưu / Save").click()
    assert "không khớp" in page.locator("#problem").inner_text()
    page.get_by_role("button", name="Quay lại / Back").click()
    page.locator(".task", has_text=delivered_code).click()
    # back after the error: the signature is kept, so correcting the digits is enough
    page.get_by_label("4 số cuối CCCD / last 4 ID digits").fill("1234")
    page.get_by_label("Ảnh (không bắt buộc) / Photo (optional)").set_input_files(str(big_photo(tmp_path / "cam.jpg")))
    taps.append("photo")
    shots(page, "courier-phone-deliver")
    page.get_by_role("button", name="Lưu / Save").click(); taps.append("save")
    page.wait_for_function("document.querySelector('#queue').dataset.pending === '1'")

    page.locator(".task", has_text=failed_code).click()
    page.get_by_role("button", name="Không giao được / Failed").click()
    page.get_by_label("Lý do / Reason").select_option("not_home")
    page.get_by_label("Ghi chú / Note").fill("Gọi không nghe máy")
    page.get_by_label("Hẹn lần sau / Next attempt").fill("2026-12-03")
    page.get_by_role("button", name="Lưu / Save").click()
    page.wait_for_function("document.querySelector('#queue').dataset.pending === '2'")
    assert hub.sql("SELECT COUNT(*) FROM delivery_proofs") == [(0,)]
    cached = page.evaluate(APP_CACHE + """.then(c => c.keys().then(ks => Promise.all(
        ks.map(k => c.match(k).then(r => r.blob()).then(b => b.size))))).then(s => s.reduce((a, b) => a + b, 0))""")
    context.close()

    context = phone_browser.launch()  # the courier closes the app and opens it again, still with no signal
    context.set_offline(True)
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(hub.url + "/courier/")
    page.locator(".task").nth(1).wait_for()
    assert _pending(page) == 2 and "Đã giao" in page.locator(".task", has_text=delivered_code).inner_text()
    shots(page, "courier-phone-offline")

    context.set_offline(False)  # the 'online' event sends the queue by itself
    page.wait_for_function("document.querySelector('#queue').dataset.pending === '0'")
    context.close()
    phone_browser.stop()

    proofs = {kind: json.loads(envelope) for kind, envelope in hub.sql("SELECT kind, envelope FROM delivery_proofs")}
    assert set(proofs) == {"delivered", "failed"}
    [(phone_key,)] = hub.sql("SELECT public_key FROM devices WHERE device_id=?", (device_id,))
    hub_key = private_from_pem((hub.data_dir / "hub_p256.pem").read_bytes())
    for envelope in proofs.values():
        verify_document(LABEL, Envelope.from_dict(envelope), P256PublicKey.from_text(phone_key))
    sizes = len(json.dumps(proofs["delivered"], ensure_ascii=False).encode())
    delivered = proofs["delivered"]["document"]
    assert delivered["recipient"]["id_last_digits"] == "1234" and delivered["dossier_code"] == delivered_code
    kinds = {}
    for item in delivered["evidence"]:
        ciphertext = _object(hub, item["sha256"])
        kinds[item["kind"]] = open_evidence(ciphertext, hub_key)
        sizes += len(ciphertext)
    photo = Image.open(io.BytesIO(kinds["photo"]))
    assert photo.format == "JPEG" and max(photo.size) <= 1600 and len(kinds["photo"]) <= 300 * 1024
    assert kinds["signature"].startswith(b"\x89PNG")
    failed = proofs["failed"]["document"]
    assert (failed["reason"], failed["next_attempt"]) == ("not_home", "2026-12-03")

    sync_once(agent)  # the desk's next sync: status 10 closes one task, the failed attempt counts on the other
    events = [e["status"] for e in events_of(agent, delivered["dossier_id"])]
    assert events[-1] == 10
    sync_once(agent)  # and a second one records nothing twice
    tasks = {t["dossier_code"]: t for t in list_tasks(agent)}
    assert tasks[delivered_code]["state"] == "closed"
    assert tasks[failed_code]["state"] == "out" and tasks[failed_code]["attempts"] == 1
    assert tasks[failed_code]["last_failure"] == {"reason": "not_home", "note": "Gọi không nghe máy",
                                                  "next_attempt": "2026-12-03", "at": failed["at"]}
    assert [r["from_phone"] for r in records_of(agent, failed["dossier_id"])] == [True]
    print(f"\nfigures: taps to record a delivery={len(taps)} (+ typing 4 digits); "
          f"bytes uploaded for the delivery proof with signature + photo={sizes}; app cache={cached} bytes")


def _object(hub, sha256: str) -> bytes:
    found = [p for p in (hub.data_dir / "objects").rglob(sha256)]
    assert found, f"object {sha256} not in the hub store"
    return found[0].read_bytes()


def test_revoked_phone_keeps_and_exports_its_proofs(hub, agent, pages, phone_browser, tmp_path):
    [code], url = _handed_to_phone(hub, agent, pages, ["Phạm Thị Hoa"])
    batch, _ = handover(agent, [code], "Lê Văn Cường")
    context = phone_browser.launch()
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(url)
    page.get_by_role("button", name="Ghép / Pair").click()
    page.get_by_text("0 nhiệm vụ / tasks").wait_for()
    [(device_id,)] = hub.sql("SELECT device_id FROM devices WHERE role='courier'")
    publish_to_phone(agent, batch, device_id, [code])
    page.get_by_role("button", name="Tải lại / Reload tasks").click()
    context.set_offline(True)
    page.locator(".task", has_text=code).click()
    page.get_by_role("button", name="Không giao được / Failed").click()
    page.get_by_role("button", name="Lưu / Save").click()
    page.wait_for_function("document.querySelector('#queue').dataset.pending === '1'")

    revoked = run_motcua("hub", "revoke", "--data", str(hub.data_dir), device_id, "--reason", "mất điện thoại")
    assert revoked.returncode == 0, revoked.stderr
    context.set_offline(False)
    page.get_by_role("button", name="Gửi ngay / Send now").click()
    page.locator("#banner", has_text="mất điện thoại").wait_for()
    assert "Xuất biên bản" in page.locator("#banner").inner_text() and _pending(page) == 1
    with page.expect_download() as download:
        page.get_by_role("button", name="Xuất biên bản / Export proofs").click()
    exported = json.loads(Path(download.value.path()).read_text())
    [proof] = exported["proofs"]
    assert proof["envelope"]["document"]["dossier_code"] == code and exported["device_id"] == device_id
    assert hub.sql("SELECT COUNT(*) FROM delivery_proofs") == [(0,)]
    context.close()


def test_app_over_https_installs_and_opens_offline(tmp_path, pki, tls_hub, phone_browser):  # noqa: F811
    """The real deployment: the hub over HTTPS (throwaway CA). Chromium trusts exactly the hub's key
    (--ignore-certificate-errors-spki-list, not a blanket ignore), and the service worker must work there."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from agent.context import AgentContext
    from agent.delivery.enrolment import enrol

    from .conftest import SITE

    desk = AgentContext.open(tmp_path / "agent")
    enrol(desk, tls_hub.url, tls_hub.token(), SITE, ca_bundle=str(pki["ca"]), hub_cert_sha256=pki["fingerprint"])
    url = pair_phone(desk, "Lê Văn Cường")["url"]
    desk.close()
    assert url.startswith("https://127.0.0.1:")
    spki = x509.load_pem_x509_certificate(pki["cert"].read_bytes()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    context = phone_browser.launch(
        "--ignore-certificate-errors-spki-list=" + base64.b64encode(hashlib.sha256(spki).digest()).decode())
    page = _pair(context, url)
    assert page.evaluate("window.isSecureContext") and page.evaluate("location.protocol") == "https:"
    context.set_offline(True)
    page.reload()
    page.get_by_text("0 nhiệm vụ / tasks").wait_for()  # the shell from the service worker, the identity from IndexedDB
    assert page.locator("#net").inner_text() == "Ngoại tuyến / offline"
    context.close()
