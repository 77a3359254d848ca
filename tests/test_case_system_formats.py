"""Pure parts of the case-system API: national dates and codes, HTTP Range parsing, webhook signatures."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.case_system.documents import RangeNotSatisfiable, parse_range
from hub.case_system.national_format import national_date, national_dossier, parse_national_date
from hub.case_system.webhooks import check_url, signature, verify_signature
from hub.errors import BadRequest
from sync_protocol.timestamps import format_utc


def test_national_dates_are_vietnam_time_and_cross_midnight():
    assert national_date("2026-01-15T02:30:00Z") == "20260115093000"
    assert national_date("2026-12-31T20:00:05Z") == "20270101030005"  # already new year in Hà Nội
    assert national_date(None) is None and national_date("15/01/2026") is None


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_national_dates_round_trip(moment):
    utc = moment.replace(microsecond=0, tzinfo=timezone.utc)
    assert parse_national_date(national_date(format_utc(utc))) == utc


def test_national_dossier_codes():
    entry = {"dossier_code": "000.00.01.H29-260115-0001", "procedure_code": "1.001193", "agency_code": "000.00.01.H29",
             "channel_code": 3, "status": 10, "received_at": "2026-01-15T02:30:00Z", "due_at": None,
             "applicant": None, "intake": None, "documents": [], "cursor": "5", "dossier_id": "x",
             "dossier_version": 1, "acked": True}
    national = national_dossier(entry)
    assert (national["KenhThucHien"], national["TrangThaiHoSo"], national["NgayHenTra"]) == (3, 10, None)
    assert national["ChuHoSo"] is None and national["motcua"]["cursor"] == "5"
    # no intake: nothing is invented (no applicant kind, no return method)
    assert national["LoaiDoiTuong"] is None and national["HinhThuc"] is None and national["TaiLieuNop"] == []


def test_national_dossier_follows_the_dongbohosomc_body():
    """Field names and encodings of the portal's dossier-sync body as OpenCPS sends it (docs/case-system.md)."""
    entry = {"dossier_code": "000.00.01.H29-260115-0001", "procedure_code": "1.004222", "agency_code": "000.00.01.H29",
             "site": "Bưu điện xã A", "procedure_name": "Đăng ký thường trú", "channel_code": 1, "status": 2,
             "received_at": "2026-01-15T02:30:00Z", "due_at": "2026-01-22T10:00:00Z",
             "applicant": {"applicant_name": "Nguyễn Thị A", "citizen_id": "079190001234", "phone": "0912345678",
                           "email": "", "address": "xã Tân Phú", "birth_year": 1990},
             "intake": {"return_method": "post", "delivery_address": "ấp 3"},
             "documents": [{"name": "document-1.pdf", "url": "/v1/case-system/documents/ab", "size": 9, "sha256": "ab"}],
             "cursor": "7", "dossier_id": "x", "dossier_version": 1, "acked": False}
    national = national_dossier(entry)
    assert {k: national[k] for k in ("MaHoSo", "MaTTHC", "TenTTHC", "MaDinhDanhDV", "LoaiDoiTuong", "ChuHoSo",
                                     "SoDienThoai", "Email", "TrichYeuHoSo", "NgayTiepNhan", "NgayHenTra",
                                     "TrangThaiHoSo", "HinhThuc")} == {
        "MaHoSo": "000.00.01.H29-260115-0001", "MaTTHC": "1.004222", "TenTTHC": "Đăng ký thường trú",
        "MaDinhDanhDV": "000.00.01.H29", "LoaiDoiTuong": "1", "ChuHoSo": "Nguyễn Thị A", "SoDienThoai": "0912345678",
        "Email": None, "TrichYeuHoSo": "Đăng ký thường trú", "NgayTiepNhan": "20260115093000",
        "NgayHenTra": "20260122170000", "TrangThaiHoSo": 2, "HinhThuc": 1}
    [document] = national["TaiLieuNop"]
    assert document == {"TepDinhKemId": "ab", "TenTepDinhKem": "document-1.pdf", "IsDeleted": False,
                        "DuongDanTaiTepTin": "/v1/case-system/documents/ab", "KichThuoc": 9, "MaBam": "ab"}
    # the names this mapping used before it followed DongBoHoSoMC are gone, not doubled
    assert not {"SoDienThoaiChuHoSo", "HinhThucTraKetQua", "MaCoQuan"} & set(national)


@pytest.mark.parametrize("header, expected", [
    (None, (0, 99, False)), ("bytes=0-", (0, 99, True)), ("bytes=10-19", (10, 19, True)),
    ("bytes=90-500", (90, 99, True)), ("bytes=-5", (95, 99, True)), ("bytes=-500", (0, 99, True)),
])
def test_ranges(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=5-4", "bytes=-0", "bytes=-", "items=0-1", "bytes=0-1,5-6",
                                    "bytes=99999999999999999999-"])
def test_unsatisfiable_ranges_are_416_naming_the_size(header):
    with pytest.raises(RangeNotSatisfiable) as refused:
        parse_range(header, 100)
    assert refused.value.status == 416 and refused.value.headers["Content-Range"] == "bytes */100"


def test_webhook_signatures_and_urls():
    body, secret = b'{"event":"dossier.committed"}', "whsec_test"
    header = signature(secret, "1767225600", body)
    assert verify_signature(secret, "1767225600", body, header, now=1767225600 + 10)
    assert not verify_signature(secret, "1767225600", body + b" ", header, now=1767225600)  # body changed
    assert not verify_signature("other", "1767225600", body, header, now=1767225600)
    assert not verify_signature(secret, "1767225600", body, header, now=1767225600 + 3600)  # replayed later
    assert not verify_signature(secret, "soon", body, header)
    for ok in ("https://mc.tinh.gov.vn/hooks", "http://127.0.0.1:9000/x", "http://[::1]:80/", "http://localhost/x"):
        assert check_url(ok) == ok
    for bad in ("http://mc.tinh.gov.vn/hooks", "ftp://127.0.0.1/", "https://", "javascript:alert(1)",
                "http://127.0.0.1.evil.example/"):
        with pytest.raises(BadRequest):
            check_url(bad)
