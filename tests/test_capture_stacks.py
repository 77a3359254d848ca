"""Desk story: print cover sheets, scan a mixed stack (files, SANE test backend, hot folder), get dossiers."""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from agent.capture.stacks import capture_files, print_cover_sheet
from agent.errors import InputError
from agent.capture.hotfolder import hot_folder
from agent.capture.scanning import ScanStopped, open_batches, scan
from scanners import synthetic
from scanners.cover_sheets import DOSSIER, render_cover
from scanners.sane import ScanSettings

from .conftest import queue_json, run_motcua


@pytest.fixture(autouse=True)
def no_ocr(monkeypatch):
    monkeypatch.setenv("MOTCUA_OCR", "off")  # OCR has its own test; keep these fast


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scans")
    synthetic.save(synthetic.form_page(), folder / "form.png")
    synthetic.save(synthetic.blank_back(), folder / "blank.png")
    synthetic.save(synthetic.stamp_page(), folder / "stamp.jpg")
    return folder


def cover_png(ctx, tmp_path: Path, procedure: str) -> tuple[str, Path]:
    info = print_cover_sheet(ctx, procedure, "postal", tmp_path / f"cover-{procedure}.pdf")
    path = synthetic.save(render_cover(DOSSIER, info["code"]), tmp_path / f"cover-{info['code']}.png")
    return info["code"], path  # the "scanned" cover: the same sheet as printed, as a page image


def test_mixed_stack_with_two_cover_sheets_becomes_two_dossiers(agent, agent_home, scans, tmp_path):
    printed = run_motcua("cover-sheet", "--procedure", "1.001193", "-o", str(tmp_path / "c.pdf"), "--json",
                         home=agent_home)
    assert printed.returncode == 0, printed.stderr
    code_a = json.loads(printed.stdout)["code"]
    assert (tmp_path / "c.pdf").read_bytes().startswith(b"%PDF-")
    cover_a = synthetic.save(render_cover(DOSSIER, code_a), tmp_path / "cover-a.png")
    code_b, cover_b = cover_png(agent, tmp_path, "1.004222")
    stack = [cover_a, scans / "form.png", scans / "blank.png", scans / "stamp.jpg", cover_b, scans / "form.png"]
    result = run_motcua("import-stack", *map(str, stack), "--json", home=agent_home)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert [(d["code"], d["pages"], d["procedure_code"]) for d in outcome["dossiers"]] == [
        (code_a, 2, "1.001193"), (code_b, 1, "1.004222")]
    assert outcome["blank_pages"] == [3] and outcome["cover_pages"] == [1, 5]
    # the same stack again is recognised, not queued twice
    again = json.loads(run_motcua("import-stack", *map(str, stack), "--json", home=agent_home).stdout)
    assert again["dossiers"] == [] and again["already_captured"] == [code_a, code_b]
    assert len(queue_json(agent_home)) == 2
    sealed = run_motcua("seal", "--json", home=agent_home)
    assert sealed.returncode == 0, sealed.stderr
    assert [d["state"] for d in json.loads(sealed.stdout)] == ["sealed", "sealed"]


def test_unreadable_cover_holds_the_stack_and_queues_nothing(agent, agent_home, scans, tmp_path):
    code, cover = cover_png(agent, tmp_path, "1.001193")
    from PIL import Image

    damaged = Image.open(cover)
    damaged.paste(1, (700, 800, 1800, 1900))
    damaged.save(tmp_path / "damaged.png")
    result = run_motcua("import-stack", str(cover), str(scans / "form.png"), str(tmp_path / "damaged.png"),
                        str(scans / "form.png"), home=agent_home)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "trang 3" in result.stderr and "page 3" in result.stderr
    assert queue_json(agent_home) == []
    with pytest.raises(InputError):
        capture_files(agent, [scans / "form.png"])  # no cover and no procedure: held, not guessed


