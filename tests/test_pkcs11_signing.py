"""PAdES signing with the key inside a PKCS#11 token: SoftHSM2, initialised by the test itself.

The token gets an ECDSA P-256 key and a certificate issued by a throwaway CA;
the agent signs a PDF through pyHanko's PKCS#11 support, the signature
validates against the CA, and changing one byte breaks it. Through
`docsign/pkcs11.json` the token replaces the file key at seal time.
"""
from __future__ import annotations

import datetime
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.sealing.pdf_signing import sign_pdf, verify_pdf
from agent.errors import StorageError

from .trust_support import small_pdf

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246810"
pytestmark = pytest.mark.skipif(not (Path(MODULE).exists() and shutil.which("softhsm2-util")
                                     and shutil.which("pkcs11-tool")),
                                reason="needs Debian softhsm2 and opensc (make deps installs them)")


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    """One SoftHSM2 token for this module (the library reads SOFTHSM2_CONF once per process),
    holding a signing key and its certificate; returns the CA PEM path."""
    tmp_path = tmp_path_factory.mktemp("softhsm")
    (tmp_path / "tokens").mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tmp_path / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        yield _init_token(tmp_path, conf)


def _init_token(tmp_path: Path, conf: Path) -> Path:
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", "motcua", "--pin", PIN, "--so-pin", "13579111"],
                   check=True, capture_output=True, env=env)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("motcua token CA")).issuer_name(_name("motcua token CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(_name("motcua desk signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    key_der, cert_der = tmp_path / "key.der", tmp_path / "cert.der"
    key_der.write_bytes(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    cert_der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    base = ["pkcs11-tool", "--module", MODULE, "--token-label", "motcua", "--login", "--pin", PIN]
    for kind, path in (("privkey", key_der), ("cert", cert_der)):
        subprocess.run([*base, "--write-object", str(path), "--type", kind, "--id", "01", "--label", "signer"],
                       check=True, capture_output=True, env=env)
    key_der.unlink()  # from now on the key exists only inside the token
    ca_path = tmp_path / "token-ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca_path


def _config(ca_path: Path, **overrides):
    from agent.sealing.pkcs11 import PKCS11Config

    return PKCS11Config(**{"module": MODULE, "token_label": "motcua", "key_label": "signer", "cert_label": "signer",
                           "ca_cert": str(ca_path), **overrides})


def test_pdf_signed_in_the_token_validates_and_detects_changes(token):
    from agent.sealing.pkcs11 import PKCS11DocumentSigner

    signer = PKCS11DocumentSigner(_config(token), pin=PIN)
    signed = sign_pdf(small_pdf("CHUNG THUC BAN SAO"), signer)
    check = verify_pdf(signed, signer.trust_roots())
    assert check.valid and check.signatures == 1, check.problem
    tampered = bytearray(signed)
    spot = signed.index(b"/Count 1")  # one byte of the signed revision: the page count
    tampered[spot + 7] = ord("2")
    assert not verify_pdf(bytes(tampered), signer.trust_roots()).valid


def test_wrong_pin_or_missing_pin_gives_a_clear_error(token, monkeypatch):
    from agent.sealing.pkcs11 import _SESSIONS, PKCS11DocumentSigner

    for session in list(_SESSIONS.values()):  # log out, so the wrong PIN really reaches the token
        session.close()
    _SESSIONS.clear()
    with pytest.raises(StorageError) as wrong:
        PKCS11DocumentSigner(_config(token), pin="000000")
    assert "thẻ ký" in wrong.value.message_vi and "PKCS#11" in wrong.value.message_en
    monkeypatch.delenv("MOTCUA_PKCS11_PIN", raising=False)
    with pytest.raises(StorageError, match="PIN"):
        PKCS11DocumentSigner(_config(token))


def test_seal_signs_with_the_token_when_configured(token, hub, agent, monkeypatch):
    """`docsign/pkcs11.json` switches the desk from the file key to the token; the hub's copy validates."""
    import json

    from agent.sealing.seal import seal_dossier
    from agent.delivery.sync import sync_once
    from hub.config import HubConfig
    from hub.state import HubState

    from .trust_support import captured_dossier, hub_rows

    (agent.config.home / "docsign").mkdir(exist_ok=True)
    (agent.config.home / "docsign" / "pkcs11.json").write_text(json.dumps(
        {"module": MODULE, "token_label": "motcua", "key_label": "signer", "ca_cert": str(token)}))
    monkeypatch.setenv("MOTCUA_PKCS11_PIN", PIN)
    dossier = seal_dossier(agent, captured_dossier(agent).id)
    assert sync_once(agent).committed == [dossier.code]
    [doc] = hub_rows(hub.data_dir, "SELECT plain_sha256 FROM dossier_documents")
    with HubState.open(HubConfig(data_dir=hub.data_dir)).objects.open(doc["plain_sha256"]) as handle:
        signed = handle.read()
    from agent.sealing.pkcs11 import PKCS11Config, PKCS11DocumentSigner

    signer = PKCS11DocumentSigner(PKCS11Config.load(agent.config.home / "docsign" / "pkcs11.json"))
    assert verify_pdf(signed, signer.trust_roots()).valid
