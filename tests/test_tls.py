"""HTTPS between desk and hub: the hub serves TLS, the agent verifies it and can pin it.

A throwaway CA is made with `cryptography` for each test run; nothing else is
trusted. The agent must refuse a hub whose certificate it cannot verify, and a
hub whose certificate does not match the pin — before sending anything.
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.context import AgentContext
from agent.errors import EnrolmentError
from agent.delivery.enrolment import enrol
from agent.sealing.seal import seal_dossier
from agent.delivery.sync import sync_once

from .conftest import SITE, HubProcess, assert_clean_failure, run_motcua
from .trust_support import captured_dossier


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(directory: Path, cn: str = "motcua test CA") -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"{cn.replace(' ', '_')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def issue_server_cert(directory: Path, ca_key, ca_cert, name: str = "hub") -> tuple[Path, Path, str]:
    """A server certificate for 127.0.0.1/localhost; returns (cert path, key path, sha256 of DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("hub.test")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture
def pki(tmp_path: Path):
    ca_path, ca_key, ca_cert = make_ca(tmp_path)
    cert, key, fingerprint = issue_server_cert(tmp_path, ca_key, ca_cert)
    return {"ca": ca_path, "cert": cert, "key": key, "fingerprint": fingerprint, "ca_key": ca_key, "ca_cert": ca_cert,
            "dir": tmp_path}


@pytest.fixture
def tls_hub(tmp_path: Path, pki):
    server = HubProcess(tmp_path / "hub", extra_args=["--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])],
                        tls_ca=str(pki["ca"])).start()
    yield server
    server.stop()


def test_desk_enrols_and_delivers_over_https_with_pinned_certificate(tls_hub, pki, tmp_path):
    assert tls_hub.url.startswith("https://")
    ctx = AgentContext.open(tmp_path / "agent")
    enrol(ctx, tls_hub.url, tls_hub.token(), SITE, ca_bundle=str(pki["ca"]), hub_cert_sha256=pki["fingerprint"])
    assert ctx.config.ca_bundle == str(pki["ca"]) and ctx.config.hub_cert_sha256 == pki["fingerprint"]
    dossier = seal_dossier(ctx, captured_dossier(ctx).id)
    assert sync_once(ctx).committed == [dossier.code]
    ctx.close()


def test_plain_http_client_cannot_talk_to_the_tls_hub(tls_hub):
    with pytest.raises(requests.RequestException):
        requests.get(tls_hub.url.replace("https://", "http://") + "/v1/hello", timeout=5)


def test_unknown_ca_is_refused_before_anything_is_sent(tls_hub, tmp_path):
    other_ca, _, _ = make_ca(tmp_path, "some other CA")
    result = run_motcua("init", "--hub", tls_hub.url, "--token", tls_hub.token(), "--site", SITE,
                        "--ca-bundle", str(other_ca), home=tmp_path / "desk")
    assert_clean_failure(result, "TLS")
    assert tls_hub.sql("SELECT COUNT(*) FROM devices") == [(0,)]


def test_wrong_pin_is_refused_even_with_a_valid_chain(tls_hub, pki, tmp_path):
    ctx = AgentContext.open(tmp_path / "agent")
    with pytest.raises(EnrolmentError) as refused:
        enrol(ctx, tls_hub.url, tls_hub.token(), SITE, ca_bundle=str(pki["ca"]), hub_cert_sha256="00" * 32)
    assert "TLS" in refused.value.message_en
    assert not ctx.config.enrolled
    ctx.close()


def test_hub_certificate_swapped_after_enrolment_stops_delivery(tmp_path, pki):
    """A pinned desk meets a different certificate (same CA): nothing is sent, the dossier stays queued."""
    server = HubProcess(tmp_path / "hub", extra_args=["--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])],
                        tls_ca=str(pki["ca"])).start()
    ctx = AgentContext.open(tmp_path / "agent")
    try:
        enrol(ctx, server.url, server.token(), SITE, ca_bundle=str(pki["ca"]), hub_cert_sha256=pki["fingerprint"])
        dossier = seal_dossier(ctx, captured_dossier(ctx).id)
        server.stop()
        cert2, key2, _ = issue_server_cert(pki["dir"], pki["ca_key"], pki["ca_cert"], "impostor")
        server.extra_args = ["--tls-cert", str(cert2), "--tls-key", str(key2)]
        server.start()
        report = sync_once(ctx)
        assert report.committed == [] and report.unreachable and "TLS" in report.unreachable
        assert ctx.outbox.get(dossier.id).state in ("sealed", "uploading")
        assert server.sql("SELECT COUNT(*) FROM dossiers") == [(0,)]
    finally:
        ctx.close()
        server.stop()


def test_serve_refuses_half_a_tls_configuration(tmp_path, pki):
    result = run_motcua("hub", "serve", "--data", str(tmp_path / "h"), "--tls-cert", str(pki["cert"]))
    assert result.returncode != 0 and "--tls-key" in result.stderr and "Traceback" not in result.stderr
