"""Encryption at rest on the agent: sealed dossiers are kept only as ciphertext to the hub.

At seal time every payload blob is encrypted (sync_protocol.encryption,
`motcua.enc/1`) to the hub's X25519 key pinned at enrolment, and so is the
signed manifest. The agent never holds the hub's private key, so from then on
it cannot read the dossier back — a stolen desk PC or a lost USB stick shows
nothing. The plaintext working copies are then overwritten and removed.

What stays readable locally: the outbox row (dossier code, procedure code,
state, hashes, sizes) — no document content.

Transport: the manifest lists the ciphertext objects (sha256/size: what is
uploaded and verified on commit) and carries each plaintext's sha256 and size
in `metadata["plain.<name>"] = "<sha256>:<size>"`, with `metadata["enc"] =
"motcua.enc/1"`; the hub decrypts and checks them before it signs a receipt.
The sealed manifest is stored armoured as `motcua.enc/1:<base64url>` and
committed as the raw ciphertext with Content-Type `SEALED_MANIFEST_TYPE`.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from agent.errors import NotInitialised, StorageError
from sync_protocol.castore import ContentStore, fsync_dir
from sync_protocol.encryption import (
    SCHEMA,
    SealResult,
    encrypt_bytes,
    encrypt_stream,
    x25519_key_id,
    x25519_public_from_text,
)
from sync_protocol.keys import b64url, b64url_decode

log = logging.getLogger("motcua.agent.at_rest")

ARMOUR_PREFIX = SCHEMA + ":"
SEALED_MANIFEST_TYPE = "application/vnd.motcua.sealed"
PLAIN_PREFIX = "plain."


def hub_encryption_key(config: "AgentConfig") -> X25519PublicKey:  # noqa: F821
    """The hub's X25519 key pinned at enrolment (checked against its pinned id)."""
    config.require_enrolled()
    if not config.hub_encryption_key:
        raise NotInitialised(str(config.home))
    key = x25519_public_from_text(config.hub_encryption_key)
    if config.hub_encryption_key_id and x25519_key_id(key) != config.hub_encryption_key_id:
        raise StorageError("Khoá mã hoá của trung tâm trong cấu hình không khớp với mã khoá đã ghim.",
                           "The hub encryption key in config.json does not match its pinned key id.",
                           "Khôi phục config.json từ bản sao lưu / restore config.json")
    return key


def _disk_error(exc: OSError) -> StorageError:
    return StorageError("Không ghi được bản mã hoá vào ổ đĩa (có thể ổ đầy). Hồ sơ vẫn ở trạng thái đã nhận.",
                        f"Could not write the encrypted copy to disk ({exc.strerror}); the dossier stays captured.",
                        "Giải phóng dung lượng rồi niêm phong lại / free disk space and seal again")


def encrypt_blob(store: ContentStore, plain_sha256: str, recipient: X25519PublicKey) -> SealResult:
    """Encrypt one plaintext blob into the store (temp -> fsync -> rename); return both sides' hashes."""
    fd, tmp = tempfile.mkstemp(dir=store.tmp, prefix="enc-")
    try:
        with os.fdopen(fd, "wb") as out, store.open(plain_sha256) as source:
            result = encrypt_stream(source, out, recipient)
            out.flush()
            os.fsync(out.fileno())
        if result.plain_sha256 != plain_sha256:
            from sync_protocol.errors import ObjectCorrupt

            raise ObjectCorrupt(f"blob {plain_sha256[:12]} is corrupt (hashes to {result.plain_sha256[:12]})")
        store.adopt(Path(tmp), result.cipher_sha256)
        return result
    except OSError as exc:
        raise _disk_error(exc) from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def seal_manifest_text(envelope_bytes: bytes, recipient: X25519PublicKey) -> str:
    """The signed manifest encrypted to the hub, armoured for the outbox's text column."""
    return ARMOUR_PREFIX + b64url(encrypt_bytes(envelope_bytes, recipient))


def manifest_for_transport(stored: str) -> tuple[bytes, str]:
    """(body, content type) to commit a dossier's stored manifest: sealed, or legacy plaintext JSON."""
    if stored.startswith(ARMOUR_PREFIX):
        return b64url_decode(stored[len(ARMOUR_PREFIX):]), SEALED_MANIFEST_TYPE
    return stored.encode("utf-8"), "application/json"


def plaintext_metadata(results: list[tuple[str, SealResult]]) -> dict[str, str]:
    """Manifest metadata that tells the hub which plaintext each ciphertext object must open to."""
    meta = {"enc": SCHEMA}
    for name, result in results:
        meta[PLAIN_PREFIX + name] = f"{result.plain_sha256}:{result.plain_size}"
    return meta


def wipe_blob(store: ContentStore, sha256: str) -> bool:
    """Overwrite a plaintext blob with zeros, fsync, then unlink it.

    Best effort against later recovery: on copy-on-write or flash storage the old
    blocks may survive, which is why the threat model relies on full-disk
    encryption of the desk PC as well (docs/security.md).
    """
    path = store.path(sha256)
    try:
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            zeros = bytes(min(size, 1 << 20))
            left = size
            while left > 0:
                handle.write(zeros[:left])
                left -= len(zeros[:left])
            handle.flush()
            os.fsync(handle.fileno())
        path.unlink()
        fsync_dir(path.parent)
        return True
    except FileNotFoundError:
        return False
