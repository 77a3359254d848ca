"""OCR text layer: Tesseract (`vie`) renders an invisible-text PDF page that is laid over the image page.

We call the `tesseract` program directly (one process per page, OMP_THREAD_LIMIT=1,
pages in parallel across cores) with `textonly_pdf=1`, so the image we encoded
is never touched and the text layer costs only a few KiB — the approach
OCRmyPDF's sandwich renderer uses, without its extra passes (see
bench/bench_capture.py for the comparison). `tessedit_do_invert=0` skips the
search for light-on-dark text, which desk scans do not have.
"""
from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from .errors import ToolMissing

log = logging.getLogger("motcua.scanners.ocr")
OCR_TIMEOUT = 180


@functools.lru_cache(maxsize=8)
def ocr_available(language: str = "vie") -> bool:
    """True when `tesseract` is installed with `language` data."""
    if shutil.which("tesseract") is None:
        return False
    try:
        out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return language in out.stdout.split()


def _tesseract(image: Image.Image, dpi: float, language: str, renderer: str, *config: str) -> bytes:
    """Run tesseract on `image` with one output `renderer` (pdf, txt) and return what it wrote."""
    if not ocr_available(language):
        raise ToolMissing(f"tesseract ({language})", f"tesseract-ocr tesseract-ocr-{language}")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with tempfile.TemporaryDirectory(prefix="motcua-ocr-") as tmp:
        # a bilevel page is read as a bitmap (pipeline: cut like the stored one, at full resolution): ~20 % less CPU
        source = Path(tmp) / ("page.pbm" if image.mode == "1" else "page.pgm")
        (image if image.mode in ("L", "1") else image.convert("L")).save(source)
        base = Path(tmp) / "text"
        cmd = ["tesseract", str(source), str(base), "-l", language, "--dpi", str(int(round(dpi))),
               *[arg for item in config for arg in ("-c", item)], "-c", "tessedit_do_invert=0", renderer]
        result = subprocess.run(cmd, capture_output=True, env=env, timeout=OCR_TIMEOUT)
        output = base.with_suffix(f".{renderer}")
        if result.returncode != 0 or not output.exists():
            tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"tesseract exit {result.returncode}: {tail[0][:200]}")
        return output.read_bytes()


def text_layer_pdf(image: Image.Image, dpi: float, language: str = "vie") -> bytes:
    """A one-page PDF holding only invisible OCR text, sized like `image` at `dpi`."""
    return _tesseract(image, dpi, language, "pdf", "textonly_pdf=1")


def read_words(image: Image.Image, dpi: float, language: str = "vie") -> list[str]:
    """The words Tesseract reads on `image` (for measuring legibility: scanners.legibility.word_recall)."""
    return _tesseract(image, dpi, language, "txt").decode("utf-8", "replace").split()
