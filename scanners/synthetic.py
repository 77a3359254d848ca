"""Synthetic scanned pages for tests, the benchmark and demos — no personal data.

Pages are rendered at 300 dpi like a desk scanner's output: a Vietnamese
administrative form with diacritics, a dense text page, the same form with a
red round stamp and a blue signature, an ID-card photocopy (continuous tone),
a blank duplex back (paper noise, faint show-through, dust), and a nearly
blank page carrying only a faint stamp (which must never be dropped).
"""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DPI = 300
A4 = (2480, 3508)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)

#: words known to appear on the generated form (for OCR tests)
FORM_TITLE = "TỜ KHAI ĐĂNG KÝ KHAI SINH"
HEADER = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
FIELDS = ("Họ, chữ đệm, tên người yêu cầu", "Nơi cư trú", "Giấy tờ tùy thân", "Quan hệ với người được khai sinh",
          "Đề nghị cơ quan đăng ký khai sinh cho người dưới đây", "Ngày, tháng, năm sinh", "Giới tính", "Dân tộc",
          "Quốc tịch", "Nơi sinh", "Quê quán", "Họ, chữ đệm, tên người mẹ", "Năm sinh", "Họ, chữ đệm, tên người cha")
WORDS = ("công dân hồ sơ đăng ký khai sinh thường trú chứng thực bản sao ủy ban nhân dân xã phường tỉnh ngày tháng "
         "năm giấy tờ kèm theo người yêu cầu quan hệ nơi cư trú quốc tịch dân tộc trách nhiệm cam đoan nội dung "
         "khai trên đây là đúng sự thật và chịu trách nhiệm trước pháp luật về lời khai của mình").split()


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSerif-Bold.ttf" if bold else "DejaVuSerif.ttf"
    for directory in FONT_DIRS:
        path = Path(directory) / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    raise FileNotFoundError(f"{name} not found (Debian package fonts-dejavu-core)")


def _scanned(image: Image.Image, seed: int, blur: float = 0.7, noise: float = 2.5) -> Image.Image:
    """Make a clean render look scanned: slight blur and sensor noise."""
    image = image.filter(ImageFilter.GaussianBlur(blur))
    array = np.asarray(image).astype(np.float32)
    array += np.random.default_rng(seed).normal(0, noise, array.shape).astype(np.float32)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), image.mode)


def _header(draw: ImageDraw.ImageDraw, title: str) -> int:
    bold = font(44, bold=True)
    cx = A4[0] // 2
    draw.text((cx, 230), HEADER[0], font=bold, fill=15, anchor="mm")
    draw.text((cx, 300), HEADER[1], font=bold, fill=15, anchor="mm")
    draw.line((cx - 330, 340, cx + 330, 340), fill=15, width=4)
    draw.text((cx, 470), title, font=font(54, bold=True), fill=15, anchor="mm")
    return 600


def form_page(seed: int = 1, title: str = FORM_TITLE, mode: str = "L") -> Image.Image:
    """A form: header, title, labelled fields with dotted lines, a signature block."""
    image = Image.new(mode, A4, 248 if mode == "L" else (248, 247, 243))
    draw = ImageDraw.Draw(image)
    ink = 20 if mode == "L" else (20, 20, 25)
    y = _header(draw, title)
    regular = font(42)
    rng = random.Random(seed)
    for index, label in enumerate(FIELDS):
        text = f"{index + 1}. {label}:"
        draw.text((230, y), text, font=regular, fill=ink)
        start = 230 + int(draw.textlength(text, font=regular)) + 20
        for x in range(start, A4[0] - 230, 22):
            draw.point([(x, y + 38), (x + 1, y + 38), (x, y + 39), (x + 1, y + 39)], fill=ink)
        if rng.random() < 0.5:
            draw.text((start + 40, y - 4), " ".join(rng.choice(WORDS) for _ in range(4)), font=regular, fill=ink)
        y += 120
    draw.text((1500, y + 60), "NGƯỜI YÊU CẦU", font=font(42, bold=True), fill=ink)
    draw.text((1480, y + 120), "(Ký, ghi rõ họ, chữ đệm, tên)", font=font(36), fill=ink)
    return _scanned(image, seed)


def dense_text_page(seed: int = 2) -> Image.Image:
    """A page of running text (about 3,000 characters): the worst case for bilevel size."""
    image = Image.new("L", A4, 248)
    draw = ImageDraw.Draw(image)
    y = _header(draw, "BẢN CAM KẾT")
    regular = font(42)
    rng = random.Random(seed)
    while y < A4[1] - 300:
        line: list[str] = []
        while draw.textlength(" ".join(line + ["trách nhiệm"]), font=regular) < A4[0] - 500:
            line.append(rng.choice(WORDS))
        draw.text((250, y), " ".join(line), font=regular, fill=20)
        y += 70
    return _scanned(image, seed)


