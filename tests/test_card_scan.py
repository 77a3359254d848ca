"""The chip ID card from the desk's scanners, without the browser: the flatbed path (real scanimage on
SANE's test backend, and generated card images through the button's decode-and-fill function), the
hot folder's card/ subfolder (read, offered once, image deleted, nothing personal logged) and
`motcua watch` picking card images up."""
from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from agent.context import AgentContext
from agent.desk import intake_forms
from agent.desk.card_scan import (
    card_hot_folder,
    card_reads_dir,
    latest_card_read,
    scan_and_fill,
    scan_card_image,
    take_card_read,
)
from agent.desk.idcard import CardUnreadable
from agent.desk.sample_cards import SAMPLE_PAYLOAD, card_image, damaged_card_image
from agent.errors import InputError

from .conftest import run_motcua

EXPECTED = {"citizen_id": "079190001234", "applicant_name": "Nguyễn Thị Ánh Tuyết", "birth_date": "05/03/1990",
            "sex": "Nữ", "address": "Số 5, ấp Phước Lợi, xã Tân Phú, Thành phố Hồ Chí Minh"}
PERSONAL = ("079190001234", "272345678", "Nguyễn", "Tuyết", "Phước Lợi", "05031990", "05/03/1990")


@pytest.fixture
def desk(tmp_path: Path):
    ctx = AgentContext.open(tmp_path / "desk")
    yield ctx
    ctx.close()


def _no_personal_data(text: str) -> None:
    for item in PERSONAL:
        assert item not in text, item


def test_flatbed_scan_runs_scanimage_and_says_no_qr_on_the_test_pattern(desk, sane_test_backend, caplog):
    caplog.set_level("DEBUG")
    key = intake_forms.new_form(desk, "lan")
    image = scan_card_image(desk, sane_test_backend)  # the real path: scanimage on test:0, the card corner only
    with Image.open(io.BytesIO(image)) as scanned:
        width, height = scanned.size
    assert abs(width - 1063) <= 2 and abs(height - 709) <= 2  # 90 x 60 mm at 300 dpi: the card corner
    with pytest.raises(CardUnreadable) as exc:
        scan_and_fill(desk, form_key=key, username="lan", env=sane_test_backend)
    assert "Không thấy mã QR" in exc.value.message_vi and "No QR found" in exc.value.message_en
    assert "nhập tay" in exc.value.message_vi
    assert not any((desk.config.home / "card_scan").iterdir())  # the scan is not kept
    assert "scan_start" in caplog.text


def test_flatbed_without_a_scanner_says_so(desk, tmp_path):
    empty = tmp_path / "no-sane"
    empty.mkdir()
    (empty / "dll.conf").write_text("")
    with pytest.raises(InputError) as exc:
        scan_card_image(desk, {"SANE_CONFIG_DIR": str(empty)})
    assert exc.value.message_vi.startswith("Không quét được thẻ") and "could not be scanned" in exc.value.message_en


def test_generated_card_through_the_buttons_decode_and_fill(desk, caplog):
    """SANE's test backend cannot scan a card, so this feeds generated card images to `scan_and_fill` (the
    function behind the "Quét thẻ CCCD" button) as its scan source; the scanimage step itself is proven above."""
    caplog.set_level("DEBUG")
    key = intake_forms.new_form(desk, "lan")

    def flatbed(image: bytes):
        return lambda ctx, env: image

    fields = scan_and_fill(desk, form_key=key, username="lan", procedure_code="1.001193",
                           source=flatbed(card_image(rotate=3, wear=0.2)))
    assert fields == EXPECTED
    assert intake_forms.kept_scans(desk, key) == []  # birth registration asks no ID copy: the image is dropped

    # Certifying a signature lists "Giấy tờ tùy thân": the card's copy joins the form's scans.
    fields = scan_and_fill(desk, form_key=key, username="lan", procedure_code="2.000884", source=flatbed(card_image()))
    kept = intake_forms.kept_scans(desk, key)
    assert [p.name for p in kept] == [fields.pop("card_copy_kept")] and fields == EXPECTED
    assert kept[0].read_bytes().startswith(b"\x89PNG") and oct(kept[0].stat().st_mode & 0o777) == "0o600"

    with pytest.raises(CardUnreadable, match="No QR found in the scan") as damaged:
        scan_and_fill(desk, form_key=key, username="lan", procedure_code="2.000884",
                      source=flatbed(damaged_card_image()))
    assert "nhập tay" in damaged.value.message_vi
    assert len(intake_forms.kept_scans(desk, key)) == 1  # no copy of a card that was not read
    with pytest.raises(CardUnreadable, match="not a chip ID card"):
        scan_and_fill(desk, form_key=key, username="lan", source=flatbed(card_image(payload="000.00.01.H29-260211-1")))
    _no_personal_data(caplog.text)


def _drain(folder, rounds: int = 50) -> list:
    consumed: list = []
    for _ in range(rounds):
        consumed += folder.scan_once()
        if not any(p.is_file() for p in folder.inbox.iterdir()):
            return consumed
        time.sleep(0.05)
    raise AssertionError("the card folder was not drained")


