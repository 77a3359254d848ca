"""Which lossless coder stores bilevel images: JBIG2 generic region (default) or CCITT G4.

JBIG2 generic region (scanners.jbig2_generic, our own encoder) is about a
third smaller than G4 on text pages (bench/bench_capture.py). The
environment variable MOTCUA_BILEVEL=g4 forces G4, read here only: the
benchmark's comparison column and the G4 tests use it. Symbol coding, which
replaces look-alike glyphs by one shared shape and can turn a 6 into an 8,
is never used.
"""
from __future__ import annotations

import os

from PIL import Image

ENV = "MOTCUA_BILEVEL"
CODERS = ("jbig2", "g4")


def coder() -> str:
    """'jbig2' or 'g4', from $MOTCUA_BILEVEL (default jbig2)."""
    value = os.environ.get(ENV, "").strip().lower() or "jbig2"
    if value not in CODERS:
        raise ValueError(f"{ENV}={value!r} không hợp lệ, chọn một trong {', '.join(CODERS)} / "
                         f"invalid, choose one of {', '.join(CODERS)}")
    return value


def available() -> bool:
    """True when bilevel images are coded as JBIG2."""
    return coder() == "jbig2"


def encode_generic(bitmap: Image.Image, dpi: float | None = None) -> bytes | None:
    """JBIG2 generic-region data for a PDF /JBIG2Decode stream (no globals), or None when G4 is chosen."""
    if not available():
        return None
    # imported here: loading numba adds about 0.3 s, which G4-only runs and commands without pages need not pay
    from . import jbig2_generic
    return jbig2_generic.encode(bitmap, dpi=dpi)
