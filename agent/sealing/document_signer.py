"""Sign a dossier's PDFs at seal time with the desk's signer: a PKCS#11 token when one is configured, else file keys.

Kept apart from pdf_signing (the PAdES mechanics) so that the PKCS#11 signer can build on pdf_signing without a cycle.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from agent.sealing.pdf_signing import DocumentSigner, FileDocumentSigner, sign_pdf
from agent.sealing.pkcs11 import PKCS11DocumentSigner

if TYPE_CHECKING:
    from agent.context import AgentContext
    from agent.outbox import Document

log = logging.getLogger("motcua.agent.document_signing")


def document_signer_for(home: Path, device_id: str) -> DocumentSigner:
    """The agent's document signer: a PKCS#11 token when `home`/docsign/pkcs11.json configures one
    (agent.sealing.pkcs11), else file keys under `home`/docsign (the default)."""
    token = PKCS11DocumentSigner.from_home(Path(home))
    if token is not None:
        return token
    return FileDocumentSigner(Path(home) / "docsign", device_id or "device")


def sign_documents(ctx: "AgentContext", documents: list["Document"]) -> tuple[list["Document"], dict[str, str]]:
    """Sign every PDF document of a dossier into a new blob; return the documents pointing at the signed
    blobs (other media types unchanged) and the manifest metadata naming the signing chain."""
    from dataclasses import replace

    pdfs = [d for d in documents if d.media_type == "application/pdf"]
    if not pdfs:
        return list(documents), {}
    signer = document_signer_for(ctx.config.home, ctx.config.device_id)
    signed = []
    for document in documents:
        if document.media_type != "application/pdf":
            signed.append(document)
            continue
        with ctx.outbox.blobs.open(document.sha256) as handle:
            data = handle.read()
        if hashlib.sha256(data).hexdigest() != document.sha256:
            from sync_protocol.errors import ObjectCorrupt

            raise ObjectCorrupt(f"{document.name}: blob does not match its sha256")
        sha, size = ctx.outbox.blobs.put_bytes(sign_pdf(data, signer))
        signed.append(replace(document, sha256=sha, size=size))
    log.info("documents_signed count=%d", len(pdfs))
    return signed, {"pdf_signing_ca_sha256": signer.ca_fingerprint()}
