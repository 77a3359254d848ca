"""Benchmark the capture pipeline: KiB/page per class, pages/s, signature cost — against baselines in the same run.

Corpus (generated, 300 dpi A4, no personal data): Vietnamese forms with
diacritics, a dense text page, a form with a red stamp and blue signature, an
ID-card photocopy, a blank duplex back. Baselines: plain JPEG-in-PDF (quality
75, 300 dpi, what a scanner's "PDF" button makes) and OCRmyPDF defaults when it
is installed. Targets (issue 4): text ≤ 28 KiB incl. text layer, colour stamp
≤ 60 KiB, whole pipeline incl. OCR ≥ 0.55 pages/s on 2 cores, signature
< 100 ms and < 10 KiB.

Run: .venv/bin/python bench/bench_capture.py [--workers 2] [--no-ocr]
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import img2pdf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.sealing.pdf_signing import FileDocumentSigner, sign_pdf, verify_pdf  # noqa: E402
from scanners import synthetic  # noqa: E402
from scanners.ocr import ocr_available  # noqa: E402
from scanners.pages import Page  # noqa: E402
from scanners.pipeline import PipelineOptions, run_pipeline  # noqa: E402

CLASSES = {"form (text)": synthetic.form_page, "dense text": synthetic.dense_text_page,
           "colour stamp": synthetic.stamp_page, "ID card photo": synthetic.id_card_page}


def pages_of(images: list, start: int = 1) -> list[Page]:
    return [Page(i, f"bench {i}", 300.0, loader=im.copy) for i, im in enumerate(images, start=start)]


def jpeg_baseline(image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB" if image.mode == "RGB" else "L").save(buffer, format="JPEG", quality=75, dpi=(300, 300))
    return img2pdf.convert(buffer.getvalue())


def ocrmypdf_baseline(pdf: bytes) -> tuple[bytes, float] | None:
    if shutil.which("ocrmypdf") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        source.write_bytes(pdf)
        started = time.perf_counter()
        result = subprocess.run(["ocrmypdf", "-l", "vie", "--output-type", "pdf", str(source), str(target)],
                                capture_output=True)
        if result.returncode != 0:
            return None
        return target.read_bytes(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-ocr", action="store_true")
    args = parser.parse_args()
    ocr = not args.no_ocr and ocr_available("vie")
    print(f"cores={os.cpu_count()} workers={args.workers} ocr={'tesseract vie' if ocr else 'off'}")
    corpus = {name: make() for name, make in CLASSES.items()}
    options = PipelineOptions(ocr=ocr, workers=args.workers)

    print("\n== size per page (KiB) ==")
    print(f"{'class':<16}{'motcua':>10}{'(no OCR)':>10}{'JPEG q75':>10}{'OCRmyPDF':>10}{'ratio':>8}  encoding")
    for name, image in corpus.items():
        ours = run_pipeline(pages_of([image]), options).parts[0].documents[0]
        plain = run_pipeline(pages_of([image]), PipelineOptions(ocr=False)).parts[0].documents[0]
        base = jpeg_baseline(image)
        other = ocrmypdf_baseline(base) if ocr else None
        print(f"{name:<16}{len(ours.pdf) / 1024:>10.1f}{len(plain.pdf) / 1024:>10.1f}{len(base) / 1024:>10.1f}"
              f"{(len(other[0]) / 1024 if other else float('nan')):>10.1f}{len(base) / len(ours.pdf):>7.1f}x  "
              f"{','.join(ours.kinds)}")
    if shutil.which("ocrmypdf") is None:
        print("(OCRmyPDF not installed: its column is nan)")

    print("\n== whole pipeline, one mixed stack ==")
    stack = ([corpus["form (text)"]] * 6 + [corpus["dense text"]] * 2 + [corpus["colour stamp"]] * 2
             + [corpus["ID card photo"]] + [synthetic.blank_back()])
    for label, opts in (("motcua incl. OCR" if ocr else "motcua", options),
                        ("motcua no OCR", PipelineOptions(ocr=False, workers=args.workers))):
        started = time.perf_counter()
        result = run_pipeline(pages_of(stack), opts)
        seconds = time.perf_counter() - started
        document = result.parts[0].documents[0]
        print(f"{label:<20} {len(stack)} pages in {seconds:.1f}s = {len(stack) / seconds:.2f} pages/s, "
              f"{document.pages} kept, {len(document.pdf) / 1024 / document.pages:.1f} KiB/page, "
              f"steps {', '.join(f'{k}={v:.1f}s' for k, v in result.seconds.items())}")
    started = time.perf_counter()
    baseline = [jpeg_baseline(image) for image in stack]
    seconds = time.perf_counter() - started
    print(f"{'JPEG-in-PDF baseline':<20} {len(stack)} pages in {seconds:.1f}s = {len(stack) / seconds:.2f} pages/s, "
          f"{sum(map(len, baseline)) / 1024 / len(stack):.1f} KiB/page (no OCR, no blank filter)")
    if ocr:
        single = run_pipeline(pages_of([corpus["form (text)"]]), PipelineOptions(ocr=True, workers=1))
        print(f"OCR share: one form page takes {single.seconds['encode_ocr']:.2f}s with OCR on one core")

    print("\n== signature (PAdES B-B, ECDSA P-256) ==")
    pdf = run_pipeline(pages_of([corpus["form (text)"]]), options).parts[0].documents[0].pdf
    with tempfile.TemporaryDirectory() as tmp:
        signer = FileDocumentSigner(Path(tmp) / "docsign", "bench")
        times, added = [], []
        for _ in range(20):
            started = time.perf_counter()
            signed = sign_pdf(pdf, signer)
            times.append(time.perf_counter() - started)
            added.append(len(signed) - len(pdf))
        assert verify_pdf(signed, signer.trust_roots()).valid
    print(f"sign: median {statistics.median(times) * 1000:.1f} ms (max {max(times) * 1000:.1f} ms), "
          f"adds {statistics.median(added) / 1024:.1f} KiB  [target < 100 ms, < 10 KiB]")


if __name__ == "__main__":
    main()
