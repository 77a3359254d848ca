"""Benchmark capture on realistic scanned pages: KiB/page per class, ink colours, pages/s, peak memory — beside
OCRmyPDF and plain JPEG-in-PDF on the same pages in the same run.

Corpus (scanners.realistic, generated, no personal data): 300 dpi grey and
colour pages with paper texture, noise, blur and slight skew; a decision in
13 pt Vietnamese with every diacritic; the same page filled with text (worst
case); a grey photocopy with a grey seal; a signed decision with a red seal,
blue ballpoint signature and black handwriting; an ID-card photocopy; a blank
back. Baselines: JPEG q75 at 300 dpi in a PDF (a scanner's "PDF" button) and
OCRmyPDF 14 (`-l vie`, its defaults) run on that JPEG PDF.

Targets (issue 13): text page ≤ 28 KiB incl. text layer (lossless); ID-card
page ≤ 60 KiB legible; colour stamp page ≤ 60 KiB; ink ΔE2000 ≤ 10 and ≥ 98 %
stroke pixels kept; with OCR ≥ 0.8 pages/s on 2 cores and ≥ 4× OCRmyPDF.
The machine's load average is printed beside every timing: on a shared
machine timings are only comparable within one run.

Legibility: bilevel text pages are stored at 200 dpi with smoothed edges; the
legibility section shows, against the 300 dpi cut, the image bytes, the
marks kept (none may be lost) and Tesseract's word recall, digits apart.

Run: .venv/bin/python bench/bench_capture.py [--workers 2] [--no-ocr] [--pages-200] [--sections sizes,legibility]
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import img2pdf
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.sealing.pdf_signing import FileDocumentSigner, sign_pdf, verify_pdf  # noqa: E402
from scanners import jbig2, jbig2_generic, realistic, synthetic  # noqa: E402
from scanners.analysis import ink_threshold, paper_level  # noqa: E402
from scanners.encoding import EncodeOptions, _g4_tiff, bilevel_bitmap  # noqa: E402
from scanners.legibility import compare_marks, word_recall  # noqa: E402
from scanners.ink_fidelity import measure_ink  # noqa: E402
from scanners.ocr import ocr_available, read_words  # noqa: E402
from scanners.pages import Page  # noqa: E402
from scanners.pipeline import PipelineOptions, run_pipeline  # noqa: E402

TARGETS = {"text page": 28, "dense text page": None, "grey seal page": None, "colour stamp page": 60,
           "ID card page": 60}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (tesseract, ocrmypdf): unlike wall time, it does not
    grow when other people's jobs share the cores."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"[load {one:.1f}/{five:.1f}]"


def pages_of(images: list[Image.Image]) -> list[Page]:
    return [Page(i, f"bench {i}", 300.0, loader=im.copy) for i, im in enumerate(images, start=1)]


def jpeg_pdf(images: list[Image.Image]) -> bytes:
    jpegs = []
    for image in images:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=75, dpi=(300, 300))
        jpegs.append(buffer.getvalue())
    return img2pdf.convert(jpegs)


def ocrmypdf(pdf: bytes, workers: int) -> tuple[bytes, float] | None:
    if shutil.which("ocrmypdf") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.pdf", Path(tmp) / "out.pdf"
        source.write_bytes(pdf)
        started = time.perf_counter()
        result = subprocess.run(["ocrmypdf", "-l", "vie", "--jobs", str(workers), str(source), str(target)],
                                capture_output=True)
        if result.returncode != 0:
            print("  ocrmypdf failed:", result.stderr.decode(errors="replace").strip().splitlines()[-1:])
            return None
        return target.read_bytes(), time.perf_counter() - started


def g4_no_ocr(image: Image.Image, workers: int) -> int:
    """The no-OCR PDF with bilevel pages and MRC masks coded CCITT G4 (MOTCUA_BILEVEL=g4), for comparison."""
    before = os.environ.get(jbig2.ENV)
    os.environ[jbig2.ENV] = "g4"
    try:
        return len(run_pipeline(pages_of([image]), PipelineOptions(ocr=False, workers=workers)).parts[0].documents[0].pdf)
    finally:
        if before is None:
            del os.environ[jbig2.ENV]
        else:
            os.environ[jbig2.ENV] = before


def jbig2_speed(image: Image.Image) -> None:
    """Seconds to JBIG2-code one A4 bilevel page at 300 dpi (the worst case), after the one-off numba compilation."""
    bitmap, _ = bilevel_bitmap(image, 300, target_dpi=300)
    black = jbig2_generic.black_pixels(bitmap)
    jbig2_generic.encode_black(black[:8, :8])  # compiled (or loaded from numba's cache) here
    wall, cpu = [], []
    for _ in range(5):
        w, c = time.perf_counter(), time.process_time()
        jbig2_generic.encode_black(black)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    print(f"JBIG2 generic region, {black.shape[1]}×{black.shape[0]} page: {statistics.median(wall):.3f} s wall, "
          f"{statistics.median(cpu):.3f} s CPU (median of 5)  [target ≤ 0.3 s] {load()}")


def render(pdf: bytes, dpi: int = 300) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.pdf").write_bytes(pdf)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-singlefile", str(Path(tmp) / "p.pdf"), str(Path(tmp) / "p")],
                       check=True)
        return np.asarray(Image.open(Path(tmp) / "p.ppm").convert("RGB"))


def breakdown(pdf: bytes) -> str:
    """Where a PDF's bytes go: image streams, the OCR text layer (its form, font and CMap streams), the rest."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        images = sum(len(o.read_raw_bytes()) for o in doc.objects
                     if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Image")
        text = 0
        for o in doc.objects:
            if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == "/Form" and "/Font" in o.get("/Resources", {}):
                text += len(o.read_raw_bytes())
                for font in o.Resources.Font.values():  # Type0 → ToUnicode; descendant → CIDToGIDMap, FontFile2
                    descendant = font.DescendantFonts[0]
                    for stream in (font.get("/ToUnicode"), descendant.get("/CIDToGIDMap"),
                                   descendant.FontDescriptor.get("/FontFile2")):
                        text += len(stream.read_raw_bytes()) if isinstance(stream, pikepdf.Stream) else 0
    return f"image {images / 1024:.1f} + text layer {text / 1024:.1f} + PDF {(len(pdf) - images - text) / 1024:.1f}"


