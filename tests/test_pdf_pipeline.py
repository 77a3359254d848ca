"""Page processing: blank filter, classes, encoders, cover-sheet split, OCR — on real rendered pages."""
from __future__ import annotations

import io
import subprocess
from pathlib import Path

import img2pdf
import numpy as np
import pikepdf
import pytest
from PIL import Image

from scanners import synthetic
from scanners.analysis import BILEVEL, COLOUR, PHOTO, analyse
from scanners.cover_sheets import DOSSIER, SEPARATOR, render_cover
from scanners.encoding import bilevel_bitmap, encode_page
from scanners.errors import BatchHeld, PageError
from scanners.file_import import inspect_files, open_pages
from scanners.ocr import ocr_available
from scanners.pages import Page
from scanners.pipeline import PipelineOptions, run_pipeline

CODE1, CODE2 = "000.00.01.H29-240115-0001", "000.00.01.H29-240115-0002"


@pytest.fixture(scope="module")
def corpus() -> dict[str, Image.Image]:
    return {"form": synthetic.form_page(), "stamp": synthetic.stamp_page(), "id": synthetic.id_card_page(),
            "blank": synthetic.blank_back(), "faint": synthetic.faint_stamp_page(),
            "cover1": render_cover(DOSSIER, CODE1), "cover2": render_cover(DOSSIER, CODE2),
            "sep": render_cover(SEPARATOR, "giay-to-kem-theo")}


def as_pages(corpus: dict[str, Image.Image], names: list[str]) -> list[Page]:
    return [Page(i, f"stack trang/page {i}", 300.0, loader=(lambda n=n: corpus[n].copy()))
            for i, n in enumerate(names, start=1)]


def qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    path = tmp_path / "check.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def render(pdf: bytes, tmp_path: Path, dpi: int = 50) -> np.ndarray:
    (tmp_path / "r.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-singlefile", str(tmp_path / "r.pdf"), str(tmp_path / "r")],
                   check=True)
    return np.asarray(Image.open(tmp_path / "r.png").convert("RGB"))


def test_blank_backs_are_dropped_but_a_faint_stamp_page_is_kept(corpus):
    assert analyse(corpus["blank"], 300).is_blank()
    faint = analyse(corpus["faint"], 300)
    assert not faint.is_blank() and faint.ink_fraction > 10 * 0.0001  # a wide margin, not a near miss
    assert not analyse(corpus["form"], 300).is_blank()


def test_pages_are_classified_text_stamp_photo(corpus):
    assert analyse(corpus["form"], 300).kind == BILEVEL
    assert analyse(corpus["stamp"], 300).kind == COLOUR
    assert analyse(corpus["id"], 300).kind == PHOTO


def test_bilevel_page_is_stored_losslessly_as_ccitt_g4_when_chosen(corpus, monkeypatch):
    """MOTCUA_BILEVEL=g4 (the benchmark's comparison) stores bilevel pages as G4; JBIG2: test_jbig2_generic."""
    monkeypatch.setenv("MOTCUA_BILEVEL", "g4")
    pdf = encode_page(corpus["form"], 300, BILEVEL)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        [image] = doc.pages[0].get_images().values()
        assert list(image.Filter) == ["/CCITTFaxDecode"]
        decoded = pikepdf.PdfImage(image).as_pil_image().convert("1")
    assert np.array_equal(np.asarray(decoded), np.asarray(bilevel_bitmap(corpus["form"], 300)[0]))


def test_colour_page_keeps_the_red_stamp_red_and_the_text_black(corpus, tmp_path):
    pdf = encode_page(corpus["stamp"], 300, COLOUR)
    assert len(pdf) < 60 * 1024
    page = render(pdf, tmp_path, dpi=50).astype(int)
    red = (page[..., 0] > 150) & (page[..., 1] < 110) & (page[..., 2] < 110)
    # the stamp ring sits around (1500, 2750) px at 300 dpi = (250, 458) at 50 dpi
    assert red[420:500, 205:295].sum() > 100
    dark = page.sum(axis=2) < 200
    assert dark[:150, :].sum() > 200  # the black header text is there


