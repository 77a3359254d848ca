"""The stall grid of bench/bench_link.py: cuts that outlast TCP's back-off, motcua vs restart-from-zero.

    .venv/bin/python bench/bench_link.py --grid --cells 64:0.02:15:30,128:0.01:5:20 --seconds 120

A cell is RATE(kbit/s):LOSS:CUT(s):PERIOD(s): the link is up for PERIOD − CUT
seconds, then down (stalled: open connections survive, packets are lost) for
CUT seconds, again and again. `--grid` without `--cells` runs the whole grid
of the issue (rates 64/128/256, loss 1–3 %, cuts 5/10/15/20 s, periods 20/30/40 s:
108 cells — hours); pick cells on a shared machine. In each cell both clients
get the same schedule for `--seconds`, against a queue that never runs dry.
Per cell and client it prints:

  goodput_pct_of_rate     payload durable at the hub / (rate × seconds)
  goodput_pct_of_uptime   the same / capacity of the up-time (rate × up seconds × 1448/1514)
  first_byte_median_s/max link up → the hub receives a full data frame (median, max over windows)
  empty_windows_pct       link-up windows in which fewer than 4 frames reached the hub
  longest_idle_up_s       the longest stretch of up-time with no frame reaching the hub (the first window
                          counts from the client's first frame: process start-up is not idle link)

Payload durable at the hub: motcua — finished objects plus the durable offsets of
unfinished tus uploads; the baseline — files whose whole POST arrived.
"""
from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FRAME, MSS_SHARE = 1514, 1448 / 1514
GRID = {"rates": (64, 128, 256), "losses": (0.01, 0.02, 0.03), "cuts": (5, 10, 15, 20), "periods": (20, 30, 40)}


@dataclass(frozen=True)
class Cell:
    rate: int
    loss: float
    cut: float
    period: float

    @classmethod
    def parse(cls, text: str) -> "Cell":
        rate, loss, cut, period = text.split(":")
        cell = cls(int(rate), float(loss), float(cut), float(period))
        if not 0 <= cell.cut < cell.period:
            raise ValueError(f"cell {text}: need 0 <= cut < period")
        return cell

    def __str__(self) -> str:
        return f"{self.rate}:{self.loss:g}:{self.cut:g}:{self.period:g}"


def all_cells() -> list[Cell]:
    return [Cell(r, loss, c, p) for r, loss, c, p in itertools.product(*GRID.values()) if c < p]


@dataclass
class Windows:
    """What the cutter saw: up windows, first-frame delays, frames per window, idle stretches while up."""

    up_seconds: float = 0.0
    first_byte: list[float] = field(default_factory=list)
    window_bytes: list[int] = field(default_factory=list)
    longest_idle_up: float = 0.0


def _cut_schedule(link, cell: Cell, seconds: float, stop: threading.Event, seen: Windows) -> None:
    """Up for period − cut, down for cut, until `seconds` pass; watch the hub's received bytes every 50 ms."""
    end = time.monotonic() + seconds
    first = True
    while time.monotonic() < end and not stop.is_set():
        if not first:
            link.up()
        up_at, before = time.monotonic(), link.counters()["up_received"]
        # the first window starts with the client process: its start-up is neither a first byte nor idle link
        last_seen, last_change, got_first = before, (None if first else up_at), first
        up_until = min(end, up_at + cell.period - cell.cut)
        while time.monotonic() < up_until and not stop.is_set():
            now, received = time.monotonic(), link.counters()["up_received"]
            if received - last_seen >= FRAME:
                if last_change is not None:
                    seen.longest_idle_up = max(seen.longest_idle_up, now - last_change)
                last_seen, last_change = received, now
                if not got_first:
                    seen.first_byte.append(now - up_at)
                    got_first = True
            time.sleep(0.05)
        now = time.monotonic()
        if last_change is not None:
            seen.longest_idle_up = max(seen.longest_idle_up, now - last_change)
        seen.up_seconds += now - up_at
        seen.window_bytes.append(link.counters()["up_received"] - before)
        first = False
        if now >= end or stop.is_set():
            break
        link.down()
        stop.wait(max(0.0, min(cell.cut, end - time.monotonic())))
    link.up()


def _durable_motcua(hub) -> int:
    done = hub.sql("SELECT COALESCE(SUM(size), 0) FROM object_owners")[0][0]
    # a finished upload's row may outlive it: count only uploads whose object is not stored yet
    partial = hub.sql("SELECT COALESCE(SUM(upload_offset), 0) FROM uploads"
                      " WHERE sha256 NOT IN (SELECT sha256 FROM object_owners)")[0][0]
    return int(done) + int(partial)


