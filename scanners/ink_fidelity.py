"""Measure how faithfully an encoded page keeps ink: colour difference (CIEDE2000) and strokes kept.

Used by the benchmark and the ink-colour tests, on generated pages whose
stroke masks are known (scanners.realistic). Pure numpy, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB values (…×3, 0–255)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    matrix = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                       [0.0193339, 0.1191920, 0.9503041]])
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e_2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), element-wise over …×3 arrays."""
    L1, a1, b1 = np.moveaxis(lab1, -1, 0)
    L2, a2, b2 = np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar ** 7 / (c_bar ** 7 + 25.0 ** 7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp, dCp = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0, dh)
    dHp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_bar, C_bar = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(c1p * c2p == 0, h_sum,
                     np.where(np.abs(h1p - h2p) <= 180, h_sum / 2,
                              np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * C_bar
    s_h = 1 + 0.015 * C_bar * t
    r_t = (-2 * np.sqrt(C_bar ** 7 / (C_bar ** 7 + 25.0 ** 7))
           * np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2)))))
    return np.sqrt((dLp / s_l) ** 2 + (dCp / s_c) ** 2 + (dHp / s_h) ** 2 + r_t * (dCp / s_c) * (dHp / s_h))


@dataclass(frozen=True)
class InkFidelity:
    """One ink on one page: mean ΔE2000 source→output over its stroke pixels, share of them still ink, mean colours."""

    delta_e: float
    kept: float
    source_rgb: tuple[int, int, int]
    output_rgb: tuple[int, int, int]

    @property
    def blue(self) -> bool:
        """The output still reads as blue ink: blue clearly above red and green."""
        r, g, b = self.output_rgb
        return b > r + 30 and b > g + 20


def measure_ink(source: np.ndarray, output: np.ndarray, mask: np.ndarray, paper_luma: float) -> InkFidelity:
    """Compare two H×W×3 uint8 renders of a page at the pixels of `mask` (one ink's strokes)."""
    src, out = source[mask].astype(np.int32), output[mask].astype(np.int32)
    delta = delta_e_2000(srgb_to_lab(src), srgb_to_lab(out))
    luma = (out[:, 0] * 299 + out[:, 1] * 587 + out[:, 2] * 114) / 1000
    spread = out.max(axis=1) - out.min(axis=1)
    still_ink = (luma < paper_luma - 30) | (spread > 40)
    mean = lambda a: tuple(int(round(v)) for v in a.mean(axis=0))  # noqa: E731
    return InkFidelity(float(delta.mean()), float(still_ink.mean()), mean(src), mean(out))
