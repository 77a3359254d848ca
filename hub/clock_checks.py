"""Implausible manifest times: flagged when a dossier is committed, never refused.

The legal reception time is the manifest's `received_at`, which the desk derives
from its clock corrected by the hub's and describes in the manifest's `clock`
member (sync_protocol.clock, docs/protocol.md "Legal time"). A dossier is
accepted whatever its times — refusing it would lose a citizen's filing — but
the hub flags what an administrator should look at:

  received_after_commit   received_at later than the hub's own time at commit
                          (beyond the stated uncertainty and `FUTURE_SLACK_S`)
  device_clock            the desk had never measured the hub's clock: received_at
                          is its own clock, unchecked
  desk_clock_hours_off    the desk's clock was off by `HOURS_OFF_S` or more (corrected,
                          but the desk needs its clock fixed)
  offset_uncertain        the correction was more than `UNCERTAIN_S` uncertain (an old
                          measurement, or a very slow link)
  received_long_ago       received_at more than `LONG_AGO_S` before the commit

Each flagged commit is an audit event `manifest.time_flagged` in the commit's own
transaction; `flag_gauge()` counts them for /metrics and `time_report()` lists them
for `motcua hub clock-report`. Manifests sealed before the `clock` member existed
are only checked for the first and last flag.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from prometheus_client.core import GaugeMetricFamily

from sync_protocol.manifest import Manifest
from sync_protocol.timestamps import parse_utc

from . import audit
from .storage.metadata import MetadataDB, Tx

ACTION = "manifest.time_flagged"
FUTURE_SLACK_S = 120
HOURS_OFF_S = 3600
UNCERTAIN_S = 600
LONG_AGO_S = 366 * 24 * 3600
FLAGS = ("received_after_commit", "device_clock", "desk_clock_hours_off", "offset_uncertain", "received_long_ago")


def time_flags(manifest: Manifest, hub_now: float) -> list[str]:
    """What is implausible about the manifest's times, judged at hub time `hub_now`."""
    received = parse_utc(manifest.received_at).timestamp()
    clock = manifest.clock or {}
    uncertainty = clock.get("uncertainty_ms", 0) / 1000
    flags = []
    if received > hub_now + uncertainty + FUTURE_SLACK_S:
        flags.append("received_after_commit")
    if clock.get("source") == "device":
        flags.append("device_clock")
    if abs(clock.get("offset_ms", 0)) >= HOURS_OFF_S * 1000:
        flags.append("desk_clock_hours_off")
    if uncertainty > UNCERTAIN_S:
        flags.append("offset_uncertain")
    if received < hub_now - LONG_AGO_S:
        flags.append("received_long_ago")
    return flags


def record_flags(tx: Tx, hub_now: int, device_id: str, manifest: Manifest, hub_sequence: int,
                 record: Callable[..., None] = audit.record) -> list[str]:
    """Inside the commit's transaction: audit the manifest's implausible times, if any (`record`: how the
    commit writes its audit entries — hub.audit_queue.defer on PostgreSQL)."""
    flags = time_flags(manifest, hub_now)
    if flags:  # audit details are short strings and integers: the note goes member by member
        note = {f"clock_{k}": v for k, v in (manifest.clock or {"source": "absent"}).items()}
        record(tx, hub_now, device_id, ACTION, manifest.dossier_id, flags=",".join(flags),
                     hub_sequence=hub_sequence, received_at=manifest.received_at, **note)
    return flags


def time_report(db: MetadataDB, device_id: str | None = None) -> list[dict[str, Any]]:
    """Flagged commits, oldest first: dossier, device, hub sequence, flags, received_at, clock note."""
    sql = "SELECT at, actor, dossier_id, detail FROM audit WHERE action=?" + (" AND actor=?" if device_id else "")
    rows = db.query(sql + " ORDER BY seq", (ACTION, device_id) if device_id else (ACTION,))
    report = []
    for row in rows:
        detail = json.loads(row["detail"])
        clock = {k.removeprefix("clock_"): v for k, v in detail.items() if k.startswith("clock_")}
        report.append({"committed_at": row["at"], "device_id": row["actor"], "dossier_id": row["dossier_id"],
                       "hub_sequence": detail.get("hub_sequence"), "flags": _flags(detail),
                       "received_at": detail.get("received_at"), "clock": clock})
    return report


def _flags(detail: dict[str, Any]) -> list[str]:
    return [f for f in str(detail.get("flags") or "").split(",") if f]


def format_report(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "Không có hồ sơ nào có thời điểm bất thường / no dossier with implausible times"
    lines = ["Hồ sơ có thời điểm bất thường / dossiers with implausible times:"]
    for r in rows:
        lines.append(f"  #{r['hub_sequence']} {r['dossier_id']} device={r['device_id']} received_at={r['received_at']} "
                     f"flags={','.join(r['flags'] or [])}")
    return "\n".join(lines)


def flag_gauge(db: MetadataDB) -> GaugeMetricFamily:
    """motcua_hub_manifest_time_flags{flag}: committed manifests flagged, per flag (all instances)."""
    counts = dict.fromkeys(FLAGS, 0)
    for row in db.query("SELECT detail FROM audit WHERE action=?", (ACTION,)):
        for flag in _flags(json.loads(row["detail"])):
            counts[flag] = counts.get(flag, 0) + 1
    gauge = GaugeMetricFamily("motcua_hub_manifest_time_flags",
                              "Committed manifests whose times look implausible, by flag (motcua hub clock-report)",
                              labels=["flag"])
    for flag, count in counts.items():
        gauge.add_metric([flag], count)
    return gauge
