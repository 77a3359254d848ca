"""Who may use the desk UI, in real Chromium: every page needs a login, wrong secrets and logout, a
courier account sees only the tasks handed to it; beyond loopback the UI is HTTPS only."""
from __future__ import annotations

import hashlib
import json
import re
import ssl

import pytest
import requests

from agent.desk.intake_forms import new_form

from .web_support import (COURIER, OFFICER, PASSWORD, add_account, browser, login, needs_chromium,  # noqa: F401
                          session_of, start_ui, ui, wait_up)

pytestmark = needs_chromium


def test_every_page_needs_a_login(ui, browser):
    anonymous = requests.Session()
    for path in ("/", "/intake", "/events", "/courier", "/search?q=0912", "/due", "/dossiers/x/slip.pdf"):
        answer = anonymous.get(ui + path, allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    assert anonymous.post(ui + "/intake", data={"csrf": "x"}, timeout=10).status_code == 401
    assert anonymous.post(ui + "/sync", timeout=10).status_code == 401

    page = browser.new_page()
    page.goto(ui + "/events")
    assert "/login?next=/events" in page.url
    page.get_by_label("Tên đăng nhập").fill(OFFICER[0])
    page.get_by_label("Mật khẩu hoặc mã PIN").fill("sai-mat-khau")
    page.get_by_role("button", name="Đăng nhập").click()
    assert "Sai tên đăng nhập hoặc mật khẩu/PIN" in page.locator("#login-error").inner_text()
    page.get_by_label("Mật khẩu hoặc mã PIN").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/events")  # back where the officer wanted to go
    assert page.locator("#who").inner_text() == "Trần Thị Lan · Cán bộ tiếp nhận"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["motcua_session"]["httpOnly"] and cookies["motcua_session"]["sameSite"] == "Strict"

    page.get_by_role("button", name="Đăng xuất").click()
    page.wait_for_url("**/login")
    page.goto(ui + "/")
    assert "/login" in page.url
    stale = requests.Session()
    stale.cookies.set("motcua_session", cookies["motcua_session"]["value"])
    assert stale.get(ui + "/", allow_redirects=False, timeout=10).status_code == 303  # the old cookie is dead


def test_login_redirect_stays_on_the_desk(ui, browser):
    page = browser.new_page()
    page.goto(ui + "/login?next=//evil.example/x")
    page.get_by_label("Tên đăng nhập").fill(OFFICER[0])
    page.get_by_label("Mật khẩu hoặc mã PIN").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()
    assert page.url.startswith(ui + "/")


def _task_for(ctx, code: str, name: str, courier_account: str) -> None:
    """A result out for delivery with `courier_account` (rows as the feed and a handover leave them)."""
    dossier_id = "d-" + code[-4:]
    data = {"applicant": {"applicant_name": name, "phone": "0912345678", "citizen_id": "079190001234"},
            "delivery_address": "Thôn 1, xã Tân Phú", "procedure_name": "Đăng ký thường trú"}
    with ctx.outbox.transaction() as conn:
        conn.execute("INSERT INTO intake(dossier_id, code, procedure_code, channel, return_method, received_at,"
                     " processing_days, due_at, calendar_version, data, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (dossier_id, code, "1.004222", "counter", "post", "20260301000000", 7, "20260310100000", "x",
                      json.dumps(data, ensure_ascii=False), "20260301000000"))
        conn.execute("INSERT INTO courier_tasks(dossier_id, dossier_code, state, attempts, batch, courier, created_at,"
                     " updated_at, courier_account) VALUES (?,?,?,?,?,?,?,?,?)",
                     (dossier_id, code, "out", 0, "BG-1", courier_account, "20260301000000", "20260301000000",
                      courier_account))


