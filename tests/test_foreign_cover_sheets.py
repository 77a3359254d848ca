"""The province's plain cover sheets (a QR holding just the dossier code, no motcua mark) are cover sheets too.

Story: a post office receives two dossiers whose cover sheets were printed by
the provincial case system. The clerk scans them as one stack and, out of
habit, types a procedure code. The stack must be held for review — never one
dossier holding two citizens' papers.
"""
from __future__ import annotations

import json
import re

import pytest
import qrcode
from PIL import Image, ImageDraw

from scanners import synthetic
from scanners.cover_sheets import DOSSIER, DOSSIER_CODE, parse_payload, read_cover
from scanners.errors import BatchHeld, CaptureError
from scanners.pages import Page
from scanners.pipeline import PipelineOptions, run_pipeline

from .conftest import queue_json, run_motcua

pytestmark = pytest.mark.usefixtures("no_ocr")
CODE_A, CODE_B = "000.00.01.H29-260115-0001", "000.00.01.H29-260115-1234567"


def plain_cover(text: str) -> Image.Image:
    """A cover sheet as another system prints it: a title and a QR holding `text`, no comb mark."""
    page = Image.new("L", (2480, 3508), 250)
    draw = ImageDraw.Draw(page)
    draw.text((300, 300), "PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", font=synthetic.font(60, bold=True), fill=20)
    qr = qrcode.make(text, box_size=12, border=4).convert("L")
    page.paste(qr, (900, 700))
    draw.text((300, 700 + qr.height + 100), f"Mã hồ sơ: {text}", font=synthetic.font(50), fill=20)
    return page


@pytest.mark.parametrize("text,is_code", [
    (CODE_A, True), (CODE_B, True), ("G22.99-261301-0001", False),  # no month 13
    ("000.00.01.H29-260115-001", False), ("000.00.01.h29-260115-0001", False),
    ("A" * 35 + "-260115-0001", True), ("A" * 36 + "-260115-0001", False),
    ("001099012345|123456789|Nguyễn Văn A|01011990|Nam|Hà Nội|15082021", False),  # a chip ID card's QR
])
def test_national_dossier_code_format(text, is_code):
    assert bool(DOSSIER_CODE.fullmatch(text)) is is_code
    read = parse_payload(text)
    assert (read == read.__class__(DOSSIER, text)) if is_code else read is None


def test_plain_qr_cover_is_read_and_a_configured_pattern_too():
    assert read_cover(plain_cover(CODE_A), 300) == parse_payload(CODE_A)
    local = plain_cover("HS-2026-00042")
    assert read_cover(local, 300) is None  # not a national code: content, unless the province says otherwise
    assert read_cover(local, 300, re.compile(r"HS-\d{4}-\d{5}")).value == "HS-2026-00042"
    id_card = plain_cover("001099012345|123456789|Nguyen Van A|01011990")
    assert read_cover(id_card, 300) is None


def test_bad_configured_pattern_is_a_clear_error():
    pages = [Page(1, "p1", 300.0, loader=synthetic.form_page)]
    with pytest.raises(CaptureError) as bad:
        run_pipeline(pages, PipelineOptions(cover_code_pattern="HS-(", workers=1))
    assert "cover_code_pattern" in bad.value.message_vi


def test_two_plain_covers_split_the_stack_in_the_pipeline():
    images = [plain_cover(CODE_A), synthetic.form_page(), plain_cover(CODE_B), synthetic.stamp_page()]
    pages = [Page(i, f"p{i}", 300.0, loader=im.copy) for i, im in enumerate(images, start=1)]
    result = run_pipeline(pages, PipelineOptions(ocr=False, workers=2))
    assert [(p.code, p.page_count) for p in result.parts] == [(CODE_A, 1), (CODE_B, 1)]


@pytest.mark.parametrize("order", ["covers_first", "cover_in_the_middle"])
def test_stack_with_dossier_code_pages_is_held_even_with_procedure(order, agent, agent_home, tmp_path):
    form = synthetic.save(synthetic.form_page(), tmp_path / "form.png")
    cover_a = synthetic.save(plain_cover(CODE_A), tmp_path / "cover-a.png")
    cover_b = synthetic.save(plain_cover(CODE_B), tmp_path / "cover-b.png")
    stack = [cover_a, form, form, cover_b, form] if order == "covers_first" else [form, form, cover_b, form]
    result = run_motcua("import-stack", *map(str, stack), "--procedure", "1.001193", "--json", home=agent_home)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    error = json.loads(result.stdout)
    assert ("mã hồ sơ" in error["message_vi"] or "phiếu tách" in error["message_vi"]), error
    assert queue_json(agent_home) == []
    # `motcua import` (one dossier from files) refuses such files as well
    single = run_motcua("import", str(cover_a), str(form), "--procedure", "1.001193", home=agent_home)
    assert single.returncode != 0 and "Traceback" not in single.stderr
    assert queue_json(agent_home) == []


def test_plain_cover_without_procedure_is_held_not_guessed(agent, tmp_path):
    from agent.capture.stacks import capture_files
    from agent.errors import InputError

    form = synthetic.save(synthetic.form_page(), tmp_path / "form.png")
    cover = synthetic.save(plain_cover(CODE_A), tmp_path / "cover.png")
    with pytest.raises(InputError) as held:
        capture_files(agent, [cover, form])
    assert isinstance(held.value.capture_error, BatchHeld)  # type: ignore[attr-defined]
    assert held.value.capture_error.reason == "cover_unknown"  # type: ignore[attr-defined]
    assert agent.outbox.list() == []
