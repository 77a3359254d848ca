"""The hub's own keys, created once and kept in the data directory (mode 0600):
Ed25519 for signing receipts, X25519 for opening dossiers that agents encrypted to it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync_protocol.castore import write_file_atomic
from sync_protocol.encryption import generate_x25519_key, x25519_private_from_pem, x25519_private_to_pem
from sync_protocol.keys import generate_private_key, private_key_from_pem, private_key_to_pem

K = TypeVar("K")


def _load_or_create(path: Path, make_pem: Callable[[], bytes], load: Callable[[bytes], K]) -> K:
    if not path.exists():
        # Two processes starting together (serve + an admin command) must not each make a
        # key: agents would pin or encrypt to one the hub later lacks. Publish with link(),
        # which fails if the other process won; then everyone reads the winner's file.
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        write_file_atomic(tmp, make_pem(), mode=0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return load(path.read_bytes())


def load_or_create_hub_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key that signs receipts (agents pin its public half at enrolment)."""
    return _load_or_create(path, lambda: private_key_to_pem(generate_private_key()), private_key_from_pem)


def load_or_create_hub_encryption_key(path: Path) -> X25519PrivateKey:
    """The X25519 key agents encrypt sealed dossiers to (sync_protocol.encryption)."""
    return _load_or_create(path, lambda: x25519_private_to_pem(generate_x25519_key()), x25519_private_from_pem)


def load_or_create_hub_evidence_key(path: Path) -> Any:
    """The P-256 ECDH key couriers' phones encrypt evidence to (sync_protocol.p256, motcua.enc-p256/1)."""
    from sync_protocol.p256 import generate_p256_key, private_from_pem, private_to_pem

    return _load_or_create(path, lambda: private_to_pem(generate_p256_key()), private_from_pem)