def test_a_courier_sees_only_its_own_tasks(agent, ui, browser):
    add_account(agent, COURIER, "courier")
    add_account(agent, ("dung", "Mai Văn Dũng"), "courier")
    _task_for(agent, "000.00.01.H29-260301-0001", "Nguyễn Văn Mười", "cuong")
    _task_for(agent, "000.00.01.H29-260301-0002", "Hoàng Thị Hai", "dung")
    page = browser.new_page()
    login(page, ui, COURIER)
    page.wait_for_url("**/courier")
    tasks = page.locator(".tasks").inner_text()
    assert "Nguyễn Văn Mười" in tasks and "Hoàng Thị Hai" not in tasks
    nav = page.locator("header nav").inner_text()
    assert "Tiếp nhận" not in nav and "Tra cứu" not in nav
    session = session_of(page)
    for path in ("/intake", "/events", "/search?q=Hai", "/due", "/dossiers/000.00.01.H29-260301-0001",
                 "/dossiers/000.00.01.H29-260301-0001/slip.pdf", "/courier/handover/BG-1.pdf"):
        answer = session.get(ui + path, timeout=10, allow_redirects=False)
        assert answer.status_code == 403 and "không được mở trang này" in answer.text, path
    other = session.get(ui + "/courier/000.00.01.H29-260301-0002", timeout=10)
    assert other.status_code == 400 and "Hoàng Thị Hai" not in other.text  # another courier's citizen stays hidden
    csrf = re.search(r'name="csrf" value="([^"]+)"', session.get(ui + "/courier", timeout=10).text).group(1)
    posted = session.post(ui + "/courier/000.00.01.H29-260301-0002/failed", data={"csrf": csrf, "reason": "not_home"},
                          timeout=10)
    assert posted.status_code == 400
    state = agent.outbox.conn.execute("SELECT attempts FROM courier_tasks WHERE courier_account='dung'").fetchone()
    assert state == (0,)
    assert session.post(ui + "/intake", data={"csrf": csrf, "form_key": new_form(agent, "cuong")},
                        timeout=10).status_code == 403


def test_beyond_loopback_only_https_with_the_desk_certificate(agent, agent_home, tmp_path):
    add_account(agent, OFFICER, "officer")
    proc, port = start_ui(agent_home, tmp_path / "ui.log", "--host", "0.0.0.0", "--name", "quay1.xa.local")
    try:
        url = f"https://127.0.0.1:{port}"
        cert_path = agent_home / "ui-tls" / "cert.pem"
        wait_up(url, proc, tmp_path / "ui.log", verify=False)
        printed = re.search(r"SHA-256\): ([0-9A-F:]{95})", (tmp_path / "ui.log").read_text()).group(1)
        served = ssl.get_server_certificate(("127.0.0.1", port))
        digest = hashlib.sha256(ssl.PEM_cert_to_DER_cert(served)).hexdigest().upper()
        assert printed.replace(":", "") == digest  # the fingerprint shown is the one served: pin it
        assert requests.get(url + "/login", verify=str(cert_path), timeout=10).ok  # the certificate names 127.0.0.1
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/login", timeout=10)  # no plain HTTP
        assert requests.get(url + "/login", verify=False, headers={"Host": "evil.example"}, timeout=10).status_code == 421
        assert requests.get(url + "/login", verify=False, headers={"Host": "quay1.xa.local"}, timeout=10).ok
        session = requests.Session()
        page = session.get(url + "/login", verify=str(cert_path), timeout=10).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        session.post(url + "/login", data={"csrf": csrf, "username": OFFICER[0], "secret": PASSWORD},
                     verify=str(cert_path), timeout=30)
        assert [c.secure for c in session.cookies if c.name == "motcua_session"] == [True]
        session.close()
    finally:
        proc.terminate()
        proc.wait(60)


def test_plain_http_beyond_loopback_is_refused(agent_home):
    from agent.errors import InputError
    from agent.web.app import serve

    with pytest.raises(InputError, match="HTTPS only"):
        serve(agent_home, "0.0.0.0", 1, None)
