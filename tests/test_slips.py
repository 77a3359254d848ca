"""Receipt slip (form 01) and handover PDFs checked field by field: text via pdftotext, the QR via
pyzbar, embedded Vietnamese fonts, nothing invented, headers on one line, codes never broken."""
from __future__ import annotations

import subprocess

import pikepdf
import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from agent.desk.due_dates import vn
from agent.desk.receipt_slip import TWO_COPIES, ReceiptSlip, ReceivedDocument, receipt_slip_pdf
from agent.desk.slips import HandoverItem, handover_pdf
from agent.errors import InputError

CODE = "000.00.01.H29-260211-1007"
SLIP = ReceiptSlip(
    agency_name="Trung tâm Phục vụ hành chính công xã Tân Phú", parent_body="Uỷ ban nhân dân tỉnh Đồng Nai",
    place="Tân Phú", dossier_code=CODE, procedure_code="1.004222", procedure_name="Đăng ký thường trú",
    applicant_name="Nguyễn Thị Ánh Tuyết", address="Số 5, ấp Phước Lợi, xã Tân Phú", phone="0912345678",
    email="tuyet@example.vn",
    documents=[ReceivedDocument("Tờ khai thay đổi thông tin cư trú (CT01)", 1, "original"),
               ReceivedDocument("Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp", 2, "certified_copy"),
               ReceivedDocument("Sổ hộ khẩu cũ", 3, "copy")],
    sets=1, processing_days=7, received_at=vn(2026, 2, 11, 9, 5), due_at=vn(2026, 2, 27, 17), return_method="post",
    delivery_address="Số 5, ấp Phước Lợi", officer="Trần Văn Bình", book_volume="2026", book_number=12)


