"""The national format: a pulled dossier in the field names and encodings provincial systems use
when they sync dossiers with the National Public Service Portal (Cổng Dịch vụ công quốc gia).

Pure mapping, no I/O. Encodings (DESIGN.md, domain facts):
  * KenhThucHien  channel: 1 trực tiếp (counter), 2 trực tuyến (online), 3 qua bưu chính công ích (postal)
  * TrangThaiHoSo status 1..10 as the portal numbers them
  * dates as `yyyyMMddHHmmss` in Vietnam time (UTC+7, no daylight saving)
Field names follow the portal's dossier-sync records as provincial one-stop
systems use them (MaHoSo, MaTTHC, ChuHoSo, NgayTiepNhan, NgayHenTra, TaiLieuNop …);
the specification has had several versions, so docs/case-system.md lists every
field we emit for a province to check against the version its system speaks.
motcua's own ids ride along under `motcua` so the client can acknowledge.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sync_protocol.timestamps import parse_utc

VIETNAM = timezone(timedelta(hours=7), "ICT")
DATE_FORMAT = "%Y%m%d%H%M%S"


def national_date(utc_text: str | None) -> str | None:
    """`2026-01-15T02:30:00Z` -> `20260115093000` (Vietnam time); None stays None."""
    if not utc_text:
        return None
    try:
        return parse_utc(utc_text).astimezone(VIETNAM).strftime(DATE_FORMAT)
    except ValueError:
        return None


def parse_national_date(text: str) -> datetime:
    """`yyyyMMddHHmmss` (Vietnam time) -> an aware datetime; ValueError if it is not one."""
    if len(text) != 14 or not text.isdigit():
        raise ValueError(f"{text!r} is not yyyyMMddHHmmss")
    return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=VIETNAM)


def national_dossier(entry: dict[str, Any]) -> dict[str, Any]:
    """A pull API item (hub.case_system.pull.dossier_entry) in the national format."""
    applicant = entry.get("applicant") or {}
    intake = entry.get("intake") or {}
    return {
        "MaHoSo": entry["dossier_code"],
        "MaTTHC": entry["procedure_code"],
        "TenTTHC": entry.get("procedure_name"),
        "MaCoQuan": entry["agency_code"],
        "KenhThucHien": entry.get("channel_code"),
        "TrangThaiHoSo": entry["status"],
        "NgayTiepNhan": national_date(entry.get("received_at")),
        "NgayHenTra": national_date(entry.get("due_at")),
        "ChuHoSo": applicant.get("applicant_name"),
        "SoGiayToChuHoSo": applicant.get("citizen_id"),
        "NamSinhChuHoSo": applicant.get("birth_year"),
        "DiaChiChuHoSo": applicant.get("address"),
        "SoDienThoaiChuHoSo": applicant.get("phone") or None,
        "HinhThucTraKetQua": {"counter": 1, "post": 2}.get(intake.get("return_method", "")),
        "DiaChiNhanKetQua": intake.get("delivery_address") or None,
        "TaiLieuNop": [{"TenTepDinhKem": d["name"], "DuongDanTaiTepTin": d["url"], "KichThuoc": d["size"],
                        "MaBam": d["sha256"]} for d in entry["documents"]],
        "motcua": {"cursor": entry["cursor"], "dossier_id": entry["dossier_id"],
                   "dossier_version": entry["dossier_version"], "acked": entry["acked"]},
    }
