"""Our JBIG2 generic-region encoder (scanners.jbig2_generic) is lossless for two independent decoders.

Every bitmap is encoded, then decoded by poppler (pdfimages on a one-page
PDF holding the /JBIG2Decode stream, and pdftoppm for what a reader shows)
and by jbig2dec (the raw embedded stream), and compared pixel for pixel with
the source. Size: on the benchmark's text page JBIG2 must stay within 10 %
of what agl/jbig2enc gave and well under G4.
"""
from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image

from scanners import jbig2, jbig2_generic, mrc, realistic
from scanners.analysis import ink_threshold, paper_level
from scanners.encoding import EncodeOptions, _g4_tiff, bilevel_bitmap, encode_bilevel

#: the no-OCR PDF of the benchmark's text page (realistic.text_page()) when agl/jbig2enc coded it: 37.9 KiB
#: with the OCR text layer, less that layer's 5.1 KiB (G4: 56.0 KiB with it, 50.9 without; README)
JBIG2ENC_TEXT_PAGE_KIB = 32.8


def one_page_pdf(data: bytes, width: int, height: int) -> bytes:
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, data)
    image.Type, image.Subtype, image.Width, image.Height = pikepdf.Name.XObject, pikepdf.Name.Image, width, height
    image.ColorSpace, image.BitsPerComponent, image.Filter = pikepdf.Name.DeviceGray, 1, pikepdf.Name.JBIG2Decode
    page = pdf.add_blank_page()  # pdfimages extracts the stored samples whatever the page size
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q")
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def by_poppler(data: bytes, width: int, height: int, tmp_path: Path) -> np.ndarray:
    """The stream's samples as poppler's pdfimages extracts them (True = white)."""
    (tmp_path / "p.pdf").write_bytes(one_page_pdf(data, width, height))
    subprocess.run(["pdfimages", "-png", str(tmp_path / "p.pdf"), str(tmp_path / "img")], check=True, timeout=120)
    return np.asarray(Image.open(tmp_path / "img-000.png").convert("L")) > 127


def by_jbig2dec(data: bytes, tmp_path: Path) -> np.ndarray:
    """The raw embedded stream decoded by jbig2dec (True = white)."""
    (tmp_path / "raw.jb2").write_bytes(data)
    run = subprocess.run(["jbig2dec", "--embedded", "-t", "pbm", "-o", str(tmp_path / "raw.pbm"), str(tmp_path / "raw.jb2")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return np.asarray(Image.open(tmp_path / "raw.pbm").convert("1"))


def text_bitmap() -> np.ndarray:
    return np.asarray(bilevel_bitmap(realistic.text_page(seed=31), 300)[0])


def mrc_mask() -> np.ndarray:
    image, _ = realistic.ink_page()
    rgb = np.asarray(image.convert("RGB"))
    layers = mrc.ink_layers(rgb, paper_level(np.asarray(image.convert("L"))[::4, ::4]))
    return ~layers["warm"]  # the seal's mask as encode_colour codes it: 0 = ink


def repeated_rows() -> np.ndarray:
    """Bands of identical rows (ruled boxes, thick bars) between blank ones: TPGDON codes one decision a row."""
    rng = np.random.default_rng(5)
    white = np.ones((900, 640), dtype=bool)
    for top in range(40, 860, 120):
        white[top:top + 60] = rng.random(640) < 0.5
    return white


def bitmaps() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "text page": text_bitmap(),
        "all white A4": np.ones((3508, 2480), dtype=bool),
        "all black": np.zeros((700, 500), dtype=bool),
        "noise": rng.random((480, 333)) < 0.5,
        "1x1 black": np.zeros((1, 1), dtype=bool),
        "1x1 white": np.ones((1, 1), dtype=bool),
        "odd width 1001x7": rng.random((7, 1001)) < 0.7,
        "identical rows": repeated_rows(),
        "MRC seal mask": mrc_mask(),
    }


CASES = bitmaps()


@pytest.mark.parametrize("tpgdon", [True, False], ids=["TPGDON", "no-TPGDON"])
@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_is_bit_exact_in_poppler_and_jbig2dec(name, tpgdon, tmp_path):
    source = CASES[name]  # True = white, as PIL's mode "1"
    data = jbig2_generic.encode(Image.fromarray(source).convert("1"), dpi=300, tpgdon=tpgdon)
    height, width = source.shape
    assert np.array_equal(by_jbig2dec(data, tmp_path), source)
    assert np.array_equal(by_poppler(data, width, height, tmp_path), source)


def test_stream_is_page_information_then_one_immediate_generic_region():
    data = jbig2_generic.encode(Image.fromarray(CASES["odd width 1001x7"]).convert("1"), dpi=300)
    number, kind, referred, page, length = struct.unpack(">IBBBI", data[:11])
    assert (number, kind, referred, page, length) == (0, 48, 0, 1, 19)
    width, height, xres, yres = struct.unpack(">IIII", data[11:27])
    assert (width, height, xres, yres) == (1001, 7, 11811, 11811)  # 300 dpi in pixels per metre
    number, kind, referred, page, length = struct.unpack(">IBBBI", data[30:41])
    assert (number, kind, page) == (1, 38, 1) and 41 + length == len(data)  # no end-of-page: PDF omits it
    region = data[41:]
    assert region[17] == 0x08  # MMR 0, GBTEMPLATE 0, TPGDON 1
    assert struct.unpack(">8b", region[18:26]) == (3, -1, -3, -1, 2, -2, -2, -2)
    assert region.endswith(b"\xff\xac")


def test_typical_prediction_makes_repeated_rows_nearly_free():
    bitmap = Image.fromarray(repeated_rows()).convert("1")
    with_tp, without = (len(jbig2_generic.encode(bitmap, tpgdon=on)) for on in (True, False))
    assert with_tp < without * 0.6, (with_tp, without)


def shown(pdf: bytes, tmp_path: Path, name: str) -> np.ndarray:
    """The page as pdftoppm shows it at 300 dpi (grey levels)."""
    (tmp_path / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "300", "-gray", "-singlefile", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)],
                   check=True, timeout=120)
    return np.asarray(Image.open(tmp_path / f"{name}.pgm"))


