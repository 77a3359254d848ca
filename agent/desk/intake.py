"""Intake: the desk form for a new dossier — validate, capture with its scans, compute the due date, seal.

The applicant's data travels to the hub inside the sealed dossier as the
payload object `intake.json` (media type application/json); the desk keeps a
local copy in the `intake` table for the receipt slip, notifications and the
courier. Personal data is never logged — log lines carry dossier ids only.

Citizen ID (số định danh cá nhân, 12 digits): 3 digits province code, 1 digit
century and sex (0/1 = 1900s male/female, 2/3 = 2000s, 4/5 = 2100s, ...),
2 digits birth year, 6 serial digits. There is no check digit; we check the
province code, the century digit, that the birth year is not in the future,
and, when the birth year is given, that it matches.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.context import AgentContext
from agent.desk.catalogue import Catalogue, Procedure
from agent.desk.due_dates import due_at
from agent.desk.holidays import HolidayCalendar
from agent.errors import InputError
from agent.outbox.hub_clock import intake_time
from agent.outbox.ids import VIETNAM, utc_timestamp
from agent.outbox.store import Dossier
from sync_protocol.timestamps import parse_utc

log = logging.getLogger("motcua.agent.intake")
INTAKE_SCHEMA = "motcua.intake/1"
PROVINCES_FILE = Path(__file__).parent / "data" / "province_codes.json"
CHANNELS = ("counter", "postal", "online")
RETURN_METHODS = ("counter", "post")
#: how a received document was handed in, with the slip's wording
DOCUMENT_KINDS = {"original": "Bản chính", "certified_copy": "Bản sao chứng thực", "copy": "Bản sao"}
_PHONE = re.compile(r"^0[2-9][0-9]{8}$")


@lru_cache(maxsize=1)
def province_codes() -> dict[str, str]:
    return json.loads(PROVINCES_FILE.read_text("utf-8"))["codes"]


class IntakeInvalid(InputError):
    """One or more form fields are wrong; `errors` maps field -> (vi, en)."""

    def __init__(self, errors: dict[str, tuple[str, str]]):
        super().__init__("Phiếu tiếp nhận chưa hợp lệ: " + "; ".join(f"{k}: {v[0]}" for k, v in errors.items()),
                         "The intake form is not valid: " + "; ".join(f"{k}: {v[1]}" for k, v in errors.items()),
                         "Sửa các ô được đánh dấu rồi gửi lại / fix the marked fields and submit again")
        self.errors = errors


def check_citizen_id(value: str, birth_year: int | None = None, today: datetime | None = None) -> tuple[str, str] | None:
    """None if `value` is a plausible 12-digit citizen ID, else (vi, en) saying what is wrong."""
    digits = value.replace(" ", "")
    if not re.fullmatch(r"[0-9]{12}", digits):
        return ("Số định danh phải gồm đúng 12 chữ số.", "The citizen ID must be exactly 12 digits.")
    if digits[:3] not in province_codes():
        return (f"Ba số đầu {digits[:3]} không phải mã tỉnh hợp lệ.", f"First three digits {digits[:3]} are not a province code.")
    century = 1900 + 100 * (int(digits[3]) // 2)
    year = century + int(digits[4:6])
    now_year = (today or datetime.now(VIETNAM)).year
    if year > now_year:
        return (f"Chữ số thế kỷ và năm sinh ({digits[3]}, {digits[4:6]}) cho năm {year}, chưa tới.",
                f"Century digit and birth year ({digits[3]}, {digits[4:6]}) give {year}, in the future.")
    if birth_year is not None and birth_year != year:
        return (f"Năm sinh {birth_year} không khớp số định danh (năm {year}).",
                f"Birth year {birth_year} does not match the ID (which says {year}).")
    return None


def normalise_phone(value: str) -> str | None:
    """Vietnamese phone as 0xxxxxxxxx, or None if it is not one."""
    digits = re.sub(r"[\s.\-()]", "", value)
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits if _PHONE.match(digits) else None


@dataclass
class IntakeForm:
    """What the officer types at the desk."""

    applicant_name: str
    citizen_id: str
    address: str
    procedure_code: str
    phone: str = ""
    birth_year: int | None = None
    birth_date: str = ""  # dd/mm/yyyy, from the chip ID card's QR or typed
    sex: str = ""  # "Nam" / "Nữ" as on the card
    email: str = ""
    sets: int = 1  # number of sets (bộ) of the dossier handed in
    #: per document received: count and form (original, certified copy, copy), by document name
    document_details: dict[str, tuple[int, str]] = field(default_factory=dict)
    channel: str = "counter"
    return_method: str = "counter"
    delivery_address: str = ""
    documents_received: list[str] = field(default_factory=list)
    notes: str = ""

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> "IntakeForm":
        """From a web form or JSON: strings trimmed, birth year parsed (bad values caught by `validate`)."""
        def text(key: str) -> str:
            value = data.get(key) or ""
            return " ".join(str(value).split())

        year_raw = text("birth_year")
        docs = data.get("documents_received") or []
        if isinstance(docs, str):
            docs = [docs]

        def count(value: Any) -> int:
            text_value = str(value or "1").strip()
            return int(text_value) if text_value.isdigit() else -1

        details = {str(d): (count(data.get(f"count:{d}")), str(data.get(f"kind:{d}") or "original")) for d in docs}
        return cls(applicant_name=text("applicant_name"), citizen_id=text("citizen_id").replace(" ", ""),
                   address=text("address"), procedure_code=text("procedure_code"), phone=text("phone"),
                   birth_year=int(year_raw) if year_raw.isdigit() else (-1 if year_raw else None),
                   birth_date=text("birth_date"), sex=text("sex"), email=text("email"),
                   sets=count(data.get("sets")), document_details=details,
                   channel=text("channel") or "counter", return_method=text("return_method") or "counter",
                   delivery_address=text("delivery_address"), documents_received=[str(d) for d in docs],
                   notes=text("notes"))

    def validate(self, catalogue: Catalogue, today: datetime | None = None) -> Procedure:
        """Check every field; raise IntakeInvalid naming all bad ones. Normalises phone and delivery address."""
        errors: dict[str, tuple[str, str]] = {}
        if not 2 <= len(self.applicant_name) <= 100:
            errors["applicant_name"] = ("Nhập họ tên người nộp (2–100 ký tự).", "Enter the applicant's full name (2-100 characters).")
        if self.birth_year == -1 or (self.birth_year is not None and not 1900 <= self.birth_year <= 2100):
            errors["birth_year"] = ("Năm sinh phải là năm có 4 chữ số.", "Birth year must be a 4-digit year.")
            self.birth_year = None
        if self.birth_date:
            try:
                born = datetime.strptime(self.birth_date, "%d/%m/%Y")
            except ValueError:
                errors["birth_date"] = ("Ngày sinh phải có dạng ngày/tháng/năm, ví dụ 05/03/1990.",
                                        "Date of birth must be day/month/year, e.g. 05/03/1990.")
            else:
                if self.birth_year is not None and self.birth_year != born.year:
                    errors["birth_year"] = ("Năm sinh không khớp ngày sinh.", "Birth year does not match the date of birth.")
                self.birth_year = born.year
        problem = check_citizen_id(self.citizen_id, self.birth_year, today)
        if problem:
            errors["citizen_id"] = problem
        if self.sex not in ("", "Nam", "Nữ"):
            errors["sex"] = ("Giới tính là Nam hoặc Nữ.", "Sex must be Nam or Nữ.")
        elif self.sex and not problem and int(self.citizen_id[3]) % 2 != (self.sex == "Nữ"):
            errors["sex"] = ("Giới tính không khớp chữ số thứ 4 của số định danh.",
                             "Sex does not match the 4th digit of the citizen ID.")
        if self.phone:
            phone = normalise_phone(self.phone)
            if phone is None:
                errors["phone"] = ("Số điện thoại phải có 10 chữ số, bắt đầu bằng 0 (hoặc +84).",
                                   "Phone must be 10 digits starting with 0 (or +84).")
            else:
                self.phone = phone
        if not 5 <= len(self.address) <= 300:
            errors["address"] = ("Nhập địa chỉ (5–300 ký tự).", "Enter the address (5-300 characters).")
        procedure = catalogue.procedures.get(self.procedure_code)
        if procedure is None:
            errors["procedure_code"] = (f"Chọn thủ tục trong danh mục (không có {self.procedure_code!r}).",
                                        f"Choose a procedure from the catalogue ({self.procedure_code!r} is not in it).")
        if self.channel not in CHANNELS:
            errors["channel"] = (f"Kênh tiếp nhận phải là một trong {', '.join(CHANNELS)}.", f"Channel must be one of {', '.join(CHANNELS)}.")
        if self.return_method not in RETURN_METHODS:
            errors["return_method"] = ("Chọn nơi trả kết quả: tại quầy hoặc qua bưu điện.", "Choose counter or post for the result.")
        elif self.return_method == "post":
            self.delivery_address = self.delivery_address or self.address
            if procedure is not None and not procedure.postal_return:
                errors["return_method"] = ("Thủ tục này không trả kết quả qua bưu điện.", "This procedure's result cannot be returned by post.")
            if not self.phone and "phone" not in errors:
                errors["phone"] = ("Trả qua bưu điện cần số điện thoại để bưu tá liên hệ.", "Postal return needs a phone number for the courier.")
        else:
            self.delivery_address = ""
        if procedure is not None:
            unknown = [d for d in self.documents_received if d not in procedure.documents]
            if unknown:
                errors["documents_received"] = ("Có giấy tờ không thuộc thành phần hồ sơ của thủ tục.",
                                                "Some documents are not in this procedure's list.")
            elif procedure.documents and not self.documents_received:
                # The slip lists what was received; it never invents "documents as required".
                errors["documents_received"] = ("Đánh dấu các giấy tờ công dân đã nộp.",
                                                "Tick the documents the citizen handed in.")
        if any(not 1 <= n <= 50 or kind not in DOCUMENT_KINDS for n, kind in self.document_details.values()):
            errors["documents_received"] = ("Số lượng mỗi giấy tờ là 1–50, hình thức là bản chính, bản sao chứng thực"
                                            " hoặc bản sao.", "Each document needs a count of 1-50 and a form: original,"
                                            " certified copy or copy.")
        if not 1 <= self.sets <= 20:
            errors["sets"] = ("Số bộ hồ sơ là 1–20.", "The number of sets is 1-20.")
        if self.email and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,190}\.[a-zA-Z]{2,}", self.email):
            errors["email"] = ("Địa chỉ email không đúng dạng.", "The email address is not valid.")
        if len(self.notes) > 300:
            errors["notes"] = ("Ghi chú tối đa 300 ký tự.", "Notes are at most 300 characters.")
        if errors:
            raise IntakeInvalid(errors)
        assert procedure is not None
        return procedure

    def applicant(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("procedure_code", "channel", "return_method", "documents_received", "notes", "delivery_address",
                    "sets", "document_details"):
            data.pop(key)
        return data


@dataclass(frozen=True)
class IntakeRecord:
    """The desk's local copy of an intake (personal data: keep on this machine, never log)."""

    dossier_id: str
    code: str
    procedure_code: str
    channel: str
    return_method: str
    received_at: str
    processing_days: int
    due_at: str
    calendar_version: str
    data: dict[str, Any]

    @property
    def applicant(self) -> dict[str, Any]:
        return self.data.get("applicant", {})

    @property
    def delivery_address(self) -> str:
        return self.data.get("delivery_address", "")


