"""Browser-test support shared by the desk UI tests: the `motcua ui` process, Debian's Chromium
driven by Playwright, screenshots, desk accounts and logging in."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make deps)")
PASSWORD = "mat-khau-quay-1"
OFFICER = ("lan", "Trần Thị Lan")
COURIER = ("cuong", "Lê Văn Cường")


def start_ui(home: Path, log_path: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    log = open(log_path, "wb")
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "ui", "--port", str(port), *extra], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "MOTCUA_HOME": str(home)})
    return proc, port


def wait_up(url: str, proc: subprocess.Popen, log_path: Path, verify: bool | str = True) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log_path.read_text())
        try:
            requests.get(url + "/login", timeout=2, verify=verify)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(log_path.read_text())


def add_account(ctx, who: tuple[str, str], role: str, secret: str = PASSWORD, kind: str = "password"):
    from agent.desk.accounts import add_user

    return add_user(ctx, who[0], who[1], role, secret, kind)


@pytest.fixture
def ui(agent, agent_home, tmp_path):
    """`motcua ui` on loopback for an enrolled agent with an officer account (OFFICER, PASSWORD)."""
    add_account(agent, OFFICER, "officer")
    proc, port = start_ui(agent_home, tmp_path / "ui.log")
    url = f"http://127.0.0.1:{port}"
    wait_up(url, proc, tmp_path / "ui.log")
    yield url
    proc.terminate()
    proc.wait(60)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()

    def take(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=False)
        if os.environ.get("MOTCUA_SCREENSHOTS"):
            (ROOT / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
            shutil.copy(folder / f"{name}.png", ROOT / "docs" / "screenshots" / f"{name}.png")

    return take


def login(page, url: str, who: tuple[str, str] = OFFICER, secret: str = PASSWORD) -> None:
    page.goto(url + "/login")
    page.get_by_label("Tên đăng nhập").fill(who[0])
    page.get_by_label("Mật khẩu hoặc mã PIN").fill(secret)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()


def sign_on_pad(page) -> None:
    """Draw a signature on the page's #sigpad with the mouse (or a finger on a touch page)."""
    box = page.locator("#sigpad").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 40)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 20 + i * 25, box["y"] + 40 + (i % 3) * 30)
    page.mouse.up()


def session_of(page) -> requests.Session:
    """A requests session carrying the browser's cookies (to fetch PDFs the page links to)."""
    session = requests.Session()
    for cookie in page.context.cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    return session


def login_session(url: str, who: tuple[str, str] = OFFICER, secret: str = PASSWORD) -> requests.Session:
    """A requests session logged in to the desk UI at `url` as `who` (form login with its CSRF token)."""
    import re

    session = requests.Session()
    form = session.get(url + "/login", timeout=60)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    answer = session.post(url + "/login", data={"username": who[0], "secret": secret, "next": "/",
                                                "csrf": csrf[1] if csrf else ""}, timeout=60)
    assert answer.ok, answer.text[:300]
    return session
