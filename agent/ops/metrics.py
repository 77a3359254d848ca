"""Agent health figures for monitoring: queue depth by state, oldest unsent dossier, last sync.

Read straight from the outbox database with a short-lived read-only
connection, so the figures can be collected from any thread (the metrics
writer of `motcua run`) or process (`motcua metrics`, `motcua doctor`)
without touching the agent's own connection. Output is the Prometheus text
format, printed or written atomically to a node_exporter textfile-collector
file. No personal data: counts, ages and timestamps only.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, generate_latest, write_to_textfile

from sync_protocol.timestamps import format_utc, parse_utc

log = logging.getLogger("motcua.agent.metrics")

STATES = ("captured", "sealed", "uploading", "committed", "purged", "rejected")
UNSENT = ("captured", "sealed", "uploading")
LAST_SYNC_OK = "sync:last_ok"
LAST_SYNC_ATTEMPT = "sync:last_attempt"


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return parse_utc(text).timestamp()
    except ValueError:
        return None


@dataclass
class AgentHealth:
    queue: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STATES})
    oldest_unsent_age_seconds: float = 0.0
    last_sync_ok: str | None = None
    last_sync_attempt: str | None = None
    most_attempts: int = 0

    @property
    def unsent(self) -> int:
        return sum(self.queue[s] for s in UNSENT)

    def seconds_since_sync(self, now: float | None = None) -> float | None:
        ok = _epoch(self.last_sync_ok)
        return None if ok is None else max(0.0, (now or time.time()) - ok)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "unsent": self.unsent}


def read_health(db_path: Path, now: float | None = None) -> AgentHealth:
    """Figures from the outbox at `db_path` (an absent database is an empty queue)."""
    health = AgentHealth()
    if not Path(db_path).exists():
        return health
    now = now or time.time()
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        for state, count in conn.execute("SELECT state, COUNT(*) FROM dossiers GROUP BY state"):
            health.queue[state] = count
        placeholders = ",".join("?" * len(UNSENT))
        oldest, attempts = conn.execute(
            f"SELECT MIN(created_at), COALESCE(MAX(attempts), 0) FROM dossiers WHERE state IN ({placeholders})",
            UNSENT).fetchone()
        created = _epoch(oldest)
        health.oldest_unsent_age_seconds = max(0.0, now - created) if created else 0.0
        health.most_attempts = attempts
        state_rows = dict(conn.execute("SELECT key, value FROM device_state WHERE key IN (?, ?)",
                                       (LAST_SYNC_OK, LAST_SYNC_ATTEMPT)).fetchall())
        health.last_sync_ok = state_rows.get(LAST_SYNC_OK)
        health.last_sync_attempt = state_rows.get(LAST_SYNC_ATTEMPT)
    except sqlite3.OperationalError as exc:  # tables not created yet
        log.debug("metrics_outbox_unreadable error=%s", exc)
    finally:
        conn.close()
    return health


def record_sync_result(outbox: Any, complete: bool, now: float | None = None) -> None:
    """Remember when a sync pass ran and when one last delivered everything it could (in the outbox)."""
    stamp = format_utc(now or time.time())
    with outbox.transaction():
        for key in (LAST_SYNC_ATTEMPT, LAST_SYNC_OK) if complete else (LAST_SYNC_ATTEMPT,):
            outbox.set_state(key, stamp)


def registry_for(health: AgentHealth, site: str = "") -> CollectorRegistry:
    registry = CollectorRegistry()
    queue = Gauge("motcua_agent_queue_dossiers", "Dossiers in the outbox by state", ["state"], registry=registry)
    for state, count in health.queue.items():
        queue.labels(state).set(count)
    Gauge("motcua_agent_oldest_unsent_age_seconds", "Age of the oldest dossier not yet committed",
          registry=registry).set(health.oldest_unsent_age_seconds)
    Gauge("motcua_agent_max_attempts", "Most delivery attempts of any unsent dossier",
          registry=registry).set(health.most_attempts)
    last = Gauge("motcua_agent_last_successful_sync_timestamp_seconds",
                 "When a sync pass last delivered everything deliverable (0 = never)", registry=registry)
    last.set(_epoch(health.last_sync_ok) or 0)
    Gauge("motcua_agent_last_sync_attempt_timestamp_seconds", "When a sync pass last ran (0 = never)",
          registry=registry).set(_epoch(health.last_sync_attempt) or 0)
    info = Gauge("motcua_agent_info", "This desk", ["site"], registry=registry)
    info.labels(site).set(1)
    return registry


def prometheus_text(health: AgentHealth, site: str = "") -> str:
    return generate_latest(registry_for(health, site)).decode("utf-8")


def write_textfile(path: Path, health: AgentHealth, site: str = "") -> None:
    """Write atomically for node_exporter's textfile collector (file name must end in .prom)."""
    write_to_textfile(str(path), registry_for(health, site))


def start_textfile_writer(db_path: Path, path: Path, site: str, stop: threading.Event,
                          interval: float = 30.0) -> threading.Thread:
    """A daemon thread rewriting `path` every `interval` seconds until `stop` is set."""

    def loop() -> None:
        while True:
            try:
                write_textfile(path, read_health(db_path), site)
            except Exception as exc:  # noqa: BLE001 - monitoring must never stop the agent
                log.warning("metrics_textfile_failed path=%s error=%s", path, type(exc).__name__)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=loop, name="motcua-metrics", daemon=True)
    thread.start()
    return thread