def intake_document(form: IntakeForm, procedure: Procedure, received_at: datetime, due: datetime,
                    calendar: HolidayCalendar, officer: dict[str, str] | None = None) -> dict[str, Any]:
    """The `intake.json` payload object (canonical-ish JSON, no dossier code: that is in the manifest).

    `officer` ({username, full_name}) is the receiving officer, printed on the slip."""
    return {"officer": officer or {},
        "schema": INTAKE_SCHEMA, "applicant": form.applicant(), "procedure_code": procedure.code,
        "procedure_name": procedure.name_vi, "channel": form.channel, "return_method": form.return_method,
        "delivery_address": form.delivery_address, "documents_received": form.documents_received, "notes": form.notes,
        "documents": [{"name": d, "count": form.document_details.get(d, (1, "original"))[0],
                       "kind": form.document_details.get(d, (1, "original"))[1]} for d in form.documents_received],
        "sets": form.sets,
        "received_at": utc_timestamp(received_at), "processing_days": procedure.processing_days,
        "due_at": utc_timestamp(due), "calendar_version": calendar.version,
    }


def take_in(ctx: AgentContext, form: IntakeForm, files: list[Path | str], *, received_at: datetime | None = None,
            seal: bool = True, catalogue: Catalogue | None = None, officer: dict[str, str] | None = None,
            form_key: str | None = None) -> tuple[Dossier, IntakeRecord]:
    """Validate the form (every bad field at once), capture the scans with `intake.json`, store the
    local intake record (marking the web form `form_key` done in the same transaction), seal."""
    from agent.capture.files import import_files
    from agent.ops.audit import audit_event
    from agent.sealing.seal import seal_dossier

    ctx.config.require_enrolled()
    received = received_at or intake_time(ctx.outbox)[0]  # legal time: corrected by the hub's clock
    catalogue = catalogue or Catalogue.for_home(ctx.config.home)
    missing = {} if files else {"files": ("Chưa có trang quét nào của hồ sơ.", "No scanned pages were attached.")}
    try:
        procedure = form.validate(catalogue, received)
    except IntakeInvalid as exc:
        raise IntakeInvalid({**exc.errors, **missing}) from None
    if missing:
        raise IntakeInvalid(missing)
    calendar = HolidayCalendar.for_home(ctx.config.home)
    due = due_at(received, procedure.processing_days, calendar)
    document = intake_document(form, procedure, received, due, calendar, officer)
    payload = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    try:
        dossier = import_files(ctx, files, procedure.code, form.channel, received_at=received,
                               extra_objects=[("intake.json", "application/json", payload)])
    except InputError as exc:  # a scan that cannot be read belongs next to the scans field
        raise IntakeInvalid({"files": (exc.message_vi, exc.message_en)}) from exc
    record = save_intake(ctx, dossier, document, form_key)
    audit_event(ctx, "dossier.taken_in", dossier.id, code=dossier.code, procedure=procedure.code)
    if seal:
        dossier = seal_dossier(ctx, dossier.id)
    log.info("intake dossier=%s procedure=%s channel=%s return=%s days=%d", dossier.id, procedure.code,
             form.channel, form.return_method, procedure.processing_days)
    return dossier, record


