"""The national format: a pulled dossier in the field names and encodings provincial systems use
when they sync dossiers with the National Public Service Portal (Cổng Dịch vụ công quốc gia).

Pure mapping, no I/O. Encodings (DESIGN.md, domain facts):
  * KenhThucHien  channel: 1 trực tiếp (counter), 2 trực tuyến (online), 3 qua bưu chính công ích (postal)
  * TrangThaiHoSo status 1..10 as the portal numbers them
  * dates as `yyyyMMddHHmmss` in Vietnam time (UTC+7, no daylight saving)
Field names follow the portal's dossier-sync service (DongBoHoSoMC) as the open-source
OpenCPS one-stop system sends it (MaHoSo, MaTTHC, ChuHoSo, NgayTiepNhan, NgayHenTra,
TrangThaiHoSo, HinhThuc, TaiLieuNop …); no official copy of the specification was at hand,
so docs/case-system.md lists every field we emit, with its source, for a province to check.
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
    """A pull API item (hub.case_system.pull.dossier_entry) as a DongBoHoSoMC record.

    The portal's dossier-sync body as OpenCPS sends it (docs/case-system.md cites it field by
    field); fields motcua cannot fill (MaLinhVuc, fees, results) are left out, not invented.
    SoGiayToChuHoSo, DiaChiChuHoSo, NamSinhChuHoSo, KenhThucHien and the documents' KichThuoc
    and MaBam are extensions provincial systems store under these names."""
    applicant = entry.get("applicant") or {}
    intake = entry.get("intake") or {}
    return {
        "MaHoSo": entry["dossier_code"],
        "MaTTHC": entry["procedure_code"],
        "TenTTHC": entry.get("procedure_name"),
        "MaDinhDanhDV": entry["agency_code"],
        "DonViXuLy": entry.get("site"),
        # the desk takes in individuals (a citizen ID is required): đối tượng 1 = công dân
        "LoaiDoiTuong": "1" if applicant else None,
        "ChuHoSo": applicant.get("applicant_name"),
        "SoDienThoai": applicant.get("phone") or None,
        "Email": applicant.get("email") or None,
        "TrichYeuHoSo": entry.get("procedure_name"),
        "NgayTiepNhan": national_date(entry.get("received_at")),
        "NgayHenTra": national_date(entry.get("due_at")),
        "TrangThaiHoSo": entry["status"],
        # 0 result handed back at the agency, 1 sent by the public postal service
        "HinhThuc": {"counter": 0, "post": 1}.get(intake.get("return_method", "")),
        "DiaChiNhanKetQua": intake.get("delivery_address") or None,
        "TaiLieuNop": [{"TepDinhKemId": d["sha256"], "TenTepDinhKem": d["name"], "IsDeleted": False,
                        "DuongDanTaiTepTin": d["url"], "KichThuoc": d["size"], "MaBam": d["sha256"]}
                       for d in entry["documents"]],
        "KenhThucHien": entry.get("channel_code"),
        "SoGiayToChuHoSo": applicant.get("citizen_id"),
        "NamSinhChuHoSo": applicant.get("birth_year"),
        "DiaChiChuHoSo": applicant.get("address"),
        "motcua": {"cursor": entry["cursor"], "dossier_id": entry["dossier_id"],
                   "dossier_version": entry["dossier_version"], "acked": entry["acked"]},
    }
