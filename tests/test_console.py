"""The provincial centre's web console (/console/ on the hub) in real Chromium against a real hub process:
staff log in, search incoming dossiers, open a document, see the receipt verified, revoke a desk (which then
gets 401 with the reason), create an enrolment token and scan its QR; wrong passwords lock an account,
sessions expire, a viewer's POST and a forged form are refused.

Screenshots: docs/screenshots/console-*.png when MOTCUA_SCREENSHOTS=1 (the `shots` fixture).
"""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
import sys

import pytest
import requests

from .conftest import ROOT, assert_clean_failure, queue_json, run_motcua
from .fixtures_servers import quick_dossier
from .test_tls import pki, tls_hub  # noqa: F401 - a hub serving HTTPS with a throwaway CA
from .web_support import CHROMIUM, browser, shots  # noqa: F401 - shared Chromium fixtures

pytestmark = pytest.mark.skipif(not __import__("pathlib").Path(CHROMIUM).exists(),
                                reason="Debian chromium is not installed (make deps)")
PASSWORD = "mật khẩu đủ dài 2026"


def hub_user(hub, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    """`motcua hub user …` with the password on standard input (as a script would give it)."""
    return subprocess.run([sys.executable, "-m", "agent.cli", "hub", "user", *args, "--data", str(hub.data_dir)],
                          cwd=ROOT, input=password + "\n", capture_output=True, text=True, timeout=120)


def add_staff(hub, username: str, role: str, name: str) -> None:
    done = hub_user(hub, "add", username, "--role", role, "--name", name, "--password-stdin")
    assert done.returncode == 0, done.stderr


def commit_dossiers(agent, agent_home, procedures: list[str]) -> list[dict]:
    """Capture small dossiers into the desk's outbox, then seal and deliver them with the real CLI."""
    for procedure in procedures:
        quick_dossier(agent, procedure_code=procedure)
    for step in ("seal", "sync"):
        done = run_motcua(step, "--json", home=agent_home)
        assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["committed"]) == len(procedures), done.stdout
    return sorted(queue_json(agent_home), key=lambda d: d["code"])  # capture order