def start_bench_hub(link, workdir: Path, bench_file: str):  # type: ignore[no-untyped-def]
    """The hub of `bench_link.py --serve-hub` (the real app plus the naive endpoint) in the hub namespace."""
    from tests.chaos.procs import NsHub

    hub = NsHub(link, workdir / "hub")
    log = open(workdir / "hub.log", "ab")
    hub.proc = subprocess.Popen(link.wrap(link.hub_ns, [sys.executable, bench_file, "--serve-hub",
                                                        str(hub.data_dir), link.hub_ip, str(hub.port)]),
                                stdout=log, stderr=log)
    time.sleep(3)
    return hub


def queue_workload(home: Path, count: int, size_kb: int, files: Path) -> list:
    """`count` sealed dossiers of `size_kb` in the agent's outbox, and the same bytes as files for the baseline."""
    from agent.context import AgentContext
    from tests.chaos.dossiers import make_dossier

    ctx = AgentContext.open(home)
    try:
        made = [make_dossier(ctx, size_kb * 1024, due_at=f"2030-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z")
                for i in range(count)]
        files.mkdir()
        sizes = []
        for d in made:
            [doc] = ctx.outbox.documents(d.id)
            (files / d.id).write_bytes(ctx.outbox.blobs.path(doc.sha256).read_bytes())
            sizes.append(doc.size)
    finally:
        ctx.close()
    return sizes


def run_cell(cell: Cell, client: str, workdir: Path, seconds: float, size_kb: int, bench_file: str) -> dict:
    from tests.chaos.netns import Link
    from tests.chaos.procs import NsAgent

    workdir.mkdir(parents=True)
    with Link(rate_kbit=cell.rate, loss=cell.loss) as link:
        hub = start_bench_hub(link, workdir, bench_file)
        agent = NsAgent(link, workdir / "agent")
        agent.enrol(hub, idle_interval=1, probe_interval=1, reconnect_jitter=0.5, max_backoff=10)
        count = int(cell.rate * 1000 / 8 * seconds * 1.5 / (size_kb * 1024)) + 2  # more than the link can carry
        files = workdir / "files"
        queue_workload(agent.home, count, size_kb, files)
        seen, stop = Windows(), threading.Event()
        if client == "motcua":
            agent.start()
            proc = agent.proc
        else:
            proc = subprocess.Popen(link.wrap(link.agent_ns, [sys.executable, bench_file, "--naive-client",
                                                              f"{hub.url}/bench/naive", str(files), "60", "10"]),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _cut_schedule(link, cell, seconds, stop, seen)
        if client == "motcua":
            payload = _durable_motcua(hub)
            agent.kill()
        else:
            naive_dir = hub.data_dir / "naive"
            payload = sum(p.stat().st_size for p in naive_dir.iterdir()) if naive_dir.exists() else 0
            proc.kill()
            proc.wait(10)
        hub.kill()
    capacity = cell.rate * 1000 / 8 * seen.up_seconds * MSS_SHARE
    windows = seen.window_bytes
    return {"cell": str(cell), "client": client, "seconds": seconds, "up_seconds": round(seen.up_seconds, 1),
            "payload_bytes": payload,
            "goodput_pct_of_rate": round(100 * payload / (cell.rate * 1000 / 8 * seconds), 1),
            "goodput_pct_of_uptime": round(100 * payload / capacity, 1) if capacity else None,
            "first_byte_median_s": round(statistics.median(seen.first_byte), 2) if seen.first_byte else None,
            "first_byte_max_s": round(max(seen.first_byte), 2) if seen.first_byte else None,
            "empty_windows_pct": round(100 * sum(b < 4 * FRAME for b in windows) / len(windows)) if windows else None,
            "windows": len(windows), "longest_idle_up_s": round(seen.longest_idle_up, 1)}


def run_grid(cells: list[Cell], seconds: float, size_kb: int, work: Path, bench_file: str) -> list[dict]:
    rows = []
    print(f"stall grid: {len(cells)} cell(s) x 2 clients x {seconds:.0f} s, dossiers of {size_kb} KiB; "
          f"load average at start {os.getloadavg()[0]:.2f}", flush=True)
    for cell in cells:
        for client in ("motcua", "naive"):
            row = run_cell(cell, client, work / f"{cell}".replace(":", "_") / client, seconds, size_kb, bench_file)
            row["load_avg_1m"] = round(os.getloadavg()[0], 2)
            print("cell", json.dumps(row), flush=True)  # partial results survive an interrupted run
            rows.append(row)
    print(format_table(rows), flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    head = ("cell (kbit/s:loss:cut:period)", "client", "%rate", "%uptime", "1st byte med/max s", "empty win %",
            "idle up s", "load")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        first = f"{r['first_byte_median_s']}/{r['first_byte_max_s']}" if r["first_byte_median_s"] is not None else "-"
        lines.append(" | ".join(str(v) for v in (r["cell"], r["client"], r["goodput_pct_of_rate"],
                                                  r["goodput_pct_of_uptime"], first, r["empty_windows_pct"],
                                                  r["longest_idle_up_s"], r["load_avg_1m"])))
    return "\n".join(lines)