def save_intake(ctx: AgentContext, dossier: Dossier, document: dict[str, Any], form_key: str | None = None) -> IntakeRecord:
    from agent.desk.intake_forms import mark_done

    with ctx.outbox.transaction() as conn:
        if form_key:
            mark_done(conn, form_key, dossier.id)
        if "book" not in document:  # the desk's tracking book (sổ theo dõi): one volume a year, numbered in order
            volume = str(parse_utc(document["received_at"]).astimezone(VIETNAM).year)
            number = int(ctx.outbox.get_state(f"book:{volume}", "0") or 0) + 1
            ctx.outbox.set_state(f"book:{volume}", str(number))
            document = {**document, "book": {"volume": volume, "number": number}}
        conn.execute(
            "INSERT OR REPLACE INTO intake(dossier_id, code, procedure_code, channel, return_method, received_at,"
            " processing_days, due_at, calendar_version, data, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (dossier.id, dossier.code, document["procedure_code"], document["channel"], document["return_method"],
             document["received_at"], document["processing_days"], document["due_at"], document["calendar_version"],
             json.dumps(document, ensure_ascii=False), utc_timestamp()))
    return get_intake(ctx, dossier.id)  # type: ignore[return-value]


def get_intake(ctx: AgentContext, dossier_id: str) -> IntakeRecord | None:
    """The local intake record; rebuilt from the dossier's intake.json blob if a crash lost the row."""
    conn = ctx.outbox.conn
    row = conn.execute("SELECT dossier_id, code, procedure_code, channel, return_method, received_at, processing_days,"
                       " due_at, calendar_version, data FROM intake WHERE dossier_id=?", (dossier_id,)).fetchone()
    if row is None:
        dossier = ctx.outbox.get(dossier_id)
        blob = next((d for d in ctx.outbox.documents(dossier.id) if d.name == "intake.json"), None)
        if blob is None or not ctx.outbox.blobs.has(blob.sha256):
            return None
        with ctx.outbox.blobs.open(blob.sha256) as stream:
            return save_intake(ctx, dossier, json.loads(stream.read()))
    return IntakeRecord(*row[:9], data=json.loads(row[9] or "{}"))


