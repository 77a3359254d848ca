"""The hub's own Ed25519 key, created once and kept in the data directory (mode 0600)."""
from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_protocol.castore import write_file_atomic
from sync_protocol.keys import generate_private_key, private_key_from_pem, private_key_to_pem


def load_or_create_hub_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        return private_key_from_pem(path.read_bytes())
    key = generate_private_key()
    write_file_atomic(path, private_key_to_pem(key), mode=0o600)
    return key
