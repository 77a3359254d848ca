"""The capture pipeline: a stack of pages becomes one or more dossiers' compact PDFs.

Steps (each a small function, testable alone; a failure names the step and the page):

  survey        decode each page once at low resolution: blank? class? cover sheet?
  blank_filter  drop near-empty pages (duplex backs); stamps and signatures are ink, kept
  split         cut the stack at cover sheets, attach parts to dossier codes, drop separators
  encode        (deskew,) encode each page for its class: JBIG2 (or G4) / MRC / JPEG
  ocr           optional invisible text layer (Tesseract `vie`), pages in parallel;
                not on photo pages (ID cards: sensitive data)
  assemble      one PDF per document, qpdf-clean and deterministic

Signing is not here: the agent signs each PDF last, when it seals the dossier.
Pages are processed in parallel threads (numpy, Pillow and tesseract run
outside the GIL); only one page's pixels per worker are in memory at a time.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

from .analysis import BILEVEL, DEFAULT_BLANK_THRESHOLD, PHOTO, PageStats, analyse, deskewed
from .cover_sheets import DOSSIER, CoverRead, Part, compile_code_pattern, read_cover, split_stack
from .encoding import EncodeOptions, bilevel_bitmap, encode_jpeg, encode_page
from .errors import CaptureError, PageError
from .ocr import text_layer_pdf
from .pages import Page
from .pdf_assembly import EncodedPage, assemble

log = logging.getLogger("motcua.scanners.pipeline")
STEPS = ("survey", "blank_filter", "split", "encode", "ocr", "assemble")


@dataclass(frozen=True)
class PipelineOptions:
    ocr: bool = False
    ocr_language: str = "vie"
    drop_blank: bool = True
    blank_threshold: float = DEFAULT_BLANK_THRESHOLD
    deskew: bool = False
    #: a stack without any cover sheet is one dossier (else it is held)
    allow_uncovered: bool = True
    #: the province's dossier-code pattern: a QR holding just such a code makes a page a cover sheet
    cover_code_pattern: str = ""
    #: parallel pages; 0 = one per CPU core
    workers: int = 0
    encode: EncodeOptions = field(default_factory=EncodeOptions)

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


@dataclass(frozen=True)
class Survey:
    """What the survey step learnt about one page."""

    number: int
    stats: PageStats | None
    cover: CoverRead | None


@dataclass
class DocumentResult:
    name: str
    pdf: bytes
    pages: int
    page_numbers: list[int]
    kinds: dict[str, int]


@dataclass
class PartResult:
    """One dossier's share of the stack: `code` from its cover sheet, None for an uncovered stack."""

    code: str | None
    cover_page: int | None
    documents: list[DocumentResult]

    @property
    def page_count(self) -> int:
        return sum(d.pages for d in self.documents)


@dataclass
class BatchResult:
    parts: list[PartResult]
    blank_pages: list[int]
    cover_pages: list[int]
    seconds: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def step(name: str, page: Page) -> Iterator[None]:
    """Run one step on one page; any unexpected failure becomes a PageError naming both."""
    try:
        yield
    except CaptureError:
        raise
    except Exception as exc:  # noqa: BLE001 - every failure must name its page and step
        log.warning("page_step_failed step=%s page=%d error=%s", name, page.number, type(exc).__name__)
        raise PageError(name, page.label, f"{type(exc).__name__}: {exc}",
                        "không xử lý được trang (tệp hỏng hoặc định dạng lạ)") from exc


def survey_page(page: Page, code_pattern: re.Pattern[str] | None = None) -> Survey:
    with step("survey", page):
        image = page.open()
        return Survey(page.number, analyse(image, page.dpi), read_cover(image, page.dpi, code_pattern))


