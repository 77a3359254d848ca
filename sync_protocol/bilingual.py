"""Bilingual UI text, Vietnamese first: a table of key -> (Vietnamese, English) and a translator
over it for one language. Shared by the desk's web UI and the hub console (both render the
same way); pure lookups, no I/O.
"""
from __future__ import annotations

from typing import ClassVar


class Translator:
    """`t.key` in templates; `t.get(key)`, `t.pair((vi, en))`, `t.pick(vi, en)` in code.
    A subclass sets STRINGS to its table."""

    STRINGS: ClassVar[dict[str, tuple[str, str]]] = {}

    def __init__(self, lang: str):
        self.lang = "en" if lang == "en" else "vi"
        self._i = 1 if self.lang == "en" else 0

    def __getattr__(self, key: str) -> str:
        try:
            return self.STRINGS[key][self._i]
        except KeyError:
            raise AttributeError(key) from None

    def get(self, key: str) -> str:
        return self.STRINGS[key][self._i]

    def pair(self, pair: tuple[str, str]) -> str:
        return pair[self._i]

    def pick(self, vi: str, en: str) -> str:
        return en if self.lang == "en" and en else vi
