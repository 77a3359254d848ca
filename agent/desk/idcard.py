"""The chip ID card (CCCD / thẻ căn cước): read the QR on its front into intake fields.

The QR holds pipe-separated UTF-8 text:
`12-digit ID | old 9-digit ID (may be empty) | full name | date of birth ddmmyyyy | sex | address |
issue date ddmmyyyy` (newer cards may append fields; they are ignored). It comes either from an
image of the card (flatbed, hot folder, phone photo), decoded here with zxing-cpp (it reads
small, rotated and worn codes that zbar misses: bench/bench_idcard_qr.py), or as text typed by
a USB QR reader in keyboard mode. Nothing here logs or stores the card's content.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime

from agent.errors import InputError


class CardUnreadable(InputError):
    """No usable CCCD QR in the image or text; the officer types the fields by hand."""


class QrUnreadable(CardUnreadable):
    """No QR could be read at all: the image itself is unreadable, or holds no readable QR."""


@dataclass(frozen=True)
class CardData:
    citizen_id: str
    old_id: str
    full_name: str
    birth_date: str  # dd/mm/yyyy
    sex: str
    address: str
    issued: str  # dd/mm/yyyy

    def form_fields(self) -> dict[str, str]:
        """The intake form's fields this card fills."""
        return {"citizen_id": self.citizen_id, "applicant_name": self.full_name, "birth_date": self.birth_date,
                "sex": self.sex, "address": self.address}


def _date(value: str, what_vi: str, what_en: str) -> str:
    try:
        return datetime.strptime(value, "%d%m%Y").strftime("%d/%m/%Y")
    except ValueError:
        raise CardUnreadable(f"Mã QR trên thẻ có {what_vi} không hợp lệ.", f"The card's QR has an invalid {what_en}.") from None


def parse_cccd_qr(text: str) -> CardData:
    """The card's fields from its QR text; CardUnreadable if it is not a CCCD QR."""
    text = text.strip().lstrip("\ufeff")
    parts = [p.strip() for p in text.split("|")]
    if len(parts) < 7:
        raise CardUnreadable("Đây không phải mã QR của thẻ căn cước (cần 7 trường ngăn bằng dấu |).",
                             "This is not a chip ID card QR (it needs 7 fields separated by |).")
    citizen_id, old_id, name, born, sex, address, issued = parts[:7]
    if not re.fullmatch(r"[0-9]{12}", citizen_id):
        raise CardUnreadable("Số định danh trong mã QR không đủ 12 chữ số.", "The ID number in the QR is not 12 digits.")
    if old_id and not re.fullmatch(r"[0-9]{9}", old_id):
        raise CardUnreadable("Số CMND cũ trong mã QR không phải 9 chữ số.", "The old ID number in the QR is not 9 digits.")
    if not name or not address:
        raise CardUnreadable("Mã QR thiếu họ tên hoặc nơi thường trú.", "The QR lacks the name or the address.")
    if sex not in ("Nam", "Nữ"):
        raise CardUnreadable("Giới tính trong mã QR không phải Nam/Nữ.", "The sex in the QR is not Nam/Nữ.")
    return CardData(citizen_id, old_id, " ".join(name.split()), _date(born, "ngày sinh", "date of birth"), sex,
                    " ".join(address.split()), _date(issued, "ngày cấp", "issue date"))


def read_qr_texts(image_bytes: bytes) -> list[str]:
    """Every QR payload zxing-cpp finds in an image (as UTF-8 text)."""
    import zxingcpp
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(image_bytes))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise QrUnreadable("Tệp ảnh thẻ không đọc được (cần ảnh JPEG/PNG/TIFF).",
                           "The card image cannot be read (use JPEG/PNG/TIFF).") from None
    found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    return [b.bytes.decode("utf-8", errors="replace") for b in found if b.valid]


def decode_card_image(image_bytes: bytes) -> CardData:
    """The card's fields from an image of its front; CardUnreadable if no CCCD QR can be read."""
    texts = read_qr_texts(image_bytes)
    for text in texts:
        if text.count("|") >= 6:
            return parse_cccd_qr(text)
    if texts:
        raise CardUnreadable("Ảnh có mã QR nhưng không phải mã của thẻ căn cước.",
                             "The image has a QR code, but not a chip ID card's.")
    raise QrUnreadable("Không đọc được mã QR trên thẻ (mờ, hỏng hoặc bị che). Nhập tay các ô, hoặc quét lại.",
                       "The card's QR cannot be read (blurred, damaged or covered). Type the fields, or scan again.")
