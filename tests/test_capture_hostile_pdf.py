"""A desk officer imports PDFs from citizens' e-mail or USB sticks: nothing active in them may be signed and sent.

Each hostile PDF is a real scanned page plus one kind of active content
(tests/hostile_pdfs.py). The produced PDF must hold only page images, the
text layer and our metadata — checked with pikepdf and poppler's pdfdetach —
and the officer is told what was removed. A PDF whose image declares more
pixels than the limit is refused before it is decoded.
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pikepdf
import pytest

from scanners import synthetic
from scanners.errors import InputFileError
from scanners.file_import import MAX_PIXELS, inspect_files, open_pages, removed_content
from scanners.pipeline import PipelineOptions, run_pipeline

from . import hostile_pdfs
from .conftest import ROOT, run_motcua

pytestmark = pytest.mark.usefixtures("no_ocr")  # OCR is not what these tests are about


@pytest.fixture(scope="module")
def page_image():
    return synthetic.form_page()


def captured(paths: list[Path]) -> bytes:
    with open_pages(inspect_files(paths)) as pages:
        result = run_pipeline(pages, PipelineOptions(ocr=False, workers=1))
    [part] = result.parts
    [document] = part.documents
    return document.pdf


def pdfdetach_list(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["pdfdetach", "-list", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("name", sorted(hostile_pdfs.FEATURES))
def test_each_kind_of_active_content_is_reported_and_left_behind(name, page_image, tmp_path):
    build, feature = hostile_pdfs.FEATURES[name]
    source = hostile_pdfs.write_hostile(tmp_path / f"{name}.pdf", [build], page_image)
    assert hostile_pdfs.output_findings(source.read_bytes()), "the hostile input must itself be caught by the checker"
    [item] = inspect_files([source])
    assert feature in item.removed, item.removed
    output = captured([source])
    assert hostile_pdfs.output_findings(output) == []
    assert "0 embedded files" in pdfdetach_list(output, tmp_path)
    with pikepdf.open(io.BytesIO(output)) as pdf:
        assert len(pdf.pages) == 1
        [image] = pdf.pages[0].get_images().values()
        assert int(image.Width) > 1600  # the page is still there, as an image (a text page is stored at 200 dpi)


def test_evil_exe_is_listed_in_the_input_and_gone_from_the_output(page_image, tmp_path):
    source = hostile_pdfs.write_hostile(tmp_path / "attach.pdf", [hostile_pdfs.embedded_exe], page_image)
    assert "evil.exe" in pdfdetach_list(source.read_bytes(), tmp_path)
    output = captured([source])
    assert b"MZ\x90" not in output and "evil.exe" not in pdfdetach_list(output, tmp_path)


def test_born_digital_page_is_rebuilt_from_pixels_not_copied(page_image, tmp_path):
    source = hostile_pdfs.write_hostile(tmp_path / "mixed.pdf", [hostile_pdfs.text_page], page_image)
    output = captured([source])
    assert hostile_pdfs.output_findings(output) == []
    with pikepdf.open(io.BytesIO(output)) as pdf:
        assert len(pdf.pages) == 2
        text_page = pdf.pages[1]
        assert "/Font" not in text_page.obj.Resources  # no source font, no source content stream operators
        [image] = text_page.get_images().values()
        assert int(image.Width) >= 1600  # rendered at 300 dpi, stored as a text page at 200 dpi
    assert b"DON DANG KY" not in output


def test_officer_is_told_what_was_removed_in_both_languages(agent, agent_home, page_image, tmp_path):
    builders = [build for build, _ in hostile_pdfs.FEATURES.values()]
    source = hostile_pdfs.write_hostile(tmp_path / "everything.pdf", builders, page_image)
    result = run_motcua("import", str(source), "--procedure", "1.001193", "--json", home=agent_home)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    removed = data["removed_content"]
    assert {f for _, f in hostile_pdfs.FEATURES.values()} <= set(removed["features"])
    assert "JavaScript" in removed["message_en"] and "tệp đính kèm" in removed["message_vi"]
    text = run_motcua("import", str(source), "--procedure", "1.001193", home=agent_home)
    assert text.returncode == 0, text.stderr
    assert "Đã loại bỏ nội dung chủ động" in text.stdout and "Active content removed" in text.stdout
    stored = [p for p in (agent_home / "blobs").rglob("*") if p.is_file() and p.read_bytes().startswith(b"%PDF")]
    assert stored and all(hostile_pdfs.output_findings(p.read_bytes()) == [] for p in stored)


def test_clean_scanner_pdf_reports_nothing_removed(page_image, tmp_path):
    source = hostile_pdfs.write_hostile(tmp_path / "clean.pdf", [], page_image)
    assert removed_content(inspect_files([source])) == {}


def pixel_bomb(path: Path, side: int = 20000) -> Path:
    """One 20000×20000 grey image in a tiny PDF: the Flate stream of zeros compresses ~1000:1."""
    data = zlib.compress(b"\xff" * side * side, 9)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, data)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height, image.BitsPerComponent = side, side, 8
    image.ColorSpace, image.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.FlateDecode
    content = pdf.make_stream(b"q 595 0 0 842 0 0 cm /Im0 Do Q")
    page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842], Contents=content,
                              Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)))
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def test_pdf_pixel_bomb_is_refused_before_decoding(agent, agent_home, tmp_path):
    bomb = pixel_bomb(tmp_path / "bom.pdf")
    assert bomb.stat().st_size < 2 * 2**20
    with pytest.raises(InputFileError) as refused:
        inspect_files([bomb])
    assert "20000×20000" in refused.value.message_en and str(MAX_PIXELS) in refused.value.message_vi
    # through the real CLI, in a process of its own whose peak memory (VmHWM) it reports
    script = ("import runpy,sys\nreport=sys.argv[2]\nsys.argv=['motcua','import',sys.argv[1],'--procedure','1.001193']\n"
              "try:\n    runpy.run_module('agent.cli', run_name='__main__')\nexcept SystemExit as exit:\n"
              "    code = exit.code\nhwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
              "open(report,'w').write(f'{code} {hwm}')\n")
    report = tmp_path / "peak.txt"
    result = subprocess.run([sys.executable, "-c", script, str(bomb), str(report)], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "MOTCUA_HOME": str(agent_home)}, timeout=300)
    code, peak_kib = report.read_text().split()
    assert code not in ("0", "None")
    assert "20000×20000" in result.stderr + result.stdout and "Traceback" not in result.stderr
    assert int(peak_kib) < 300 * 1024, f"peak RSS {peak_kib} KiB while refusing a PDF bomb"
