"""The desk agent: capture dossiers, seal them, queue them durably, deliver them exactly once.

Sub-packages, by concern (docs/architecture.md has the map and the import rules, tests/test_import_rules.py
enforces them):
  capture/    pages in: scanner batches, hot folder, file import, sample pages
  sealing/    make a dossier immutable: PAdES signing (file key or PKCS#11), encryption at rest, signed manifest
  outbox/     the durable queue: SQLite schema and migrations, content-addressed blobs, ids and dossier codes
  delivery/   move bytes and events: hub client, enrolment, sync, status feed, USB bundles, envelope uploads, runner
  desk/       desk workflows: intake, catalogue, calendar and due dates, slips, notifications, courier tasks
  ops/        running it: doctor, metrics, service files, audit log
  cli/, web/  thin layers that parse, call and print
Top-level modules are the shared kernel every package may use: errors, config, context, crashpoints.
"""
