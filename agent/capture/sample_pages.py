"""Generate sample scanned pages (for the demo and tests): a text form and a photo-like page.

No personal data: the form carries placeholder text only.
"""
from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw


def text_page(path: Path, title: str = "TO KHAI DANG KY KHAI SINH (MAU)", dpi: int = 150) -> Path:
    """A bilevel A4 page with ruled lines and text, like a scanned form."""
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    draw.text((dpi, dpi), title, fill=0)
    for row in range(30):
        y = int(dpi * 1.6 + row * dpi * 0.3)
        draw.text((dpi, y - 12), f"Muc {row + 1:02d}: ........................................", fill=0)
        draw.line((dpi, y + 4, width - dpi, y + 4), fill=0)
    image.save(path, dpi=(dpi, dpi))
    return path


def photo_page(path: Path, seed: int = 7, dpi: int = 150) -> Path:
    """A colour JPEG page with a gradient 'photo' and a red stamp."""
    rng = random.Random(seed)
    width, height = int(8.27 * dpi), int(11.69 * dpi)
    image = Image.new("RGB", (width, height), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for y in range(dpi, dpi * 5):
        shade = 80 + (y * 120) // (dpi * 5)
        draw.line((dpi, y, width - dpi, y), fill=(shade, shade - 30, 200 - shade // 2))
    cx, cy = width - 2 * dpi, height - 2 * dpi
    draw.ellipse((cx - dpi // 2, cy - dpi // 2, cx + dpi // 2, cy + dpi // 2), outline=(200, 20, 20), width=6)
    for _ in range(400):
        x, y = rng.randrange(width), rng.randrange(height)
        draw.point((x, y), fill=(rng.randrange(256),) * 3)
    image.save(path, quality=85, dpi=(dpi, dpi))
    return path


def sample_dossier(directory: Path, noise_pages: int = 0) -> list[Path]:
    """Two text pages and one photo page (plus optional extra photo pages to make it bigger)."""
    directory.mkdir(parents=True, exist_ok=True)
    pages = [text_page(directory / "page-1.png"), photo_page(directory / "page-2.jpg"),
             text_page(directory / "page-3.png", "GIAY TO KEM THEO (MAU)")]
    for i in range(noise_pages):
        pages.append(_noise_page(directory / f"extra-{i}.png", seed=i))
    return pages


def _noise_page(path: Path, seed: int, size: int = 700) -> Path:
    """An incompressible page: makes large test dossiers cheaply."""
    rng = random.Random(seed)
    Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3)).save(path)
    return path


def noise_pdf(path: Path, size_bytes: int, seed: int = 0) -> Path:
    """A one-page scanner-style PDF of about `size_bytes` (one incompressible lossless image).

    Capture keeps a PDF page that is a single scanned image as the scanner encoded
    it, so this makes a dossier of a predictable size — for tests and benchmarks of
    large uploads (noise pages given as images are re-encoded and shrink).
    """
    import img2pdf

    side = max(16, int((size_bytes / 3) ** 0.5))
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(seed).randbytes(side * side * 3)).save(
        buffer, format="PNG", compress_level=1)
    path.write_bytes(img2pdf.convert(buffer.getvalue()))
    return path
