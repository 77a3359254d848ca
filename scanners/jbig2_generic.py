"""Lossless JBIG2 generic-region coding (ITU-T T.88) of a bilevel page, for a PDF /JBIG2Decode stream.

The stream holds what PDF embeds (T.88 Annex D.3 organisation without the
file header, end-of-page or end-of-file segments, and no /JBIG2Globals):

  segment 0  page information (type 48): the page's size and resolution
  segment 1  immediate generic region (type 38) covering the page: MMR = 0,
             GBTEMPLATE = 0 with the nominal AT pixels, typical prediction
             (TPGDON) on, so a row equal to the one above costs one decision

Every pixel is coded by the adaptive arithmetic coder (scanners.jbig2_mq):
the decoded bitmap is exactly the encoded one. Nothing here substitutes
look-alike glyphs (JBIG2 symbol coding), which can turn a 6 into an 8.
"""
from __future__ import annotations

import struct

import numpy as np
from PIL import Image

from . import jbig2_mq

PAGE_INFORMATION = 48
IMMEDIATE_GENERIC_REGION = 38
#: (x, y) of the four adaptive-template pixels, the nominal ones of template 0 (6.2.5.3)
NOMINAL_AT = ((3, -1), (-3, -1), (2, -2), (-2, -2))
_PAGE_IS_LOSSLESS = 0x01  # page segment flags bit 0: the page is eventually lossless


def _segment(number: int, kind: int, data: bytes) -> bytes:
    """Segment header (7.2): number, flags (type, 1-byte page association), no referred-to segments,
    page 1, data length."""
    return struct.pack(">IBBBI", number, kind, 0, 1, len(data)) + data


def _pixels_per_metre(dpi: float | None) -> int:
    return round(dpi / 0.0254) if dpi else 0


def black_pixels(bitmap: Image.Image) -> np.ndarray:
    """The bitmap (PIL convention 0 = ink) as JBIG2 pixels: uint8, 1 = black."""
    return (~np.asarray(bitmap.convert("1"), dtype=bool)).astype(np.uint8)


def encode_black(black: np.ndarray, *, dpi: float | None = None, tpgdon: bool = True) -> bytes:
    """The /JBIG2Decode stream of `black` (2-D, nonzero = black)."""
    height, width = black.shape
    if not (width and height):
        raise ValueError(f"JBIG2: ảnh rỗng {width}×{height} / empty bitmap {width}×{height}")
    ppm = _pixels_per_metre(dpi)
    page = struct.pack(">IIIIBH", width, height, ppm, ppm, _PAGE_IS_LOSSLESS, 0)  # 0: not striped
    region_info = struct.pack(">IIIIB", width, height, 0, 0, 0)  # at (0, 0), combination operator OR
    flags = 0x08 if tpgdon else 0x00  # bit 0 MMR = 0, bits 1-2 GBTEMPLATE = 0, bit 3 TPGDON
    at = struct.pack(">8b", *(v for xy in NOMINAL_AT for v in xy))
    coded = jbig2_mq.generic_region(np.ascontiguousarray(black != 0, dtype=np.uint8), tpgdon).tobytes()
    return (_segment(0, PAGE_INFORMATION, page)
            + _segment(1, IMMEDIATE_GENERIC_REGION, region_info + bytes([flags]) + at + coded))


def encode(bitmap: Image.Image, *, dpi: float | None = None, tpgdon: bool = True) -> bytes:
    """The /JBIG2Decode stream of a bilevel image (0 = ink), lossless. The filter's output is 0 for
    black, so the decoded samples equal the bitmap's (DeviceGray, or a stencil painting the zeros)."""
    return encode_black(black_pixels(bitmap), dpi=dpi, tpgdon=tpgdon)
