"""Printable PDFs for the desk: what every printout shares (fonts, styles, header, QR, fitting a
word in one line) and the courier handover record ("Biên bản bàn giao"). The receipt slip
(form 01) is agent.desk.receipt_slip.

Text is set in DejaVu Sans (Debian fonts-dejavu-core) or Noto Sans, embedded as
a subset, so every Vietnamese diacritic prints on any PC. Dossier codes are never
broken across lines: a code that does not fit its column is set smaller.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterable

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from agent.errors import StorageError
from agent.outbox.ids import VIETNAM

PAGE_SIZES = {"A4": A4, "A5": A5}
FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
]
_fonts_ready = False


def _register_fonts() -> None:
    global _fonts_ready
    if _fonts_ready:
        return
    for regular, bold in FONT_CANDIDATES:
        if Path(regular).exists() and Path(bold).exists():
            pdfmetrics.registerFont(TTFont("VN", regular))
            pdfmetrics.registerFont(TTFont("VN-Bold", bold))
            pdfmetrics.registerFontFamily("VN", normal="VN", bold="VN-Bold", italic="VN", boldItalic="VN-Bold")
            _fonts_ready = True
            return
    raise StorageError("Không tìm thấy phông chữ tiếng Việt để in phiếu.",
                       "No font with Vietnamese diacritics found for printing.",
                       "apt-get install fonts-dejavu-core")


def _styles(scale: float) -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName="VN", fontSize=10 * scale, leading=13.5 * scale)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5 * scale, leading=11 * scale),
        "center": ParagraphStyle("center", parent=base, alignment=1),
        "title": ParagraphStyle("title", parent=base, fontName="VN-Bold", fontSize=13 * scale, leading=17 * scale,
                                alignment=1, spaceBefore=4 * scale, spaceAfter=2 * scale),
        "bold": ParagraphStyle("bold", parent=base, fontName="VN-Bold"),
    }


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def qr_drawing(content: str, size_mm: float) -> Drawing:
    widget = QrCodeWidget(content, barLevel="M")
    x1, y1, x2, y2 = widget.getBounds()
    side = size_mm * mm
    drawing = Drawing(side, side, transform=[side / (x2 - x1), 0, 0, side / (y2 - y1), 0, 0])
    drawing.add(widget)
    return drawing


def one_line(text: str, style: ParagraphStyle, width: float, bold: bool = False, min_size: float = 5.5) -> Paragraph:
    """`text` as a paragraph set small enough to fit `width` on one line (never split inside a word)."""
    font = "VN-Bold" if bold else "VN"
    size = style.fontSize
    while size > min_size and stringWidth(text, font, size) > width - 2:
        size -= 0.25
    fitted = ParagraphStyle(f"{style.name}-fit", parent=style, fontName=font, fontSize=size,
                            leading=max(size * 1.3, min(style.leading, size * 1.6)), splitLongWords=0)
    return Paragraph(_esc(text), fitted)


def _header(agency_name: str, width: float, st: dict[str, ParagraphStyle], parent_body: str = "",
            number_line: str = "", date_line: str = "") -> Table:
    """Issuing body (and the body above it) at the left, the national motto at the right, each line fitted."""
    left_width, right_width = width * 0.5, width * 0.5
    left = ([one_line(parent_body.upper(), st["center"], left_width)] if parent_body else []) + [
        one_line(agency_name.upper(), st["center"], left_width, bold=True)]
    if number_line:
        left.append(one_line(number_line, st["center"], left_width))
    right = [one_line("CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", st["center"], right_width, bold=True),
             one_line("Độc lập - Tự do - Hạnh phúc", st["center"], right_width, bold=True)]
    if date_line:
        right.append(one_line(date_line, st["center"], right_width))
    table = Table([[left, right]], colWidths=[left_width, right_width])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return table


@dataclass(frozen=True)
class HandoverItem:
    dossier_code: str
    procedure_name: str
    recipient: str
    address: str
    phone: str
    #: UPU S10 item number when the result goes by public post: printed as a Code 128 barcode the courier app scans
    postal_item: str = ""


def _code_cell(item: HandoverItem, st: dict) -> list:
    from reportlab.graphics.barcode.code128 import Code128

    cell: list = [one_line(item.dossier_code, st["small"], 44 * mm - 12)]  # a code never breaks mid-code
    if item.postal_item:
        cell.append(Code128(item.postal_item, barWidth=0.2 * mm, barHeight=8 * mm, humanReadable=True, quiet=False))
    return cell


def handover_pdf(agency_name: str, batch_id: str, courier: str, items: Iterable[HandoverItem],
                 at: datetime, officer: str = "") -> bytes:
    """The handover record for a batch of results given to a postal courier (A4)."""
    _register_fonts()
    st = _styles(0.95)
    out = io.BytesIO()
    margin = 15 * mm
    width = A4[0] - 2 * margin
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=f"Biên bản bàn giao {batch_id}", author=agency_name,
                            initialFontName="VN")
    items = list(items)
    local = at.astimezone(VIETNAM)
    rows = [[Paragraph(f"<b>{h}</b>", st["small"]) for h in ("STT", "Mã hồ sơ", "Thủ tục", "Người nhận", "Địa chỉ giao", "Điện thoại")]]
    rows += [[Paragraph(str(i), st["small"]), _code_cell(it, st),
              Paragraph(_esc(it.procedure_name), st["small"]), Paragraph(_esc(it.recipient), st["small"]),
              Paragraph(_esc(it.address), st["small"]), Paragraph(_esc(it.phone), st["small"])]
             for i, it in enumerate(items, 1)]
    story = [
        _header(agency_name, width, st), Spacer(1, 5 * mm),
        Paragraph("BIÊN BẢN BÀN GIAO KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH", st["title"]),
        Paragraph(f"Số: {_esc(batch_id)}", st["center"]), Spacer(1, 3 * mm),
        Paragraph(f"Hôm nay, {local:%H} giờ {local:%M} phút, ngày {local:%d/%m/%Y}, tại {_esc(agency_name)}:", st["base"]),
        Paragraph(f"Bên giao: Bộ phận tiếp nhận và trả kết quả — {_esc(agency_name)}"
                  + (f", cán bộ <b>{_esc(officer)}</b>" if officer else ""), st["base"]),
        Paragraph(f"Bên nhận: nhân viên bưu chính <b>{_esc(courier)}</b>", st["base"]),
        Paragraph(f"Bên giao bàn giao cho bên nhận <b>{len(items):02d}</b> kết quả để chuyển phát đến người dân:", st["base"]),
        Spacer(1, 2 * mm),
        Table(rows, colWidths=[11 * mm, 44 * mm, 34 * mm, 30 * mm, width - 145 * mm, 26 * mm], repeatRows=1,
              style=[("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]),
        Spacer(1, 4 * mm),
        Paragraph("Biên bản được lập thành 02 bản, mỗi bên giữ 01 bản.", st["base"]), Spacer(1, 5 * mm),
        Table([[Paragraph("<b>BÊN NHẬN</b><br/>(Ký, ghi rõ họ tên)", st["center"]),
                Paragraph("<b>BÊN GIAO</b><br/>(Ký, ghi rõ họ tên)", st["center"])]], colWidths=[width / 2, width / 2]),
    ]
    doc.build(story)
    return out.getvalue()
