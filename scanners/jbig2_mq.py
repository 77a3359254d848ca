"""The MQ arithmetic coder of ITU-T T.88 Annex E driving a generic-region template-0 context model.

Written from the T.88 text (INITENC, CODEMPS/CODELPS, RENORME, BYTEOUT with
bit stuffing after 0xFF, FLUSH with SETBITS), compiled by numba: an A4 page
at 300 dpi is 8.7 million coding decisions, far too many for the
interpreter. `generic_region` returns the arithmetic-coded data of one
generic region (MMR = 0, GBTEMPLATE = 0, nominal AT pixels), the part
after the region's segment data header (scanners.jbig2_generic).
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Table E.1: Qe, NMPS, NLPS and SWITCH of the 47 probability states
QE = np.array([
    0x5601, 0x3401, 0x1801, 0x0AC1, 0x0521, 0x0221, 0x5601, 0x5401, 0x4801, 0x3801,
    0x3001, 0x2401, 0x1C01, 0x1601, 0x5601, 0x5401, 0x5101, 0x4801, 0x3801, 0x3401,
    0x3001, 0x2801, 0x2401, 0x2201, 0x1C01, 0x1801, 0x1601, 0x1401, 0x1201, 0x1101,
    0x0AC1, 0x09C1, 0x08A1, 0x0521, 0x0441, 0x02A1, 0x0221, 0x0141, 0x0111, 0x0085,
    0x0049, 0x0025, 0x0015, 0x0009, 0x0005, 0x0001, 0x5601], dtype=np.int64)
NMPS = np.array([
    1, 2, 3, 4, 5, 38, 7, 8, 9, 10, 11, 12, 13, 29, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
    25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 45, 46], dtype=np.int8)
NLPS = np.array([
    1, 6, 9, 12, 29, 33, 6, 14, 14, 14, 17, 18, 20, 21, 14, 14, 15, 16, 17, 18, 19, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 46], dtype=np.int8)
SWITCH = np.zeros(47, dtype=np.int8)
SWITCH[[0, 6, 14]] = 1

#: 6.2.5.7: the context in which SLTP (row same as the one above) is coded, template 0
SLTP_CONTEXT = 0x9B25


@njit(cache=True)
def _byteout(out: np.ndarray, bp: int, c: int) -> tuple[np.ndarray, int, int, int]:
    """BYTEOUT (E.2.8): out[bp] is the byte B (out[0] the discarded byte before the start);
    returns (out, BP, C, CT)."""
    if bp + 2 >= out.shape[0]:  # grow: noise can cost more than one bit a pixel
        bigger = np.zeros(out.shape[0] * 2, dtype=np.uint8)
        bigger[:out.shape[0]] = out
        out = bigger
    if out[bp] == 0xFF:
        stuffed = True
    elif c < 0x8000000:
        stuffed = False
    else:
        out[bp] += 1  # the carry
        stuffed = out[bp] == 0xFF
        if stuffed:
            c &= 0x7FFFFFF
    if stuffed:  # after 0xFF only 7 bits go in the next byte, so a carry can never reach the 0xFF
        out[bp + 1] = (c >> 20) & 0xFF
        return out, bp + 1, c & 0xFFFFF, 7
    out[bp + 1] = (c >> 19) & 0xFF
    return out, bp + 1, c & 0x7FFFF, 8


@njit(cache=True)
def _flush(out: np.ndarray, bp: int, a: int, c: int, ct: int) -> np.ndarray:
    """FLUSH (E.2.9) with SETBITS, then the 0xFF 0xAC marker that ends arithmetic-coded data."""
    tempc = c + a
    c |= 0xFFFF
    if c >= tempc:
        c -= 0x8000
    out, bp, c, ct = _byteout(out, bp, c << ct)
    out, bp, c, ct = _byteout(out, bp, c << ct)
    if out[bp] != 0xFF:
        bp += 1
        out[bp] = 0xFF
    out[bp + 1] = 0xAC
    return out[1:bp + 2]


@njit(cache=True)
def generic_region(black: np.ndarray, tpgdon: bool) -> np.ndarray:
    """Arithmetic-coded template-0 generic region of `black` (uint8, 1 = black), AT pixels
    (3,-1), (-3,-1), (2,-2), (-2,-2).

    With those AT pixels the 16-pixel context is three runs of neighbours: row y-2 from x-2
    to x+2 (bits 15..11), row y-1 from x-3 to x+3 (bits 10..4), row y from x-4 to x-1
    (bits 3..0), each kept as a shift register. Each row's decisions are SLTP (x = -1, when
    TPGDON) then its pixels, all through the one ENCODE below, its registers in locals."""
    height, width = black.shape
    padded = np.zeros((height + 2, width + 8), dtype=np.uint8)  # two blank rows above, 4 blank columns each side
    padded[2:, 4:width + 4] = black
    index = np.zeros(65536, dtype=np.int64)
    mps = np.zeros(65536, dtype=np.int64)
    a, c, ct, bp = 0x8000, 0, 12, 0  # INITENC; BP at the discarded byte
    out = np.zeros(max(1024, height * width // 16), dtype=np.uint8)
    ltp = 0
    for y in range(height):
        row, up, up2 = padded[y + 2], padded[y + 1], padded[y]
        same = 1
        if tpgdon:
            for x in range(width):
                if row[x + 4] != up[x + 4]:
                    same = 0
                    break
        # the registers hold the pixels left of x: column k of a padded row is x = k - 4
        w2 = (np.int64(up2[2]) << 3) | (np.int64(up2[3]) << 2) | (np.int64(up2[4]) << 1) | np.int64(up2[5])
        w1 = np.int64(0)
        for k in range(1, 7):
            w1 = (w1 << 1) | np.int64(up[k])
        w0 = np.int64(0)
        for x in range(-1 if tpgdon else 0, width):
            if x < 0:
                cx, d = SLTP_CONTEXT, same ^ ltp
                ltp = same
            elif ltp:
                break  # a typical row: the decoder copies the row above
            else:
                w2 = ((w2 << 1) | np.int64(up2[x + 6])) & 0x1F
                w1 = ((w1 << 1) | np.int64(up[x + 7])) & 0x7F
                d = np.int64(row[x + 4])
                cx = (w2 << 11) | (w1 << 4) | w0
                w0 = ((w0 << 1) | d) & 0xF
            # ENCODE (E.2.2): CODEMPS / CODELPS, then RENORME when A drops below 0x8000
            i = index[cx]
            qe = QE[i]
            a -= qe
            if d == mps[cx]:
                if a & 0x8000:
                    c += qe
                    continue
                if a < qe:
                    a = qe
                else:
                    c += qe
                index[cx] = NMPS[i]
            else:
                if a < qe:
                    c += qe
                else:
                    a = qe
                if SWITCH[i]:
                    mps[cx] = 1 - mps[cx]
                index[cx] = NLPS[i]
            while True:
                a <<= 1
                c <<= 1
                ct -= 1
                if ct == 0:
                    out, bp, c, ct = _byteout(out, bp, c)
                if a & 0x8000:
                    break
    return _flush(out, bp, a, c, ct)
