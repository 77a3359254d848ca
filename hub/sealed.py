"""Opening what agents sealed to the hub's X25519 key (sync_protocol.encryption).

A sealed commit body is the signed manifest encrypted to the hub; each payload
object of an encrypted manifest (`metadata["enc"] == "motcua.enc/1"`) is
ciphertext whose plaintext sha256 and size the manifest names in
`metadata["plain.<name>"]`. Before the hub signs a receipt it decrypts every
object to a temporary file, checks the plaintext against the manifest, and
stores the plaintext in the object store — so a receipt always means the hub
holds readable, verified documents, never a blob nobody can open. The check runs
every time, even when the store already holds that plaintext: naming a known
plaintext hash must not earn a receipt for bytes that decrypt to something else
(dedupe may skip storing the plaintext again, never the check).
"""
from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from contextlib import nullcontext
from typing import Any, BinaryIO, Mapping

from sync_protocol.encryption import SCHEMA, DecryptionError, decrypt_bytes, decrypt_stream
from sync_protocol.manifest import Manifest

from .errors import BadRequest, InsufficientStorage, Unprocessable
from .parsing import loads_bounded
from .state import HubState

log = logging.getLogger("motcua.hub.sealed")

SEALED_MANIFEST_TYPE = "application/vnd.motcua.sealed"
MAX_SEALED_MANIFEST = 1024 * 1024
_PLAIN = re.compile(r"^([0-9a-f]{64}):([0-9]{1,15})$")


@dataclass(frozen=True)
class OpenedDocument:
    position: int
    name: str
    media_type: str
    cipher_sha256: str
    plain_sha256: str
    plain_size: int


def open_sealed_manifest(state: HubState, body: bytes) -> Any:
    """Decrypt a sealed commit body into the signed-manifest JSON it carries."""
    assert state.encryption_key is not None
    try:
        plain = decrypt_bytes(body, state.encryption_key)
    except DecryptionError as exc:
        raise Unprocessable(f"sealed manifest cannot be opened with this hub's key: {exc}",
                            "Không giải mã được bản kê khai niêm phong bằng khoá của trung tâm",
                            code="manifest_undecryptable") from exc
    try:
        return loads_bounded(plain)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("sealed manifest does not hold JSON", "Bản kê khai niêm phong không chứa JSON") from exc


def expected_plaintexts(manifest: Manifest) -> dict[str, tuple[str, int]] | None:
    """name -> (plaintext sha256, size) for an encrypted manifest; None for a plaintext one."""
    meta = manifest.metadata
    if "enc" not in meta:
        return None
    if meta["enc"] != SCHEMA:
        raise BadRequest(f"manifest.metadata.enc: {meta['enc']!r} is not supported (expected {SCHEMA})",
                         "Định dạng mã hoá của hồ sơ không được hỗ trợ", code="invalid_manifest")
    result = {}
    for obj in manifest.objects:
        match = _PLAIN.match(meta.get("plain." + obj.name, ""))
        if not match:
            raise BadRequest(f"manifest.metadata: plain.{obj.name} must be '<sha256>:<size>'",
                             f"Bản kê khai thiếu mã băm bản rõ của tệp {obj.name}", code="invalid_manifest")
        result[obj.name] = (match[1], int(match[2]))
    return result


def open_objects(state: HubState, manifest: Manifest,
                 sources: Mapping[str, BinaryIO] | None = None) -> list[OpenedDocument]:
    """Decrypt and verify every object of an encrypted manifest into the object store. `sources`:
    ciphertexts already read (and re-hashed) by the caller, by sha256; others are read from the store."""
    expected = expected_plaintexts(manifest)
    if expected is None:
        return [OpenedDocument(i, o.name, o.media_type, o.sha256, o.sha256, o.size) for i, o in enumerate(manifest.objects)]
    assert state.encryption_key is not None
    opened = []
    tmp_dir = decryption_dir(state)
    tmp_dir.mkdir(exist_ok=True)
    for position, obj in enumerate(manifest.objects):
        plain_sha, plain_size = expected[obj.name]
        # no "is it there already?" first (a HEAD on S3): storing an object that exists is harmless
        _decrypt_into_store(state, obj.name, obj.sha256, plain_sha, plain_size, tmp_dir, (sources or {}).get(obj.sha256))
        opened.append(OpenedDocument(position, obj.name, obj.media_type, obj.sha256, plain_sha, plain_size))
    return opened


def decryption_dir(state: HubState) -> Path:
    """Where plaintexts are decrypted before they are checked and adopted into the object store."""
    return state.config.data_dir / "tmp"


def remove_interrupted_decryptions(state: HubState) -> int:
    """At startup: delete temporary plaintexts a killed hub process left behind (never adopted).

    Files are named `open-<pid>-…`; those of a process still running here (another worker) are kept."""
    removed = 0
    for leftover in decryption_dir(state).glob("open-*"):
        pid = leftover.name.split("-")[1]
        if pid.isascii() and pid.isdigit() and _running(int(pid)):
            continue
        leftover.unlink(missing_ok=True)
        removed += 1
    if removed:
        log.info("interrupted_decryptions_removed count=%d", removed)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # it exists, under another user
    except (ProcessLookupError, OverflowError):
        return False
    return True


def _decrypt_into_store(state: HubState, name: str, cipher_sha: str, plain_sha: str, plain_size: int,
                        tmp_dir: Path, given: BinaryIO | None = None) -> None:
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=f"open-{os.getpid()}-")
    if given is not None:
        given.seek(0)  # the same object may be named twice in a manifest
    try:
        with os.fdopen(fd, "wb") as out, (nullcontext(given) if given is not None
                                          else state.objects.open(cipher_sha)) as source:
            result = decrypt_stream(source, out, state.encryption_key)  # type: ignore[arg-type]
            out.flush()
            os.fsync(out.fileno())
        if (result.plain_sha256, result.plain_size) != (plain_sha, plain_size):
            raise Unprocessable(f"object {name} decrypts to other content than the manifest names",
                                f"Tệp {name} sau giải mã không khớp bản kê khai", code="plaintext_mismatch")
        state.objects.adopt_file(Path(tmp), plain_sha)
    except DecryptionError as exc:
        log.warning("object_undecryptable object=%s error=%s", cipher_sha[:12], exc)
        raise Unprocessable(f"object {name} cannot be decrypted with this hub's key: {exc}",
                            f"Không giải mã được tệp {name} bằng khoá của trung tâm", code="object_undecryptable") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("hub disk is full; nothing was committed, retry later",
                                      "Ổ đĩa trung tâm đã đầy; chưa ghi nhận gì, thử lại sau") from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_document(state: HubState, plain_sha256: str) -> bytes:
    """The plaintext of a committed document (for the provincial case system)."""
    with state.objects.open(plain_sha256) as handle:
        return handle.read()
