"""The provincial case system takes dossiers out of the hub (issue 19).

  access           bearer API tokens scoped to agencies; who may read what
  pull             `GET /v1/case-system/dossiers` pages in commit order, acks, lagging case systems
  documents        `GET /v1/case-system/documents/{sha256}` with HTTP Range
  national_format  the same dossier in the field names/encodings of the national portal sync
  webhooks         push: a durable outbox of HMAC-signed events, retries with backoff, dead letters
  routes           the FastAPI router (installed by hub.app with one line)
  client           the reference client `motcua hub pull --to DIR`

Every read of citizen data through these routes is written to the hub audit log
(hub.audit) under the actor `api:<token name>`; log lines carry ids only.
"""
