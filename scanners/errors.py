"""Capture errors.

    CaptureError
     └── InputFileError       a file given to import is unreadable, unsupported or hostile
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
