"""Cover sheets: print them, recognise them in a scanned stack, and split the stack at them.

A cover sheet is an A4 page with a *comb mark* (five black bars across the
top) and a QR code holding `MOTCUA1:D:<dossier code>`; a separator sheet
(same mark) holds `MOTCUA1:S:<label>` and starts a new document inside a
dossier. The comb mark is what makes a page a cover even when its QR cannot
be read — such a page holds the batch for review instead of silently merging
two citizens' dossiers.

Cover sheets printed elsewhere (the province's case system, another desk)
carry no mark and a QR holding just the dossier code. A QR whose whole text
is a national dossier code (`DOSSIER_CODE`), or matches the pattern the
province configures, therefore also makes the page a dossier cover. Any other
QR code without the mark (e.g. on an ID card) is just content.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import img2pdf
import numpy as np
import qrcode
from PIL import Image, ImageDraw
from pyzbar import pyzbar

from .analysis import reduced
from .errors import BatchHeld, CaptureError
from .synthetic import font

PREFIX = "MOTCUA1:"
DOSSIER, SEPARATOR, UNREADABLE = "dossier", "separator", "unreadable"
LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
#: national dossier code (Circular 01/2018/TT-VPCP art. 19): electronic agency ID (up to 35 characters of
#: digits, A–Z and dots; Decision 20/2020/QĐ-TTg) - receipt date YYMMDD - daily sequence of 4 to 7 digits
DOSSIER_CODE = re.compile(r"[0-9A-Z][0-9A-Z.]{0,34}-[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-[0-9]{4,7}")
DPI = 300
MM = DPI / 25.4
#: comb geometry in mm on A4 (210 mm wide): five bars, 24 mm wide, 12 mm apart, 12 mm tall, 15 mm from the top
BARS, BAR_W, GAP_W, BAR_H, TOP, LEFT = 5, 24, 12, 12, 15, 21


@dataclass(frozen=True)
class CoverRead:
    """A cover or separator sheet found on a page; `value` is the dossier code or document label."""

    kind: str
    value: str = ""


def payload(kind: str, value: str) -> str:
    if kind == DOSSIER:
        return f"{PREFIX}D:{value}"
    if kind == SEPARATOR:
        if not LABEL.match(value):
            raise ValueError(f"separator label {value!r}: use a-z, 0-9 and '-', up to 40 characters")
        return f"{PREFIX}S:{value}"
    raise ValueError(kind)


def compile_code_pattern(pattern: str) -> re.Pattern[str] | None:
    """The province's own dossier-code pattern (a regular expression matched against the whole QR text)."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise CaptureError(f"setting cover_code_pattern {pattern!r} is not a valid regular expression ({exc})",
                           f"cài đặt cover_code_pattern {pattern!r} không phải biểu thức chính quy hợp lệ",
                           hint="Sửa cover_code_pattern trong config.json / fix cover_code_pattern") from exc


def parse_payload(text: str, code_pattern: re.Pattern[str] | None = None) -> CoverRead | None:
    if text.startswith(PREFIX + "D:") and len(text) > len(PREFIX) + 2:
        return CoverRead(DOSSIER, text[len(PREFIX) + 2:])
    if text.startswith(PREFIX + "S:") and LABEL.match(text[len(PREFIX) + 2:]):
        return CoverRead(SEPARATOR, text[len(PREFIX) + 2:])
    bare = text.strip()
    if DOSSIER_CODE.fullmatch(bare) or (code_pattern is not None and code_pattern.fullmatch(bare)):
        return CoverRead(DOSSIER, bare)  # a plain cover sheet from another system: just the dossier code
    return None


