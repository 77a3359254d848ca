"""Import failures: bad files, bad codes. Nothing may be queued when anything is wrong.

Every refusal names the file (or the option) and says what is wrong in
Vietnamese and English; the outbox database and the blob store are exactly as
before (a temporary file in blobs/tmp is allowed, nothing else).
"""
from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import img2pdf
import pikepdf
import pytest

from agent.capture.files import import_files
from agent.context import AgentContext
from agent.errors import InputError
from agent.delivery.enrolment import enrol
from agent.capture.sample_pages import sample_dossier

from .conftest import ROOT, SITE, HubProcess, assert_clean_failure, run_motcua

pytestmark = pytest.mark.usefixtures("no_ocr")  # OCR is not what these tests are about


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """An enrolled desk (and its hub) shared by this module: every test here must leave its outbox untouched."""
    base = tmp_path_factory.mktemp("import")
    hub = HubProcess(base / "hub").start()
    home = base / "agent"
    ctx = AgentContext.open(home)
    enrol(ctx, hub.url, hub.token(), SITE)
    ctx.close()
    yield home
    hub.stop()


@pytest.fixture(scope="module")
def scans(tmp_path_factory) -> list[Path]:
    return sample_dossier(tmp_path_factory.mktemp("scans"))


def snapshot(home: Path) -> tuple:
    """Everything an import could change: every outbox row and every stored blob (tmp/ excluded)."""
    conn = sqlite3.connect(home / "outbox.db")
    try:
        rows = tuple(tuple(conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall())
                     for table in ("dossiers", "documents", "device_state", "uploads"))
    finally:
        conn.close()
    blobs = sorted(str(p.relative_to(home)) for p in (home / "blobs").rglob("*")
                   if p.is_file() and "tmp" not in p.relative_to(home / "blobs").parts)
    return rows, tuple(blobs)


@pytest.fixture
def unchanged(desk):
    """Assert that the test leaves the outbox exactly as it found it."""
    run_motcua("queue", home=desk)  # make sure the outbox exists before the first snapshot
    before = snapshot(desk)
    yield
    assert snapshot(desk) == before


def import_cli(home: Path, *files: Path | str, procedure: str = "1.001193", channel: str = "counter",
               prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    if not prefix:
        return run_motcua("import", *map(str, files), "--procedure", procedure, "--channel", channel, home=home)
    return subprocess.run([*prefix, sys.executable, "-m", "agent.cli", "import", *map(str, files),
                           "--procedure", procedure, "--channel", channel],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "MOTCUA_HOME": str(home)})


# -- bad files ------------------------------------------------------------------------------
def make_text_as_jpg(d: Path, scans) -> Path:
    path = d / "ảnh chụp.jpg"
    path.write_text("Đây là văn bản, không phải ảnh.\n", "utf-8")
    return path


def make_truncated_jpeg(d: Path, scans) -> Path:
    data = scans[1].read_bytes()  # page-2.jpg
    path = d / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def make_empty(d: Path, scans) -> Path:
    path = d / "empty.png"
    path.touch()
    return path


def make_missing(d: Path, scans) -> Path:
    return d / "not-there.jpg"


def make_directory(d: Path, scans) -> Path:
    path = d / "folder.pdf"
    path.mkdir()
    return path


def make_png_with_garbage(d: Path, scans) -> Path:
    data = scans[0].read_bytes()
    path = d / "garbled.png"
    path.write_bytes(data[:200] + bytes(len(data) - 200))  # header intact, image data zeroed
    return path


