"""Open and validate input files (JPEG, PNG, TIFF incl. multi-page, PDF) without trusting them.

Validation decodes every image fully under Pillow's decompression-bomb limit
and opens every PDF with pikepdf, so a truncated, hostile or mislabelled file
is refused here — naming the file — before anything is queued.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image, UnidentifiedImageError

from .errors import InputFileError

IMAGE_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}
#: ~ an A3 page at 600 dpi in colour; anything larger is refused as a probable bomb
MAX_PIXELS = 80_000_000
MAX_FILE_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class InputFile:
    """A validated input: its path, kind ('image' or 'pdf'), media type and page count."""

    path: Path
    kind: str
    media_type: str
    pages: int


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
        with pikepdf.open(path) as pdf:
            pages = len(pdf.pages)
    except pikepdf.PasswordError as exc:
        raise InputFileError(str(path), "PDF is password-protected; export it without a password",
                             "PDF có mật khẩu; hãy xuất lại không đặt mật khẩu") from exc
    except (pikepdf.PdfError, OSError, ValueError) as exc:
        raise InputFileError(str(path), "not a readable PDF (damaged or truncated)",
                             "không đọc được PDF (hỏng hoặc bị cắt cụt)") from exc
    if pages == 0:
        raise InputFileError(str(path), "PDF has no pages", "PDF không có trang nào")
    return InputFile(path, "pdf", "application/pdf", pages)


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
