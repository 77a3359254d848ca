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
