"""Hub errors: each becomes an HTTP status with a JSON body
`{"error": <code>, "reason": <English>, "reason_vi": <Vietnamese>}`.

    HubError
     ├── BadRequest (400)        malformed input
     ├── Unauthorized (401)      missing/invalid signature, unknown or revoked device, bad token
     │    └── TokenRequired (401)  missing/invalid API token (Bearer)
     ├── Forbidden (403)         authenticated but not allowed (another device's data)
     ├── NotFound (404)
     ├── Conflict (409)          offset mismatch, different manifest for a committed dossier, chain fork
     ├── RequestTimeout (408)    the body stalled longer than the idle limit
     ├── Gone (410)              an upload expired (tus expiration)
     ├── PreconditionFailed (412) unsupported Tus-Resumable version
     ├── Locked (423)            another request holds the upload
     ├── Unprocessable (422)     verification failed (payload hash, signature on the manifest)
     ├── TooLarge (413)          a body, an upload or the device's byte quota
     ├── TooManyRequests (429)   open-upload quota, connections per address, enrolment rate
     ├── UnsupportedMediaType (415) a PATCH that is not application/offset+octet-stream
     └── InsufficientStorage (507)
"""
from __future__ import annotations

import errno
import sqlite3


class HubError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, reason: str, reason_vi: str | None = None, *, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.reason_vi = reason_vi or reason
        if code:
            self.code = code
        self.headers = headers or {}

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "reason": self.reason, "reason_vi": self.reason_vi}


class BadRequest(HubError):
    status, code = 400, "bad_request"


class Unauthorized(HubError):
    """Every 401 names the scheme the client must use (RFC 9110 WWW-Authenticate): device requests are
    signed as in docs/protocol.md "Request signatures"."""

    status, code = 401, "unauthorized"
    challenge = 'Signature realm="motcua-hub", label="motcua", alg="ed25519"'

    def __init__(self, reason: str, reason_vi: str | None = None, *, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(reason, reason_vi, code=code, headers={"WWW-Authenticate": self.challenge, **(headers or {})})


class TokenRequired(Unauthorized):
    challenge = 'Bearer realm="motcua-hub"'


class Forbidden(HubError):
    status, code = 403, "forbidden"


class NotFound(HubError):
    status, code = 404, "not_found"


class Conflict(HubError):
    status, code = 409, "conflict"


class RequestTimeout(HubError):
    status, code = 408, "body_timeout"


class Gone(HubError):
    status, code = 410, "gone"


class PreconditionFailed(HubError):
    status, code = 412, "precondition_failed"


class TooLarge(HubError):
    status, code = 413, "too_large"


class TooManyRequests(HubError):
    status, code = 429, "too_many_requests"


class UnsupportedMediaType(HubError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(HubError):
    status, code = 422, "verification_failed"


class Locked(HubError):
    status, code = 423, "locked"


class ChecksumFailed(HubError):
    status, code = 460, "checksum_mismatch"


class InsufficientStorage(HubError):
    status, code = 507, "insufficient_storage"


def disk_full(exc: BaseException) -> bool:
    """Is this exception (or its cause) the disk or database being full?"""
    for _ in range(10):  # bounded: exception chains can loop
        if exc is None:
            return False
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False
