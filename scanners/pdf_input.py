"""Read a PDF input without trusting it: list its active content, bound its images, and get each page as pixels.

Nothing of a source PDF's structure reaches the output: every page is turned
into pixels here and goes through the same classification and encoding as a
scanned image, so JavaScript, actions, annotations, forms, XFA, attachments
and external references are left behind. `active_content` names what was
left behind so the officer can be told.

A page that is one scanned image (the usual scanner-made PDF) is decoded from
that image after its /Width × /Height has been checked against the pixel
limit — before any decoding. Any other page (born-digital text, vector
drawings, several images, an image codec Pillow cannot read) is rendered by
poppler's `pdftoppm` (which runs no scripts), with annotations hidden, at a
resolution that keeps the page under the same pixel limit, in a child process
with a memory cap. One page's pixels are decoded at a time.
"""
from __future__ import annotations

import logging
import resource
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pikepdf
from PIL import Image

from .errors import InputFileError

log = logging.getLogger("motcua.scanners.pdf_input")

#: render resolution for pages that are not one scanned image
RENDER_DPI = 300.0
RENDER_TIMEOUT = 300
#: address-space cap of the renderer child (an 80-megapixel RGB page is 240 MB)
RENDER_MEMORY = 1536 * 2**20

#: what an officer is told was removed, Vietnamese first
FEATURES = {
    "javascript": ("mã JavaScript", "JavaScript"),
    "open_action": ("lệnh tự chạy khi mở tệp", "open action"),
    "actions": ("lệnh tự động (/AA)", "automatic actions (/AA)"),
    "launch": ("lệnh chạy chương trình", "launch actions"),
    "uri": ("liên kết web", "web links (URI)"),
    "external_reference": ("tham chiếu tệp/tài liệu bên ngoài", "external references"),
    "annotations": ("chú thích/liên kết trên trang", "annotations"),
    "form_fields": ("ô biểu mẫu", "form fields"),
    "xfa": ("biểu mẫu XFA", "XFA forms"),
    "embedded_files": ("tệp đính kèm", "embedded files"),
}
_ACTION_FEATURE = {"/JavaScript": "javascript", "/Launch": "launch", "/URI": "uri", "/GoToR": "external_reference",
                   "/GoToE": "external_reference", "/ImportData": "external_reference",
                   "/SubmitForm": "external_reference", "/Rendition": "javascript"}


@dataclass(frozen=True)
class PagePlan:
    """How to get one page's pixels: from its single image (`image_ref`), or by rendering it."""

    index: int
    dpi: float
    raster: bool
    rotate: int = 0
    #: the page's image is a plain 8-bit grey/RGB JPEG: its bytes may be kept if smaller than our encoding
    jpeg: bool = False


def _as_dict(obj: pikepdf.Object) -> pikepdf.Dictionary | None:
    if isinstance(obj, pikepdf.Stream):
        return obj.stream_dict
    return obj if isinstance(obj, pikepdf.Dictionary) else None


def _dictionaries(pdf: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """Every dictionary in the file: each indirect object and the direct dictionaries nested inside it."""
    for obj in pdf.objects:
        stack = [obj]
        while stack:
            item = stack.pop()
            entry = _as_dict(item)
            if entry is not None:
                yield entry
                children = entry.values()
            elif isinstance(item, pikepdf.Array):
                children = list(item)
            else:
                continue
            stack.extend(c for c in children if isinstance(c, (pikepdf.Dictionary, pikepdf.Array)) and not c.is_indirect)


def active_content(pdf: pikepdf.Pdf) -> dict[str, int]:
    """Count each kind of active or external content anywhere in `pdf` (see FEATURES)."""
    found: Counter[str] = Counter()
    root = pdf.Root
    if "/OpenAction" in root:
        found["open_action"] += 1
    acroform = root.get("/AcroForm")
    if isinstance(acroform, pikepdf.Dictionary):
        if "/XFA" in acroform:
            found["xfa"] += 1
        fields = acroform.get("/Fields")
        if isinstance(fields, pikepdf.Array) and len(fields):
            found["form_fields"] += len(fields)
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary) and "/JavaScript" in names:
        found["javascript"] += 1
    for entry in _dictionaries(pdf):
        if "/AA" in entry:
            found["actions"] += 1
        if "/JS" in entry:
            found["javascript"] += 1
        action = entry.get("/S")
        if isinstance(action, pikepdf.Name) and str(action) in _ACTION_FEATURE:
            found[_ACTION_FEATURE[str(action)]] += 1
        kind = entry.get("/Type")
        if kind == pikepdf.Name.Filespec and "/EF" in entry:
            found["embedded_files"] += 1
        if kind == pikepdf.Name.Annot or ("/Subtype" in entry and "/Rect" in entry):
            found["annotations"] += 1
    return dict(found)


def describe_removed(found: dict[str, int]) -> tuple[str, str]:
    """(Vietnamese, English) sentence naming what was removed, or ('', '') when nothing was."""
    if not found:
        return "", ""
    vi = ", ".join(FEATURES[k][0] for k in FEATURES if k in found)
    en = ", ".join(FEATURES[k][1] for k in FEATURES if k in found)
    return (f"Đã loại bỏ nội dung chủ động khỏi PDF: {vi}. Chỉ giữ hình ảnh trang.",
            f"Active content removed from the PDF: {en}. Only the page images were kept.")


