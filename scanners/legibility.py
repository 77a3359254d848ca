"""Measure what a stored bilevel page keeps of the scan: OCR word recall and marks (glyphs, diacritics, digits).

Used by the benchmark and the tests to show that size cuts (resolution, edge
smoothing) cost no legibility: every connected mark of the page cut at full
resolution — each letter, each diacritic dot or hook, each digit — must
still have ink in the stored bitmap, and the words Tesseract reads must not
drop. numpy only (no scipy on desks): components are labelled from row runs.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np


def word_recall(truth: list[str], found: list[str]) -> float:
    """Share of the printed words (with repeats) that OCR read exactly, diacritics included."""
    want, got = Counter(truth), Counter(found)
    return sum(min(n, got[w]) for w, n in want.items()) / max(1, sum(want.values()))


def _runs(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, start, end) of every horizontal run of ink; end exclusive, ordered by row then start."""
    padded = np.zeros((ink.shape[0], ink.shape[1] + 2), np.int8)
    padded[:, 1:-1] = ink
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return rows, starts, ends


def label_runs(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """8-connected components of `ink`: (row, start, end, component of each run, component count)."""
    rows, starts, ends = _runs(ink)
    first = np.searchsorted(rows, np.arange(ink.shape[0] + 1))
    links_a, links_b = [], []
    for y in range(ink.shape[0] - 1):
        a0, a1, b0, b1 = first[y], first[y + 1], first[y + 1], first[y + 2]
        if a0 == a1 or b0 == b1:
            continue
        # runs of the next row touching a run (diagonals too): they start at or before its end, end after its start
        lo = np.searchsorted(ends[b0:b1], starts[a0:a1], side="left")
        hi = np.searchsorted(starts[b0:b1], ends[a0:a1], side="right")
        count = np.maximum(hi - lo, 0)
        a = np.repeat(np.arange(a0, a1), count)
        b = b0 + np.concatenate([np.arange(l, h) for l, h in zip(lo, hi) if h > l] or [np.zeros(0, int)])
        links_a.append(a)
        links_b.append(b)
    label = np.arange(len(rows))
    if links_a:
        a, b = np.concatenate(links_a), np.concatenate(links_b)
        while True:  # propagate the smallest run id along links, with pointer jumping, until stable
            low = np.minimum(label[a], label[b])
            before = label.copy()
            np.minimum.at(label, a, low)
            np.minimum.at(label, b, low)
            label = label[label]
            if np.array_equal(label, before):
                break
    _, component = np.unique(label, return_inverse=True)
    return rows, starts, ends, component, int(component.max(initial=-1)) + 1


@dataclass(frozen=True)
class Marks:
    """Connected marks of the full-resolution cut and of the stored bitmap; `lost` had no ink left at all."""

    reference: int
    stored: int
    lost: int


def compare_marks(reference: np.ndarray, stored: np.ndarray) -> Marks:
    """Marks of `reference` (ink = True, the scan's resolution) kept in `stored` (ink = True, any resolution)."""
    rows, starts, ends, component, count = label_runs(reference)
    lengths = ends - starts
    ys = np.repeat(rows, lengths)
    xs = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)] or [np.zeros(0, int)])
    ky, kx = stored.shape[0] / reference.shape[0], stored.shape[1] / reference.shape[1]
    hit = stored[np.minimum((ys * ky).astype(int), stored.shape[0] - 1),
                 np.minimum((xs * kx).astype(int), stored.shape[1] - 1)]
    kept = np.bincount(np.repeat(component, lengths), weights=hit, minlength=count)
    return Marks(count, label_runs(stored)[4], int((kept == 0).sum()))
