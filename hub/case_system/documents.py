"""Documents for the case system: the plaintext of a committed document, streamed with HTTP Range.

A document is addressed by its plaintext sha256 (as listed in a pulled
dossier) and is served only if some dossier of the client's agencies holds it.
`Range: bytes=START-`, `bytes=START-END` and `bytes=-SUFFIX` (one range) give a
206 with Content-Range, so a client resumes a big file where it stopped; a
range outside the file is a 416 naming the size. Each request is audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from .. import audit
from ..errors import HubError, NotFound
from ..state import HubState
from .access import CaseSystem

CHUNK = 256 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_RANGE = re.compile(r"^bytes=([0-9]{0,18})-([0-9]{0,18})$")


class RangeNotSatisfiable(HubError):
    status, code = 416, "range_not_satisfiable"


@dataclass(frozen=True)
class DocumentSlice:
    sha256: str
    name: str
    media_type: str
    size: int
    start: int
    end: int  # inclusive; end < start for an empty document
    partial: bool

    @property
    def length(self) -> int:
        return max(0, self.end - self.start + 1)

    def headers(self) -> dict[str, str]:
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(self.length), "ETag": f'"{self.sha256}"',
                   "Cache-Control": "no-store", "X-Content-SHA256": self.sha256}
        if self.partial:
            headers["Content-Range"] = f"bytes {self.start}-{self.end}/{self.size}"
        return headers


def parse_range(header: str | None, size: int) -> tuple[int, int, bool]:
    """(start, end inclusive, partial?) for a Range header; 416 if it cannot be served."""
    if not header:
        return 0, size - 1, False
    match = _RANGE.match(header.strip())
    unsatisfiable = RangeNotSatisfiable(
        f"Range {header[:60]!r} is not one satisfiable byte range of this {size}-byte document",
        f"Khoảng byte {header[:60]!r} không hợp lệ với tài liệu {size} byte", headers={"Content-Range": f"bytes */{size}"})
    if match is None or (not match[1] and not match[2]):
        raise unsatisfiable
    if not match[1]:  # suffix: the last N bytes
        suffix = int(match[2])
        if suffix == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - suffix), size - 1, True
    start = int(match[1])
    end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start >= size or end < start:
        raise unsatisfiable
    return start, end, True


def find_document(state: HubState, client: CaseSystem, sha256: str, range_header: str | None) -> DocumentSlice:
    """The slice of a document `client` may read; 404 if no dossier of its agencies holds it. Audited."""
    if not _SHA256.match(sha256):
        raise NotFound("documents are addressed by 64 lower-case hex digits (sha256)",
                       "Tài liệu được định danh bằng 64 chữ số hex (sha256)", code="document_unknown")
    scope, params = client.agency_sql("v.agency_code")
    row = state.db.one(
        "SELECT dd.dossier_id, dd.dossier_version, dd.name, dd.media_type, dd.plain_size FROM dossier_documents dd"
        " JOIN dossiers d ON d.dossier_id = dd.dossier_id AND d.dossier_version = dd.dossier_version"
        f" JOIN devices v ON v.device_id = d.device_id WHERE dd.plain_sha256 = ? AND {scope}"
        " ORDER BY d.hub_sequence LIMIT 1", (sha256, *params))
    if row is None:
        raise NotFound("no dossier of this token's agencies holds that document",
                       "Không có hồ sơ nào thuộc cơ quan của mã truy cập chứa tài liệu này", code="document_unknown")
    size = int(row["plain_size"])
    start, end, partial = parse_range(range_header, size)
    audit.record_now(state.db, state.now(), client.actor, "case_system.document", row["dossier_id"],
                     document=sha256, start=start, end=end)
    return DocumentSlice(sha256, row["name"], row["media_type"], size, start, end, partial)


def stream(state: HubState, piece: DocumentSlice) -> Iterator[bytes]:
    """The bytes of the slice, read in chunks (the handle is closed when the response ends)."""
    handle: BinaryIO = state.objects.open(piece.sha256)
    try:
        handle.seek(piece.start)
        remaining = piece.length
        while remaining > 0:
            block = handle.read(min(CHUNK, remaining))
            if not block:
                break
            remaining -= len(block)
            yield block
    finally:
        handle.close()
