"""Printable PDFs for the desk: the receipt and appointment slip (form 01 of
Circular 03/2025/TT-VPCP style, "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"), A4
or A5, and the courier handover record ("Biên bản bàn giao").

Text is set in DejaVu Sans (Debian fonts-dejavu-core) or Noto Sans, embedded as
a subset, so every Vietnamese diacritic prints on any PC. The slip carries a QR
code whose content is exactly the dossier code, for lookup.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
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
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from agent.desk.due_dates import format_due
from agent.errors import StorageError
from agent.outbox.ids import VIETNAM

PAGE_SIZES = {"A4": A4, "A5": A5}
FONT_CANDIDATES = [
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf", "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"),
]
RETURN_TEXT = {"counter": "Tại Bộ phận tiếp nhận và trả kết quả", "post": "Qua dịch vụ bưu chính công ích tại địa chỉ: "}
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


def _header(agency_name: str, width: float, st: dict[str, ParagraphStyle]) -> Table:
    left = [Paragraph(_esc(agency_name.upper()), st["center"]),
            Paragraph("<b>BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ</b>", st["center"])]
    right = [Paragraph("<b>CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM</b>", st["center"]),
             Paragraph("<b>Độc lập - Tự do - Hạnh phúc</b>", st["center"])]
    table = Table([[left, right]], colWidths=[width * 0.42, width * 0.58])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    return table


@dataclass
class ReceiptSlip:
    """What goes on form 01."""

    agency_name: str
    dossier_code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    address: str
    phone: str
    documents: list[str]
    processing_days: int
    received_at: datetime
    due_at: datetime
    return_method: str = "counter"
    delivery_address: str = ""
    officer: str = ""
    lookup_hint: str = "Tra cứu tình trạng hồ sơ trên Cổng Dịch vụ công bằng mã hồ sơ, hoặc quét mã QR."
    extra_notes: list[str] = field(default_factory=list)


def receipt_slip_pdf(slip: ReceiptSlip, size: str = "A4") -> bytes:
    """Render form 01 as PDF bytes (size "A4" or "A5")."""
    if size not in PAGE_SIZES:
        raise ValueError(f"size must be one of {sorted(PAGE_SIZES)}")
    _register_fonts()
    scale = 1.0 if size == "A4" else 0.8
    st = _styles(scale)
    page = PAGE_SIZES[size]
    margin = (18 if size == "A4" else 10) * mm
    width = page[0] - 2 * margin
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=f"Giấy tiếp nhận hồ sơ {slip.dossier_code}", initialFontName="VN",
                            author=slip.agency_name, subject="Mẫu số 01 - Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
    received = slip.received_at.astimezone(VIETNAM)
    code_block = [Paragraph(f"Mã hồ sơ: <b>{_esc(slip.dossier_code)}</b>", st["base"]),
                  Paragraph(f"Ngày tiếp nhận: {received:%d/%m/%Y}", st["small"])]
    qr = qr_drawing(slip.dossier_code, 30 if size == "A4" else 26)
    story = [
        _header(slip.agency_name, width, st), Spacer(1, 4 * mm * scale),
        Paragraph("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", st["title"]),
        Table([[code_block, qr]], colWidths=[width - 34 * mm, 34 * mm],
              style=[("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (1, 0), "RIGHT")]),
        Paragraph(f"{_esc(slip.agency_name)} tiếp nhận hồ sơ của:", st["base"]),
        Paragraph(f"Ông/Bà: <b>{_esc(slip.applicant_name)}</b>", st["base"]),
        Paragraph(f"Địa chỉ: {_esc(slip.address)}", st["base"]),
        Paragraph(f"Số điện thoại: {_esc(slip.phone or '—')}", st["base"]),
        Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_esc(slip.procedure_name)}</b> (mã {slip.procedure_code})", st["base"]),
        Spacer(1, 2 * mm), Paragraph("1. Thành phần hồ sơ nộp gồm:", st["bold"]),
    ]
    rows = [[Paragraph("<b>STT</b>", st["small"]), Paragraph("<b>Tên giấy tờ</b>", st["small"]),
             Paragraph("<b>Số lượng</b>", st["small"])]]
    rows += [[Paragraph(str(i), st["small"]), Paragraph(_esc(name), st["small"]), Paragraph("01", st["small"])]
             for i, name in enumerate(slip.documents or ["Hồ sơ theo quy định"], 1)]
    story.append(Table(rows, colWidths=[12 * mm, width - 34 * mm, 22 * mm], repeatRows=1, style=[
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    when = "trong ngày" if slip.processing_days == 0 else f"{slip.processing_days} ngày làm việc"
    return_text = RETURN_TEXT.get(slip.return_method, RETURN_TEXT["counter"])
    if slip.return_method == "post":
        return_text += _esc(slip.delivery_address)
    story += [
        Spacer(1, 2 * mm),
        Paragraph("2. Số lượng hồ sơ: 01 (bộ)", st["base"]),
        Paragraph(f"3. Thời gian giải quyết hồ sơ theo quy định là: {when}", st["base"]),
        Paragraph(f"4. Thời gian nhận hồ sơ: {format_due(slip.received_at)}", st["base"]),
        Paragraph(f"5. Thời gian trả kết quả giải quyết hồ sơ: <b>{format_due(slip.due_at)}</b>", st["base"]),
        Paragraph(f"6. Đăng ký nhận kết quả: {return_text}", st["base"]),
        Paragraph(f"7. {_esc(slip.lookup_hint)}", st["small"]),
        *[Paragraph(_esc(note), st["small"]) for note in slip.extra_notes],
        Spacer(1, 4 * mm * scale),
        Table([[Paragraph("<b>NGƯỜI NỘP HỒ SƠ</b><br/>(Ký và ghi rõ họ tên)", st["center"]),
                Paragraph(f"<b>NGƯỜI TIẾP NHẬN HỒ SƠ</b><br/>(Ký và ghi rõ họ tên)<br/><br/><br/>{_esc(slip.officer)}",
                          st["center"])]], colWidths=[width / 2, width / 2], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]),
    ]
    doc.build(story)
    return out.getvalue()


@dataclass(frozen=True)
class HandoverItem:
    dossier_code: str
    procedure_name: str
    recipient: str
    address: str
    phone: str


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
    rows += [[Paragraph(str(i), st["small"]), Paragraph(_esc(it.dossier_code), st["small"]),
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
