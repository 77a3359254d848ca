"""Open and validate input files (JPEG, PNG, TIFF incl. multi-page, PDF) without trusting them, and list their pages.

Validation decodes every image fully under Pillow's decompression-bomb limit
and opens every PDF with pikepdf — checking the declared size of every image
in it against the same pixel limit before anything is decoded — so a
truncated, hostile or mislabelled file is refused here, naming the file,
before anything is queued. `open_pages` then yields one `Page` per image frame
or PDF page. PDF pages are never copied: each becomes pixels (scanners.pdf_input)
and goes through the same pipeline as a scan, and the active content left
behind is listed in `InputFile.removed`.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pikepdf
from PIL import Image, UnidentifiedImageError

from . import pdf_input
from .errors import InputFileError
from .pages import DEFAULT_DPI, Page

log = logging.getLogger("motcua.scanners.file_import")
IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}
#: ~ an A3 page at 600 dpi in colour; anything larger is refused as a probable bomb
MAX_PIXELS = 80_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """A validated input: its path, kind ('image' or 'pdf'), media type, page count, active content left behind."""

    path: Path
    kind: str
    media_type: str
    pages: int
    #: feature → count of the active/external content a PDF held (pdf_input.FEATURES); none of it is kept
    removed: dict[str, int] = field(default_factory=dict)


def inspect_file(path: Path | str) -> InputFile:
    """Validate one file; raise InputFileError naming it if it cannot be imported."""
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise InputFileError(name, "file not found or not a regular file", "không tìm thấy tệp hoặc không phải tệp thường")
    size = path.stat().st_size
    if size == 0:
        raise InputFileError(name, "file is empty", "tệp rỗng")
    if size > MAX_FILE_BYTES:
        raise InputFileError(name, f"file is larger than {MAX_FILE_BYTES // 2**20} MiB", "tệp quá lớn")
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"%PDF-"):
        return _inspect_pdf(path)
    return _inspect_image(path)


def _inspect_pdf(path: Path) -> InputFile:
    try:
        # No recovery: qpdf would "repair" a truncated file by rebuilding its xref and
        # report every page while their images are gone. A damaged PDF is refused.
        with pikepdf.open(path, attempt_recovery=False) as pdf:
            pages = len(pdf.pages)
            pdf_input.check_image_sizes(pdf, str(path), MAX_PIXELS)
            removed = pdf_input.active_content(pdf)
    except pikepdf.PasswordError as exc:
        raise InputFileError(str(path), "PDF is password-protected; export it without a password",
                             "PDF có mật khẩu; hãy xuất lại không đặt mật khẩu") from exc
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        raise InputFileError(str(path), "not a readable PDF (damaged or truncated)",
                             "không đọc được PDF (hỏng hoặc bị cắt cụt)") from exc
    if pages == 0:
        raise InputFileError(str(path), "PDF has no pages", "PDF không có trang nào")
    if removed:  # counts of feature kinds only: nothing from inside the file is logged
        log.info("pdf_active_content_removed features=%s", ",".join(sorted(removed)))
    return InputFile(path, "pdf", "application/pdf", pages, removed)


def removed_content(items: list[InputFile]) -> dict[str, object]:
    """What capture left out of these inputs, for the officer: {} or {features, message_vi, message_en}."""
    found: dict[str, int] = {}
    for item in items:
        for feature, count in item.removed.items():
            found[feature] = found.get(feature, 0) + count
    if not found:
        return {}
    message_vi, message_en = pdf_input.describe_removed(found)
    return {"features": found, "message_vi": message_vi, "message_en": message_en}


def _inspect_image(path: Path) -> InputFile:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = MAX_PIXELS
        try:
            with Image.open(path) as image:
                fmt = image.format or ""
                if fmt not in IMAGE_FORMATS:
                    raise InputFileError(str(path), f"unsupported image format {fmt or 'unknown'} (use JPEG, PNG, TIFF or PDF)",
                                         f"định dạng ảnh {fmt or 'không rõ'} không được hỗ trợ (dùng JPEG, PNG, TIFF hoặc PDF)")
                frames = getattr(image, "n_frames", 1)
                for index in range(frames):
                    image.seek(index)
                    image.load()  # decode every frame: truncated data fails here, not later
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InputFileError(str(path), f"image has too many pixels (limit {MAX_PIXELS}); possible decompression bomb",
                                 "ảnh có quá nhiều điểm ảnh; có thể là tệp độc hại") from exc
        except UnidentifiedImageError as exc:
            raise InputFileError(str(path), "not an image or PDF file", "không phải tệp ảnh hoặc PDF") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputFileError(str(path), "image is damaged or truncated", "ảnh bị hỏng hoặc bị cắt cụt") from exc
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    return InputFile(path, "image", IMAGE_FORMATS[fmt], frames)


def inspect_files(paths: list[Path | str]) -> list[InputFile]:
    """Validate all files first, so one bad file means nothing is queued."""
    if not paths:
        raise InputFileError("(none)", "no files given", "chưa chọn tệp nào")
    return [inspect_file(p) for p in paths]


# -- pages -------------------------------------------------------------------------------------
def _image_dpi(info: dict) -> float:
    dpi = info.get("dpi")
    try:
        value = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        value = 0.0
    return value if 50 <= value <= 1200 else DEFAULT_DPI


def _frame_loader(path: Path, index: int) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        with Image.open(path) as image:
            image.seek(index)
            image.load()
            return _flatten(image)
    return load


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, L or 1; transparency flattened onto white (changes no visible pixel of a scan)."""
    if image.mode in ("RGB", "L", "1"):
        return image.copy()
    if "A" in image.getbands() or image.mode == "P" and "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _pdf_loader(path: Path, plan: pdf_input.PagePlan) -> Callable[[], Image.Image]:
    def load() -> Image.Image:
        return _flatten(pdf_input.page_image(path, plan, MAX_PIXELS))
    return load


def _jpeg_reader(path: Path, index: int) -> Callable[[], bytes]:
    def read() -> bytes:
        with pikepdf.open(path, attempt_recovery=False) as pdf:
            [image] = [x for _, x in pdf.pages[index].obj.Resources.XObject.items()]
            return image.read_raw_bytes()
    return read


@contextlib.contextmanager
def open_pages(items: list[InputFile], first_number: int = 1) -> Iterator[list[Page]]:
    """Pages of the validated inputs in order, numbered from `first_number`; each decodes its pixels when asked."""
    pages: list[Page] = []
    number = first_number
    for item in items:
        if item.kind == "image":
            with Image.open(item.path) as image:
                dpi = _image_dpi(image.info)
            for index in range(item.pages):
                pages.append(Page(number, f"{item.path.name} trang/page {index + 1}", dpi,
                                  loader=_frame_loader(item.path, index)))
                number += 1
            continue
        with pikepdf.open(item.path, attempt_recovery=False) as pdf:
            plans = pdf_input.plan_pages(pdf, DEFAULT_DPI, MAX_PIXELS)
        for plan in plans:
            pages.append(Page(number, f"{item.path.name} trang/page {plan.index + 1}", plan.dpi,
                              loader=_pdf_loader(item.path, plan),
                              source_jpeg=_jpeg_reader(item.path, plan.index) if plan.jpeg and not plan.rotate
                              else None))
            number += 1
    yield pages
