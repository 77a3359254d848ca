"""The desk UI's own TLS certificate, for `motcua ui --host <LAN address>` (a second PC or a tablet).

Beyond loopback the UI speaks only HTTPS. The certificate is self-signed (ECDSA P-256, ten years),
made on first use in `<home>/ui-tls/`, and names this PC's host name and addresses; the desk's
other devices pin it by its SHA-256 fingerprint, which `motcua ui` prints. The certificate's names
are also the only Host headers the UI accepts (no DNS rebinding).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sync_protocol.castore import write_file_atomic


@dataclass(frozen=True)
class DeskCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str  # sha256 of the DER certificate, hex with colons
    names: tuple[str, ...]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def local_names(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """This PC's host names and non-loopback addresses (what a LAN client may type), plus `extra`."""
    names = {"localhost", "127.0.0.1", socket.gethostname(), *extra}
    try:
        names.update(socket.gethostbyname_ex(socket.gethostname())[2])
    except OSError:
        pass
    try:  # the address used to reach the LAN (no packet is sent by a UDP connect)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))
            names.add(probe.getsockname()[0])
    except OSError:
        pass
    return tuple(sorted(n for n in names if n and n != "0.0.0.0"))


def _fingerprint(cert: x509.Certificate) -> str:
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def desk_certificate(home: Path, extra_names: tuple[str, ...] = ()) -> DeskCertificate:
    """The desk's UI certificate, made now if missing or if it does not name every current address."""
    folder = home / "ui-tls"
    cert_path, key_path, names_path = folder / "cert.pem", folder / "key.pem", folder / "names.json"
    names = local_names(extra_names)
    if cert_path.exists() and key_path.exists() and names_path.exists():
        known = tuple(json.loads(names_path.read_text()))
        if set(names) <= set(known):
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            return DeskCertificate(cert_path, key_path, _fingerprint(cert), known)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "motcua desk"),
                         x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname()[:64] or "motcua-desk")])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            # its own trust anchor: clients that pin it load it as their CA file
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    write_file_atomic(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()), mode=0o600)
    write_file_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    write_file_atomic(names_path, json.dumps(list(names)).encode())
    return DeskCertificate(cert_path, key_path, _fingerprint(cert), names)
