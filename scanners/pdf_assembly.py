"""Assemble validated inputs into one PDF without re-encoding any image.

img2pdf embeds JPEG as-is (DCT), CCITT G4 TIFF as-is and PNG losslessly;
PDF inputs are concatenated page by page with pikepdf. Images with an alpha
channel are flattened onto white first (img2pdf refuses transparency), which
changes no visible pixel of a scanned page.
"""
from __future__ import annotations

import io

import img2pdf
import pikepdf
from PIL import Image

from .errors import InputFileError
from .file_import import InputFile


def _image_to_pdf(item: InputFile) -> bytes:
    try:
        return img2pdf.convert(str(item.path), rotation=img2pdf.Rotation.ifvalid)
    except img2pdf.AlphaChannelError:
        frames = []
        with Image.open(item.path) as image:
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                rgba = image.convert("RGBA")
                flat = Image.new("RGB", rgba.size, "white")
                flat.paste(rgba, mask=rgba.getchannel("A"))
                buffer = io.BytesIO()
                flat.save(buffer, format="PNG")
                frames.append(buffer.getvalue())
        return img2pdf.convert(frames)
    except (img2pdf.ImageOpenError, ValueError, OSError) as exc:
        raise InputFileError(str(item.path), f"image cannot be placed in a PDF: {exc}",
                             "không đưa được ảnh vào PDF") from exc


def assemble_pdf(items: list[InputFile]) -> tuple[bytes, int]:
    """Return (PDF bytes, page count) for the inputs, in order."""
    output = pikepdf.new()
    sources: list[pikepdf.Pdf] = []
    try:
        for item in items:
            data = _image_to_pdf(item) if item.kind == "image" else item.path.read_bytes()
            source = pikepdf.open(io.BytesIO(data))
            sources.append(source)
            output.pages.extend(source.pages)
        output.docinfo["/Producer"] = "motcua"
        buffer = io.BytesIO()
        # deterministic_id: the same inputs give the same bytes, hence the same sha256.
        output.save(buffer, deterministic_id=True, compress_streams=True)
        return buffer.getvalue(), len(output.pages)
    finally:
        for source in sources:
            source.close()
        output.close()
