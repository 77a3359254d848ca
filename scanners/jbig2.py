"""Lossless JBIG2 (generic region) coding of bilevel images with agl/jbig2enc's `jbig2` program.

Generic-region coding compresses every pixel with an adaptive arithmetic
coder: the decoded bitmap is exactly the encoded one. Symbol mode (`-s`),
which replaces look-alike glyphs by one shared shape and can turn a 6 into
an 8, is never used. Debian 12 packages no encoder and PyPI has none, so the
project ships none: a province that builds agl/jbig2enc itself puts `jbig2` on
PATH, in .venv/bin or in $MOTCUA_JBIG2. Without it `available()` is False and
the callers keep CCITT G4 (what `make test` and the default install use).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

TIMEOUT = 60


@functools.lru_cache(maxsize=1)
def encoder() -> str | None:
    """Path of the `jbig2` program ($MOTCUA_JBIG2, beside this Python, or PATH)."""
    configured = os.environ.get("MOTCUA_JBIG2")
    if configured:
        return configured if Path(configured).is_file() else None
    beside = Path(sys.executable).parent / "jbig2"
    return str(beside) if beside.is_file() else shutil.which("jbig2")


def available() -> bool:
    return encoder() is not None


def encode_generic(bitmap: Image.Image) -> bytes | None:
    """JBIG2 generic-region data for a PDF /JBIG2Decode stream (no globals), or None if the encoder is missing or fails."""
    program = encoder()
    if program is None:
        return None
    with tempfile.TemporaryDirectory(prefix="motcua-jbig2-") as tmp:
        source = Path(tmp) / "page.pbm"  # uncompressed: quickest to write and for leptonica to read
        bitmap.convert("1").save(source)
        try:
            result = subprocess.run([program, "-p", str(source)], capture_output=True, timeout=TIMEOUT)
        except (OSError, subprocess.SubprocessError):
            return None
    return result.stdout if result.returncode == 0 and result.stdout else None
