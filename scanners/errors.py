"""Capture errors. Every error names the file or page and says what to do, Vietnamese first.

    CaptureError
     ├── InputFileError       a file given to import is unreadable, unsupported or hostile
     ├── PageError            one pipeline step failed on one page (names the step and the page)
     ├── BatchHeld            the stack cannot be split safely (unreadable cover sheet, ...):
     │                        nothing is queued, the pages are kept for review
     ├── ScanError            the scanner stopped (paper jam, cover open, no device);
     │                        pages already scanned are kept and the batch can be continued
     └── ToolMissing          an external program (scanimage, tesseract) is not installed
"""
from __future__ import annotations


class CaptureError(Exception):
    """Base class for capture failures; `message_vi` is shown to desk staff first."""

    def __init__(self, message_en: str, message_vi: str, *, hint: str = ""):
        super().__init__(message_en)
        self.message_en = message_en
        self.message_vi = message_vi
        self.hint = hint


class InputFileError(CaptureError):
    """A file cannot be imported; the message names it."""

    def __init__(self, path: str, problem_en: str, problem_vi: str):
        super().__init__(
            f"{path}: {problem_en}",
            f"{path}: {problem_vi}",
            hint="Kiểm tra lại tệp hoặc quét lại trang / Check the file or scan the page again",
        )
        self.path = path


class PageError(CaptureError):
    """Step `step` failed on the page labelled `page` (e.g. 'stack.pdf trang/page 3')."""

    def __init__(self, step: str, page: str, problem_en: str, problem_vi: str):
        super().__init__(f"{page}: step {step} failed: {problem_en}", f"{page}: bước {step} lỗi: {problem_vi}",
                         hint="Quét lại trang này / rescan this page")
        self.step = step
        self.page = page


class BatchHeld(CaptureError):
    """The stack was not split: a cover sheet is unreadable, misplaced or unknown. Names the page number."""

    def __init__(self, page_number: int, problem_en: str, problem_vi: str, *, reason: str = "cover_unreadable"):
        super().__init__(f"Batch held for review: page {page_number}: {problem_en}",
                         f"Tập quét được giữ lại để kiểm tra: trang {page_number}: {problem_vi}",
                         hint="Kiểm tra/in lại phiếu tách hồ sơ rồi quét lại / check or reprint the cover sheet and rescan")
        self.page_number = page_number
        self.reason = reason


class ScanError(CaptureError):
    """The scanner stopped; `pages_kept` pages scanned before the stop are kept in the batch."""

    def __init__(self, status: str, problem_en: str, problem_vi: str, *, pages_kept: int = 0, batch_id: str = ""):
        hint = (f"Xử lý xong rồi quét tiếp: motcua scan --continue {batch_id} / fix it, then continue the batch"
                if batch_id else "Kiểm tra máy quét / check the scanner")
        super().__init__(f"Scanner stopped ({status}): {problem_en}; {pages_kept} page(s) kept",
                         f"Máy quét dừng ({status}): {problem_vi}; đã giữ {pages_kept} trang", hint=hint)
        self.status = status
        self.pages_kept = pages_kept
        self.batch_id = batch_id


class ToolMissing(CaptureError):
    """A required external program is not installed."""

    def __init__(self, program: str, package: str):
        super().__init__(f"{program} is not installed", f"Chưa cài {program}",
                         hint=f"apt-get install {package}")
        self.program = program