def pauses_of(conn: Any, dossier_id: str) -> list[Any]:
    """The dossier's clock pauses (from supplement/fee status events)."""
    from agent.desk.due_dates import ClockPause

    def moment(value: str | None) -> datetime | None:
        return parse_utc(value) if value else None

    rows = conn.execute("SELECT started_at, ended_at, reason FROM clock_pauses WHERE dossier_id=? ORDER BY started_at",
                        (dossier_id,)).fetchall()
    return [ClockPause(moment(s), moment(e), r) for s, e, r in rows]  # type: ignore[arg-type]


def current_due(ctx: AgentContext, record: IntakeRecord, conn: Any = None) -> datetime:
    """Due date now: the stored due date (it changes only by an audited recomputation, agent.desk.refdata),
    extended by the working days the clock was paused."""
    from agent.desk.due_dates import extend_due

    calendar = HolidayCalendar.for_home(ctx.config.home)
    return extend_due(parse_utc(record.due_at), pauses_of(conn or ctx.outbox.conn, record.dossier_id), calendar)


def due_is_unconfirmed(ctx: AgentContext, record: IntakeRecord) -> bool:
    """True when the dossier's due date crosses an unannounced year or an unverified day off."""
    from agent.desk.due_dates import due_unconfirmed

    return due_unconfirmed(parse_utc(record.received_at), current_due(ctx, record),
                           HolidayCalendar.for_home(ctx.config.home))
