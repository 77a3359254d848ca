"""The provincial hub: enrols devices, receives resumable uploads, commits signed
manifests exactly once and returns signed receipts.

Modules:
  config      HubConfig: data directory layout and limits
  identity    the hub's own Ed25519 signing key
  db          SQLite schema and connections (WAL, synchronous=FULL)
  enrolment   one-time tokens and device records
  uploads     tus upload state and durable appends
  commits     manifest verification, hash chain, receipts
  auth        request-signature verification as a FastAPI dependency
  app         the HTTP API (FastAPI), OpenAPI at /openapi.json
  cli         `motcua hub …` commands
"""