def sizes(corpus: dict[str, Image.Image], ocr: bool, workers: int) -> None:
    print(f"\n== size per page (KiB) == {load()}")
    print(f"{'class':<19}{'motcua':>8}{'no OCR':>8}{'G4 noOCR':>9}{'JPEG75':>8}{'OCRmyPDF':>9}{'target':>7}  encoding")
    for name, image in corpus.items():
        ours = run_pipeline(pages_of([image]), PipelineOptions(ocr=ocr, workers=workers)).parts[0].documents[0]
        plain = run_pipeline(pages_of([image]), PipelineOptions(ocr=False, workers=workers)).parts[0].documents[0]
        base = jpeg_pdf([image])
        other = ocrmypdf(base, workers) if ocr else None
        kind = next(iter(plain.kinds))
        g4 = f"{g4_no_ocr(image, workers) / 1024:9.1f}" if kind in ("bilevel", "colour") else f"{'-':>9}"
        target = TARGETS.get(name)
        print(f"{name:<19}{len(ours.pdf) / 1024:8.1f}{len(plain.pdf) / 1024:8.1f}{g4}{len(base) / 1024:8.1f}"
              f"{(len(other[0]) / 1024 if other else float('nan')):9.1f}{(f'≤{target}' if target else '-'):>7}  {kind}"
              f"  ({breakdown(ours.pdf)})")
    jbig2_speed(corpus["text page"])


def legibility(ocr: bool) -> None:
    """Text pages stored at 300 dpi as cut vs. as stored now (bilevel_dpi, smoothed): bytes, marks, OCR recall."""
    print(f"\n== bilevel text pages: what the size cuts keep == {load()}")
    print(f"{'page':<17}{'stored as':<22}{'image KiB':>10}{'marks':>7}{'lost':>6}{'OCR recall':>11}{'digits':>8}")
    for name, (seed, lines) in {"text page": (11, 26), "dense text page": (15, 34)}.items():
        image, words = realistic.text_page_words(seed, lines)
        luma = np.asarray(image)
        reference = luma <= ink_threshold(luma[::4, ::4], paper_level(luma[::4, ::4]))
        numbers = [w for w in words if any(c.isdigit() for c in w)]
        full = Image.fromarray(~reference).convert("1")
        variants = {"300 dpi, as cut": (full, 300.0), "300 dpi, smoothed": bilevel_bitmap(image, 300, 300),
                    f"{EncodeOptions.bilevel_dpi:.0f} dpi, smoothed": bilevel_bitmap(image, 300)}
        for label, (bitmap, dpi) in variants.items():
            size = len(jbig2.encode_generic(bitmap) or _g4_tiff(bitmap, dpi))
            marks = compare_marks(reference, ~np.asarray(bitmap))
            found = read_words(bitmap, dpi) if ocr else []
            recall = f"{word_recall(words, found):11.3f}{word_recall(numbers, found):8.3f}" if ocr else "  (no OCR)"
            print(f"{name:<17}{label:<22}{size / 1024:10.1f}{marks.stored:7d}{marks.lost:6d}{recall}")