BAD_FILES = {
    "text_renamed_jpg": (make_text_as_jpg, "không phải tệp ảnh hoặc PDF", "not an image or PDF file"),
    "truncated_jpeg": (make_truncated_jpeg, "ảnh bị hỏng hoặc bị cắt cụt", "image is damaged or truncated"),
    "garbled_png": (make_png_with_garbage, "ảnh bị hỏng hoặc bị cắt cụt", "image is damaged or truncated"),
    "empty": (make_empty, "tệp rỗng", "file is empty"),
    "missing": (make_missing, "không tìm thấy tệp", "file not found"),
    "directory": (make_directory, "không phải tệp thường", "not a regular file"),
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_file_is_named_and_nothing_is_queued(kind, desk, scans, tmp_path, unchanged):
    make, vi, en = BAD_FILES[kind]
    bad = make(tmp_path, scans)
    result = import_cli(desk, bad)
    assert_clean_failure(result, str(bad), vi, en, "Kiểm tra lại tệp", exit_code=1)


def test_bad_file_among_good_ones_names_only_the_bad_one(desk, scans, tmp_path, unchanged):
    bad = make_truncated_jpeg(tmp_path, scans)
    result = import_cli(desk, scans[0], bad, scans[2])
    output = assert_clean_failure(result, str(bad), "image is damaged or truncated", exit_code=1)
    assert str(scans[0]) not in output and str(scans[2]) not in output


def scans_as_pdf(scans) -> bytes:
    """A good 3-page PDF of the sample scans, written by qpdf (pikepdf) the way PDF tools write them:
    catalog and page tree first, page images after — so cutting it leaves pages without their images."""
    with pikepdf.open(io.BytesIO(img2pdf.convert([str(p) for p in scans]))) as pdf:
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def truncated_pdf(directory: Path, scans) -> Path:
    pdf = scans_as_pdf(scans)
    path = directory / "hồ sơ cắt cụt.pdf"
    path.write_bytes(pdf[: len(pdf) // 2])
    return path


def test_truncated_pdf_is_refused(desk, scans, tmp_path):
    bad = truncated_pdf(tmp_path, scans)
    before = snapshot(desk)
    result = import_cli(desk, bad)
    assert_clean_failure(result, str(bad), "không đọc được PDF", "not a readable PDF", exit_code=1)
    assert snapshot(desk) == before


def test_pdf_without_its_end_is_refused(desk, scans, tmp_path, unchanged):
    """A PDF cut before any page object is refused today (nothing for qpdf to recover)."""
    pdf = scans_as_pdf(scans)
    bad = tmp_path / "stub.pdf"
    bad.write_bytes(pdf[:40])
    assert_clean_failure(import_cli(desk, bad), str(bad), "not a readable PDF", exit_code=1)


def _drop_read_override() -> tuple[str, ...]:
    """As root, permission bits do not stop reads; run the CLI without CAP_DAC_OVERRIDE/READ_SEARCH instead."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    prefix = (setpriv or "setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
    if setpriv is None or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE with setpriv (util-linux)")
    return prefix


def test_unreadable_file_is_named_and_nothing_is_queued(desk, scans, tmp_path, unchanged):
    bad = tmp_path / "không đọc được.jpg"
    shutil.copy(scans[1], bad)
    bad.chmod(0)
    try:
        result = import_cli(desk, scans[0], bad, prefix=_drop_read_override())
    finally:
        bad.chmod(0o644)
    assert_clean_failure(result, str(bad), "không đọc được", "cannot read", exit_code=1)
    assert "Unexpected error" not in result.stderr


# -- bad codes --------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["1001193", "1.00119", "x.001193", "1.001193 ", ""])
def test_bad_procedure_code_is_refused(code, desk, scans, unchanged):
    result = import_cli(desk, *scans, procedure=code)
    assert_clean_failure(result, f"Mã thủ tục {code!r} không đúng dạng", f"Procedure code {code!r} is not like 1.001193",
                         exit_code=1)


def test_bad_channel_is_refused_by_the_cli_and_the_library(desk, scans, unchanged):
    result = import_cli(desk, *scans, channel="fax")
    assert_clean_failure(result, "Invalid value for '--channel'", "'fax'", exit_code=2)
    ctx = AgentContext.open(desk)
    try:
        with pytest.raises(InputError) as info:
            import_files(ctx, scans, "1.001193", "fax")
    finally:
        ctx.close()
    assert "Kênh tiếp nhận 'fax' không hợp lệ" in info.value.message_vi
    assert "Channel 'fax' is not one of counter, online, postal" in info.value.message_en


def test_no_files_is_a_usage_error(desk, unchanged):
    result = run_motcua("import", "--procedure", "1.001193", home=desk)
    assert_clean_failure(result, "Missing argument 'FILES...'", exit_code=2)


def test_control_good_files_are_queued(desk, scans):
    """The same desk and files do import when nothing is wrong (so the refusals above mean something)."""
    result = import_cli(desk, *scans, channel="postal")
    assert result.returncode == 0, result.stderr
    assert "captured" in result.stdout
