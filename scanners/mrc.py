"""Mixed raster content for the colour class: ink kept sharp *and* in its own colour, the paper left white.

The page's ink is split into layers by colour — dark neutral (printed text,
black ballpoint), warm (red/orange seals, red pen) and cool (blue/violet
ballpoint, blue seals). Each layer is a full-resolution lossless mask saying
*where* the ink is, over a small JPEG saying *what colour* it is there. The
colour image is the mean of that layer's own ink pixels in each block
(blocks without ink borrow from their neighbours), so a blue stroke crossing
a red seal stays blue: its colour is never averaged with another ink or with
the paper. A stroke's light rim (pressure, scanner blur) is kept by growing
each coloured layer's mask into the faint ink around its core.
"""
from __future__ import annotations

import io

import numpy as np
import pikepdf
from PIL import Image, ImageFilter

from .analysis import COLOUR_SPREAD, INK_DELTA, ink_threshold, otsu_threshold

#: hue (degrees) from which coloured ink counts as "cool" (blue, violet) up to COOL_END; the rest is warm
COOL_START, COOL_END = 150.0, 320.0


def _dilate(mask: np.ndarray, size: int) -> np.ndarray:
    """Binary dilation by a size×size square (a box blur is separable, so this is fast at 300 dpi)."""
    blurred = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.BoxBlur(size // 2))
    return np.asarray(blurred) > 0


def ink_layers(rgb: np.ndarray, paper: int) -> dict[str, np.ndarray]:
    """Full-resolution masks {'text', 'warm', 'cool'} (disjoint) of the ink on an RGB page, and the same
    names + '_core': the clearly inked pixels of each, whose colour the layer's colour image carries."""
    luma = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.int16)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    spread = (np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)).astype(np.int16)
    core = (spread > COLOUR_SPREAD) & (luma < paper - 10)
    # the faint rim of a coloured stroke: near its core, somewhat coloured or somewhat dark
    coloured = core | (_dilate(core, 5) & ((spread > COLOUR_SPREAD // 2) | (luma < paper - INK_DELTA // 2)))
    sample = luma[::4, ::4]
    threshold = otsu_threshold(sample)
    text = (luma <= ink_threshold(sample, paper)) & ~coloured
    ys, xs = np.nonzero(coloured)
    red, green, blue = (rgb[ys, xs, c].astype(np.float32) for c in range(3))
    hue = (np.degrees(np.arctan2(np.sqrt(3) * (green - blue), 2 * red - green - blue)) + 360.0) % 360.0
    cool = np.zeros_like(coloured)
    cool[ys, xs] = (hue >= COOL_START) & (hue < COOL_END)
    return {"text": text, "warm": coloured & ~cool, "cool": cool,
            "text_core": text & (luma <= threshold), "warm_core": core & ~cool, "cool_core": core & cool}


def _block_colour(rgb: np.ndarray, mask: np.ndarray, factor: int) -> np.ndarray:
    """Mean colour of the masked pixels per factor×factor block; empty blocks filled from their neighbours."""
    h, w = mask.shape
    bh, bw = -(-h // factor), -(-w // factor)
    pad = ((0, bh * factor - h), (0, bw * factor - w))
    m = np.pad(mask, pad).reshape(bh, factor, bw, factor)
    count = m.sum(axis=(1, 3)).astype(np.float64)
    sums = np.stack([(np.pad(rgb[..., c], pad).reshape(bh, factor, bw, factor) * m).sum(axis=(1, 3))
                     for c in range(rgb.shape[2])], axis=-1).astype(np.float64)
    known = count > 0
    colour = np.zeros((bh, bw, rgb.shape[2]))
    colour[known] = sums[known] / count[known][:, None]
    fill = colour[known].mean(axis=0) if known.any() else np.full(rgb.shape[2], 128.0)
    for _ in range(4):  # grow known colours into empty blocks, so the JPEG has no hard edge at the ink
        if known.all():
            break
        acc, n = np.zeros_like(colour), np.zeros(known.shape)
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            shifted_known = np.roll(known, (dy, dx), axis=(0, 1))
            acc += np.roll(colour, (dy, dx), axis=(0, 1)) * shifted_known[..., None]
            n += shifted_known
        grow = ~known & (n > 0)
        colour[grow] = acc[grow] / n[grow][:, None]
        known = known | grow
    colour[~known] = fill
    return np.clip(np.round(colour), 0, 255).astype(np.uint8)


def _jpeg_stream(pdf: pikepdf.Pdf, pixels: np.ndarray, quality: int) -> pikepdf.Stream:
    image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality, optimize=True, subsampling=0)
    stream = pikepdf.Stream(pdf, buffer.getvalue())
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = image.width, image.height, 8
    stream.ColorSpace = pikepdf.Name.DeviceGray if image.mode == "L" else pikepdf.Name.DeviceRGB
    stream.Filter = pikepdf.Name.DCTDecode
    return stream


def _bbox(mask: np.ndarray, step: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the mask's pixels, widened to whole `step` blocks and clipped to the page."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    x0, y0 = cols[0] // step * step, rows[0] // step * step
    x1, y1 = min(w, -(-(cols[-1] + 1) // step) * step), min(h, -(-(rows[-1] + 1) // step) * step)
    return int(x0), int(y0), int(x1), int(y1)


def layer_images(pdf: pikepdf.Pdf, rgb: np.ndarray, masks: dict[str, np.ndarray], dpi: float, colour_dpi: float,
                 quality: int) -> list[tuple[str, pikepdf.Stream, np.ndarray, tuple[int, int, int, int]]]:
    """(name, colour image, full-resolution mask, pixel box the colour image covers) per non-empty layer.

    The colour image covers only the box around the layer's ink (a signature's colour costs a few hundred
    bytes, not a page of JPEG); the text layer's colour is grey, at half the colour resolution."""
    factor = max(1, int(round(dpi / colour_dpi)))
    layers = []
    for name in ("text", "warm", "cool"):
        mask = masks[name]
        if not mask.any():
            continue
        block = factor * 2 if name == "text" else factor
        x0, y0, x1, y1 = _bbox(mask, block)
        source = rgb[y0:y1, x0:x1]
        if name == "text":
            source = source.mean(axis=2, keepdims=True).astype(np.uint8)
        core = masks[f"{name}_core"] if masks[f"{name}_core"].any() else mask
        colour = _block_colour(source, core[y0:y1, x0:x1], block)
        layers.append((name, _jpeg_stream(pdf, colour, quality), mask, (x0, y0, x1, y1)))
    return layers