def ink_colours() -> None:
    print(f"\n== ink colours on the colour (MRC) path == {load()}")
    print(f"{'ink':<7}{'ΔE2000':>8}{'kept':>8}  source RGB → output RGB       [targets: ΔE ≤ 10, kept ≥ 98 %]")
    for seed in (12, 21):
        image, masks = realistic.ink_page(seed)
        pdf = run_pipeline(pages_of([image]), PipelineOptions(ocr=False)).parts[0].documents[0].pdf
        output, source = render(pdf), np.asarray(image)
        for ink, mask in masks.items():
            f = measure_ink(source, output, mask, paper_luma=240)
            flag = "" if ink != "blue" else ("  blue ✓" if f.blue else "  NOT BLUE")
            print(f"{ink:<7}{f.delta_e:8.2f}{f.kept * 100:7.1f}%  {f.source_rgb} → {f.output_rgb}{flag}  (page {seed})")
    image, seal = realistic.grey_seal_page()
    pdf = run_pipeline(pages_of([image]), PipelineOptions(ocr=False)).parts[0].documents[0].pdf
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "p.pdf").write_bytes(pdf)
        subprocess.run(["pdfimages", "-png", str(Path(tmp) / "p.pdf"), str(Path(tmp) / "i")], check=True)
        bitmap = np.asarray(Image.open(Path(tmp) / "i-000.png").convert("L")) > 127
    print(f"grey seal on a grey photocopy: {(~bitmap[seal]).mean() * 100:.1f}% of its stroke pixels kept")


def throughput(corpus: dict[str, Image.Image], ocr: bool, workers: int) -> None:
    stack = ([corpus["text page"]] * 4 + [corpus["dense text page"], corpus["grey seal page"]]
             + [corpus["colour stamp page"]] * 2 + [corpus["ID card page"], synthetic.blank_back()])
    print(f"\n== whole pipeline, one stack of {len(stack)} pages, {workers} workers ==")
    rates, cpu_rates = {}, {}
    for label, use_ocr in (("motcua incl. OCR", True), ("motcua no OCR", False)):
        if use_ocr and not ocr:
            continue
        before, cpu = load(), cpu_seconds()
        started = time.perf_counter()
        result = run_pipeline(pages_of(stack), PipelineOptions(ocr=use_ocr, workers=workers))
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        document = result.parts[0].documents[0]
        rates[label] = len(stack) / seconds
        cpu_rates[label] = len(stack) * workers / cpu
        print(f"{label:<18} {seconds:6.1f}s = {rates[label]:.2f} pages/s, {document.pages} kept, "
              f"{len(document.pdf) / 1024 / document.pages:.1f} KiB/page; CPU {cpu / len(stack):.2f} s/page "
              f"→ {cpu_rates[label]:.2f} pages/s on {workers} idle cores  {before}→{load()}")
    base = jpeg_pdf(stack)
    print(f"{'JPEG-in-PDF q75':<18} {len(base) / 1024 / len(stack):.1f} KiB/page (no OCR, blank kept)")
    if ocr:
        before, cpu = load(), cpu_seconds()
        other = ocrmypdf(base, workers)
        cpu = cpu_seconds() - cpu
        if other:
            rate, cpu_rate = len(stack) / other[1], len(stack) * workers / cpu
            print(f"{'OCRmyPDF -l vie':<18} {other[1]:6.1f}s = {rate:.2f} pages/s, "
                  f"{len(other[0]) / 1024 / len(stack):.1f} KiB/page; CPU {cpu / len(stack):.2f} s/page "
                  f"→ {cpu_rate:.2f} pages/s on {workers} idle cores  {before}→{load()}")
            print(f"motcua with OCR is {rates['motcua incl. OCR'] / rate:.1f}× OCRmyPDF by wall time, "
                  f"{cpu_rates['motcua incl. OCR'] / cpu_rate:.1f}× by CPU time  [target ≥ 0.8 pages/s, ≥ 4×]")
        else:
            print("(OCRmyPDF not installed: apt-get install ocrmypdf — bench only, not a runtime dependency)")


def rss_child(path: str) -> None:
    """Run in a child: import one PDF through the pipeline (no OCR) and print pages, seconds, peak RSS (KiB)."""
    from scanners.errors import InputFileError
    from scanners.file_import import inspect_files, open_pages

    started = time.perf_counter()
    try:
        with open_pages(inspect_files([path])) as pages:
            result = run_pipeline(pages, PipelineOptions(ocr=False))
        outcome = f"{sum(p.page_count for p in result.parts)} pages"
    except InputFileError as exc:
        outcome = f"refused ({exc.message_en.split(': ', 1)[1][:60]}…)"
    seconds = time.perf_counter() - started
    print(f"{outcome}\t{seconds:.1f}\t{peak_rss_kib()}")


