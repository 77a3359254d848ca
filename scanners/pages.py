"""The unit every pipeline step works on: a `Page` of a scanned stack.

A page knows where it came from (a label that names file and page number —
never its content), its resolution, how to decode its pixels (lazily, so a
30-page stack is not held in memory at once), and optionally an already
image already compressed as a plain JPEG (a page of a scanner-made PDF), whose
bytes are kept when they are smaller than the pipeline's own encoding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from PIL import Image

#: resolution assumed when a file does not say
DEFAULT_DPI = 300.0


@dataclass
class Page:
    """One page of a stack. `number` is its 1-based position in the stack."""

    number: int
    label: str
    dpi: float
    loader: Callable[[], Image.Image] | None = None
    #: reads the page's JPEG bytes as a scanner-made PDF holds them (kept only if smaller than ours)
    source_jpeg: Callable[[], bytes] | None = field(default=None, repr=False)

    def open(self) -> Image.Image:
        """Decode the page's pixels (RGB, L or 1). Raises ValueError if the page has no raster image."""
        if self.loader is None:
            raise ValueError(f"{self.label}: page has no raster image")
        return self.loader()

    @property
    def is_raster(self) -> bool:
        return self.loader is not None


def page_size_points(width_px: int, height_px: int, dpi: float) -> tuple[float, float]:
    """PDF page size in points for an image of the given pixels at `dpi`."""
    return width_px * 72.0 / dpi, height_px * 72.0 / dpi
