"""PAdES signatures on captured PDFs: valid against the device chain, broken by one changed byte."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.sealing.document_signer import sign_documents
from agent.sealing.pdf_signing import FileDocumentSigner, sign_pdf, verify_pdf
from scanners import synthetic
from scanners.pages import Page
from scanners.pipeline import PipelineOptions, run_pipeline


@pytest.fixture(scope="module")
def document_pdf() -> bytes:
    page = synthetic.form_page()
    result = run_pipeline([Page(1, "p1", 300.0, loader=page.copy)], PipelineOptions(ocr=False))
    return result.parts[0].documents[0].pdf


def test_signature_validates_against_the_device_chain_and_one_byte_breaks_it(tmp_path, document_pdf):
    signer = FileDocumentSigner(tmp_path / "docsign", "dev_test")
    for name in ("ca.pem", "ca_key.pem", "signer.pem", "signer_key.pem"):
        assert (tmp_path / "docsign" / name).stat().st_mode & 0o777 == 0o600
    signed = sign_pdf(document_pdf, signer)
    assert len(signed) - len(document_pdf) < 10 * 1024
    (tmp_path / "signed.pdf").write_bytes(signed)
    check = subprocess.run(["qpdf", "--check", str(tmp_path / "signed.pdf")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout

    assert verify_pdf(signed, signer.trust_roots()).valid
    # the same signer reloaded from its files gives the same anchor
    assert FileDocumentSigner(tmp_path / "docsign").ca_fingerprint() == signer.ca_fingerprint()

    tampered = bytearray(signed)
    position = signed.index(b"/MediaBox")  # inside the signed byte range
    tampered[position + 1] ^= 0x01
    result = verify_pdf(bytes(tampered), signer.trust_roots())
    assert not result.valid and "intact=False" in result.problem

    stranger = FileDocumentSigner(tmp_path / "other", "dev_other")
    assert not verify_pdf(signed, stranger.trust_roots()).valid  # untrusted chain
    assert not verify_pdf(document_pdf, signer.trust_roots()).valid  # unsigned


def test_seal_signs_each_pdf_and_names_the_chain_in_the_manifest(agent, pages, monkeypatch):
    monkeypatch.setenv("MOTCUA_OCR", "off")
    from agent.capture.files import import_files
    from agent.sealing.seal import seal_dossier

    dossier = import_files(agent, pages, "1.001193", "counter")
    [document] = agent.outbox.documents(dossier.id)
    signed, metadata = sign_documents(agent, [document])
    with agent.outbox.blobs.open(signed[0].sha256) as handle:
        data = handle.read()
    signer = FileDocumentSigner(Path(agent.config.home) / "docsign")
    assert verify_pdf(data, signer.trust_roots()).valid
    assert metadata == {"pdf_signing_ca_sha256": signer.ca_fingerprint()}

    sealed = seal_dossier(agent, dossier.id)
    assert sealed.state == "sealed"
    assert sealed.size_bytes > dossier.size_bytes  # the signature is part of what travels
