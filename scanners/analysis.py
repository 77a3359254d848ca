"""Look at a page's pixels: is it blank, and is it bilevel text, ink colour (stamp/signature) or a photo?

Pure functions over Pillow images (numpy inside); no I/O. All decisions are
made on a reduced copy (about 150 dpi) so they cost a few milliseconds.

Ink is anything that differs clearly from the paper: darker by `INK_DELTA`
grey levels, or coloured (channel spread above `COLOUR_SPREAD`). A faint red
stamp is ink; show-through from the other side of thin paper and scanner
noise are not. Isolated single pixels (dust) are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

ANALYSIS_DPI = 150.0
#: darker than the paper by this many grey levels = ink
INK_DELTA = 40
#: max-min channel spread above this = coloured ink
COLOUR_SPREAD = 45
#: ignore this fraction of the page at each edge (scanner shadows, punch holes)
MARGIN = 0.04
#: default blank threshold: ink covers less than this fraction of the page (0.01% ≈ a 2×3 mm mark on A4)
DEFAULT_BLANK_THRESHOLD = 0.0001
#: share of continuous-tone blocks from which a page is a photo page
PHOTO_FRACTION = 0.005
#: blocks of this many analysis pixels decide "photo"
BLOCK = 16

BILEVEL, COLOUR, PHOTO = "bilevel", "colour", "photo"


@dataclass(frozen=True)
class PageStats:
    """What the analysis found; `kind` is bilevel | colour | photo."""

    ink_fraction: float
    colour_fraction: float
    photo_fraction: float
    paper_level: int
    kind: str

    def is_blank(self, threshold: float = DEFAULT_BLANK_THRESHOLD) -> bool:
        return self.ink_fraction < threshold


def reduced(image: Image.Image, dpi: float, target_dpi: float = ANALYSIS_DPI) -> Image.Image:
    """An RGB copy at about `target_dpi` (never enlarged)."""
    factor = max(1, int(round(dpi / target_dpi)))
    rgb = image.convert("RGB") if image.mode != "RGB" else image
    return rgb.reduce(factor) if factor > 1 else rgb


def _inner(array: np.ndarray) -> np.ndarray:
    h, w = array.shape[:2]
    dy, dx = int(h * MARGIN), int(w * MARGIN)
    return array[dy:h - dy or h, dx:w - dx or w]


def ink_masks(rgb: np.ndarray, paper: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(luma, ink mask, colour-ink mask) of an RGB array, given the paper grey level."""
    rgb32 = rgb.astype(np.int32)
    luma = (rgb32[..., 0] * 299 + rgb32[..., 1] * 587 + rgb32[..., 2] * 114) // 1000
    spread = rgb32.max(axis=2) - rgb32.min(axis=2)
    colour = (spread > COLOUR_SPREAD) & (luma < paper - 10)
    ink = (luma < paper - INK_DELTA) | colour
    return luma, ink, colour


def paper_level(luma: np.ndarray) -> int:
    """The paper's grey level: a high percentile, so text density does not matter."""
    return int(np.percentile(luma, 90))


def analyse(image: Image.Image, dpi: float) -> PageStats:
    """Blankness and class of one page."""
    small = np.asarray(reduced(image, dpi))
    inner = _inner(small)
    rgb32 = inner.astype(np.int32)
    luma0 = (rgb32[..., 0] * 299 + rgb32[..., 1] * 587 + rgb32[..., 2] * 114) // 1000
    paper = paper_level(luma0)
    luma, ink, colour = ink_masks(inner, paper)
    # dust: keep only ink pixels with an ink neighbour
    neighbour = np.zeros_like(ink)
    neighbour[1:, :] |= ink[:-1, :]
    neighbour[:-1, :] |= ink[1:, :]
    neighbour[:, 1:] |= ink[:, :-1]
    neighbour[:, :-1] |= ink[:, 1:]
    solid_ink = ink & neighbour
    total = max(1, ink.size)
    ink_fraction = float(solid_ink.sum()) / total
    colour_fraction = float((colour & neighbour).sum()) / total
    photo_fraction = _photo_fraction(luma, colour, paper)
    paper_rgb = np.median(inner.reshape(-1, 3)[luma.reshape(-1) >= paper - 5], axis=0) if ink.size else [255] * 3
    paper_tinted = float(np.max(paper_rgb) - np.min(paper_rgb)) > 25
    # 0.5 % of the page: one ID-card portrait on a photocopied page is enough to make it a photo page
    if photo_fraction > PHOTO_FRACTION or paper_tinted or paper < 150:
        kind = PHOTO
    elif colour_fraction > 0.00005:
        kind = COLOUR
    else:
        kind = BILEVEL
    return PageStats(ink_fraction, colour_fraction, photo_fraction, paper, kind)


