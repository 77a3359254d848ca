"""Assemble encoded pages (and their OCR text layers) into one compact PDF.

Each page arrives as a one-page PDF made by `encoding` — never a page of an
input file, so the output holds only page images, the text layer and our own
metadata. The invisible text page from `ocr` is laid over it as a
form XObject. The OCR font (Tesseract's tiny GlyphLessFont) is shared by all
pages, streams are compressed and objects packed into object streams. Output
is deterministic for the same input (same bytes, same sha256) and passes
`qpdf --check`.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import pikepdf

PRODUCER = "motcua"


@dataclass
class EncodedPage:
    """A page ready for assembly: one-page PDF bytes made by `encoding` and an optional text layer."""

    number: int
    pdf: bytes = b""
    text_layer: bytes | None = None
    kind: str = ""


def _share_ocr_fonts(pdf: pikepdf.Pdf) -> None:
    """Point every page's GlyphLessFont at the first one, so it is stored once."""
    shared: pikepdf.Object | None = None
    for page in pdf.pages:
        xobjects = page.obj.get("/Resources", {}).get("/XObject", {})
        for _, xobject in xobjects.items():
            fonts = xobject.get("/Resources", {}).get("/Font") if xobject.get("/Subtype") == "/Form" else None
            if not fonts:
                continue
            for name, font in list(fonts.items()):
                if str(font.get("/BaseFont", "")) != "/GlyphLessFont":
                    continue
                if shared is None:
                    shared = font
                else:
                    fonts[name] = shared


def assemble(pages: list[EncodedPage]) -> tuple[bytes, int]:
    """Return (PDF bytes, page count) for `pages`, in order."""
    output = pikepdf.new()
    opened: list[pikepdf.Pdf] = []
    try:
        for item in pages:
            source = pikepdf.open(io.BytesIO(item.pdf))
            opened.append(source)
            output.pages.append(source.pages[0])
            if item.text_layer:
                text = pikepdf.open(io.BytesIO(item.text_layer))
                opened.append(text)
                target = output.pages[-1]
                target.add_overlay(text.pages[0], pikepdf.Rectangle(*[float(v) for v in target.mediabox]))
        _share_ocr_fonts(output)
        output.docinfo["/Producer"] = PRODUCER
        buffer = io.BytesIO()
        output.save(buffer, deterministic_id=True, compress_streams=True,
                    object_stream_mode=pikepdf.ObjectStreamMode.generate)
        return buffer.getvalue(), len(output.pages)
    finally:
        for source in opened:
            source.close()
        output.close()