def filter_blank(surveys: list[Survey], options: PipelineOptions) -> tuple[list[int], list[int]]:
    """(kept, dropped) page numbers. Cover sheets are never blank."""
    kept, dropped = [], []
    for survey in surveys:
        blank = (options.drop_blank and survey.stats is not None and survey.cover is None
                 and survey.stats.is_blank(options.blank_threshold))
        (dropped if blank else kept).append(survey.number)
    return kept, dropped


def process_page(page: Page, survey: Survey, options: PipelineOptions) -> EncodedPage:
    """Steps encode and ocr for one page. Every page is rebuilt from its pixels; a source PDF's JPEG
    bytes are kept instead only when they are smaller than our encoding."""
    if survey.stats is None:
        raise PageError("encode", page.label, "page has no raster image", "trang không có ảnh")
    with step("encode", page):
        image = page.open()
        if options.deskew:
            image, _ = deskewed(image, page.dpi)
        pdf = encode_page(image, page.dpi, survey.stats.kind, options.encode)
        if page.source_jpeg is not None and not options.deskew:
            jpeg = page.source_jpeg()
            if len(jpeg) < len(pdf):
                pdf = encode_jpeg(jpeg, page.dpi)
        encoded = EncodedPage(page.number, pdf=pdf, kind=survey.stats.kind)
    # photo pages (ID cards) get no text layer: their text is sensitive personal data, and slow to read
    if options.ocr and survey.stats.kind != PHOTO:
        with step("ocr", page):
            # a bilevel page is read from its bitmap cut the same way but at the scan's resolution: Tesseract
            # segments some layouts worse at 200 dpi (a form's title split in two), and it reads a bitmap
            # faster than grey
            source = bilevel_bitmap(image, page.dpi, page.dpi)[0] if survey.stats.kind == BILEVEL else image
            encoded.text_layer = text_layer_pdf(source, page.dpi, options.ocr_language)
    return encoded


def run_pipeline(pages: list[Page], options: PipelineOptions = PipelineOptions()) -> BatchResult:
    """Run every step over a stack. Raises BatchHeld (nothing produced) or PageError."""
    timings: dict[str, float] = {}
    by_number = {p.number: p for p in pages}
    with ThreadPoolExecutor(max_workers=options.worker_count, thread_name_prefix="capture") as pool:
        started = time.perf_counter()
        code_pattern = compile_code_pattern(options.cover_code_pattern)
        surveys = list(pool.map(lambda page: survey_page(page, code_pattern), pages))
        timings["survey"] = time.perf_counter() - started
        kept, blank = filter_blank(surveys, options)
        covers = {s.number: s.cover for s in surveys if s.cover is not None}
        parts: list[Part] = split_stack(kept, covers, allow_uncovered=options.allow_uncovered)
        started = time.perf_counter()
        wanted = [n for part in parts for n in part.pages]
        surveys_by_number = {s.number: s for s in surveys}
        encoded = dict(zip(wanted, pool.map(lambda n: process_page(by_number[n], surveys_by_number[n], options),
                                            wanted)))
        timings["encode_ocr"] = time.perf_counter() - started
    started = time.perf_counter()
    results = []
    for part in parts:
        documents = []
        for index, (name, numbers) in enumerate(part.documents, start=1):
            with step("assemble", by_number[numbers[0]]):
                pdf, count = assemble([encoded[n] for n in numbers])
            documents.append(DocumentResult(_document_name(name, index), pdf, count, numbers,
                                            dict(Counter(encoded[n].kind for n in numbers))))
        results.append(PartResult(part.code, part.cover_page, documents))
    timings["assemble"] = time.perf_counter() - started
    cover_pages = sorted(covers)
    log.info("pipeline pages=%d parts=%d blank=%d covers=%d dossier_covers=%d", len(pages), len(results), len(blank),
             len(cover_pages), sum(1 for c in covers.values() if c.kind == DOSSIER))
    return BatchResult(results, blank, cover_pages, timings)


def _document_name(label: str, index: int) -> str:
    return f"{index:02d}-{label}.pdf" if label else f"document-{index}.pdf"