def check_image_sizes(pdf: pikepdf.Pdf, name: str, max_pixels: int) -> None:
    """Refuse the file if any image in it declares more than `max_pixels` pixels — read from its dictionary, not decoded."""
    for obj in pdf.objects:
        if not isinstance(obj, pikepdf.Stream) or obj.stream_dict.get("/Subtype") != pikepdf.Name.Image:
            continue
        try:
            width, height = int(obj.stream_dict.get("/Width", 0)), int(obj.stream_dict.get("/Height", 0))
        except (TypeError, ValueError):
            width = height = -1
        if width <= 0 or height <= 0:
            raise InputFileError(name, "PDF holds an image without a valid size", "PDF chứa ảnh không có kích thước hợp lệ")
        if width * height > max_pixels:
            raise InputFileError(name, f"PDF holds a {width}×{height} image, more than {max_pixels} pixels; "
                                 "possible decompression bomb",
                                 f"PDF chứa ảnh {width}×{height}, quá {max_pixels} điểm ảnh; có thể là tệp độc hại")


def _page_images(page: pikepdf.Page) -> tuple[list[pikepdf.Object], bool]:
    """(image XObjects, True if the page also has fonts or form XObjects)."""
    resources = page.obj.get("/Resources", pikepdf.Dictionary())
    xobjects = resources.get("/XObject", pikepdf.Dictionary())
    images, other = [], bool(resources.get("/Font"))
    for _, xobject in xobjects.items():
        if xobject.get("/Subtype") == pikepdf.Name.Image:
            images.append(xobject)
        else:
            other = True
    return images, other


def _plain_jpeg(image: pikepdf.Object) -> bool:
    filters = image.get("/Filter")
    if isinstance(filters, pikepdf.Array):
        filters = filters[0] if len(filters) == 1 else None
    return (filters == pikepdf.Name.DCTDecode and image.get("/BitsPerComponent") == 8
            and image.get("/ColorSpace") in (pikepdf.Name.DeviceGray, pikepdf.Name.DeviceRGB)
            and not any(k in image for k in ("/Decode", "/SMask", "/Mask")))


def render_dpi(page: pikepdf.Page, dpi: float, max_pixels: int) -> float:
    """`dpi`, lowered so the rendered page has at most `max_pixels` pixels."""
    box = [float(v) for v in page.cropbox]
    area_in2 = max(1e-6, abs(box[2] - box[0]) * abs(box[3] - box[1]) / 72.0 ** 2)
    return max(10.0, min(dpi, (max_pixels / area_in2) ** 0.5 * 0.99))


def plan_pages(pdf: pikepdf.Pdf, default_dpi: float, max_pixels: int) -> list[PagePlan]:
    """One PagePlan per page, in order."""
    plans = []
    for index, page in enumerate(pdf.pages):
        images, other = _page_images(page)
        box = [float(v) for v in page.mediabox]
        width_pt = box[2] - box[0]
        rotate = int(page.obj.get("/Rotate", 0)) % 360
        raster = len(images) == 1 and not other and width_pt > 0 and not images[0].get("/ImageMask", False)
        dpi = float(images[0].Width) * 72.0 / width_pt if raster else 0.0
        if not 50 <= dpi <= 1200:
            raster, dpi = False, render_dpi(page, default_dpi, max_pixels)
        plans.append(PagePlan(index, dpi, raster, rotate - rotate % 90, raster and _plain_jpeg(images[0])))
    return plans


def page_image(path: Path, plan: PagePlan, max_pixels: int) -> Image.Image:
    """The pixels of one page (see module doc); raises ValueError/OSError on a page that cannot be read."""
    if plan.raster:
        with pikepdf.open(path, attempt_recovery=False) as pdf:
            images, _ = _page_images(pdf.pages[plan.index])
            [image] = images
            if int(image.Width) * int(image.Height) > max_pixels:  # checked at inspection too; never decode one
                raise ValueError("image larger than the pixel limit")
            try:
                pixels = pikepdf.PdfImage(image).as_pil_image()
            except (pikepdf.PdfError, NotImplementedError, ValueError, OSError) as exc:
                log.info("page_image_fallback_render page=%d error=%s", plan.index + 1, type(exc).__name__)
                pixels = None
        if pixels is not None:
            return pixels.rotate(-plan.rotate, expand=True) if plan.rotate else pixels
    return render_page(path, plan.index, plan.dpi, max_pixels)


def render_page(path: Path, index: int, dpi: float, max_pixels: int) -> Image.Image:
    """Render page `index` with poppler (annotations hidden), lowering `dpi` to stay under `max_pixels`."""
    with pikepdf.open(path, attempt_recovery=False) as pdf:
        dpi = render_dpi(pdf.pages[index], dpi, max_pixels)
    with tempfile.TemporaryDirectory(prefix="motcua-render-") as tmp:
        target = Path(tmp) / "page"
        cmd = ["pdftoppm", "-r", f"{dpi:.2f}", "-f", str(index + 1), "-l", str(index + 1), "-singlefile",
               "-hide-annotations", str(path), str(target)]
        result = subprocess.run(cmd, capture_output=True, timeout=RENDER_TIMEOUT, preexec_fn=_limit_memory)
        output = target.with_suffix(".ppm")
        if result.returncode != 0 or not output.exists():
            raise ValueError(f"pdftoppm exit {result.returncode}")
        with Image.open(output) as image:
            image.load()
            return image.copy()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (RENDER_MEMORY, RENDER_MEMORY))
