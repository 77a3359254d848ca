"""Which desks are behind? Sites whose active devices have not reached the hub recently.

"Which commune hasn't synced in 2 days?" — for each site with at least one
active (not revoked) device: the last time any of its desks made an
authenticated request, its last committed dossier, and the desks silent for
longer than the threshold. A desk that never contacted the hub since
enrolment counts from its enrolment time.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .state import HubState


@dataclass
class SiteLag:
    site: str
    last_contact: int | None
    last_commit: str | None
    silent_seconds: int
    devices: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def lagging_sites(state: HubState, days: float = 2.0, now: int | None = None) -> list[SiteLag]:
    """Sites with an active device silent for more than `days`, most silent first."""
    now = now if now is not None else state.now()
    cutoff = now - int(days * 86400)
    devices = state.db.query(
        "SELECT device_id, name, site, agency_code, enrolled_at, last_seen_at FROM devices"
        " WHERE revoked_at IS NULL ORDER BY site, device_id")
    commits = {r["site"]: r["at"] for r in state.db.query("SELECT site, MAX(received_at) AS at FROM dossiers GROUP BY site")}
    by_site: dict[str, list[dict[str, Any]]] = {}
    for d in devices:
        by_site.setdefault(d["site"], []).append(d)
    result = []
    for site, members in by_site.items():
        seen = [d["last_seen_at"] or d["enrolled_at"] for d in members]
        silent = [
            {"device_id": d["device_id"], "name": d["name"], "last_seen_at": d["last_seen_at"],
             "silent_seconds": now - (d["last_seen_at"] or d["enrolled_at"])}
            for d in members if (d["last_seen_at"] or d["enrolled_at"]) < cutoff
        ]
        if silent:
            last = max(d["last_seen_at"] for d in members if d["last_seen_at"]) if any(
                d["last_seen_at"] for d in members) else None
            result.append(SiteLag(site=site, last_contact=last, last_commit=commits.get(site),
                                  silent_seconds=now - max(seen), devices=silent))
    return sorted(result, key=lambda s: -s.silent_seconds)


def format_lag(rows: list[SiteLag], days: float) -> str:
    """A table for the administrator (Vietnamese first)."""
    if not rows:
        return f"Mọi điểm đều đã đồng bộ trong {days:g} ngày qua / every site synced within {days:g} days"
    lines = [f"{'ĐIỂM TIẾP NHẬN / SITE':<36} {'IM LẶNG / SILENT':>16}  {'MÁY / DESKS':>11}  HỒ SƠ CUỐI / LAST COMMIT"]
    for r in rows:
        silent = f"{r.silent_seconds / 86400:.1f} ngày/days"
        lines.append(f"{r.site[:36]:<36} {silent:>16}  {len(r.devices):>11}  {r.last_commit or '-'}")
    return "\n".join(lines)
