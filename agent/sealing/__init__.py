"""Sealing: make a captured dossier final — PAdES-sign its PDFs, encrypt payload to the hub key, sign the manifest.

After sealing a dossier is immutable. Keys may live in a file or a PKCS#11 token.
May import: the kernel, agent.outbox, agent.ops, sync_protocol.
"""
