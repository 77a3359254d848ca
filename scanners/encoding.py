"""Encode one page into a one-page PDF, choosing the codec by the page's class.

  bilevel  grey averaged down to `bilevel_dpi` (default 200), ink threshold,
           3×3 majority smoothing of stroke edges → JBIG2 generic region
           (scanners.jbig2_generic), or CCITT Group 4 when MOTCUA_BILEVEL=g4
           (scanners.jbig2); both store that bitmap exactly (JBIG2 symbol
           substitution is never used — it can change digits)
  colour   mixed raster content (scanners.mrc): per ink layer (dark text,
           warm seals, cool ballpoint) a full-resolution JBIG2/G4 mask over a
           low-resolution JPEG of that layer's own colours; the paper is left
           white. Stamps stay sharp, blue ink stays blue, at a few KiB.
  photo    bare paper whitened, then JPEG at `photo_dpi` (default 150: ID-card
           text stays legible) and `jpeg_quality`, grey when the page has no
           colour
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import img2pdf
import numpy as np
import pikepdf
from PIL import Image, ImageFilter

from . import jbig2, mrc
from .analysis import BILEVEL, COLOUR, PHOTO, ink_threshold, paper_level
from .pages import page_size_points


@dataclass(frozen=True)
class EncodeOptions:
    photo_dpi: float = 150.0
    jpeg_quality: int = 60
    #: resolution of the colour images under the sharp ink masks (colour class)
    ink_colour_dpi: float = 75.0
    ink_jpeg_quality: int = 60
    #: bilevel pages are stored at this resolution at most. A 13 pt text page costs ~32 KiB at 300 dpi even
    #: smoothed (the glyph outlines, not noise: a noiseless render costs as much), ~20 KiB at 200 dpi with the
    #: same OCR word recall and every diacritic kept (bench/bench_capture.py --sections legibility)
    bilevel_dpi: float = 200.0


def _luma(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"))


def bilevel_bitmap(image: Image.Image, dpi: float, target_dpi: float = EncodeOptions.bilevel_dpi
                   ) -> tuple[Image.Image, float]:
    """(bitmap, its dpi): black ink (0) on white (1). A grey scan is averaged down to `target_dpi` (never up),
    cut at the ink threshold (analysis.ink_threshold) and its edges smoothed; a bilevel scan is kept as it is."""
    if image.mode == "1":
        return image, dpi
    luma = _luma(image)
    sample = luma[::4, ::4]
    threshold = ink_threshold(sample, paper_level(sample))
    if target_dpi < dpi * 0.95:
        size = (max(1, round(image.width * target_dpi / dpi)), max(1, round(image.height * target_dpi / dpi)))
        # box averaging: each output pixel is the mean of the scan pixels it covers, so noise averages out
        luma = np.asarray(Image.fromarray(luma).resize(size, Image.Resampling.BOX))
        dpi = target_dpi
    ink = smooth_edges(luma <= threshold)
    return Image.fromarray(~ink).convert("1"), dpi


def _neighbours(mask: np.ndarray) -> np.ndarray:
    """How many of the 3×3 pixels around each pixel (itself included) are set."""
    padded = np.pad(mask, 1).astype(np.uint8)
    h, w = mask.shape
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3))  # type: ignore[return-value]


def _bridges(mask: np.ndarray) -> np.ndarray:
    """Pixels with set neighbours on two opposite sides (left-right, up-down or a diagonal): part of a thin line,
    or of a thin gap when `mask` is the paper."""
    p = np.pad(mask, 1)
    h, w = mask.shape

    def at(dy: int, dx: int) -> np.ndarray:
        return p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]

    return (at(0, -1) & at(0, 1)) | (at(-1, 0) & at(1, 0)) | (at(-1, -1) & at(1, 1)) | (at(-1, 1) & at(1, -1))


def _near(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        mask = _neighbours(mask) > 0
    return mask


def smooth_edges(ink: np.ndarray) -> np.ndarray:
    """3×3 majority vote along stroke edges: removes one-pixel bumps and fills one-pixel notches (scanner noise at
    the threshold), 11–14 % of a text page's JBIG2 bytes. It never cuts a hairline nor closes a one-pixel gap (a
    pixel between two opposite neighbours keeps its colour), and a mark it would erase whole (a diacritic dot, a
    small loop of a 6 or an e) is kept as scanned: edges move, marks stay."""
    votes = _neighbours(ink)
    smooth = np.where(ink, (votes >= 5) | _bridges(ink), (votes >= 5) & ~_bridges(~ink))
    smooth |= ink & ~_near(smooth, 1)  # ink with no smoothed ink next to it: a dot the vote erased
    smooth &= ~(~ink & ~_near(~smooth, 1))  # likewise a hole the vote filled
    return smooth


def _g4_tiff(bitmap: Image.Image, dpi: float) -> bytes:
    buffer = io.BytesIO()
    bitmap.save(buffer, format="TIFF", compression="group4", dpi=(dpi, dpi))
    return buffer.getvalue()


def _layout(dpi: float) -> img2pdf.layout_fun:  # type: ignore[name-defined]
    return img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))


def _one_page(pdf: pikepdf.Pdf, resources: pikepdf.Dictionary, content: list[str], w_pt: float, h_pt: float) -> bytes:
    page = pikepdf.Dictionary(Type=pikepdf.Name.Page, MediaBox=[0, 0, w_pt, h_pt], Resources=resources,
                              Contents=pdf.make_stream("\n".join(content).encode()))
    pdf.pages.append(pikepdf.Page(page))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def encode_bilevel(image: Image.Image, dpi: float, options: EncodeOptions = EncodeOptions()) -> bytes:
    """The page's bitmap (bilevel_bitmap), stored exactly: JBIG2 generic region, or G4 when MOTCUA_BILEVEL=g4.
    The page keeps the scan's size in points whatever the bitmap's resolution."""
    bitmap, bitmap_dpi = bilevel_bitmap(image, dpi, options.bilevel_dpi)
    pdf = pikepdf.new()
    w_pt, h_pt = page_size_points(image.width, image.height, dpi)
    resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=_bilevel_stream(pdf, bitmap, bitmap_dpi,
                                                                                   stencil=False)))
    return _one_page(pdf, resources, [f"q {w_pt:.4f} 0 0 {h_pt:.4f} 0 0 cm /Im0 Do Q"], w_pt, h_pt)


def _white_paper(rgb: Image.Image, block: int = 16) -> Image.Image:
    """Blocks of bare paper (near the paper's grey on average, no dark or coloured pixel) made pure white:
    paper texture and noise would otherwise cost most of a photocopy's JPEG bytes. Blocks touching a card, a
    photo or text are left exactly as scanned."""
    array = np.asarray(rgb)
    h, w = array.shape[:2]
    bh, bw = h // block, w // block
    if bh == 0 or bw == 0:
        return rgb
    a = array[:bh * block, :bw * block].astype(np.int32)
    luma = (a[..., 0] * 299 + a[..., 1] * 587 + a[..., 2] * 114) // 1000
    paper = paper_level(luma[::4, ::4])
    spread = a.max(axis=2) - a.min(axis=2)
    blocks = luma.reshape(bh, block, bw, block)
    darkest, mean = blocks.min(axis=(1, 3)), blocks.mean(axis=(1, 3))
    colourful = spread.reshape(bh, block, bw, block).max(axis=(1, 3))
    bare = (mean >= paper - 12) & (darkest >= paper - 35) & (colourful < 30)
    # a bare block must have bare neighbours: no whitening inside a photo's light patch
    bare = np.asarray(Image.fromarray(bare.astype(np.uint8) * 255).filter(ImageFilter.MinFilter(3))) > 0
    out = array.copy()
    out[:bh * block, :bw * block][np.repeat(np.repeat(bare, block, axis=0), block, axis=1)] = 255
    return Image.fromarray(out)


def encode_photo(image: Image.Image, dpi: float, options: EncodeOptions = EncodeOptions()) -> bytes:
    factor = dpi / options.photo_dpi
    if factor > 1.05:
        size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
        image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
        dpi = options.photo_dpi
    rgb = _white_paper(image.convert("RGB"))
    arr = np.asarray(rgb.reduce(4)).astype(np.int16)
    grey = int((arr.max(axis=2) - arr.min(axis=2)).max(initial=0)) < 30
    buffer = io.BytesIO()
    (rgb.convert("L") if grey else rgb).save(buffer, format="JPEG", quality=options.jpeg_quality, optimize=True,
                                             dpi=(dpi, dpi), subsampling=2 if not grey else 0)
    return img2pdf.convert(buffer.getvalue(), layout_fun=_layout(dpi))


def _g4_stream(pdf: pikepdf.Pdf, bitmap: Image.Image, dpi: float, *, stencil: bool) -> pikepdf.Stream:
    """A CCITT G4 image stream (as img2pdf makes it), optionally as a stencil mask (0 = paint)."""
    with pikepdf.open(io.BytesIO(img2pdf.convert(_g4_tiff(bitmap, dpi)))) as single:
        [(_, source)] = single.pages[0].obj.Resources.XObject.items()
        params = source.get("/DecodeParms")
        data = source.read_raw_bytes()
        stream = pikepdf.Stream(pdf, data)
        stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
        stream.Width, stream.Height = bitmap.width, bitmap.height
        stream.BitsPerComponent = 1
        stream.Filter = pikepdf.Array([pikepdf.Name.CCITTFaxDecode])
        stream.DecodeParms = pikepdf.Array([pikepdf.Dictionary({k: v for k, v in params[0].items()})])
        if stencil:
            stream.ImageMask = True
        else:
            stream.ColorSpace = pikepdf.Name.DeviceGray
        if source.get("/Decode") is not None:
            stream.Decode = pikepdf.Array(list(source.Decode))
        return stream


def _bilevel_stream(pdf: pikepdf.Pdf, bitmap: Image.Image, dpi: float, *, stencil: bool) -> pikepdf.Stream:
    """The bitmap (0 = ink) as a lossless image stream: JBIG2 generic region (about a third smaller
    than G4 on text, see bench/bench_capture.py), or CCITT G4 when MOTCUA_BILEVEL=g4."""
    data = jbig2.encode_generic(bitmap, dpi)
    if data is None:
        return _g4_stream(pdf, bitmap, dpi, stencil=stencil)
    stream = pikepdf.Stream(pdf, data)
    stream.Type, stream.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    stream.Width, stream.Height, stream.BitsPerComponent = bitmap.width, bitmap.height, 1
    stream.Filter = pikepdf.Name.JBIG2Decode
    if stencil:
        # JBIG2Decode yields 0 for JBIG2's black (our ink); a stencil paints where samples are 0
        stream.ImageMask = True
    else:
        stream.ColorSpace = pikepdf.Name.DeviceGray
    return stream


def encode_colour(image: Image.Image, dpi: float, options: EncodeOptions = EncodeOptions()) -> bytes:
    """Mixed raster content: per ink layer a lossless mask (JBIG2/G4) filled with its colour image (scanners.mrc)."""
    rgb = np.asarray(image.convert("RGB"))
    paper = paper_level(np.asarray(image.convert("L"))[::4, ::4])
    pdf = pikepdf.new()
    w_pt, h_pt = page_size_points(image.width, image.height, dpi)
    resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary())
    content: list[str] = []
    resources.Pattern = pikepdf.Dictionary()
    for name, colour, mask, (x0, y0, x1, y1) in mrc.layer_images(pdf, rgb, mrc.ink_layers(rgb, paper), dpi,
                                                                 options.ink_colour_dpi, options.ink_jpeg_quality):
        # the sharp mask is a stencil painted with a pattern holding the colour image: renderers place a
        # stencil exactly on the pixel grid (an image with a /Mask of another size they may shift by a pixel)
        key = name.capitalize()
        # the mask spans the page (placing a cropped stencil at an offset, poppler may round it a pixel off)
        resources.XObject[f"/{key}"] = _bilevel_stream(pdf, Image.fromarray(~mask).convert("1"), dpi, stencil=True)
        bw, bh = page_size_points(x1 - x0, y1 - y0, dpi)
        bx, by = page_size_points(x0, image.height - y1, dpi)  # PDF y grows upwards
        pattern = pdf.make_stream(f"q {bw:.4f} 0 0 {bh:.4f} {bx:.4f} {by:.4f} cm /C Do Q".encode())
        pattern.Type, pattern.PatternType, pattern.PaintType, pattern.TilingType = pikepdf.Name.Pattern, 1, 1, 1
        pattern.BBox, pattern.XStep, pattern.YStep = [0, 0, w_pt, h_pt], w_pt, h_pt
        pattern.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(C=colour))
        resources.Pattern[f"/{key}"] = pattern
        content.append(f"q /Pattern cs /{key} scn {w_pt:.4f} 0 0 {h_pt:.4f} 0 0 cm /{key} Do Q")
    return _one_page(pdf, resources, content, w_pt, h_pt)


def encode_jpeg(jpeg: bytes, dpi: float) -> bytes:
    """A one-page PDF around JPEG bytes as they are (a scanner's JPEG that our encoding did not beat)."""
    return img2pdf.convert(jpeg, layout_fun=_layout(dpi))


def encode_page(image: Image.Image, dpi: float, kind: str, options: EncodeOptions = EncodeOptions()) -> bytes:
    """A one-page PDF holding `image` encoded for its class."""
    if kind == BILEVEL:
        return encode_bilevel(image, dpi, options)
    if kind == COLOUR:
        return encode_colour(image, dpi, options)
    if kind == PHOTO:
        return encode_photo(image, dpi, options)
    raise ValueError(f"unknown page class {kind!r}")