def login(page, hub, username: str, password: str = PASSWORD, *, goto: bool = True) -> None:
    if goto:
        page.goto(hub.url + "/console/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def audit_rows(hub) -> list[dict]:
    out = run_motcua("hub", "audit", "--data", str(hub.data_dir), "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture
def dossiers(hub, agent, agent_home) -> list[dict]:
    """Three committed dossiers: a birth registration and two permanent-residence registrations."""
    return commit_dossiers(agent, agent_home, ["1.001193", "1.004222", "1.004222"])


@pytest.fixture
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="vi-VN")
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # the console asks before revoking
    yield tab
    context.close()


def test_operator_searches_views_a_document_and_revokes_a_desk(hub, agent, agent_home, dossiers, page,
                                                                shots):  # noqa: F811
    add_staff(hub, "op.lan", "operator", "Nguyễn Thị Lan")
    birth, residence, residence_2 = dossiers

    page.goto(hub.url + "/console/devices")
    page.wait_for_url("**/console/login?next=**")  # no session: the login page, nothing else
    shots(page, "console-login")
    login(page, hub, "op.lan", goto=False)
    page.wait_for_url("**/console/devices")  # back where the officer was going
    assert "Nguyễn Thị Lan (Vận hành)" in page.locator("#who").inner_text()

    page.goto(hub.url + "/console/")
    page.get_by_label("Mã thủ tục").fill("1.004222")
    page.get_by_role("button", name="Tìm kiếm").click()
    codes = page.locator("#dossiers tbody tr td:first-child").all_inner_texts()
    assert sorted(codes) == sorted([residence["code"], residence_2["code"]])
    page.get_by_label("Mã hồ sơ").fill(birth["code"][-8:])
    page.get_by_label("Mã thủ tục").fill("")
    page.get_by_label("Trạng thái").select_option("1")
    page.get_by_role("button", name="Tìm kiếm").click()
    assert page.locator("#dossiers tbody tr td:first-child").all_inner_texts() == [birth["code"]]
    page.get_by_label("Trạng thái").select_option("9")
    page.get_by_role("button", name="Tìm kiếm").click()
    assert page.locator("#no-results").is_visible()
    page.goto(hub.url + "/console/?date_from=2026-13-45")
    assert "không phải ngày" in page.locator("#error-reason").inner_text()  # bad input: named, 400, no traceback

    page.goto(hub.url + "/console/")
    shots(page, "console-dossiers")
    page.get_by_role("link", name=residence["code"]).click()
    assert page.locator("#dossier-code").inner_text() == residence["code"]
    assert page.locator("#receipt-state").inner_text().startswith("✔ Chữ ký biên nhận hợp lệ")
    shots(page, "console-dossier")
    link = page.get_by_role("link", name=re.compile("^Xem: document-1.pdf"))
    document = page.context.request.get(hub.url + link.get_attribute("href"))
    assert document.status == 200 and document.headers["content-type"] == "application/pdf"
    assert document.headers["content-security-policy"] == "sandbox"
    assert document.headers["content-disposition"].startswith("inline")
    assert document.body().startswith(b"%PDF")
    assert hashlib.sha256(document.body()).hexdigest() == _plain_sha(hub, residence["id"])
    # without a session the same address gives the login page, never the document
    for address in (link.get_attribute("href"), f"/console/dossiers/{residence['id']}/documents/x"):
        anonymous = requests.get(hub.url + address, allow_redirects=False, timeout=30)
        assert anonymous.status_code == 303 and b"%PDF" not in anonymous.content
    assert page.context.request.get(f"{hub.url}/console/dossiers/{residence['id']}/documents/7").status == 404

    page.goto(hub.url + "/console/devices")
    row = page.locator(f"tr[data-device='{agent.config.device_id}']")
    assert "0.1" in row.locator("td").nth(4).inner_text()  # the version the desk's User-Agent announced
    row.get_by_label("Lý do").fill("Máy bị mất cắp ngày 12/01")
    row.get_by_role("button", name="Thu hồi").click()
    page.wait_for_url("**/console/devices?msg=**")
    assert page.locator(f"tr[data-device='{agent.config.device_id}'] .device-state").inner_text() == "Đã thu hồi"
    shots(page, "console-devices")
    quick_dossier(agent)  # the desk's next dossier is refused, and the officer is told why
    assert run_motcua("seal", home=agent_home).returncode == 0
    refused = run_motcua("sync", home=agent_home)
    assert_clean_failure(refused, "Máy bị mất cắp ngày 12/01", "thu hồi", exit_code=4)

    entries = [(e["actor"], e["action"], e["dossier_id"]) for e in audit_rows(hub)]
    assert ("staff:op.lan", "console.login", None) in entries
    assert ("staff:op.lan", "console.dossier_viewed", residence["id"]) in entries
    assert ("staff:op.lan", "console.document_viewed", residence["id"]) in entries
    assert ("staff:op.lan", "device.revoked", None) in entries

    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url("**/console/login?msg=**")
    page.goto(hub.url + "/console/")
    page.wait_for_url("**/console/login?next=**")  # the old session is gone at the hub, not only in the browser


def _plain_sha(hub, dossier_id: str) -> str:
    return hub.sql("SELECT plain_sha256 FROM dossier_documents WHERE dossier_id=?", (dossier_id,))[0][0]


def test_wrong_passwords_lock_the_account_and_sessions_expire(hub, page):
    add_staff(hub, "xem.binh", "viewer", "Lê Văn Bình")
    for _ in range(5):
        login(page, hub, "xem.binh", "sai mật khẩu rồi")
        assert page.locator("#login-error").inner_text() == "Sai tên đăng nhập hoặc mật khẩu"
    login(page, hub, "xem.binh")  # the right password no longer helps
    assert "tài khoản bị khoá thêm 15 phút" in page.locator("#login-error").inner_text()
    login(page, hub, "khong.co.ai")  # unknown names get the same answer as a wrong password
    assert page.locator("#login-error").inner_text() == "Sai tên đăng nhập hoặc mật khẩu"

    reset = hub_user(hub, "reset", "xem.binh", "--password-stdin", password="mật khẩu mới đủ dài")
    assert reset.returncode == 0, reset.stderr
    actions = [(e["actor"], e["action"], e["detail"].get("locked")) for e in audit_rows(hub)]
    assert ("staff:xem.binh", "console.login_failed", 1) in actions

    # idle for longer than the idle limit (30 min), then past the absolute limit (10 h) however active:
    # the next click lands on the login page
    for backdate in ("last_seen_at = last_seen_at - 3600", "created_at = created_at - 11 * 3600"):
        login(page, hub, "xem.binh", "mật khẩu mới đủ dài")
        page.wait_for_url(hub.url + "/console/")
        conn = sqlite3.connect(hub.data_dir / "hub.db")
        with conn:
            conn.execute("UPDATE console_sessions SET " + backdate)
        conn.close()
        page.goto(hub.url + "/console/devices")
        page.wait_for_url("**/console/login?next=**")
        assert page.locator("#session-expired").inner_text().startswith("Phiên làm việc đã hết hạn")
        assert hub.sql("SELECT COUNT(*) FROM console_sessions") == [(0,)]

    cookie = requests.get(hub.url + "/console/login", timeout=30).headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_viewer_reads_but_cannot_act_and_forged_forms_are_refused(hub, agent, page):
    add_staff(hub, "xem.chi", "viewer", "Phạm Thị Chi")
    add_staff(hub, "op.dung", "operator", "Hoàng Văn Dũng")
    login(page, hub, "xem.chi")
    page.wait_for_url(hub.url + "/console/")
    page.goto(hub.url + "/console/devices")
    assert page.locator("form.revoke").count() == 0  # no button for what the role may not do
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    device = agent.config.device_id
    # …and the hub refuses the POST itself, with a valid session and CSRF token
    refused = page.context.request.post(f"{hub.url}/console/devices/{device}/revoke",
                                        form={"csrf": csrf, "reason": "thử"})
    assert refused.status == 403 and "vai trò" in refused.text()
    refused = page.context.request.post(hub.url + "/console/tokens",
                                        form={"csrf": csrf, "site": "Xã B", "agency": "000.00.01.H29", "ttl_hours": "1"})
    assert refused.status == 403
    assert hub.sql("SELECT revoked_at FROM devices WHERE device_id=?", (device,)) == [(None,)]
    assert hub.sql("SELECT COUNT(*) FROM tokens") == [(1,)]  # only the fixture's own token

    # an operator's session with a missing or foreign CSRF token: refused, nothing changed
    page.get_by_role("button", name="Đăng xuất").click()
    login(page, hub, "op.dung")
    page.wait_for_url(hub.url + "/console/")
    for token in ("", csrf):  # csrf: the viewer's token, from another session
        forged = page.context.request.post(f"{hub.url}/console/devices/{device}/revoke",
                                           form={"csrf": token, "reason": "giả mạo"})
        assert forged.status == 403 and "CSRF" in forged.text()
    assert hub.sql("SELECT revoked_at FROM devices WHERE device_id=?", (device,)) == [(None,)]
    # no session at all: 401; a login form posted without its pre-login cookie: 403
    assert requests.post(f"{hub.url}/console/devices/{device}/revoke", data={"reason": "x"}, timeout=30).status_code == 401
    assert requests.post(hub.url + "/console/login", data={"csrf": "x", "username": "op.dung", "password": PASSWORD},
                         timeout=30).status_code == 403
    actions = [(e["actor"], e["action"]) for e in audit_rows(hub)]
    assert ("staff:xem.chi", "console.forbidden") in actions and ("staff:op.dung", "console.csrf_refused") in actions

    # the case-system integration (hub.case_system) is installed: no dead letters yet, acknowledgements known
    page.goto(hub.url + "/console/webhooks")
    assert "Không có webhook lỗi" in page.locator("#webhooks-state").inner_text()
    page.goto(hub.url + "/console/queues")
    assert page.locator("#acks-unknown").count() == 0


def test_administrator_creates_a_token_whose_qr_enrols_a_desk(hub, page, shots, tmp_path):  # noqa: F811
    from PIL import Image
    from pyzbar.pyzbar import decode

    add_staff(hub, "qt.an", "administrator", "Đỗ Minh An")
    login(page, hub, "qt.an")
    page.wait_for_url(hub.url + "/console/")
    page.goto(hub.url + "/console/tokens")
    page.get_by_label("Điểm tiếp nhận").fill("Bưu điện xã Tân Phú")
    page.get_by_label("Mã cơ quan").fill("000.00.02.H29")
    page.get_by_role("button", name="Tạo mã").click()
    shown = page.locator("#token-value").inner_text()
    shots(page, "console-token")
    page.locator("#token-qr").screenshot(path=str(tmp_path / "qr.png"))
    [symbol] = decode(Image.open(tmp_path / "qr.png"))
    payload = json.loads(symbol.data.decode("utf-8"))
    hello = requests.get(hub.url + "/v1/hello", timeout=30).json()
    assert payload == {"schema": "motcua.enrol/1", "hub": hub.url, "hub_key_id": hello["hub_key_id"],
                       "site": "Bưu điện xã Tân Phú", "agency": "000.00.02.H29", "token": shown}

    # the desk enrols with what it scanned, pinning the key id the QR names
    desk = run_motcua("init", "--hub", payload["hub"], "--token", payload["token"], "--site", payload["site"],
                      "--hub-key-id", payload["hub_key_id"], "--json", home=tmp_path / "desk")
    assert desk.returncode == 0, desk.stderr
    assert json.loads(desk.stdout)["agency_code"] == "000.00.02.H29"
    page.reload()  # the form is not re-sent: the page now lists the token as used
    page.goto(hub.url + "/console/tokens")
    assert "Đã dùng" in page.locator("#tokens").inner_text()
    assert ("staff:qt.an", "token.issued") in [(e["actor"], e["action"]) for e in audit_rows(hub)]

    page.get_by_role("link", name="English").click()
    assert page.get_by_role("heading", name="Enrolment token for a desk").is_visible()


def test_user_commands_refuse_bad_input_clearly(hub):
    def user(*args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
        return hub_user(hub, *args, password=password)

    assert user("add", "ok.name", "--role", "viewer", "--password-stdin").returncode == 0
    assert_clean_failure(user("add", "ok.name", "--role", "viewer", "--password-stdin"), "đã tồn tại", "already exists")
    assert_clean_failure(user("add", "short.pw", "--role", "viewer", "--password-stdin", password="ngắn"),
                         "Mật khẩu phải dài", "password must be")
    assert_clean_failure(user("add", "Tên Có Dấu", "--role", "viewer", "--password-stdin"), "Tên đăng nhập")
    assert_clean_failure(user("add", "x.y", "--role", "boss", "--password-stdin"), "boss")
    assert_clean_failure(user("disable", "nobody"), "Không có tài khoản")
    assert user("disable", "ok.name").returncode == 0
    listed = json.loads(user("list", "--json").stdout)
    assert [(u["username"], u["role"], u["disabled_at"] is not None) for u in listed] == [("ok.name", "viewer", True)]
    assert "password_hash" not in listed[0]
    stored = hub.sql("SELECT password_hash FROM console_users")[0][0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_cookies_are_secure_when_the_hub_serves_tls(tls_hub, pki):  # noqa: F811
    add_staff(tls_hub, "qt.tls", "administrator", "Vũ Thị Hà")
    browserless, ca = requests.Session(), str(pki["ca"])  # verify= per call: REQUESTS_CA_BUNDLE beats Session.verify
    form = browserless.get(tls_hub.url + "/console/login", timeout=30, verify=ca)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    assert "Secure" in form.headers["set-cookie"]
    answer = browserless.post(tls_hub.url + "/console/login", allow_redirects=False, timeout=30, verify=ca,
                              data={"csrf": csrf, "username": "qt.tls", "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    session_cookie = [c for c in answer.raw.headers.getlist("set-cookie") if c.startswith("motcua_console=")][0]
    assert all(flag in session_cookie for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/console"))
    page = browserless.get(tls_hub.url + "/console/", timeout=30, verify=ca)
    assert page.status_code == 200 and "Vũ Thị Hà" in page.text
    assert page.headers["cache-control"] == "no-store" and "frame-ancestors 'none'" in page.headers["content-security-policy"]
