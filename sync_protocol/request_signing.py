"""HTTP message signatures for device requests, in the style of RFC 9421.

Every device request carries:

    Content-Digest:  sha-256=:<base64 sha256 of the body (empty body too)>:   (RFC 9530)
    Signature-Input: motcua=("@method" "@path" "@query" "content-digest");created=<unix>;nonce="<random>";keyid="<key id>";alg="ed25519"
    Signature:       motcua=:<base64 Ed25519 signature of the signature base>:

Courier phones sign with WebCrypto ECDSA P-256 instead: alg="ecdsa-p256-sha256", the signature
being raw r||s (sync_protocol.p256); the hub checks the alg names the key's type.

The signature base is built exactly as RFC 9421 section 2.5 describes. We cover
`@path` and `@query` rather than `@target-uri` because reverse proxies at the
province rewrite scheme and host; the path and query are what the hub routes on.

Verification is pure: the caller supplies the current time, the key lookup and
the nonce memory (replay cache), so the hub decides the policy.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping
from urllib.parse import urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .clock import ClockOffset, measure
from .errors import RequestAuthError
from .keys import key_id as compute_key_id

LABEL = "motcua"
COMPONENTS = ("@method", "@path", "@query", "content-digest")
DEFAULT_WINDOW_SECONDS = 300
_INPUT = re.compile(
    r'^motcua=\((?P<components>[^)]*)\);created=(?P<created>-?\d+);nonce="(?P<nonce>[A-Za-z0-9_-]{16,64})";'
    r'keyid="(?P<keyid>[A-Za-z0-9:_-]{1,80})";alg="(?P<alg>ed25519|ecdsa-p256-sha256)"$'
)
_SIGNATURE = re.compile(r"^motcua=:(?P<sig>[A-Za-z0-9+/=]+):$")


def content_digest(body: bytes) -> str:
    """RFC 9530 Content-Digest value for a body."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


ALG_OF_KEY_PREFIX = {"ed25519": "ed25519", "p256": "ecdsa-p256-sha256"}


def _params(created: int, nonce: str, keyid: str, alg: str = "ed25519") -> str:
    inner = " ".join(f'"{c}"' for c in COMPONENTS)
    return f'({inner});created={created};nonce="{nonce}";keyid="{keyid}";alg="{alg}"'


def signature_base(method: str, path: str, query: str, digest: str, params: str) -> bytes:
    """The exact bytes that are signed (RFC 9421 section 2.5)."""
    lines = [
        f'"@method": {method.upper()}',
        f'"@path": {path or "/"}',
        f'"@query": ?{query}',
        f'"content-digest": {digest}',
        f'"@signature-params": {params}',
    ]
    return "\n".join(lines).encode("utf-8")


ROTATION_LABEL = b"motcua.rotate/1\n"


def rotation_proof_input(device_id: str, old_key_id: str, new_public_key: str) -> bytes:
    """What a device's new key signs when it replaces the old one (key rotation, docs/protocol.md).

    The rotation request itself is signed by the old key like any device request;
    this proof shows the device also holds the new key it names.
    """
    return ROTATION_LABEL + f"{device_id}\n{old_key_id}\n{new_public_key}".encode("ascii")


def sign_request(
    method: str, url: str, body: bytes, private_key: Ed25519PrivateKey, created: int, nonce: str | None = None
) -> dict[str, str]:
    """Return the three headers that authenticate one request."""
    parts = urlsplit(url)
    nonce = nonce or secrets.token_urlsafe(12)  # 96 bits: unique per key within the window, 8 bytes less a request
    keyid = compute_key_id(private_key)
    digest = content_digest(body)
    params = _params(created, nonce, keyid, ALG_OF_KEY_PREFIX[keyid.split(":", 1)[0]])
    signature = private_key.sign(signature_base(method, parts.path, parts.query, digest, params))
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:" + base64.b64encode(signature).decode("ascii") + ":",
    }


@dataclass(frozen=True)
class VerifiedRequest:
    key_id: str
    created: int
    nonce: str
    #: the Content-Digest the signature covers: the body must hash to it (`body_matches`)
    digest: str = ""

    def body_matches(self, sha256_digest: bytes) -> bool:
        """Does a body whose sha256 is `sha256_digest` match the signed Content-Digest?"""
        return self.digest == "sha-256=:" + base64.b64encode(sha256_digest).decode("ascii") + ":"


_DIGEST = re.compile(r"^sha-256=:[A-Za-z0-9+/]{43}=:$")