def test_text_page_renders_black_ink_on_white_like_g4(tmp_path, monkeypatch):
    image, full = realistic.text_page(seed=31), EncodeOptions(bilevel_dpi=300)  # rendered at the bitmap's 300 dpi
    bitmap, _ = bilevel_bitmap(image, 300, 300)
    pdf = encode_bilevel(image, 300, full)
    monkeypatch.setenv("MOTCUA_BILEVEL", "g4")
    g4_pdf = encode_bilevel(image, 300, full)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        [stream] = doc.pages[0].get_images().values()
        assert stream.Filter == pikepdf.Name.JBIG2Decode and "/DecodeParms" not in stream
    page, g4_page = shown(pdf, tmp_path, "jbig2"), shown(g4_pdf, tmp_path, "g4")
    assert np.array_equal(page, g4_page)  # the same samples, drawn the same way
    source = np.asarray(bitmap)
    # poppler smooths stroke edges, so only nearly every pixel matches: ink (0) is shown black, paper white
    assert page.shape == source.shape and ((page > 127) == source).mean() > 0.98 and not source.all()


def test_text_page_is_as_small_as_jbig2enc_made_it_and_well_under_g4():
    """The coder's efficiency on the bitmap jbig2enc was measured on: 300 dpi, thresholded, not smoothed."""
    luma = np.asarray(realistic.text_page().convert("L"))
    ink = luma <= ink_threshold(luma[::4, ::4], paper_level(luma[::4, ::4]))
    bitmap = Image.fromarray(~ink).convert("1")
    kib = len(jbig2.encode_generic(bitmap, 300)) / 1024
    g4_kib = len(_g4_tiff(bitmap, 300)) / 1024
    assert kib <= JBIG2ENC_TEXT_PAGE_KIB * 1.10, f"JBIG2 {kib:.1f} KiB vs jbig2enc {JBIG2ENC_TEXT_PAGE_KIB}"
    assert kib <= 0.8 * g4_kib, f"JBIG2 {kib:.1f} KiB vs G4 {g4_kib:.1f}"


def test_bilevel_coder_is_chosen_by_motcua_bilevel(monkeypatch):
    image = realistic.text_page(seed=32)
    monkeypatch.setenv("MOTCUA_BILEVEL", "g4")
    with pikepdf.open(io.BytesIO(encode_bilevel(image, 300))) as doc:
        [stream] = doc.pages[0].get_images().values()
        assert list(stream.Filter) == [pikepdf.Name.CCITTFaxDecode]
    monkeypatch.setenv("MOTCUA_BILEVEL", "jpeg")
    with pytest.raises(ValueError, match="không hợp lệ.*invalid"):
        jbig2.coder()
    monkeypatch.delenv("MOTCUA_BILEVEL")
    assert jbig2.coder() == "jbig2"


def test_an_empty_bitmap_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="ảnh rỗng.*empty bitmap"):
        jbig2_generic.encode_black(np.zeros((0, 5), dtype=np.uint8))
