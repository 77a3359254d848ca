"""Exceptions raised by sync_protocol.

    ProtocolError
     ├── CanonicalJSONError      value cannot be encoded canonically (float, bad key, ...)
     ├── InvalidDocument         a manifest/receipt/envelope violates the format
     ├── SignatureInvalid        a signature does not verify against the given key
     ├── RequestAuthError        an HTTP message signature is missing, stale, replayed or wrong
     ├── ObjectCorrupt           stored bytes do not hash to their content address
     └── UploadError             the tus exchange failed
          ├── UploadTransportError   network-level failure (retry later, resume)
          ├── UploadGone             the server forgot the upload (404/410): create anew
          ├── OffsetMismatch         server offset differs from ours (409): re-read offset
          ├── ChecksumMismatch       the server saw a corrupt chunk (460)
          └── UploadRejected         the server refused the upload for good (4xx with reason)
"""
from __future__ import annotations


class ProtocolError(Exception):
    """Base class of every error raised by sync_protocol."""


class CanonicalJSONError(ProtocolError, ValueError):
    """A value cannot be represented in canonical JSON."""


class InvalidDocument(ProtocolError, ValueError):
    """A document does not follow the protocol format; the message names the field."""


class SignatureInvalid(ProtocolError):
    """A signature does not verify."""


class RequestAuthError(ProtocolError):
    """An HTTP request's signature is missing, malformed, stale, replayed or invalid."""


class ObjectCorrupt(ProtocolError):
    """Stored bytes do not match their sha256 content address."""


class UploadError(ProtocolError):
    """A resumable upload failed."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 code: str | None = None, retry_after: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.code = code
        #: the server's Retry-After header, as sent (seconds or an HTTP date), if any
        self.retry_after = retry_after


class UploadTransportError(UploadError):
    """The link failed (connection refused/reset, timeout). Resume later."""


class UploadGone(UploadError):
    """The server no longer knows this upload; start a new one."""


class OffsetMismatch(UploadError):
    """The server's offset differs from the one we sent; ask it again."""


class ChecksumMismatch(UploadError):
    """The server computed a different checksum for the chunk we sent."""


class UploadRejected(UploadError):
    """The server refused the upload permanently (e.g. too large, not allowed)."""
