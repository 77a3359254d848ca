"""The outbox: the agent's durable queue — SQLite schema and migrations, content-addressed blobs, ids and codes.

Every other package stores through it; it knows nothing of the hub, capture or desk workflows.
May import: agent.errors, agent.crashpoints, sync_protocol.
"""
from agent.outbox.store import Document, Dossier, Outbox

__all__ = ["Document", "Dossier", "Outbox"]
