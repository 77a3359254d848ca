"""The desk agent: capture dossiers, seal them, queue them durably, deliver them exactly once.

Modules:
  config       AgentConfig: the agent home directory and settings (config.json)
  errors       MotcuaError hierarchy; every error carries Vietnamese and English text and a hint
  ids          dossier ids (UUIDv7) and offline dossier codes
  outbox       the local store: SQLite outbox + content-addressed blob store
  identity     device key and enrolment with the hub
  hub_client   the HTTP client for the hub API (signed requests, tus uploads)
  capture      import files into a new captured dossier
  seal         seal a dossier: signed manifest on the device's hash chain
  sync         deliver sealed dossiers, verify receipts, purge
  runner       the `motcua run` loop (tenacity backoff)
  crashpoints  named points where a test can SIGKILL the agent
  cli          the `motcua` command (thin layer over the above)
"""
