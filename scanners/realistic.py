"""Realistic scanned pages for the benchmark and the ink-colour tests — generated, no personal data.

Unlike `synthetic` (clean renders for functional tests), these look like what
a desk scanner gives at 300 dpi: paper texture (tint, uneven brightness,
fibres), sensor noise, scanner blur, a slight skew, dense Vietnamese text with
every diacritic in DejaVu fonts, uneven seal ink, ballpoint strokes with
varying pressure, and an ID-card photocopy. Ink pages also return the
ground-truth stroke mask of each ink (black, blue, red), so what the encoder
keeps of every stroke and of its colour can be measured.
"""
from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .synthetic import A4, HEADER, font

#: ink colours as a scanner sees them (blue ballpoint like the review's sample: mean RGB 81, 92, 151)
INKS = {"black": (28, 28, 34), "blue": (45, 60, 150), "red": (200, 38, 45)}
TEXT = (
    "Căn cứ Luật Tổ chức chính quyền địa phương; căn cứ Nghị định số 118/2025/NĐ-CP ngày 09 tháng 6 năm 2025 của "
    "Chính phủ về thực hiện thủ tục hành chính theo cơ chế một cửa, một cửa liên thông tại bộ phận một cửa và cổng "
    "dịch vụ công quốc gia; xét đề nghị của công chức tư pháp - hộ tịch về việc giải quyết hồ sơ đăng ký khai sinh, "
    "thường trú, chứng thực bản sao từ bản chính, chứng thực chữ ký; người yêu cầu chịu trách nhiệm trước pháp luật "
    "về tính trung thực, chính xác của giấy tờ đã nộp; trường hợp hồ sơ chưa đầy đủ, công chức tiếp nhận hướng dẫn "
    "bổ sung, hoàn thiện một lần bằng phiếu yêu cầu; quá hạn giải quyết thì cơ quan có thẩm quyền gửi văn bản xin "
    "lỗi và hẹn lại ngày trả kết quả; kết quả được trả trực tiếp hoặc qua dịch vụ bưu chính công ích đến địa chỉ "
    "của tổ chức, cá nhân; lệ phí, phí và nghĩa vụ tài chính khác thực hiện theo quy định; ủy ban nhân dân xã, "
    "phường, đặc khu tiếp nhận, thẩm định, phê duyệt, lưu trữ hồ sơ điện tử; ký số, đóng dấu, trả kết quả đúng hẹn; "
    "những ý kiến phản ánh, kiến nghị được tiếp nhận qua đường dây nóng và hộp thư góp ý; ưu tiên người cao tuổi, "
    "người khuyết tật, phụ nữ mang thai; bảo đảm bí mật dữ liệu cá nhân theo Luật Bảo vệ dữ liệu cá nhân."
).split()


