"""Operations: doctor checks, Prometheus metrics, service files, the desk's hash-chained audit log.

Low-level: read the outbox and config, never drive capture, delivery or desk workflows.
May import: the kernel, agent.outbox.
"""
