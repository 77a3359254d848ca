"""Receipt slip and handover PDFs: Vietnamese text with embedded fonts, QR decodes to the dossier code."""
from __future__ import annotations

import subprocess

import pikepdf
import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from agent.desk.due_dates import vn
from agent.desk.slips import HandoverItem, ReceiptSlip, handover_pdf, receipt_slip_pdf

CODE = "000.00.01.H29-260211-1007"
SLIP = ReceiptSlip(
    agency_name="UBND xã Tân Phú", dossier_code=CODE, procedure_code="1.004222", procedure_name="Đăng ký thường trú",
    applicant_name="Nguyễn Thị Ánh Tuyết", address="Số 5, ấp Phước Lợi, xã Tân Phú", phone="0912345678",
    documents=["Tờ khai thay đổi thông tin cư trú (CT01)", "Giấy tờ, tài liệu chứng minh chỗ ở hợp pháp"],
    processing_days=7, received_at=vn(2026, 2, 11, 9, 5), due_at=vn(2026, 2, 27, 17), return_method="post",
    delivery_address="Số 5, ấp Phước Lợi", officer="Trần Văn Bình")


def text_of(pdf_path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout


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
def test_receipt_slip_renders_and_qr_decodes(tmp_path, size, width_pt):
    path = tmp_path / f"slip-{size}.pdf"
    path.write_bytes(receipt_slip_pdf(SLIP, size))
    with pikepdf.open(path) as pdf:
        assert len(pdf.pages) == 1 and round(float(pdf.pages[0].MediaBox[2])) == width_pt
    text = text_of(path)
    for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "Nguyễn Thị Ánh Tuyết", "Đăng ký thường trú",
                     "17 giờ 00 phút, ngày 27/02/2026", "09 giờ 05 phút, ngày 11/02/2026", "7 ngày làm việc",
                     "Cộng hoà xã hội chủ nghĩa việt nam".upper(), "bưu chính", CODE):
        assert expected in text, expected
    assert any("DejaVuSans" in f or "NotoSans" in f for f in embedded_fonts(path))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(path), str(tmp_path / "page")], check=True)
    [qr] = [s for s in decode(Image.open(tmp_path / "page.png")) if s.type == "QRCODE"]
    assert qr.data.decode() == CODE


def test_bad_size_is_refused():
    with pytest.raises(ValueError):
        receipt_slip_pdf(SLIP, "Letter")


def test_handover_record_lists_every_result(tmp_path):
    items = [HandoverItem(f"000.00.01.H29-260227-000{i}", "Đăng ký khai sinh", f"Người nhận {i}", f"Thôn {i}, xã Tân Phú",
                          "0912345678") for i in range(1, 4)]
    path = tmp_path / "bb.pdf"
    path.write_bytes(handover_pdf("UBND xã Tân Phú", "BG-260227-090000", "Lê Văn Cường", items, vn(2026, 2, 27, 9)))
    text = text_of(path)
    assert "BIÊN BẢN BÀN GIAO" in text and "Lê Văn Cường" in text and "03" in text
    assert all(item.recipient in text for item in items)


def test_slip_for_a_dossier_taken_in(agent, pages, tmp_path):
    from agent.desk.intake import IntakeForm, slip_for, take_in

    from .test_intake import GOOD

    dossier, _ = take_in(agent, IntakeForm.from_mapping(GOOD), pages, received_at=vn(2026, 2, 11, 9))
    code, pdf = slip_for(agent, dossier.code, "A5")
    path = tmp_path / "s.pdf"
    path.write_bytes(pdf)
    assert code == dossier.code and "17 giờ 00 phút, ngày 27/02/2026" in text_of(path)