# -- printing -----------------------------------------------------------------------------
def render_cover(kind: str, value: str, lines: tuple[str, ...] = ()) -> Image.Image:
    """The sheet as a 300 dpi bilevel A4 image."""
    width, height = int(210 * MM), int(297 * MM)
    image = Image.new("1", (width, height), 1)
    draw = ImageDraw.Draw(image)
    for i in range(BARS):
        x0 = (LEFT + i * (BAR_W + GAP_W)) * MM
        draw.rectangle((x0, TOP * MM, x0 + BAR_W * MM, (TOP + BAR_H) * MM), fill=0)
    title = ("PHIẾU TÁCH HỒ SƠ — DOSSIER COVER SHEET" if kind == DOSSIER
             else "PHIẾU TÁCH TÀI LIỆU — DOCUMENT SEPARATOR")
    draw.text((width // 2, 45 * MM), title, font=font(60, bold=True), fill=0, anchor="mm")
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=1, border=4)
    qr.add_data(payload(kind, value))
    qr.make(fit=True)
    matrix = qr.get_matrix()
    modules = len(matrix)
    box = int(70 * MM) // modules
    qr_image = Image.new("1", (modules * box, modules * box), 1)
    qr_draw = ImageDraw.Draw(qr_image)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                qr_draw.rectangle((x * box, y * box, (x + 1) * box - 1, (y + 1) * box - 1), fill=0)
    image.paste(qr_image, ((width - qr_image.width) // 2, int(65 * MM)))
    y = int(65 * MM) + qr_image.height + int(15 * MM)
    draw.text((width // 2, y), value, font=font(80, bold=True), fill=0, anchor="mm")
    for line in lines:
        y += int(14 * MM)
        draw.text((width // 2, y), line, font=font(44), fill=0, anchor="mm")
    y += int(25 * MM)
    for line in ("Đặt phiếu này lên TRÊN CÙNG các trang của hồ sơ khi quét.",
                 "Place this sheet on top of the dossier's pages when scanning."):
        draw.text((width // 2, y), line, font=font(40), fill=0, anchor="mm")
        y += int(10 * MM)
    return image


def cover_sheet_pdf(kind: str, value: str, lines: tuple[str, ...] = ()) -> bytes:
    """A printable one-page A4 PDF (CCITT G4, about 20 KiB)."""
    buffer = io.BytesIO()
    render_cover(kind, value, lines).save(buffer, format="TIFF", compression="group4", dpi=(DPI, DPI))
    return img2pdf.convert(buffer.getvalue(), layout_fun=img2pdf.get_fixed_dpi_layout_fun((DPI, DPI)))


# -- recognition ----------------------------------------------------------------------------
def _comb_row(row: np.ndarray) -> bool:
    width = row.size
    dark = np.concatenate(([False], row, [False]))
    edges = np.flatnonzero(np.diff(dark.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    runs = [(s, e) for s, e in zip(starts, ends) if e - s >= 0.01 * width]
    if len(runs) != BARS:
        return False
    widths = [e - s for s, e in runs]
    gaps = [runs[i + 1][0] - runs[i][1] for i in range(BARS - 1)]
    bar, gap = BAR_W / 210, GAP_W / 210
    return (all(0.7 * bar * width <= w <= 1.3 * bar * width for w in widths)
            and all(0.6 * gap * width <= g <= 1.4 * gap * width for g in gaps))


def has_comb_mark(luma: np.ndarray) -> bool:
    """True when the top (or, upside down, the bottom) band of the page holds the comb mark."""
    height = luma.shape[0]
    dark = luma < 128
    for lo, hi in ((0.01, 0.14), (0.86, 0.99)):
        rows = dark[int(lo * height):int(hi * height)]
        hits = sum(1 for row in rows[::2] if _comb_row(row))
        if hits >= 3:
            return True
    return False


def _decode_qr(image: Image.Image) -> list[str]:
    found = []
    for symbol in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE]):
        try:
            found.append(symbol.data.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return found


def read_cover(image: Image.Image, dpi: float, code_pattern: re.Pattern[str] | None = None) -> CoverRead | None:
    """The cover/separator sheet on this page, CoverRead(UNREADABLE) for a marked page without a valid QR, or None.

    `code_pattern`: the province's dossier-code pattern, recognised like a national code (see module doc)."""
    small = reduced(image, dpi).convert("L")
    marked = has_comb_mark(np.asarray(small))
    texts = _decode_qr(small)
    reads = [r for r in (parse_payload(t, code_pattern) for t in texts) if r is not None]
    if not reads and marked:
        reads = [r for r in (parse_payload(t, code_pattern) for t in _decode_qr(image.convert("L"))) if r is not None]
    if len({(r.kind, r.value) for r in reads}) == 1:
        return reads[0]
    if marked or reads:  # marked but unreadable, or two different codes on one sheet
        return CoverRead(UNREADABLE)
    return None


# -- splitting ------------------------------------------------------------------------------------
@dataclass
class Part:
    """Pages of one dossier: `code` from its cover (None when the stack had no cover sheet)."""

    code: str | None
    cover_page: int | None
    documents: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def pages(self) -> list[int]:
        return [n for _, numbers in self.documents for n in numbers]


def split_stack(numbers: list[int], covers: dict[int, CoverRead], *, allow_uncovered: bool) -> list[Part]:
    """Split page numbers (in stack order) at cover sheets; separator sheets start new documents.

    Raises BatchHeld naming the page when a cover is unreadable, pages precede the
    first cover, a cover has no pages after it, or one code appears twice.
    """
    parts: list[Part] = []
    for number in numbers:
        cover = covers.get(number)
        if cover is not None and cover.kind == UNREADABLE:
            raise BatchHeld(number, "a cover sheet's QR code cannot be read",
                            "không đọc được mã QR trên phiếu tách hồ sơ")
        if cover is not None and cover.kind == DOSSIER:
            if any(p.code == cover.value for p in parts):
                raise BatchHeld(number, f"cover sheet {cover.value} appears twice in the stack",
                                f"phiếu tách hồ sơ {cover.value} xuất hiện hai lần", reason="cover_duplicate")
            parts.append(Part(cover.value, number, []))
            continue
        if not parts:
            if any(c.kind == DOSSIER for c in covers.values()):
                raise BatchHeld(number, "pages come before the first cover sheet",
                                "có trang nằm trước phiếu tách hồ sơ đầu tiên", reason="pages_before_cover")
            if not allow_uncovered:
                raise BatchHeld(number, "the stack has no cover sheet; scan it with a procedure code or a cover sheet",
                                "tập quét không có phiếu tách hồ sơ; hãy quét kèm mã thủ tục hoặc phiếu tách",
                                reason="no_cover")
            parts.append(Part(None, None, []))
        part = parts[-1]
        if cover is not None and cover.kind == SEPARATOR:
            part.documents.append((cover.value, []))
            continue
        if not part.documents:
            part.documents.append(("", []))
        part.documents[-1][1].append(number)
    for part in parts:
        part.documents = [(name, pages) for name, pages in part.documents if pages]
        if not part.documents:
            raise BatchHeld(part.cover_page or 1, f"cover sheet {part.code} has no pages after it",
                            f"sau phiếu tách hồ sơ {part.code} không có trang nào", reason="empty_part")
    return parts