def test_mixed_stack_with_two_cover_sheets_splits_into_two_dossiers(corpus, tmp_path):
    names = ["cover1", "form", "blank", "stamp", "sep", "faint", "cover2", "id", "form"]
    result = run_pipeline(as_pages(corpus, names), PipelineOptions(ocr=False, allow_uncovered=False))
    assert [p.code for p in result.parts] == [CODE1, CODE2]
    first, second = result.parts
    assert [d.page_numbers for d in first.documents] == [[2, 4], [6]]  # blank back 3 dropped, separator 5 dropped
    assert first.documents[1].name == "02-giay-to-kem-theo.pdf"
    assert [d.page_numbers for d in second.documents] == [[8, 9]]
    assert result.blank_pages == [3] and result.cover_pages == [1, 5, 7]
    for part in result.parts:
        for document in part.documents:
            qpdf_check(document.pdf, tmp_path)
            with pikepdf.open(io.BytesIO(document.pdf)) as doc:
                assert len(doc.pages) == document.pages


def test_unreadable_cover_sheet_holds_the_batch_naming_the_page(corpus):
    damaged = corpus["cover2"].copy()
    damaged.paste(1, (700, 800, 1800, 1900))  # a sticky note over the QR code
    corpus = {**corpus, "damaged": damaged}
    with pytest.raises(BatchHeld) as held:
        run_pipeline(as_pages(corpus, ["cover1", "form", "damaged", "form"]), PipelineOptions(ocr=False))
    assert held.value.page_number == 3 and "trang 3" in held.value.message_vi


def test_pages_before_the_first_cover_and_a_failing_page_are_named(corpus):
    with pytest.raises(BatchHeld) as held:
        run_pipeline(as_pages(corpus, ["form", "cover1", "form"]), PipelineOptions(ocr=False))
    assert held.value.page_number == 1 and held.value.reason == "pages_before_cover"

    def broken() -> Image.Image:
        raise OSError("truncated")

    pages = as_pages(corpus, ["form"]) + [Page(2, "scan.tif trang/page 2", 300.0, loader=broken)]
    with pytest.raises(PageError) as failed:
        run_pipeline(pages, PipelineOptions(ocr=False))
    assert failed.value.step == "survey" and "scan.tif trang/page 2" in failed.value.message_vi


def scanner_pdf(image: Image.Image, tmp_path: Path, quality: int, dpi: int = 300) -> Path:
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=quality, dpi=(dpi, dpi), optimize=True)
    source = tmp_path / f"scanner-{quality}.pdf"
    source.write_bytes(img2pdf.convert(jpeg.getvalue()))
    return source


def captured_image(source: Path) -> tuple[str, bytes, int]:
    """(filter, raw bytes) of the one image on the captured page, and the captured PDF's size."""
    with open_pages(inspect_files([source])) as pages:
        result = run_pipeline(pages, PipelineOptions(ocr=False))
    [document] = result.parts[0].documents
    with pikepdf.open(io.BytesIO(document.pdf)) as doc:
        [image] = doc.pages[0].get_images().values()
        codec = image.Filter if isinstance(image.Filter, pikepdf.Name) else image.Filter[0]
        return str(codec), image.read_raw_bytes(), len(document.pdf)


def test_scanner_made_jpeg_pdf_is_reencoded_by_class(corpus, tmp_path):
    """A scanner's JPEG text page (~0.5 MiB) comes out as JBIG2, many times smaller — same pipeline as a TIFF."""
    source = scanner_pdf(corpus["form"], tmp_path, quality=90)
    codec, _, size = captured_image(source)
    assert codec == "/JBIG2Decode"  # lossless bilevel (scanners.jbig2_generic)
    assert size * 5 < source.stat().st_size, (size, source.stat().st_size)


def test_scanner_jpeg_smaller_than_ours_is_kept_as_is(corpus, tmp_path):
    jpeg_source = scanner_pdf(corpus["id"].reduce(2).convert("L"), tmp_path, quality=8, dpi=150)
    codec, data, _ = captured_image(jpeg_source)
    with pikepdf.open(jpeg_source) as original:
        [source_image] = original.pages[0].get_images().values()
        assert codec == "/DCTDecode" and data == source_image.read_raw_bytes()


@pytest.mark.skipif(not ocr_available("vie"), reason="tesseract-ocr-vie not installed (make deps)")
def test_ocr_makes_the_vietnamese_page_searchable(corpus, tmp_path):
    result = run_pipeline(as_pages(corpus, ["form"]), PipelineOptions(ocr=True))
    pdf = result.parts[0].documents[0].pdf
    qpdf_check(pdf, tmp_path)
    (tmp_path / "ocr.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", str(tmp_path / "ocr.pdf"), "-"], capture_output=True, text=True).stdout
    text = " ".join(text.split())
    for words in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập", "ĐĂNG KÝ KHAI SINH", "NGƯỜI YÊU CẦU", "Năm sinh", "chữ đệm"):
        assert words in text, words
