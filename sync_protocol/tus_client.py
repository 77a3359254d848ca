"""A resumable upload client speaking tus 1.0 (core + creation + checksum + termination).

The client owns no retry policy: every method either succeeds or raises an
UploadError subclass that tells the caller what happened, and `upload()`
always starts by asking the server for its durable offset, so calling it again
after any failure resumes at the last byte the server made durable.

Chunk sizes: `upload()` takes a fixed size, a callable, or a `ChunkFeedback`
(e.g. sync_protocol.chunking.ChunkPolicy) that is told how long each
acknowledged chunk took and when a chunk was lost, so it can adapt.
"""
from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import BinaryIO, Callable, Mapping, Protocol, runtime_checkable
from urllib.parse import urljoin

import requests

from .errors import (
    ChecksumMismatch,
    OffsetMismatch,
    UploadError,
    UploadGone,
    UploadRejected,
    UploadTransportError,
)

TUS_VERSION = "1.0.0"
TUS_HEADERS = {"Tus-Resumable": TUS_VERSION}

#: called after each acknowledged chunk with (new offset, total length)
ProgressCallback = Callable[[int, int], None]


@runtime_checkable
class ChunkFeedback(Protocol):
    """A chunk-size source that learns from each chunk (see sync_protocol.chunking)."""

    def size(self) -> int: ...

    def record_success(self, nbytes: int, seconds: float) -> None: ...

    def record_failure(self) -> None: ...


@dataclass
class UploadReport:
    """What one call to `upload()` did."""

    url: str
    length: int
    started_at_offset: int
    bytes_sent: int
    chunks: int


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """tus Upload-Metadata: comma-separated `key base64(value)` pairs."""
    return ",".join(f"{k} {base64.b64encode(v.encode('utf-8')).decode('ascii')}" for k, v in metadata.items())


def decode_metadata(header: str) -> dict[str, str]:
    """Parse an Upload-Metadata header (used by the hub); raise ValueError on garbage."""
    result: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in header.split(","))):
        key, _, value = pair.partition(" ")
        if not key or key in result:
            raise ValueError(f"bad or repeated metadata key {key!r}")
        result[key] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
    return result


def _reason(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("reason") or body.get("detail") or body)
    except ValueError:
        pass
    return response.text[:200] or response.reason or f"HTTP {response.status_code}"


def _code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("error")) if isinstance(body, dict) and body.get("error") else None


class TusClient:
    """Talks tus to one server through a requests session (auth/TLS are the session's)."""

    def __init__(self, session: requests.Session, *, timeout: float = 30.0):
        self.session = session
        self.timeout = timeout

    def _call(self, method: str, url: str, **kwargs: object) -> requests.Response:
        headers = {**TUS_HEADERS, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        try:
            return self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            raise UploadTransportError(f"{method} {url}: {exc.__class__.__name__}") from exc

    def create(self, endpoint: str, length: int, metadata: Mapping[str, str]) -> str:
        """POST a new upload; return its absolute URL."""
        response = self._call(
            "POST", endpoint, headers={"Upload-Length": str(length), "Upload-Metadata": encode_metadata(metadata)}
        )
        if response.status_code != 201 or "Location" not in response.headers:
            raise self._error("create", response)
        return urljoin(endpoint, response.headers["Location"])

    def offset(self, url: str) -> int:
        """HEAD: the number of bytes the server holds durably."""
        response = self._call("HEAD", url)
        if response.status_code in (404, 410):
            raise UploadGone(f"upload {url} is gone", status=response.status_code)
        if response.status_code != 200 or "Upload-Offset" not in response.headers:
            raise self._error("offset", response)
        return int(response.headers["Upload-Offset"])

    def terminate(self, url: str) -> None:
        """DELETE an unfinished upload (termination extension)."""
        response = self._call("DELETE", url)
        if response.status_code not in (204, 404, 410):
            raise self._error("terminate", response)

    def patch(self, url: str, offset: int, chunk: bytes) -> int:
        """Send one chunk at `offset`; return the server's new offset."""
        checksum = base64.b64encode(hashlib.sha1(chunk).digest()).decode("ascii")
        response = self._call(
            "PATCH",
            url,
            data=chunk,
            headers={
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
                "Upload-Checksum": f"sha1 {checksum}",
            },
        )
        if response.status_code == 204:
            return int(response.headers["Upload-Offset"])
        if response.status_code == 409:
            raise OffsetMismatch("server offset differs", status=409, reason=_reason(response))
        if response.status_code == 460:
            raise ChecksumMismatch("chunk checksum mismatch", status=460, reason=_reason(response))
        if response.status_code in (404, 410):
            raise UploadGone(f"upload {url} is gone", status=response.status_code)
        raise self._error("patch", response)

    def upload(
        self,
        url: str,
        stream: BinaryIO,
        length: int,
        chunk_size: int | Callable[[], int] | ChunkFeedback,
        on_progress: ProgressCallback | None = None,
        known_offset: int | None = None,
    ) -> UploadReport:
        """Send `stream` from the server's durable offset to the end.

        `chunk_size` may be a callable so the caller can adapt it between chunks,
        or a ChunkFeedback that also hears each chunk's duration and each loss.
        `known_offset` skips the initial HEAD (e.g. 0 right after `create`); any
        doubt later (409) still asks the server. A 460 re-sends the chunk once, then raises.
        """
        feedback = chunk_size if isinstance(chunk_size, ChunkFeedback) else None
        offset = self.offset(url) if known_offset is None else known_offset
        report = UploadReport(url, length, offset, 0, 0)
        checksum_retries = 0
        while offset < length:
            if feedback is not None:
                size = feedback.size()
            else:
                size = chunk_size() if callable(chunk_size) else chunk_size  # type: ignore[operator]
            stream.seek(offset)
            chunk = stream.read(min(size, length - offset))
            if not chunk:
                raise UploadError(f"local data ended at {offset} of {length} bytes")
            started = time.monotonic()
            try:
                new_offset = self.patch(url, offset, chunk)
            except UploadTransportError:
                if feedback is not None:
                    feedback.record_failure()
                raise
            except OffsetMismatch:
                offset = self.offset(url)
                continue
            except ChecksumMismatch:
                checksum_retries += 1
                if checksum_retries > 1:
                    raise
                continue
            report.bytes_sent += len(chunk)
            report.chunks += 1
            if feedback is not None:
                feedback.record_success(len(chunk), time.monotonic() - started)
            if new_offset != offset + len(chunk):
                raise UploadError(f"server acknowledged offset {new_offset}, expected {offset + len(chunk)}")
            offset = new_offset
            if on_progress:
                on_progress(offset, length)
        return report

    @staticmethod
    def _error(step: str, response: requests.Response) -> UploadError:
        reason, code = _reason(response), _code(response)
        cls = UploadTransportError if response.status_code >= 500 or response.status_code in (423, 429) else UploadRejected
        return cls(f"{step}: HTTP {response.status_code}: {reason}", status=response.status_code, reason=reason, code=code,
                   retry_after=response.headers.get("Retry-After"))