def verify_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    lookup_key: Callable[[str], Ed25519PublicKey],
    remember_nonce: Callable[[str, str, int], bool],
    now: float,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> VerifiedRequest:
    """Check one request whose body is at hand; raise RequestAuthError naming what is wrong.

    `lookup_key(key_id)` returns the device's public key or raises RequestAuthError.
    `remember_nonce(key_id, nonce, created)` returns False if the nonce was seen (replay).
    """
    verified = verify_signed_headers(method, path, query, headers, lookup_key=lookup_key,
                                     remember_nonce=remember_nonce, now=now, window_seconds=window_seconds)
    if not verified.body_matches(hashlib.sha256(body).digest()):
        raise RequestAuthError("Content-Digest does not match the request body")
    return verified


def verify_signed_headers(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    *,
    lookup_key: Callable[[str], Ed25519PublicKey],
    remember_nonce: Callable[[str, str, int], bool],
    now: float,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
) -> VerifiedRequest:
    """Check the signature from the headers alone, before any body is read (a server can then refuse
    strangers without holding their bodies). The caller must still hash the body as it streams in and
    compare with `VerifiedRequest.body_matches` before acting on it."""
    # Header names are case-insensitive (RFC 9110): accept any Mapping, e.g. sign_request's own dict.
    lowered = {name.lower(): value for name, value in headers.items()}
    sig_input = lowered.get("signature-input")
    sig_header = lowered.get("signature")
    digest_header = lowered.get("content-digest")
    if not sig_input or not sig_header or not digest_header:
        raise RequestAuthError("missing Signature-Input, Signature or Content-Digest header")
    match = _INPUT.match(sig_input.strip())
    if not match:
        raise RequestAuthError("Signature-Input is malformed")
    components = tuple(c.strip('"') for c in match["components"].split())
    if components != COMPONENTS:
        raise RequestAuthError(f"signature must cover {COMPONENTS}")
    digest = digest_header.strip()
    if not _DIGEST.match(digest):
        raise RequestAuthError("Content-Digest must be sha-256=:<base64 of 32 bytes>:")
    if len(match["created"]) > 12:  # more digits than any Unix time in this millennium
        raise RequestAuthError("signature created time is out of range")
    created = int(match["created"])
    if abs(now - created) > window_seconds:
        raise RequestAuthError(
            f"signature created {int(now - created)} s from hub time; device clock offset must be re-learned from Date"
        )
    sig_match = _SIGNATURE.match(sig_header.strip())
    if not sig_match:
        raise RequestAuthError("Signature header is malformed")
    if ALG_OF_KEY_PREFIX.get(match["keyid"].split(":", 1)[0]) != match["alg"]:
        raise RequestAuthError(f"alg {match['alg']} does not match key {match['keyid']}")
    public_key = lookup_key(match["keyid"])
    params = _params(created, match["nonce"], match["keyid"], match["alg"])
    try:
        public_key.verify(
            base64.b64decode(sig_match["sig"]),
            signature_base(method, path, query, digest, params),
        )
    except (InvalidSignature, ValueError) as exc:
        raise RequestAuthError("request signature does not verify") from exc
    if not remember_nonce(match["keyid"], match["nonce"], created):
        raise RequestAuthError("replayed request (nonce already used)")
    return VerifiedRequest(match["keyid"], created, match["nonce"], digest)


class DeviceAuth(requests.auth.AuthBase):
    """requests auth that signs every request with the device key.

    It learns the offset between the device clock and the hub clock from each
    response's `Date` header, so a desk PC whose clock is hours wrong still
    produces signatures the hub accepts; each measurement (with its uncertainty,
    sync_protocol.clock) also goes to `on_measure`, e.g. to stamp legal times.
    """

    def __init__(self, private_key: Ed25519PrivateKey, clock_offset: float = 0.0,
                 on_measure: Callable[[ClockOffset], None] | None = None):
        self.private_key = private_key
        self.clock_offset = clock_offset
        self.on_measure = on_measure

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        created = int(time.time() + self.clock_offset)
        request.headers.update(sign_request(request.method or "GET", request.url or "", body, self.private_key, created))
        request.register_hook("response", self._learn_offset)
        return request

    def _learn_offset(self, response: requests.Response, **_: object) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        try:
            hub_time = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return
        answered = time.time()
        # Date has 1 s resolution; ignore sub-second noise.
        offset = hub_time - answered
        if abs(offset - self.clock_offset) > 2:
            self.clock_offset = offset
        if self.on_measure is not None:
            self.on_measure(measure(hub_time, answered - response.elapsed.total_seconds(), answered))
