"""The console's webhook dead-letter page against the interface the case-system branch provides:
`hub.case_system.webhooks.list_dead_letters(state, limit)` and `replay_dead_letter(state, id, actor)`.

That module is built on another branch and is not part of this tree, so here — and only here — a
stand-in module with exactly those two functions is put in `sys.modules`. Everything else is real:
the hub application served by uvicorn on loopback, its SQLite database, sessions and CSRF checks.
"""
from __future__ import annotations

import re
import sys
import threading
import time
import types

import pytest
import requests
import uvicorn

from hub.app import create_app
from hub.config import HubConfig
from hub.console import accounts

from .conftest import free_port

PASSWORD = "mật khẩu đủ dài 2026"


@pytest.fixture
def webhooks_stand_in(monkeypatch):
    calls: list[tuple[str, str]] = []
    letters = [{"dead_letter_id": "dl-7", "dossier_id": "01a2", "url": "https://case.example/hook", "attempts": 12,
                "last_error": "HTTP 503"}]
    module = types.ModuleType("hub.case_system.webhooks")
    module.list_dead_letters = lambda state, limit: letters[:limit]  # type: ignore[attr-defined]
    module.replay_dead_letter = lambda state, dead_letter_id, actor: calls.append((dead_letter_id, actor)) or True  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hub.case_system", types.ModuleType("hub.case_system"))
    monkeypatch.setitem(sys.modules, "hub.case_system.webhooks", module)
    return calls


@pytest.fixture
def hub_in_thread(tmp_path, webhooks_stand_in):
    app = create_app(HubConfig(data_dir=tmp_path / "hub"))
    for name, role in (("op.an", "operator"), ("xem.ba", "viewer")):
        accounts.add_user(app.state.hub, name, name, role, PASSWORD)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(30)


def session_for(url: str, username: str) -> tuple[requests.Session, str]:
    browserless = requests.Session()
    form = browserless.get(url + "/console/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)[1]
    page = browserless.post(url + "/console/login", data={"csrf": csrf, "username": username, "password": PASSWORD},
                            timeout=30)
    assert page.status_code == 200, page.text
    return browserless, re.search(r'name="csrf" value="([^"]+)"', page.text)[1]


def test_operator_replays_a_dead_letter_and_a_viewer_cannot(hub_in_thread, webhooks_stand_in):
    viewer, viewer_csrf = session_for(hub_in_thread, "xem.ba")
    listed = viewer.get(hub_in_thread + "/console/webhooks", timeout=30)
    assert "dl-7" in listed.text and "HTTP 503" in listed.text and "/replay" not in listed.text  # no button
    refused = viewer.post(hub_in_thread + "/console/webhooks/dl-7/replay", data={"csrf": viewer_csrf}, timeout=30)
    assert refused.status_code == 403 and webhooks_stand_in == []

    operator, csrf = session_for(hub_in_thread, "op.an")
    assert "/console/webhooks/dl-7/replay" in operator.get(hub_in_thread + "/console/webhooks", timeout=30).text
    forged = operator.post(hub_in_thread + "/console/webhooks/dl-7/replay", data={"csrf": viewer_csrf}, timeout=30)
    assert forged.status_code == 403 and webhooks_stand_in == []
    done = operator.post(hub_in_thread + "/console/webhooks/dl-7/replay", data={"csrf": csrf}, timeout=30)
    assert done.status_code == 200 and "Đã xếp lại vào hàng gửi" in done.text
    assert webhooks_stand_in == [("dl-7", "staff:op.an")]  # replayed once, under the person's name
