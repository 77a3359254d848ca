"""The chip ID card QR: parsing the pipe-separated payload, decoding generated card images
(small, rotated, worn), and a clear refusal for damaged codes and wrong payloads."""
from __future__ import annotations

import pytest

from agent.desk.idcard import CardUnreadable, decode_card_image, parse_cccd_qr
from agent.desk.sample_cards import SAMPLE_PAYLOAD, card_image, damaged_card_image

EXPECTED = {"citizen_id": "079190001234", "applicant_name": "Nguyễn Thị Ánh Tuyết", "birth_date": "05/03/1990",
            "sex": "Nữ", "address": "Số 5, ấp Phước Lợi, xã Tân Phú, Thành phố Hồ Chí Minh"}


def test_payload_fields_fill_the_form():
    card = parse_cccd_qr(SAMPLE_PAYLOAD)
    assert card.form_fields() == EXPECTED
    assert (card.old_id, card.issued) == ("272345678", "12/08/2021")


def test_newer_cards_without_old_id_and_with_extra_fields():
    card = parse_cccd_qr("001301012345||Trần Văn  Bình|29022000|Nam|Thôn 3, xã Đông Anh|01072024|extra|more\r\n")
    assert (card.citizen_id, card.old_id, card.full_name, card.birth_date) == ("001301012345", "", "Trần Văn Bình",
                                                                              "29/02/2000")


@pytest.mark.parametrize("payload, fragment", [
    ("https://dichvucong.gov.vn", "7 fields"),
    ("07919000123|272345678|A B|05031990|Nữ|Địa chỉ|12082021", "12 digits"),
    ("079190001234|27234|A B|05031990|Nữ|Địa chỉ|12082021", "old ID"),
    ("079190001234|272345678|A B|31021990|Nữ|Địa chỉ|12082021", "date of birth"),
    ("079190001234|272345678|A B|05031990|F|Địa chỉ|12082021", "Nam/Nữ"),
    ("079190001234|272345678||05031990|Nữ|Địa chỉ|12082021", "name"),
    ("079190001234|272345678|A B|05031990|Nữ|Địa chỉ|1208", "issue date"),
])
def test_wrong_payloads_are_refused_with_the_reason(payload, fragment):
    with pytest.raises(CardUnreadable) as exc:
        parse_cccd_qr(payload)
    assert fragment in exc.value.message_en and exc.value.message_vi


@pytest.mark.parametrize("variant", [
    {}, {"dpi": 200}, {"rotate": 7}, {"rotate": 90}, {"wear": 0.3}, {"blur": 1.5}, {"fmt": "JPEG"},
    {"dpi": 300, "rotate": 30, "wear": 0.3},
])
def test_card_images_decode(variant):
    assert decode_card_image(card_image(**variant)).form_fields() == EXPECTED


def test_damaged_qr_and_non_card_inputs_say_what_to_do():
    with pytest.raises(CardUnreadable, match="cannot be read") as damaged:
        decode_card_image(damaged_card_image())
    assert "Nhập tay" in damaged.value.message_vi
    with pytest.raises(CardUnreadable, match="not a chip ID card"):
        decode_card_image(card_image(payload="000.00.01.H29-260211-1007"))
    with pytest.raises(CardUnreadable, match="cannot be read"):
        decode_card_image(b"%PDF-1.7 not an image")