def test_sane_batch_survives_a_paper_jam_and_continues(agent, sane_test_backend):
    grid = ("--test-picture=Grid",)
    first = scan(agent, ScanSettings(device="test", resolution=75, batch_count=2, options=grid),
                 procedure_code="2.000815", more=True, env=sane_test_backend)
    assert first.pages_scanned == 2 and not first.finished
    with pytest.raises(ScanStopped) as jam:
        scan(agent, ScanSettings(device="test", resolution=75, batch_count=2,
                                 options=grid + ("--read-return-value=SANE_STATUS_JAMMED",)),
             continue_batch=first.batch_id, env=sane_test_backend)
    assert jam.value.status == "JAMMED" and jam.value.pages == 2
    assert "kẹt giấy" in jam.value.message_vi and f"--continue {first.batch_id}" in jam.value.hint
    assert [b["pages"] for b in open_batches(agent)] == [2]
    assert agent.outbox.list() == []
    done = scan(agent, ScanSettings(device="test", resolution=75, batch_count=1, options=grid),
                continue_batch=first.batch_id, env=sane_test_backend)
    assert done.finished and [d.page_count for d in done.stack.dossiers] == [3]
    assert open_batches(agent) == []  # scans deleted once queued


def test_scan_cli_reports_cover_open_and_missing_scanner(agent, agent_home, sane_test_backend):
    cover_open = run_motcua("scan", "-d", "test", "--resolution", "50", "--batch-count", "1", "--procedure",
                            "1.001193", "--device-option=--read-return-value=SANE_STATUS_COVER_OPEN", "--json",
                            home=agent_home, env=sane_test_backend)
    assert cover_open.returncode == 1 and "Traceback" not in cover_open.stderr
    error = json.loads(cover_open.stdout)
    assert error["status"] == "COVER_OPEN" and "nắp" in error["message_vi"]
    missing = run_motcua("scan", "-d", "nosuch", "--procedure", "1.001193", home=agent_home, env=sane_test_backend)
    assert missing.returncode == 1 and "không tìm thấy máy quét" in missing.stderr
    listed = run_motcua("scan", "--list-devices", "--json", home=agent_home, env=sane_test_backend)
    assert any(d["device"].startswith("test") for d in json.loads(listed.stdout))


def test_hot_folder_takes_only_settled_files_and_never_twice(agent, scans, tmp_path):
    inbox = tmp_path / "inbox"
    folder = hot_folder(agent, inbox, procedure_code="1.001193", settle_seconds=0.3, poll_interval=0.1)
    growing = inbox / "scan1.png"
    data = (scans / "form.png").read_bytes()
    growing.write_bytes(data[: len(data) // 2])  # the scanner is still writing
    (inbox / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    assert folder.scan_once() == []
    growing.write_bytes(data)
    time.sleep(0.4)
    assert folder.scan_once() == []  # it changed: wait for it to settle again
    time.sleep(0.4)
    done = folder.scan_once()
    assert [(c.name, c.ok) for c in done] == [("scan1.png", True)]
    assert (inbox / "done" / "scan1.png").exists() and len(agent.outbox.list()) == 1
    time.sleep(1.6)  # the broken file is failed once it has been stable long enough
    failed = folder.scan_once()
    assert [(c.name, c.ok) for c in failed] == [("broken.jpg", False)]
    reason = (inbox / "failed" / "broken.jpg.reason.txt").read_text("utf-8")
    assert "broken.jpg" in reason and "hỏng" in reason

    # crash after capture, before the move: the file is seen again after a restart
    capture_files(agent, [scans / "stamp.jpg"], procedure_code="1.001193")
    os.link(scans / "stamp.jpg", inbox / "again.jpg")
    restarted = hot_folder(agent, inbox, procedure_code="1.001193", settle_seconds=0.2, poll_interval=0.1)
    stop = threading.Event()
    seen: list = []
    safety = threading.Timer(20, stop.set)  # the outbox belongs to this thread: watch here, stop on first file
    safety.start()
    restarted.run(stop, lambda consumed: (seen.append(consumed), stop.set()))
    safety.cancel()
    assert seen and seen[0].ok and seen[0].note.startswith("already captured")
    assert (inbox / "done" / "again.jpg").exists() and len(agent.outbox.list()) == 2
