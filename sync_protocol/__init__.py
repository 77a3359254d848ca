"""What the agent and the hub must agree on, with no network or disk policy.

Modules:
  canonical         canonical JSON bytes (RFC 8785 style) and sha256 helpers
  keys              Ed25519 keys: generation, encoding, key ids
  signed_document   sign/verify any JSON document by its canonical bytes
  manifest          the dossier manifest: fields, validation, hash chain link
  receipt           the hub's signed receipt for a committed manifest
  request_signing   RFC 9421-style HTTP message signatures for device requests
  tus_client        a resumable upload client speaking tus 1.0
  castore           the content-addressed object layout both ends store payloads in
  errors            one exception hierarchy for all of the above

The format is specified in docs/protocol.md.
"""

PROTOCOL_VERSION = "1"