def _paper(size: tuple[int, int], rng: np.random.Generator, tint: tuple[float, float, float]) -> np.ndarray:
    """Float RGB paper: tint, slow brightness variation (±4 levels), fibre noise."""
    w, h = size
    slow = rng.normal(0, 1, (h // 64 + 2, w // 64 + 2)).astype(np.float32)
    slow = np.asarray(Image.fromarray(slow).resize((w, h), Image.Resampling.BICUBIC)) * 2.5
    fibre = rng.normal(0, 1.6, (h, w)).astype(np.float32)
    base = slow + fibre
    return np.stack([t + base for t in tint], axis=-1)


def _composite(paper: np.ndarray, alpha: np.ndarray, colour: tuple[int, int, int]) -> None:
    """Ink over paper in place, multiplicatively (ink over text stays dark, as on paper)."""
    a = alpha[..., None]
    paper *= 1.0 - a * (1.0 - np.asarray(colour, np.float32) / 255.0)


def _scan(paper: np.ndarray, rng: np.random.Generator, skew: float, grey: bool,
          masks: dict[str, np.ndarray]) -> tuple[Image.Image, dict[str, np.ndarray]]:
    """Skew, blur and sensor noise, as the scanner adds them; the masks get the same skew."""
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    fill = tuple(int(v) for v in np.median(paper[::50, ::50].reshape(-1, 3), axis=0))
    image = image.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=fill).filter(ImageFilter.GaussianBlur(0.6))
    array = np.asarray(image).astype(np.float32) + rng.normal(0, 2.2, (image.height, image.width, 1)).astype(np.float32)
    image = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
    turned = {k: np.asarray(Image.fromarray(m).rotate(skew, resample=Image.Resampling.NEAREST)) for k, m in masks.items()}
    return (image.convert("L") if grey else image), turned


class _Recording(ImageDraw.ImageDraw):
    """ImageDraw that notes every word it draws: the page's ground truth for OCR word recall."""

    def __init__(self, image: Image.Image, words: list[str]) -> None:
        super().__init__(image)
        self.words = words

    def text(self, xy, text, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        self.words.extend(str(text).split())
        return super().text(xy, text, *args, **kwargs)


def _text_alpha(size: tuple[int, int], rng: random.Random, lines: int = 26, title: str = "QUYẾT ĐỊNH",
                words: list[str] | None = None) -> np.ndarray:
    """A decision as communes print it (13 pt serif): two-column header, title, `lines` lines of body text
    in paragraphs, signature block and distribution list — as an alpha layer. The words drawn go to `words`."""
    layer = Image.new("L", size, 0)
    draw = _Recording(layer, words if words is not None else [])
    bold, regular, small = font(46, bold=True), font(54), font(44)
    left, right = 354, size[0] - 236  # 30 mm and 20 mm margins
    draw.text((650, 240), "ỦY BAN NHÂN DÂN", font=bold, fill=255, anchor="mm")
    draw.text((650, 300), "XÃ HÒA PHƯỚC", font=bold, fill=255, anchor="mm")
    draw.text((650, 390), "Số: 125/QĐ-UBND", font=small, fill=255, anchor="mm")
    draw.text((1620, 240), HEADER[0], font=bold, fill=255, anchor="mm")
    draw.text((1620, 300), HEADER[1], font=bold, fill=255, anchor="mm")
    draw.line((1400, 340, 1840, 340), fill=255, width=3)
    draw.text((1620, 390), "Hòa Phước, ngày 15 tháng 01 năm 2026", font=font(44), fill=255, anchor="mm")
    draw.text((size[0] // 2, 560), title, font=font(58, bold=True), fill=255, anchor="mm")
    draw.text((size[0] // 2, 640), "Về việc giải quyết hồ sơ thủ tục hành chính", font=bold, fill=255, anchor="mm")
    y = 780
    for index in range(lines):
        words: list[str] = []
        indent = 120 if index % 6 == 0 else 0
        while draw.textlength(" ".join(words + ["trách"]), font=regular) < right - left - indent:
            words.append(rng.choice(TEXT))
        if index % 6 == 5:
            words = words[: len(words) // 2]  # last line of a paragraph
        draw.text((left + indent, y), " ".join(words), font=regular, fill=255)
        y += 80
    draw.text((1640, y + 80), "TM. ỦY BAN NHÂN DÂN", font=bold, fill=255, anchor="mm")
    draw.text((1640, y + 140), "CHỦ TỊCH", font=bold, fill=255, anchor="mm")
    draw.text((1640, y + 520), "Nguyễn Văn Mẫu", font=bold, fill=255, anchor="mm")
    draw.text((left, y + 80), "Nơi nhận:", font=font(40, bold=True), fill=255)
    for row, line in enumerate(("- Như Điều 3;", "- Lưu: VT, TP-HT.")):
        draw.text((left, y + 140 + row * 50), line, font=font(36), fill=255)
    return np.asarray(layer, dtype=np.float32) / 255.0 * 0.93


def _seal_alpha(size: tuple[int, int], centre: tuple[int, int], rng: np.random.Generator, radius: int = 240) -> np.ndarray:
    """A round seal with uneven ink (stamp pad pressure varies across the face)."""
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    cx, cy = centre
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=255, width=11)
    draw.ellipse((cx - radius + 32, cy - radius + 32, cx + radius - 32, cy + radius - 32), outline=255, width=5)
    text = "ỦY BAN NHÂN DÂN XÃ HÒA PHƯỚC * TỈNH ĐÀ NẴNG"
    small = font(34, bold=True)
    for i, char in enumerate(text):
        angle = math.pi * (1.2 - 1.4 * i / (len(text) - 1))
        draw.text((cx + (radius - 72) * math.cos(angle), cy - (radius - 72) * math.sin(angle)), char, font=small,
                  fill=255, anchor="mm")
    draw.regular_polygon((cx, cy + 10, 55), 5, fill=255)
    alpha = np.asarray(layer.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32) / 255.0
    pressure = rng.uniform(0.7, 0.95, (size[1] // 40 + 1, size[0] // 40 + 1)).astype(np.float32)
    pressure = np.asarray(Image.fromarray(pressure).resize(size, Image.Resampling.BILINEAR))
    return alpha * pressure


def _stroke_alpha(size: tuple[int, int], origin: tuple[int, int], rng: random.Random, width: int = 5,
                  span: int = 560, loops: int = 5) -> np.ndarray:
    """A ballpoint signature or note: a smooth looping line with varying pressure."""
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    x0, y0 = origin
    phase = [rng.uniform(0, 6.28) for _ in range(4)]
    points = []
    for i in range(400):
        t = i / 399
        x = x0 + span * t + 45 * math.sin(loops * 6.28 * t + phase[0])
        y = y0 + 55 * math.sin(loops * 3.14 * t + phase[1]) + 25 * math.sin(13 * t + phase[2])
        points.append((x, y))
    for i in range(0, len(points) - 1, 8):
        pressure = int(255 * (0.75 + 0.25 * math.sin(i / 37 + phase[3])))
        draw.line(points[i:i + 9], fill=pressure, width=width, joint="curve")
    return np.asarray(layer, dtype=np.float32) / 255.0


def text_page(seed: int = 11, lines: int = 26) -> Image.Image:
    """A grey text page (a decision); `lines=34` fills the page (the dense worst case)."""
    return _grey_page(seed, lines, seal=False)[0]


def text_page_words(seed: int = 11, lines: int = 26) -> tuple[Image.Image, list[str]]:
    """`text_page` and the words printed on it, in order (ground truth for OCR word recall)."""
    words: list[str] = []
    return _grey_page(seed, lines, seal=False, words=words)[0], words


def grey_seal_page(seed: int = 14) -> tuple[Image.Image, np.ndarray]:
    """A grey photocopy of a sealed decision: the seal is mid-grey on grey paper. Returns the page and the seal's
    ground-truth stroke mask."""
    return _grey_page(seed, 22, seal=True)


def _grey_page(seed: int, lines: int, seal: bool, words: list[str] | None = None) -> tuple[Image.Image, np.ndarray]:
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    paper = _paper(A4, nrng, (236.0, 236.0, 236.0))
    _composite(paper, _text_alpha(A4, rng, lines, words=words), (22, 22, 22))
    masks: dict[str, np.ndarray] = {}
    if seal:
        alpha = _seal_alpha(A4, (1500, 780 + lines * 80 + 150), nrng)
        _composite(paper, alpha, (120, 120, 120))
        masks["seal"] = ((alpha > 0.5) * 255).astype(np.uint8)
    image, turned = _scan(paper, nrng, skew=rng.uniform(-0.8, 0.8), grey=True, masks=masks)
    return image, turned.get("seal", np.zeros((1, 1), np.uint8)) > 127


def ink_page(seed: int = 12) -> tuple[Image.Image, dict[str, np.ndarray]]:
    """A signed decision on white paper: black text, red seal, blue ballpoint signature, a black handwritten note.

    Returns the colour scan and, per ink, the ground-truth stroke mask (drawn strokes, not the seal's blur rim)."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    paper = _paper(A4, nrng, (243.0, 241.0, 235.0))
    _composite(paper, _text_alpha(A4, rng, lines=18), (22, 22, 24))
    note = _stroke_alpha(A4, (400, 2950), rng, width=4, span=700, loops=7)
    blue = _stroke_alpha(A4, (1420, 2470), rng, width=5, span=520, loops=4)
    blue = np.maximum(blue, _stroke_alpha(A4, (1460, 2650), rng, width=4, span=420, loops=6))
    red = _seal_alpha(A4, (1420, 2500), nrng)
    _composite(paper, note, INKS["black"])
    _composite(paper, red, INKS["red"])
    _composite(paper, blue, INKS["blue"])
    masks = {"black": note > 0.6, "blue": (blue > 0.6) & (red < 0.2), "red": (red > 0.5) & (blue < 0.2)}
    image, turned = _scan(paper, nrng, skew=rng.uniform(-0.6, 0.6), grey=False,
                          masks={k: (m * 255).astype(np.uint8) for k, m in masks.items()})
    return image, {k: m > 127 for k, m in turned.items()}


def _portrait(rng: np.random.Generator, w: int = 290, h: int = 380) -> Image.Image:
    """A photo-like portrait (continuous tone: shaded backdrop, head and shoulders, grain) — nobody's face."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    image = np.stack([170 + 30 * yy / h, 185 + 20 * yy / h, 205 - 10 * xx / w], -1)
    head = ((xx - w / 2) / (w * 0.3)) ** 2 + ((yy - h * 0.4) / (h * 0.3)) ** 2
    shade = np.clip(1.0 - head, 0, 1)[..., None]
    skin = np.stack([205 - 40 * head, 160 - 35 * head, 135 - 30 * head], -1)
    image = np.where(head[..., None] < 1, skin * (0.85 + 0.15 * shade), image)
    hair = (head < 1.2) & (yy < h * 0.25 + 10 * np.sin(xx / 15))
    image[hair] = (45, 35, 30)
    shoulders = yy > h * 0.72 + 0.002 * (xx - w / 2) ** 2
    image[shoulders] = (40, 50, 80)
    image += rng.normal(0, 7, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))


def id_card_page(seed: int = 13) -> Image.Image:
    """A colour photocopy of the front and back of a (fake) chip ID card: photo, guilloche, small text."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    paper = _paper(A4, nrng, (240.0, 240.0, 236.0))
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    w, h = 1012, 638  # 85.6 × 54 mm at 300 dpi
    for index, (x0, y0) in enumerate(((330, 420), (330, 1260))):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        guilloche = 12 * np.sin(xx / 9 + 6 * np.sin(yy / 40)) + 8 * np.cos(yy / 7)
        base = np.stack([200 + 30 * xx / w + guilloche, 215 + 10 * yy / h + guilloche, 225 - 25 * xx / w], -1)
        card = Image.fromarray(np.clip(base + nrng.normal(0, 5, base.shape), 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(card)
        draw.rounded_rectangle((0, 0, w - 1, h - 1), 30, outline=(120, 120, 130), width=3)
        if index == 0:
            card.paste(_portrait(nrng), (40, 170))
            draw.text((360, 40), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", font=font(27, bold=True), fill=(30, 30, 80))
            draw.text((360, 90), "CĂN CƯỚC (MẪU - KHÔNG CÓ THẬT)", font=font(32, bold=True), fill=(170, 30, 30))
            lines = ("Số định danh: 000000000000", "Họ, chữ đệm và tên: NGUYỄN THỊ MẪU", "Ngày sinh: 01/01/1990",
                     "Giới tính: Nữ   Quốc tịch: Việt Nam", "Nơi thường trú: xã Hòa Phước, Đà Nẵng")
        else:
            draw.rectangle((60, 60, 330, 330), outline=(40, 40, 40), width=4)
            lines = ("Nơi cư trú: thôn Phước Thuận, xã Hòa Phước", "Ngày cấp: 15/08/2021",
                     "Cơ quan cấp: Bộ Công an", "IDVNM0000000000<<<<<<<<<<<<", "9001011F3101012VNM<<<<<<<<<<6")
        for row, line in enumerate(lines):
            draw.text((360, 170 + row * 62), line, font=font(27), fill=(25, 25, 30))
        image.paste(card.filter(ImageFilter.GaussianBlur(0.9)), (x0, y0))
    scanned, _ = _scan(np.asarray(image).astype(np.float32), nrng, skew=rng.uniform(-1.0, 1.0), grey=False, masks={})
    return scanned
