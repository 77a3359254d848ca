"""The receipt and appointment slip (form 01, "Giấy tiếp nhận hồ sơ và hẹn trả kết quả"), A4 or A5.

Field by field as on the form: the issuing body under the body above it (set by the province in
the desk settings `slip_parent_body`, `slip_issuing_body`, `slip_place`), "Số:" (the tracking-book
number), the dossier code with its QR, the applicant's name, address, phone and email, the
request, each document received with its own count and form (original, certified copy, copy),
the number of sets, the legal processing time, the time received, the appointment, where the
result is returned, the tracking-book entry, both signature blocks with the receiving officer's
name, the place and date line and the "made in 2 copies" note. Nothing is invented: a slip with
no documents is refused. A reprint after the clock was paused states the new appointment and
that it changed.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

from agent.context import AgentContext
from agent.desk.due_dates import format_due
from agent.desk.intake import DOCUMENT_KINDS, current_due, due_is_unconfirmed, get_intake
from agent.desk.refdata_store import agency_name
from agent.desk.slips import PAGE_SIZES, _esc, _header, _register_fonts, _styles, one_line, qr_drawing
from agent.errors import InputError
from agent.outbox.ids import VIETNAM
from sync_protocol.timestamps import parse_utc

RETURN_TEXT = {"counter": "Tại Bộ phận tiếp nhận và trả kết quả", "post": "Qua dịch vụ bưu chính công ích tại địa chỉ: "}
TWO_COPIES = ("Giấy tiếp nhận hồ sơ và hẹn trả kết quả được lập thành 02 bản; 01 bản giao cho người nộp hồ sơ,"
              " 01 bản lưu tại Bộ phận tiếp nhận và trả kết quả.")


@dataclass(frozen=True)
class ReceivedDocument:
    name: str
    count: int = 1
    kind: str = "original"  # a key of agent.desk.intake.DOCUMENT_KINDS


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
    documents: list[ReceivedDocument]
    processing_days: int
    received_at: datetime
    due_at: datetime
    return_method: str = "counter"
    delivery_address: str = ""
    officer: str = ""
    email: str = ""
    sets: int = 1
    parent_body: str = ""
    place: str = ""
    book_volume: str = ""
    book_number: int | None = None
    #: the appointment first given, when a pause has moved it since
    first_due_at: datetime | None = None
    #: the calendar behind the due date is not confirmed (unannounced year or unverified day off)
    calendar_unconfirmed: bool = False
    lookup_hint: str = "Tra cứu tình trạng hồ sơ trên Cổng Dịch vụ công bằng mã hồ sơ, hoặc quét mã QR."
    extra_notes: list[str] = field(default_factory=list)


def _date_line(place: str, moment: datetime) -> str:
    local = moment.astimezone(VIETNAM)
    return f"{place + ', ' if place else ''}ngày {local:%d} tháng {local:%m} năm {local:%Y}"


def receipt_slip_pdf(slip: ReceiptSlip, size: str = "A4") -> bytes:
    """Render form 01 as PDF bytes (size "A4" or "A5"); InputError if no document was received."""
    if size not in PAGE_SIZES:
        raise ValueError(f"size must be one of {sorted(PAGE_SIZES)}")
    if not slip.documents:
        raise InputError(f"Hồ sơ {slip.dossier_code} không ghi giấy tờ nào đã nhận, nên không in phiếu tiếp nhận.",
                         f"Dossier {slip.dossier_code} records no documents received, so no slip is printed.",
                         "Ghi lại thành phần hồ sơ đã nhận / record the documents received")
    _register_fonts()
    scale = 1.0 if size == "A4" else 0.74
    st = _styles(scale)
    page = PAGE_SIZES[size]
    margin = (16 if size == "A4" else 9) * mm
    width = page[0] - 2 * margin
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=page, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=f"Giấy tiếp nhận hồ sơ {slip.dossier_code}", initialFontName="VN",
                            author=slip.agency_name, subject="Mẫu số 01 - Giấy tiếp nhận hồ sơ và hẹn trả kết quả")
    number = f"Số: {slip.book_number:04d}/{slip.book_volume}" if slip.book_number else "Số: ......"
    code_block = [Paragraph("Mã hồ sơ:", st["base"]), one_line(slip.dossier_code, st["bold"], width - 34 * mm, bold=True)]
    story = [
        _header(slip.agency_name, width, st, slip.parent_body, number, _date_line(slip.place, slip.received_at)),
        Spacer(1, 3 * mm * scale), Paragraph("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", st["title"]),
        Table([[code_block, qr_drawing(slip.dossier_code, 28 if size == "A4" else 22)]],
              colWidths=[width - 34 * mm, 34 * mm],
              style=[("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 0), (1, 0), "RIGHT")]),
        Paragraph(f"{_esc(slip.agency_name)} tiếp nhận hồ sơ của:", st["base"]),
        Paragraph(f"Ông/Bà: <b>{_esc(slip.applicant_name)}</b>", st["base"]),
        Paragraph(f"Địa chỉ: {_esc(slip.address)}", st["base"]),
        Paragraph(f"Số điện thoại: {_esc(slip.phone or '—')}      Email: {_esc(slip.email or '—')}", st["base"]),
        Paragraph(f"Nội dung yêu cầu giải quyết: <b>{_esc(slip.procedure_name)}</b> (mã {slip.procedure_code})",
                  st["base"]),
        Spacer(1, 1.5 * mm), Paragraph("1. Thành phần hồ sơ nộp gồm:", st["bold"]),
    ]
    rows = [[Paragraph(f"<b>{h}</b>", st["small"]) for h in ("STT", "Tên giấy tờ", "Hình thức", "Số lượng")]]
    rows += [[Paragraph(str(i), st["small"]), Paragraph(_esc(d.name), st["small"]),
              Paragraph(DOCUMENT_KINDS.get(d.kind, d.kind), st["small"]), Paragraph(f"{d.count:02d}", st["small"])]
             for i, d in enumerate(slip.documents, 1)]
    story.append(Table(rows, colWidths=[11 * mm, width - 66 * mm, 36 * mm, 19 * mm], repeatRows=1, style=[
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    when = "trong ngày" if slip.processing_days == 0 else f"{slip.processing_days} ngày làm việc"
    return_text = RETURN_TEXT.get(slip.return_method, RETURN_TEXT["counter"])
    if slip.return_method == "post":
        return_text += _esc(slip.delivery_address)
    due_text = f"5. Thời gian trả kết quả giải quyết hồ sơ: <b>{format_due(slip.due_at)}</b>"
    if slip.calendar_unconfirmed:
        due_text += " (lịch chưa xác nhận)"
    if slip.first_due_at and slip.first_due_at != slip.due_at:
        due_text += (f" (đã thay đổi so với hẹn ban đầu {format_due(slip.first_due_at)} vì thời gian tạm dừng"
                     " giải quyết không tính vào thời hạn)")
    book = (f"Vào Sổ theo dõi hồ sơ: Quyển số {slip.book_volume}, Số thứ tự {slip.book_number}"
            if slip.book_number else "Vào Sổ theo dõi hồ sơ: Quyển số ......, Số thứ tự ......")
    story += [
        Spacer(1, 1.5 * mm),
        Paragraph(f"2. Số lượng hồ sơ: {slip.sets:02d} (bộ)", st["base"]),
        Paragraph(f"3. Thời gian giải quyết hồ sơ theo quy định là: {when}", st["base"]),
        Paragraph(f"4. Thời gian nhận hồ sơ: {format_due(slip.received_at)}", st["base"]),
        Paragraph(due_text, st["base"]),
        Paragraph(f"6. Đăng ký nhận kết quả: {return_text}", st["base"]),
        Paragraph(_esc(book), st["base"]),
        Paragraph(_esc(slip.lookup_hint), st["small"]),
        *[Paragraph(_esc(note), st["small"]) for note in slip.extra_notes],
        Spacer(1, 3 * mm * scale),
        Table([[Paragraph("<b>NGƯỜI NỘP HỒ SƠ</b><br/>(Ký và ghi rõ họ tên)<br/><br/><br/>"
                          f"{_esc(slip.applicant_name)}", st["center"]),
                Paragraph("<b>NGƯỜI TIẾP NHẬN HỒ SƠ</b><br/>(Ký và ghi rõ họ tên)<br/><br/><br/>"
                          f"{_esc(slip.officer)}", st["center"])]],
              colWidths=[width / 2, width / 2], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]),
        Spacer(1, 2 * mm * scale), Paragraph(f"<i>Ghi chú: {TWO_COPIES}</i>", st["small"]),
    ]
    doc.build(story)
    return out.getvalue()


def slip_for(ctx: AgentContext, ref: str, size: str = "A4") -> tuple[str, bytes]:
    """(dossier code, receipt slip PDF) for a dossier taken in at this desk."""
    dossier = ctx.outbox.get(ref)
    record = get_intake(ctx, dossier.id)
    if record is None:
        raise InputError(f"Hồ sơ {dossier.code} không có phiếu tiếp nhận trên máy này.",
                         f"Dossier {dossier.code} has no intake record on this desk, so no slip can be printed.")
    data, applicant = record.data, record.applicant
    documents = [ReceivedDocument(d["name"], int(d.get("count", 1)), d.get("kind", "original"))
                 for d in data.get("documents") or []]
    if not documents:  # intakes from before counts and forms were recorded: one original each, as then printed
        documents = [ReceivedDocument(name) for name in data.get("documents_received") or []]
    settings = ctx.config.settings
    due, first_due = current_due(ctx, record), parse_utc(record.due_at)
    book = data.get("book") or {}
    slip = ReceiptSlip(
        agency_name=settings.slip_issuing_body or agency_name(ctx.config.home, ctx.config.agency_code,
                                                             ctx.config.site or "Bộ phận một cửa"),
        dossier_code=dossier.code, calendar_unconfirmed=due_is_unconfirmed(ctx, record),
        procedure_code=record.procedure_code, procedure_name=data.get("procedure_name", record.procedure_code),
        applicant_name=applicant.get("applicant_name", ""), address=applicant.get("address", ""),
        phone=applicant.get("phone", ""), email=applicant.get("email", ""), documents=documents,
        sets=int(data.get("sets") or 1), processing_days=record.processing_days, received_at=parse_utc(record.received_at),
        due_at=due, first_due_at=first_due if first_due != due else None, return_method=record.return_method,
        delivery_address=record.delivery_address, officer=(data.get("officer") or {}).get("full_name", ""),
        parent_body=settings.slip_parent_body, place=settings.slip_place,
        book_volume=str(book.get("volume", "")), book_number=book.get("number"))
    return dossier.code, receipt_slip_pdf(slip, size)