def text_of(pdf_path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout


def flat(text: str) -> str:
    return " ".join(text.split())


def embedded_fonts(pdf_path) -> set[str]:
    fonts = set()
    with pikepdf.open(pdf_path) as pdf:
        for page in pdf.pages:
            for _, font in (page.Resources.get("/Font") or {}).items():
                descriptor = font.get("/FontDescriptor")
                if descriptor is not None and "/FontFile2" in descriptor:
                    fonts.add(str(font.BaseFont))
    return fonts


@pytest.mark.parametrize("size, width_pt", [("A4", 595), ("A5", 420)])
def test_receipt_slip_field_by_field(tmp_path, size, width_pt):
    path = tmp_path / f"slip-{size}.pdf"
    path.write_bytes(receipt_slip_pdf(SLIP, size))
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 1 and round(float(pdf.pages[0].MediaBox[2])) == width_pt
    text = text_of(path)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    # The header: each line whole on its own line (no bad wrapping), the body above, then the issuing body.
    assert any("UỶ BAN NHÂN DÂN TỈNH ĐỒNG NAI" in line for line in lines)
    assert any("TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG XÃ TÂN PHÚ" in line for line in lines)
    assert any("CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM" in line for line in lines)
    body = flat(text)
    for expected in (
            "Số: 0012/2026", "Tân Phú, ngày 11 tháng 02 năm 2026", "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
            f"Mã hồ sơ: {CODE}", "Ông/Bà: Nguyễn Thị Ánh Tuyết", "Địa chỉ: Số 5, ấp Phước Lợi, xã Tân Phú",
            "Số điện thoại: 0912345678", "Email: tuyet@example.vn", "Nội dung yêu cầu giải quyết: Đăng ký thường trú",
            "2. Số lượng hồ sơ: 01 (bộ)", "3. Thời gian giải quyết hồ sơ theo quy định là: 7 ngày làm việc",
            "4. Thời gian nhận hồ sơ: 09 giờ 05 phút, ngày 11/02/2026",
            "5. Thời gian trả kết quả giải quyết hồ sơ: 17 giờ 00 phút, ngày 27/02/2026",
            "6. Đăng ký nhận kết quả: Qua dịch vụ bưu chính công ích tại địa chỉ: Số 5, ấp Phước Lợi",
            "Vào Sổ theo dõi hồ sơ: Quyển số 2026, Số thứ tự 12", "NGƯỜI NỘP HỒ SƠ", "NGƯỜI TIẾP NHẬN HỒ SƠ",
            "Trần Văn Bình", "được lập thành 02 bản"):
        assert expected in body, expected
    assert "đã thay đổi" not in body  # no pause, no change note
    # Each document on its own row with its form and count.
    for name, kind, count in (("Tờ khai thay đổi thông tin cư trú (CT01)", "Bản chính", "01"),
                              ("Sổ hộ khẩu cũ", "Bản sao", "03")):
        row = next(line for line in lines if name in line)
        assert kind in row and row.endswith(count), row
    row = next(line for line in lines if "Giấy tờ, tài liệu chứng minh" in line)
    assert "Bản sao chứng thực" in body and "02" in row
    assert "Hồ sơ theo quy định" not in body
    assert any("DejaVuSans" in f or "NotoSans" in f for f in embedded_fonts(path))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page")], check=True)
    [qr] = [s for s in decode(Image.open(tmp_path / "page.png")) if s.type == "QRCODE"]
    assert qr.data.decode() == CODE


def test_nothing_is_invented_a_slip_without_documents_is_refused():
    from dataclasses import replace

    with pytest.raises(InputError, match="no documents received"):
        receipt_slip_pdf(replace(SLIP, documents=[]))


def test_a_reprint_after_a_pause_states_the_new_appointment(tmp_path):
    from dataclasses import replace

    path = tmp_path / "reprint.pdf"
    path.write_bytes(receipt_slip_pdf(replace(SLIP, due_at=vn(2026, 3, 4, 17), first_due_at=vn(2026, 2, 27, 17))))
    body = flat(text_of(path))
    assert "5. Thời gian trả kết quả giải quyết hồ sơ: 17 giờ 00 phút, ngày 04/03/2026" in body
    assert "đã thay đổi so với hẹn ban đầu 17 giờ 00 phút, ngày 27/02/2026" in body


def test_bad_size_is_refused():
    with pytest.raises(ValueError):
        receipt_slip_pdf(SLIP, "Letter")


def test_handover_record_lists_every_result_and_never_breaks_a_code(tmp_path):
    long_agency = "000.00.01.H29.TANPHU.BUUCUC.QUAY01"  # 35 characters, the longest an agency ID may be
    items = [HandoverItem(f"{long_agency}-260227-000{i}", "Đăng ký khai sinh", f"Người nhận {i}",
                          f"Thôn {i}, xã Tân Phú", "0912345678") for i in range(1, 4)]
    path = tmp_path / "bb.pdf"
    path.write_bytes(handover_pdf("UBND xã Tân Phú", "BG-260227-090000", "Lê Văn Cường", items, vn(2026, 2, 27, 9),
                                  officer="Trần Văn Bình"))
    text = text_of(path)
    assert "BIÊN BẢN BÀN GIAO" in text and "Lê Văn Cường" in text and "Trần Văn Bình" in text and "03" in text
    assert all(item.recipient in text for item in items)
    raw = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True).stdout
    for item in items:  # each code whole on one line of the PDF's text
        assert any(item.dossier_code in line for line in raw.splitlines()), item.dossier_code


def test_slip_for_a_dossier_taken_in(agent, pages, tmp_path):
    from agent.desk.intake import IntakeForm, take_in
    from agent.desk.receipt_slip import slip_for

    from .test_intake import GOOD

    form = IntakeForm.from_mapping({**GOOD, "email": "tuyet@example.vn", "sets": "2",
                                    "count:Tờ khai thay đổi thông tin cư trú (CT01)": "2",
                                    "kind:Tờ khai thay đổi thông tin cư trú (CT01)": "copy"})
    dossier, _ = take_in(agent, form, pages, received_at=vn(2026, 2, 11, 9),
                         officer={"username": "binh", "full_name": "Trần Văn Bình"})
    code, pdf = slip_for(agent, dossier.code, "A5")
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    body = flat(text_of(path))
    assert code == dossier.code and "17 giờ 00 phút, ngày 27/02/2026" in body
    assert "Trần Văn Bình" in body and "Email: tuyet@example.vn" in body and "Số lượng hồ sơ: 02 (bộ)" in body
    assert "Quyển số 2026, Số thứ tự 1" in body and "Số: 0001/2026" in body
    assert TWO_COPIES[:40] in body