def test_hot_folder_card_is_offered_once_and_its_image_deleted(desk, tmp_path, caplog):
    caplog.set_level("DEBUG")
    inbox = tmp_path / "hot"
    folder = card_hot_folder(desk, inbox, settle_seconds=0)
    assert folder.inbox == inbox / "card" and folder.inbox.is_dir()
    assert latest_card_read(desk) is None
    (folder.inbox / "scan0001.jpg").write_bytes(card_image(fmt="JPEG", rotate=90))
    [consumed] = _drain(folder)
    assert consumed.ok and "card read" in consumed.note
    assert list(folder.inbox.rglob("*.jpg")) == [] and not (folder.inbox / "done").exists()  # image deleted

    offer = latest_card_read(desk)
    assert offer["ok"] and set(offer) == {"id", "at", "ok"}  # the offer itself carries no personal data
    stored = card_reads_dir(desk)
    assert oct(stored.stat().st_mode & 0o777) == "0o700"
    assert take_card_read(desk, offer["id"]) == EXPECTED
    assert latest_card_read(desk) is None and list(stored.iterdir()) == []  # taken once, then gone
    with pytest.raises(InputError, match="already used or has expired"):
        take_card_read(desk, offer["id"])
    with pytest.raises(InputError):
        take_card_read(desk, "../../config")
    _no_personal_data(caplog.text)


def test_hot_folder_damaged_card_leaves_a_message_and_no_image(desk, tmp_path):
    folder = card_hot_folder(desk, tmp_path / "hot", settle_seconds=0)
    (folder.inbox / "torn.png").write_bytes(damaged_card_image())
    [consumed] = _drain(folder)
    assert not consumed.ok and "cannot be read" in consumed.note
    assert [p.name for p in (folder.inbox / "failed").iterdir()] == ["torn.png.reason.txt"]  # the reason, no image
    offer = latest_card_read(desk)
    assert not offer["ok"] and "Không đọc được mã QR" in offer["error_vi"] and "Type the fields" in offer["error_en"]
    with pytest.raises(CardUnreadable, match="cannot be read"):
        take_card_read(desk, offer["id"])


def test_card_reads_expire_after_a_few_minutes(desk, tmp_path):
    folder = card_hot_folder(desk, tmp_path / "hot", settle_seconds=0)
    (folder.inbox / "a.png").write_bytes(card_image())
    _drain(folder)
    [path] = card_reads_dir(desk).iterdir()
    entry = json.loads(path.read_text("utf-8"))
    entry["at"] = "2026-01-01T00:00:00Z"
    path.write_text(json.dumps(entry), "utf-8")
    from agent.desk.workflows import purge_returned_personal_data

    purge_returned_personal_data(desk)  # `motcua run`'s after-pass hook: no officer needs to look
    assert not path.exists() and latest_card_read(desk) is None


def test_motcua_watch_reads_the_card_subfolder(agent, agent_home, tmp_path):
    inbox = tmp_path / "share"
    (inbox / "card").mkdir(parents=True)
    (inbox / "card" / "cccd.png").write_bytes(card_image())
    (inbox / "card" / "torn.png").write_bytes(damaged_card_image())
    result = run_motcua("watch", str(inbox), "--once", "--settle", "0.2", "--json", home=agent_home, timeout=180)
    assert result.returncode == 0, result.stderr
    lines, text = [], result.stdout.strip()
    while text:  # one JSON document per consumed file
        item, end = json.JSONDecoder().raw_decode(text)
        lines.append(item)
        text = text[end:].strip()
    assert sorted((d["file"], d["ok"]) for d in lines) == [("cccd.png", True), ("torn.png", False)]
    _no_personal_data(result.stdout + result.stderr)
    assert [p.name for p in (inbox / "card").rglob("*.png")] == []
    offer = latest_card_read(agent)
    assert offer is not None
    reads = sorted(json.loads(p.read_text("utf-8")).get("fields") is not None for p in card_reads_dir(agent).iterdir())
    assert reads == [False, True]
    assert not any(SAMPLE_PAYLOAD.split("|")[0] in name for name in os.listdir(card_reads_dir(agent)))


def test_motcua_watch_keeps_watching_the_card_subfolder(agent, agent_home, tmp_path):
    """The long-running watcher (not --once): a card dropped while it runs is read and deleted."""
    import subprocess
    import sys

    from .conftest import ROOT

    inbox = tmp_path / "share"
    proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "watch", str(inbox), "--settle", "0.2"], cwd=ROOT,
                            env={**os.environ, "MOTCUA_HOME": str(agent_home)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (inbox / "card").is_dir() and time.monotonic() < deadline:
            time.sleep(0.1)
        (inbox / "card" / "cccd.png").write_bytes(card_image())
        while latest_card_read(agent) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert latest_card_read(agent)["ok"] and not (inbox / "card" / "cccd.png").exists()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "cccd.png" in out and "Traceback" not in err
    _no_personal_data(out + err)
