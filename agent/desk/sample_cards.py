"""Made-up chip ID card images for tests, benchmarks and demos: the card's front with its QR, at a
given size, rotation and amount of wear (scratches and fading over the QR). No real person's data."""
from __future__ import annotations

import io
import random

import qrcode
from PIL import Image, ImageDraw, ImageFilter

SAMPLE_PAYLOAD = ("079190001234|272345678|Nguyễn Thị Ánh Tuyết|05031990|Nữ|"
                  "Số 5, ấp Phước Lợi, xã Tân Phú, Thành phố Hồ Chí Minh|12082021")
CARD_MM = (85.6, 53.98)


def card_image(payload: str = SAMPLE_PAYLOAD, dpi: int = 300, rotate: float = 0.0, wear: float = 0.0,
               blur: float = 0.0, seed: int = 1, fmt: str = "PNG") -> bytes:
    """The front of a card scanned at `dpi`, turned by `rotate` degrees, with `wear` (0-1) scratches and
    fading over the QR and an optional `blur` radius; returned as image file bytes."""
    rng = random.Random(seed)
    width, height = (round(mm / 25.4 * dpi) for mm in CARD_MM)
    card = Image.new("RGB", (width, height), (214, 226, 240))
    draw = ImageDraw.Draw(card)
    draw.rectangle([0, 0, width, height // 7], fill=(170, 40, 40))
    for i in range(6):  # printed text lines (stand-ins)
        y = height * (0.25 + 0.1 * i)
        draw.rectangle([width * 0.32, y, width * (0.6 + 0.05 * (i % 3)), y + height * 0.03], fill=(60, 60, 80))
    draw.rectangle([width * 0.04, height * 0.25, width * 0.28, height * 0.8], fill=(150, 150, 160))  # photo
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=1, box_size=8)
    qr.add_data(payload.encode("utf-8"))
    qr.make(fit=True)
    side = round(height * 0.34)  # on the card the QR is about 18 mm wide
    code = qr.make_image(fill_color="black", back_color="white").convert("RGB").resize((side, side), Image.NEAREST)
    left, top = width - side - round(width * 0.04), round(height * 0.17)
    card.paste(code, (left, top))
    if wear:
        for _ in range(int(20 * wear)):  # scratches across the code
            x0, y0 = left + rng.random() * side, top + rng.random() * side
            draw.line([x0, y0, x0 + (rng.random() - 0.5) * side, y0 + (rng.random() - 0.5) * side * 0.3],
                      fill=(235, 235, 235), width=max(1, round(side * 0.012 * (1 + wear))))
        fade = Image.new("RGB", (side, side), (200, 200, 200))
        card.paste(Image.blend(card.crop((left, top, left + side, top + side)), fade, 0.35 * wear), (left, top))
    if blur:
        card = card.filter(ImageFilter.GaussianBlur(blur))
    if rotate:
        card = card.rotate(rotate, expand=True, fillcolor=(255, 255, 255))
    out = io.BytesIO()
    card.save(out, fmt)
    return out.getvalue()


def damaged_card_image(payload: str = SAMPLE_PAYLOAD) -> bytes:
    """A card whose QR has a large part torn away: no reader can decode it."""
    image = Image.open(io.BytesIO(card_image(payload)))
    draw = ImageDraw.Draw(image)
    width, height = image.size
    side = round(height * 0.34)
    left, top = width - side - round(width * 0.04), round(height * 0.17)
    draw.rectangle([left, top, left + side * 0.55, top + side * 0.55], fill=(214, 226, 240))  # finder pattern gone
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()