def _photo_fraction(luma: np.ndarray, colour: np.ndarray, paper: int) -> float:
    """Share of BLOCK×BLOCK blocks that are continuous tone (mostly mid-grey or mostly colour-varied)."""
    h, w = luma.shape
    bh, bw = h // BLOCK, w // BLOCK
    if bh == 0 or bw == 0:
        return 0.0
    mid = ((luma > 40) & (luma < paper - INK_DELTA)).astype(np.float32)
    blocks = mid[:bh * BLOCK, :bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK).mean(axis=(1, 3))
    lum_blocks = luma[:bh * BLOCK, :bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK)
    spread = lum_blocks.std(axis=(1, 3))
    # text has a few mid pixels at stroke edges; a photo block is mostly mid-tones with some texture
    photo = (blocks > 0.6) & (spread > 4)
    return float(photo.mean())


def otsu_threshold(luma: np.ndarray, low: int = 90, high: int = 210) -> int:
    """Otsu's threshold of a grey image, clamped to [low, high]."""
    hist = np.bincount(luma.reshape(-1).astype(np.int64), minlength=256).astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 128
    levels = np.arange(256)
    weight0 = np.cumsum(hist)
    mean0 = np.cumsum(hist * levels)
    weight1 = total - weight0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean0[-1] * weight0 / total - mean0) ** 2 / (weight0 * weight1)
    between = np.nan_to_num(between)
    return int(min(high, max(low, int(np.argmax(between)))))


def ink_threshold(luma: np.ndarray, paper: int) -> int:
    """Grey level at or below which a pixel is ink: Otsu's threshold raised towards the paper, so the light rim
    of thin strokes and a mid-grey seal on a grey photocopy stay ink (it costs no bytes: edges get smoother)."""
    otsu = otsu_threshold(luma)
    return max(otsu, min(paper - INK_DELTA - 10, otsu + 35))


def skew_angle(image: Image.Image, dpi: float, max_angle: float = 3.0, step: float = 0.25) -> float:
    """The small rotation (degrees, counter-clockwise) that makes text lines horizontal (projection profile)."""
    small = reduced(image, dpi, 75.0).convert("L")
    luma = np.asarray(small)
    ink = Image.fromarray(((luma < paper_level(luma) - INK_DELTA) * 255).astype(np.uint8))
    best, best_score = 0.0, -1.0
    for angle in np.arange(-max_angle, max_angle + step / 2, step):
        rows = np.asarray(ink.rotate(float(angle), resample=Image.Resampling.NEAREST)).sum(axis=1, dtype=np.float64)
        score = float(np.var(rows))
        if score > best_score:
            best, best_score = float(angle), score
    return best


def deskewed(image: Image.Image, dpi: float, min_angle: float = 0.3) -> tuple[Image.Image, float]:
    """`image` rotated straight (white fill) if it is skewed by at least `min_angle` degrees."""
    angle = skew_angle(image, dpi)
    if abs(angle) < min_angle:
        return image, 0.0
    mode = image.mode
    work = image.convert("L") if mode == "1" else image
    fill = 255 if work.mode == "L" else (255, 255, 255)
    return work.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=fill), angle