def peak_rss_kib() -> int:
    """This process's peak resident memory (VmHWM). Not ru_maxrss: Linux carries that over from the parent
    across fork and exec, so a child of a big process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory(corpus: dict[str, Image.Image], big: bool) -> None:
    print(f"\n== PDF inputs: peak memory of the importing process (no OCR) == {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        import zlib

        import pikepdf

        bomb = pikepdf.new()
        image = pikepdf.Stream(bomb, zlib.compress(b"\xff" * 20000 * 20000, 9))
        image.Type, image.Subtype, image.Width, image.Height = pikepdf.Name.XObject, pikepdf.Name.Image, 20000, 20000
        image.BitsPerComponent, image.ColorSpace, image.Filter = 8, pikepdf.Name.DeviceGray, pikepdf.Name.FlateDecode
        bomb.pages.append(pikepdf.Page(pikepdf.Dictionary(
            Type=pikepdf.Name.Page, MediaBox=[0, 0, 595, 842], Contents=bomb.make_stream(b"q 595 0 0 842 0 0 cm /I Do Q"),
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(I=image)))))
        inputs = {"PDF bomb 20000×20000": Path(tmp) / "bomb.pdf"}
        bomb.save(inputs["PDF bomb 20000×20000"])
        counts = (20, 200) if big else (20,)
        for count in counts:  # a scanner-made PDF: one JPEG per page, grey text and colour pages mixed
            pages = [corpus["text page"], corpus["colour stamp page"].convert("RGB")]
            path = Path(tmp) / f"scan-{count}.pdf"
            path.write_bytes(jpeg_pdf([pages[i % 2] for i in range(count)]))
            inputs[f"scanner PDF, {count} pages"] = path
        for label, path in inputs.items():
            result = subprocess.run([sys.executable, __file__, "--rss-child", str(path)], capture_output=True,
                                    text=True)
            if result.returncode != 0:
                print(f"{label:<26} child failed: {result.stderr.strip().splitlines()[-1:]}")
                continue
            outcome, seconds, peak = result.stdout.strip().split("\t")
            print(f"{label:<26} {path.stat().st_size / 2**20:7.1f} MiB in → {outcome}, {float(seconds):.1f}s, "
                  f"peak RSS {int(peak) / 1024:.0f} MiB  {load()}")


def signature(corpus: dict[str, Image.Image]) -> None:
    print(f"\n== signature (PAdES B-B, ECDSA P-256) == {load()}")
    pdf = run_pipeline(pages_of([corpus["text page"]]), PipelineOptions(ocr=False)).parts[0].documents[0].pdf
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-ocr", action="store_true")
    parser.add_argument("--pages-200", action="store_true", help="also import a 200-page scanner PDF (slow)")
    parser.add_argument("--rss-child", help=argparse.SUPPRESS)
    parser.add_argument("--sections", default="sizes,legibility,ink,throughput,memory,signature",
                        help="comma-separated subset of: sizes, legibility, ink, throughput, memory, signature")
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    ocr = not args.no_ocr and ocr_available("vie")
    other = subprocess.run(["ocrmypdf", "--version"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("ocrmypdf") else "not installed"
    print(f"cores={os.cpu_count()} workers={args.workers} ocr={'tesseract vie' if ocr else 'off'} "
          f"bilevel={'JBIG2 generic region (in-house)' if jbig2.available() else 'G4 (MOTCUA_BILEVEL=g4)'} ocrmypdf={other} {load()}")
    started = time.perf_counter()
    corpus = {"text page": realistic.text_page(), "dense text page": realistic.text_page(seed=15, lines=34),
              "grey seal page": realistic.grey_seal_page()[0], "colour stamp page": realistic.ink_page()[0],
              "ID card page": realistic.id_card_page()}
    print(f"corpus generated in {time.perf_counter() - started:.0f}s")
    wanted = set(args.sections.split(","))
    if "sizes" in wanted:
        sizes(corpus, ocr, args.workers)
    if "legibility" in wanted:
        legibility(ocr)
    if "ink" in wanted:
        ink_colours()
    if "throughput" in wanted:
        throughput(corpus, ocr, args.workers)
    if "memory" in wanted:
        memory(corpus, args.pages_200)
    if "signature" in wanted:
        signature(corpus)


if __name__ == "__main__":
    main()