def add_stamp(image: Image.Image, centre: tuple[int, int], colour: tuple[int, int, int] = (200, 30, 35),
              radius: int = 250, text: str = "ỦY BAN NHÂN DÂN XÃ THỬ NGHIỆM") -> Image.Image:
    """Overlay a round stamp (two rings, text around, a star) in `colour`; returns an RGB image."""
    rgb = image.convert("RGB")
    layer = Image.new("L", rgb.size, 0)
    draw = ImageDraw.Draw(layer)
    cx, cy = centre
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=255, width=10)
    draw.ellipse((cx - radius + 30, cy - radius + 30, cx + radius - 30, cy + radius - 30), outline=255, width=5)
    small = font(34, bold=True)
    for i, char in enumerate(text):
        angle = math.pi * (1.15 - 1.3 * i / max(1, len(text) - 1))
        x, y = cx + (radius - 70) * math.cos(angle), cy - (radius - 70) * math.sin(angle)
        draw.text((x, y), char, font=small, fill=255, anchor="mm")
    draw.regular_polygon((cx, cy + 20, 60), 5, fill=255)
    draw.text((cx, cy + 130), "MẪU", font=small, fill=255, anchor="mm")
    ink = Image.new("RGB", rgb.size, colour)
    mask = layer.filter(ImageFilter.GaussianBlur(1.0)).point(lambda v: int(v * 0.85))
    rgb.paste(ink, (0, 0), mask)
    return rgb


def add_signature(image: Image.Image, origin: tuple[int, int], colour: tuple[int, int, int] = (30, 40, 150),
                  seed: int = 3) -> Image.Image:
    rgb = image.convert("RGB")
    draw = ImageDraw.Draw(rgb)
    rng = random.Random(seed)
    x, y = origin
    points = [(x + i * 12, y + int(40 * math.sin(i / 3.0) + rng.randint(-6, 6))) for i in range(45)]
    draw.line(points, fill=colour, width=6, joint="curve")
    return rgb


def stamp_page(seed: int = 4) -> Image.Image:
    """The form, signed in blue and stamped in red (an RGB page)."""
    page = form_page(seed, mode="RGB")
    page = add_signature(page, (1500, 2650), seed=seed)
    return add_stamp(page, (1500, 2750))


def id_card_page(seed: int = 5) -> Image.Image:
    """A colour photocopy of an ID-like card: continuous tone, a face-like oval, text lines (all fake)."""
    rng = np.random.default_rng(seed)
    page = Image.new("RGB", A4, (246, 246, 242))
    card_w, card_h = 1010, 640
    x0, y0 = 300, 400
    yy, xx = np.mgrid[0:card_h, 0:card_w]
    base = np.stack([150 + 60 * xx / card_w, 170 + 40 * yy / card_h, 200 - 50 * xx / card_w], axis=-1)
    base += rng.normal(0, 6, base.shape)
    card = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(card)
    draw.ellipse((60, 150, 330, 520), fill=(180, 140, 120))
    draw.rectangle((40, 130, 350, 560), outline=(90, 90, 90), width=3)
    draw.text((400, 60), "CĂN CƯỚC (MẪU KHÔNG CÓ THẬT)", font=font(40, bold=True), fill=(30, 30, 90))
    for row in range(6):
        draw.text((400, 170 + row * 65), f"Trường {row + 1}: xxxxxxx", font=font(34), fill=(30, 30, 30))
    card = card.filter(ImageFilter.GaussianBlur(1.2))
    page.paste(card, (x0, y0))
    page.paste(card.rotate(180), (x0, y0 + card_h + 200))
    return _scanned(page, seed, blur=0.5)


def blank_back(seed: int = 6) -> Image.Image:
    """The empty back of a duplex scan: paper noise, faint show-through, a few dust specks."""
    image = Image.new("L", A4, 244)
    draw = ImageDraw.Draw(image)
    for row in range(20):
        draw.text((300, 600 + row * 120), "bóng mờ xuyên giấy " * 5, font=font(42), fill=232)
    rng = random.Random(seed)
    for _ in range(12):
        x, y = rng.randrange(200, A4[0] - 200), rng.randrange(200, A4[1] - 200)
        draw.ellipse((x, y, x + 3, y + 3), fill=60)
    return _scanned(image, seed, noise=3.0)


def faint_stamp_page(seed: int = 7) -> Image.Image:
    """An otherwise empty page with one faint, pale-red stamp: must be kept."""
    page = Image.new("RGB", A4, (245, 245, 243))
    page = add_stamp(page, (1800, 2900), colour=(236, 176, 176), radius=220)
    return _scanned(page, seed, noise=2.0)


def save(image: Image.Image, path: Path, **params) -> Path:
    """Save with the 300 dpi tag (JPEG at quality 90 unless given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        params.setdefault("quality", 90)
    image.save(path, dpi=(DPI, DPI), **params)
    return path
